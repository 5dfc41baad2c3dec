//! The store contract, checked against real databases: SQLite (a temporary file and
//! `sqlite::memory:`) always, PostgreSQL from `SATCHEL_TEST_POSTGRES_URL`, MySQL/MariaDB from
//! `SATCHEL_TEST_MYSQL_URL`. A missing URL skips that backend's tests, unless
//! `SATCHEL_REQUIRE_SERVICES=1`.
//!
//! Every test uses its own table (`satchel_test_…`) and drops it at the end.

#![allow(clippy::print_stderr)]

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

/// The checks, each on an empty table.
mod checks {
    use super::*;

    fn ttl(ms: u64) -> Option<Duration> {
        Some(Duration::from_millis(ms))
    }

    pub(super) async fn binary_round_trip(store: &SqlStore) {
        let all_bytes: Vec<u8> = (0..=255u8).collect();
        let mut big = vec![0u8; 1 << 20];
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for b in &mut big {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        for (key, value) in [("bytes", &all_bytes), ("empty", &Vec::new()), ("big", &big)] {
            let v = store
                .set(key, value, None, Condition::Always)
                .await
                .unwrap();
            let entry = store.get(key).await.unwrap().expect(key);
            assert_eq!(&entry.value, value, "{key}");
            assert_eq!(entry.version, v);
            assert_eq!(entry.expires_at, None);
        }
        // Keys compare byte for byte: case, trailing spaces, non-ASCII.
        let keys = ["k", "K", "k ", "ké", "ke", "日本", "a\u{10FFFF}"];
        for key in keys {
            store
                .set(key, key.as_bytes(), None, Condition::IfAbsent)
                .await
                .unwrap_or_else(|e| panic!("{key:?}: {e:?}"));
        }
        for key in keys {
            assert_eq!(store.get(key).await.unwrap().unwrap().value, key.as_bytes());
        }
        // An expiry comes back (to the millisecond).
        let before = SystemTime::now();
        store
            .set("ttl", b"x", ttl(60_000), Condition::Always)
            .await
            .unwrap();
        let expires = store.get("ttl").await.unwrap().unwrap().expires_at.unwrap();
        let lower = before + Duration::from_millis(59_000);
        let upper = SystemTime::now() + Duration::from_millis(60_001);
        assert!(expires > lower && expires <= upper, "{expires:?}");
    }

    pub(super) async fn versions_increase(store: &SqlStore) {
        let mut seen = Vec::new();
        for i in 0..5u8 {
            let v = store.set("k", &[i], None, Condition::Always).await.unwrap();
            assert_eq!(store.get("k").await.unwrap().unwrap().version, v);
            seen.push(v);
        }
        let v = store
            .set(
                "k",
                b"cas",
                None,
                Condition::IfVersion(*seen.last().unwrap()),
            )
            .await
            .unwrap();
        seen.push(v);
        assert!(store.delete("k").await.unwrap());
        assert!(!store.delete("k").await.unwrap());
        assert_eq!(store.get("k").await.unwrap(), None);
        let v = store
            .set("k", b"again", None, Condition::IfAbsent)
            .await
            .unwrap();
        seen.push(v);
        assert!(store.delete("k").await.unwrap());
        let v = store
            .set("k", b"again", None, Condition::Always)
            .await
            .unwrap();
        seen.push(v);
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    }

    pub(super) async fn conditional_conflicts(store: &SqlStore) {
        let v1 = store
            .set("k", b"one", None, Condition::IfAbsent)
            .await
            .unwrap();
        let e = store
            .set("k", b"two", None, Condition::IfAbsent)
            .await
            .unwrap_err();
        assert!(e.is_conflict(), "{e:?}");
        assert_eq!(e.key(), Some("k"));
        assert_eq!(e.backend(), Some(store.backend()));
        for wrong in [
            Version::new(v1.get() - 1),
            Version::new(v1.get() + 1),
            Version::new(u64::MAX),
            Version::new(0),
        ] {
            let e = store
                .set("k", b"two", None, Condition::IfVersion(wrong))
                .await
                .unwrap_err();
            assert!(e.is_conflict(), "{wrong}: {e:?}");
        }
        let v2 = store
            .set("k", b"two", None, Condition::IfVersion(v1))
            .await
            .unwrap();
        assert!(v2 > v1);
        let e = store
            .set("k", b"three", None, Condition::IfVersion(v1))
            .await
            .unwrap_err();
        assert!(e.is_conflict(), "{e:?}");
        assert_eq!(store.get("k").await.unwrap().unwrap().value, b"two");
        let e = store
            .set("missing", b"x", None, Condition::IfVersion(v2))
            .await
            .unwrap_err();
        assert!(e.is_conflict(), "{e:?}");
        assert_eq!(store.get("missing").await.unwrap(), None);
    }

    pub(super) async fn expiry(store: &SqlStore) {
        let v = store
            .set("short", b"x", ttl(300), Condition::Always)
            .await
            .unwrap();
        for key in ["purge1", "purge2"] {
            store
                .set(key, b"x", ttl(300), Condition::Always)
                .await
                .unwrap();
        }
        store
            .set("forever", b"x", None, Condition::Always)
            .await
            .unwrap();
        store
            .set("long", b"x", ttl(60_000), Condition::Always)
            .await
            .unwrap();
        assert!(store.get("short").await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(500)).await;

        assert_eq!(store.get("short").await.unwrap(), None);
        assert!(!store.touch("short", Duration::from_secs(60)).await.unwrap());
        assert_eq!(store.get("short").await.unwrap(), None, "touch revived it");
        let e = store
            .set("short", b"y", None, Condition::IfVersion(v))
            .await
            .unwrap_err();
        assert!(e.is_conflict(), "{e:?}");
        let mut keys = store.scan("", 100).await.unwrap();
        keys.sort();
        assert_eq!(keys, ["forever", "long"]);

        let v2 = store
            .set("short", b"new", None, Condition::IfAbsent)
            .await
            .unwrap();
        assert!(v2 > v, "{v2} after {v}");
        let entry = store.get("short").await.unwrap().unwrap();
        assert_eq!(
            (entry.value.as_slice(), entry.expires_at),
            (&b"new"[..], None)
        );

        // Deleting an expired key reports nothing live (and removes it).
        assert!(!store.delete("purge2").await.unwrap());
        store
            .set("purge3", b"x", ttl(300), Condition::Always)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(store.purge_expired().await.unwrap(), 2); // purge1, purge3
        assert_eq!(store.purge_expired().await.unwrap(), 0);
        for key in ["forever", "long", "short"] {
            assert!(store.get(key).await.unwrap().is_some(), "{key}");
        }
    }

    pub(super) async fn touch_extends(store: &SqlStore) {
        let v = store
            .set("k", b"x", ttl(300), Condition::Always)
            .await
            .unwrap();
        let before = store.get("k").await.unwrap().unwrap().expires_at.unwrap();
        assert!(store.touch("k", Duration::from_secs(60)).await.unwrap());
        let entry = store.get("k").await.unwrap().unwrap();
        assert_eq!(entry.version, v);
        assert!(entry.expires_at.unwrap() > before);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let entry = store.get("k").await.unwrap().expect("touch extended it");
        assert_eq!((entry.value.as_slice(), entry.version), (&b"x"[..], v));
        // A compare-and-set still matches the untouched version.
        store
            .set("k", b"y", None, Condition::IfVersion(v))
            .await
            .unwrap();
        assert!(
            !store
                .touch("missing", Duration::from_secs(1))
                .await
                .unwrap()
        );
        let e = store.touch("k", Duration::ZERO).await.unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::InvalidInput);
    }

