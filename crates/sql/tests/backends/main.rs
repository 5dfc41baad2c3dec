//! The store contract, checked against real databases: SQLite (a temporary file and
//! `sqlite::memory:`) always, PostgreSQL from `SATCHEL_TEST_POSTGRES_URL`, MySQL/MariaDB from
//! `SATCHEL_TEST_MYSQL_URL`. A missing URL skips that backend's tests, unless
//! `SATCHEL_REQUIRE_SERVICES=1`.
//!
//! Every test uses its own table (`satchel_test_…`) and drops it at the end.
//!
//! `checks.rs` holds the checks `backend_tests!` (below) runs on every backend;
//! `connections.rs`, `resilience.rs` and `watch.rs` the tests of one backend each.

#![allow(clippy::print_stderr)]

mod checks;
mod connections;
mod resilience;
mod watch;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use satchel_sql::{
    Condition, PurgeExpired, Scan, SqlConfig, SqlStore, Store, StoreErrorKind, Version,
};

#[derive(Clone, Copy, Debug)]
#[allow(dead_code)]
enum Target {
    SqliteFile,
    SqliteMemory,
    Postgres,
    MySql,
}

/// The URL of a service from `var`, or `None` (after saying so) when it is not set.
fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("SATCHEL_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "{var} not set, and SATCHEL_REQUIRE_SERVICES=1"
            );
            // Written past the test harness's output capture, so a plain `cargo test` shows it.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("skipped: a SQL test ({var} not set)\n").as_bytes(),
            );
            None
        }
    }
}

/// A name no other test (or test run) uses.
fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{prefix}_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl Target {
    fn url(self) -> Option<(String, Option<PathBuf>)> {
        match self {
            Target::SqliteFile => {
                let path = std::env::temp_dir().join(format!("{}.db", unique("satchel_test")));
                Some((format!("sqlite://{}", path.display()), Some(path)))
            }
            Target::SqliteMemory => Some(("sqlite::memory:".to_string(), None)),
            Target::Postgres => service_url("SATCHEL_TEST_POSTGRES_URL").map(|u| (u, None)),
            Target::MySql => service_url("SATCHEL_TEST_MYSQL_URL").map(|u| (u, None)),
        }
    }
}

/// A store on a fresh table, and what to clean up.
struct Fixture {
    store: SqlStore,
    target: Target,
    url: String,
    file: Option<PathBuf>,
}

impl Fixture {
    async fn open(target: Target) -> Option<Self> {
        let (url, file) = target.url()?;
        let config = SqlConfig::new(url.clone())
            .with_table(unique("satchel_test"))
            .with_acquire_timeout(Duration::from_secs(30));
        let store = SqlStore::with_config(config)
            .await
            .unwrap_or_else(|e| panic!("connect to {target:?}: {e:?}"));
        Some(Self {
            store,
            target,
            url,
            file,
        })
    }

    async fn cleanup(self) {
        let table = self.store.table().to_string();
        drop_table(self.target, &self.url, &table).await;
        self.store.close().await;
        if let Some(path) = self.file {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

async fn drop_table(target: Target, url: &str, table: &str) {
    let _ = (url, table);
    match target {
        #[cfg(feature = "postgres")]
        Target::Postgres => {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
            sqlx::query(&format!("DROP TABLE IF EXISTS \"{table}\""))
                .execute(&mut conn)
                .await
                .expect("drop table");
            // The change feed's trigger function, if a test gave the table one.
            sqlx::query(&format!("DROP FUNCTION IF EXISTS \"{table}_notify\""))
                .execute(&mut conn)
                .await
                .expect("drop the feed's function");
        }
        #[cfg(feature = "mysql")]
        Target::MySql => {
            use sqlx::Connection;
            let url = url.replacen("mariadb://", "mysql://", 1);
            let mut conn = sqlx::MySqlConnection::connect(&url).await.expect("connect");
            sqlx::query(&format!("DROP TABLE IF EXISTS `{table}`"))
                .execute(&mut conn)
                .await
                .expect("drop table");
        }
        _ => {}
    }
}

macro_rules! backend_tests {
    ($module:ident, $target:expr) => {
        mod $module {
            use super::*;

            backend_tests!(@each $target, binary_round_trip, versions_increase,
                conditional_conflicts, expiry, touch_extends, scan_literal_prefix, contention,
                invalid_input);

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn invalid_table_name() {
                let Some((url, file)) = $target.url() else {
                    return;
                };
                for table in ["bad-name", "", "1abc", "x;DROP TABLE y"] {
                    let e = SqlStore::with_config(SqlConfig::new(url.clone()).with_table(table))
                        .await
                        .unwrap_err();
                    assert_eq!(e.kind(), StoreErrorKind::InvalidInput, "{e:?}");
                }
                if let Some(path) = file {
                    assert!(!path.exists(), "nothing is opened for a bad table name");
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn clones_share_the_table_and_reopen_sees_it() {
                let Some(fx) = Fixture::open($target).await else {
                    return;
                };
                let clone = fx.store.clone();
                clone.set("k", b"v", None, Condition::Always).await.unwrap();
                assert_eq!(fx.store.get("k").await.unwrap().unwrap().value, b"v");
                if !matches!($target, Target::SqliteMemory) {
                    let again = SqlStore::with_config(
                        SqlConfig::new(fx.url.clone()).with_table(fx.store.table()),
                    )
                    .await
                    .unwrap();
                    assert_eq!(again.get("k").await.unwrap().unwrap().value, b"v");
                    again.close().await;
                }
                assert!(format!("{:?}", fx.store).contains(fx.store.table()));
                fx.cleanup().await;
            }
        }
    };
    (@each $target:expr, $($check:ident),*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $check() {
            let Some(fx) = Fixture::open($target).await else {
                return;
            };
            assert_eq!(
                fx.store.backend(),
                match $target {
                    Target::SqliteFile | Target::SqliteMemory => "sqlite",
                    Target::Postgres => "postgres",
                    Target::MySql => "mysql",
                }
            );
            checks::$check(&fx.store).await;
            fx.cleanup().await;
        }
    )*};
}

#[cfg(feature = "sqlite")]
backend_tests!(sqlite_file, Target::SqliteFile);
#[cfg(feature = "sqlite")]
backend_tests!(sqlite_memory, Target::SqliteMemory);
#[cfg(feature = "postgres")]
backend_tests!(postgres, Target::Postgres);
#[cfg(feature = "mysql")]
backend_tests!(mysql, Target::MySql);