    pub(super) async fn scan_literal_prefix(store: &SqlStore) {
        let keys = [
            "a%b:1", "a%b:2", "axb:1", "aXYb:1", "a_b:1", "A%b:1", "a!b", "a\\b", "a%B:1",
        ];
        for key in keys {
            store.set(key, b"", None, Condition::Always).await.unwrap();
        }
        store
            .set("a%b:gone", b"", ttl(1), Condition::Always)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        let scan = |prefix: &'static str| async move {
            let mut found = store.scan(prefix, 100).await.unwrap();
            found.sort();
            found
        };
        assert_eq!(scan("a%b").await, ["a%b:1", "a%b:2"]);
        assert_eq!(scan("a_b").await, ["a_b:1"]);
        assert_eq!(scan("a%").await, ["a%B:1", "a%b:1", "a%b:2"]);
        assert_eq!(scan("A").await, ["A%b:1"]);
        assert_eq!(scan("a!").await, ["a!b"]);
        assert_eq!(scan("a\\").await, ["a\\b"]);
        assert_eq!(scan("b").await, Vec::<String>::new());
        assert_eq!(scan("").await.len(), keys.len());
        assert_eq!(store.scan("a", 3).await.unwrap().len(), 3);
        assert!(store.scan("a", 0).await.unwrap().is_empty());
    }

    pub(super) async fn contention(store: &SqlStore) {
        const TASKS: u64 = 16;
        const INCREMENTS: u64 = 200;
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut conflicts = 0u64;
                    for _ in 0..INCREMENTS {
                        loop {
                            let current = store.get("counter").await.unwrap();
                            let (next, condition) = match &current {
                                Some(entry) => {
                                    let n: u64 =
                                        std::str::from_utf8(&entry.value).unwrap().parse().unwrap();
                                    (n + 1, Condition::IfVersion(entry.version))
                                }
                                None => (1, Condition::IfAbsent),
                            };
                            match store
                                .set("counter", next.to_string().as_bytes(), None, condition)
                                .await
                            {
                                Ok(_) => break,
                                Err(e) if e.is_conflict() => conflicts += 1,
                                Err(e) => panic!("{e:?}"),
                            }
                        }
                    }
                    conflicts
                })
            })
            .collect();
        let mut conflicts = 0;
        for task in tasks {
            conflicts += task.await.unwrap();
        }
        let entry = store.get("counter").await.unwrap().unwrap();
        assert_eq!(entry.value, (TASKS * INCREMENTS).to_string().as_bytes());
        eprintln!("{}: {conflicts} conflicts retried", store.backend());
    }

    pub(super) async fn invalid_input(store: &SqlStore) {
        let invalid = |e: satchel_sql::StoreError| {
            assert_eq!(e.kind(), StoreErrorKind::InvalidInput, "{e:?}");
        };
        invalid(store.get("").await.unwrap_err());
        invalid(
            store
                .set("", b"", None, Condition::Always)
                .await
                .unwrap_err(),
        );
        invalid(store.delete("").await.unwrap_err());
        invalid(store.touch("", Duration::from_secs(1)).await.unwrap_err());
        invalid(
            store
                .set("k", b"", Some(Duration::ZERO), Condition::Always)
                .await
                .unwrap_err(),
        );
        if store.backend() == "mysql" {
            let longest = "\u{10FFFF}".repeat(255);
            store
                .set(&longest, b"x", None, Condition::Always)
                .await
                .unwrap();
            assert!(store.get(&longest).await.unwrap().is_some());
            let too_long = "k".repeat(256);
            invalid(
                store
                    .set(&too_long, b"x", None, Condition::Always)
                    .await
                    .unwrap_err(),
            );
            assert_eq!(store.get(&too_long).await.unwrap(), None);
        } else {
            let long = "k".repeat(10_000);
            store
                .set(&long, b"x", None, Condition::Always)
                .await
                .unwrap();
            assert!(store.get(&long).await.unwrap().is_some());
        }
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

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_stores_are_separate() {
    let a = SqlStore::connect("sqlite::memory:").await.unwrap();
    let b = SqlStore::connect("sqlite::memory:").await.unwrap();
    a.set("k", b"a", None, Condition::Always).await.unwrap();
    assert_eq!(b.get("k").await.unwrap(), None);
    assert_eq!(a.table(), "satchel_kv");
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_purge_runs_and_stops_with_the_store() {
    let Some(fx) = Fixture::open(Target::SqliteFile).await else {
        return;
    };
    let config = SqlConfig::new(fx.url.clone())
        .with_table(fx.store.table())
        .with_purge_interval(Some(Duration::from_millis(100)));
    let purging = SqlStore::with_config(config).await.unwrap();
    let clone = purging.clone();
    purging
        .set(
            "k",
            b"x",
            Some(Duration::from_millis(50)),
            Condition::Always,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The background task already removed it.
    assert_eq!(fx.store.purge_expired().await.unwrap(), 0);
    drop(purging);
    // One clone left: still purging.
    clone
        .set(
            "k",
            b"x",
            Some(Duration::from_millis(50)),
            Condition::Always,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(fx.store.purge_expired().await.unwrap(), 0);
    drop(clone);
    // No clone left: the task stopped, expired rows stay until purged.
    fx.store
        .set(
            "k",
            b"x",
            Some(Duration::from_millis(50)),
            Condition::Always,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(fx.store.purge_expired().await.unwrap(), 1);
    fx.cleanup().await;
}

#[tokio::test(flavor = "current_thread")]
async fn unknown_scheme_is_invalid_input() {
    for url in ["redis://127.0.0.1", "nonsense", "http://u:secretpw@host/"] {
        let e = SqlStore::connect(url).await.unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::InvalidInput, "{e:?}");
        assert!(!format!("{e} {e:?}").contains("secretpw"), "{e:?}");
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_postgres_hides_the_password() {
    let config = SqlConfig::new("postgres://u:secretpw@127.0.0.1:1/x")
        .with_acquire_timeout(Duration::from_secs(2));
    assert!(!format!("{config:?}").contains("secretpw"));
    let e = SqlStore::with_config(config).await.unwrap_err();
    assert!(
        matches!(
            e.kind(),
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout
        ),
        "{e:?}"
    );
    assert_eq!(e.backend(), Some("postgres"));
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("secretpw"), "{shown}");
    assert!(shown.contains("u:***@127.0.0.1:1"), "{shown}");
    let mut source = std::error::Error::source(&e);
    assert!(source.is_some(), "the sqlx error is kept");
    while let Some(s) = source {
        assert!(!format!("{s} {s:?}").contains("secretpw"));
        source = s.source();
    }
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_mysql_hides_the_password() {
    for url in [
        "mysql://u:secretpw@127.0.0.1:1/x",
        "mariadb://u:secretpw@127.0.0.1:1/x",
    ] {
        let config = SqlConfig::new(url).with_acquire_timeout(Duration::from_secs(2));
        let e = SqlStore::with_config(config).await.unwrap_err();
        assert!(
            matches!(
                e.kind(),
                StoreErrorKind::Unavailable | StoreErrorKind::Timeout
            ),
            "{e:?}"
        );
        assert_eq!(e.backend(), Some("mysql"));
        assert!(!format!("{e} {e:?}").contains("secretpw"), "{e:?}");
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_survives_terminated_connections() {
    use sqlx::Connection;

    let Some(url) = service_url("SATCHEL_TEST_POSTGRES_URL") else {
        return;
    };
    // Only this store's connections are terminated, so the tests running beside this one
    // (and other processes on the same database) keep theirs.
    let app = unique("satchel_terminate");
    let separator = if url.contains('?') { '&' } else { '?' };
    let store = SqlStore::with_config(
        SqlConfig::new(format!("{url}{separator}application_name={app}"))
            .with_table(unique("satchel_test")),
    )
    .await
    .unwrap();
    let fx = Fixture {
        store,
        target: Target::Postgres,
        url,
        file: None,
    };
    let store = &fx.store;
    // Fill the pool with several connections.
    let writes: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("k{i}");
                store
                    .set(&key, b"before", None, Condition::Always)
                    .await
                    .unwrap()
            })
        })
        .collect();
    for w in writes {
        w.await.unwrap();
    }
    let v = store
        .set("acked", b"one", None, Condition::Always)
        .await
        .unwrap();

    for round in 0..3 {
        let mut admin = sqlx::PgConnection::connect(&fx.url).await.unwrap();
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND application_name = $1",
        )
        .bind(&app)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert!(!killed.is_empty());
        admin.close().await.unwrap();

        let entry = store
            .get("acked")
            .await
            .unwrap()
            .expect("acknowledged write");
        assert!(entry.version >= v);
        let v2 = store
            .set(
                "acked",
                format!("round {round}").as_bytes(),
                None,
                Condition::IfVersion(entry.version),
            )
            .await
            .unwrap();
        assert_eq!(
            store.get("acked").await.unwrap().unwrap().value,
            format!("round {round}").as_bytes()
        );
        assert!(v2 > entry.version);
        for i in 0..8 {
            assert!(store.get(&format!("k{i}")).await.unwrap().is_some());
        }
        assert!(store.touch("k0", Duration::from_secs(60)).await.unwrap());
        assert_eq!(store.scan("k", 100).await.unwrap().len(), 8);
    }
    fx.cleanup().await;
}

/// 0.1: a value just over MariaDB's `max_allowed_packet` was sent, the server closed the
/// connection, and the error said the database "could not be reached". It is refused
/// before it is sent, as invalid input naming the limit, and the store keeps working.
#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_value_over_max_allowed_packet_is_invalid_input() {
    let Some(fx) = Fixture::open(Target::MySql).await else {
        return;
    };
    let max: i64 = {
        use sqlx::Connection;
        let mut c = sqlx::MySqlConnection::connect(&fx.url).await.unwrap();
        sqlx::query_scalar("SELECT CAST(@@max_allowed_packet AS SIGNED)")
            .fetch_one(&mut c)
            .await
            .unwrap()
    };
    let value = vec![7u8; usize::try_from(max).unwrap() + 1];
    let err = fx
        .store
        .set("big", &value, None, Condition::Always)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("max_allowed_packet"), "{err}");
    fx.store
        .set("small", b"ok", None, Condition::Always)
        .await
        .unwrap();
    assert_eq!(fx.store.get("small").await.unwrap().unwrap().value, b"ok");
    fx.cleanup().await;
}

/// Issue 18: serving the Coherence client's suite left a 2 GB `-wal` file next to an 87 MB
/// database, never checkpointed and still there after shutdown. Under sustained writes
/// with scans running beside them the log stays under its limit, and closing the store
/// leaves none behind.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_wal_stays_bounded_under_sustained_writes_and_scans() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    const WRITERS: u32 = 8;
    const EACH: u32 = 12_000;
    const LIMIT: u64 = 64 << 20;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wal.db");
    let store = SqlStore::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let value = vec![0x5Au8; 400];
    let stop = Arc::new(AtomicBool::new(false));
    let max_wal = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for _ in 0..2 {
        let (store, stop, max_wal) = (store.clone(), Arc::clone(&stop), Arc::clone(&max_wal));
        readers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let keys = store.scan("w", 5_000).await.unwrap();
                if let Some(k) = keys.first() {
                    store.get(k).await.unwrap();
                }
                max_wal.fetch_max(store.wal_size().unwrap(), Ordering::Relaxed);
            }
        }));
    }
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, value, max_wal) = (store.clone(), value.clone(), Arc::clone(&max_wal));
        writers.push(tokio::spawn(async move {
            for i in 0..EACH {
                // Keys cycle, so the table stays small while the log takes every write.
                let key = format!("w{w}:{}", i % 500);
                store
                    .set(&key, &value, None, Condition::Always)
                    .await
                    .unwrap();
                if i % 100 == 0 {
                    max_wal.fetch_max(store.wal_size().unwrap(), Ordering::Relaxed);
                }
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }
    let max = max_wal.load(Ordering::Relaxed);
    eprintln!(
        "sqlite WAL: {} writes of {} bytes with scans beside them, largest WAL {} KiB",
        WRITERS * EACH,
        value.len(),
        max >> 10
    );
    // Bounded, not exact: a checkpoint cannot pass a scan's read snapshot, so the log grows
    // by whatever lands while a scan runs, which on a loaded 2-core machine (the whole
    // suite building and running beside it) it was measured at 93 MB, 45% over the limit;
    // alone it peaks at 70-74 MiB. Without the bound this test reaches 797 MB.
    assert!(max <= 2 * LIMIT, "the WAL reached {max} bytes");
    store.close().await;
    let left = std::fs::metadata(dir.path().join("wal.db-wal")).map_or(0, |m| m.len());
    assert_eq!(left, 0, "a closed store left a {left}-byte WAL behind");
}
