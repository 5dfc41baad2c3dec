//! [`SqlStore`]: the [`Store`] over a SQL table, one row per key. By job:
//!
//! - `pool`: opening the connection pool of each database, and pings on checkout;
//! - `purge`: the background task that deletes expired rows;
//! - `versions`: versions, stamps and expiry times;
//! - `retry`: statements run again when SQLite was busy or a connection was lost;
//! - `ops`: the statements of each operation (get, set, compare-and-set, …);
//! - `owners`: owner tags (the `owner` column, added to tables of 0.1) and `OwnedKeys`;
//! - `timeouts`: the operation timeout;
//! - `traits`: the `Store`, `Scan` and `PurgeExpired` impls;
//! - `wal`: keeping SQLite's write-ahead log bounded;
//! - `watch`: the change feed (PostgreSQL `NOTIFY` from a trigger).

use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use satchel_store_core::{
    BoxFuture, Capabilities, Condition, Cursor, Entry, Page, PurgeExpired, Result, RetryPolicy,
    Scan, Store, StoreError, StoreErrorKind, Version, check_key, check_write, from_unix_millis,
    redact_url, unix_millis, unknown_condition,
};

use crate::config::SqlConfig;
use crate::dialect::{Dialect, Statements, like_prefix};
use crate::error::{self, Op};

/// How long SQLite waits for another connection's write lock before a statement fails
/// with `SQLITE_BUSY` (which is then retried, see [`BUSY_RETRY_FOR`]).
#[cfg(feature = "sqlite")]
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a statement refused with `SQLITE_BUSY` keeps being retried.
const BUSY_RETRY_FOR: Duration = Duration::from_secs(30);

/// How the reruns of a statement or transaction that the database refused as busy or
/// deadlocked are spread out: a jittered sleep from 1 ms doubling up to 50 ms, for as long
/// as [`BUSY_RETRY_FOR`] allows.
fn busy_backoff() -> RetryPolicy {
    RetryPolicy::default().with_backoff(Duration::from_millis(1), Duration::from_millis(50))
}

/// A [`Store`] in a SQL table: SQLite, PostgreSQL or MySQL/MariaDB, through `sqlx`.
///
/// Each key is one row `(key, value, version, expires_at, owner)`; the table (and indexes on
/// `expires_at` and `owner`) is created when the store connects if it does not exist, and a
/// table of satchel 0.1, which has no `owner` column, gets it then (`ALTER TABLE … ADD
/// COLUMN`, rows kept):
///
/// | column | SQLite | PostgreSQL | MySQL/MariaDB |
/// |---|---|---|---|
/// | `key` (primary key) | `TEXT` | `TEXT COLLATE "C"` | `VARBINARY(1020)`, at most 255 characters |
/// | `value` | `BLOB` | `BYTEA` | `LONGBLOB` |
/// | `version` | `BIGINT` | `BIGINT` | `BIGINT` |
/// | `expires_at` (Unix ms, `NULL`: never) | `BIGINT` | `BIGINT` | `BIGINT` |
/// | `owner` ([`OwnedKeys`](satchel_store_core::OwnedKeys) tag, `NULL`: none) | `TEXT` | `TEXT COLLATE "C"` | `VARBINARY(1020)` |
///
/// Keys compare byte for byte on every backend (no case folding, no padding). Expired rows
/// are never returned and stay in the table until they are overwritten, purged by
/// [`PurgeExpired::purge_expired`], or by the background task of
/// [`SqlConfig::with_purge_interval`].
///
/// **Versions** are `max(previous + 1, now in µs since the epoch)`: strictly increasing for a
/// key and, as long as the clocks of the writing processes do not run backwards past a
/// deleted key's last version, never reused after the key is deleted and written again.
/// **Expiry** uses this process's clock, in milliseconds.
///
/// **Conditional writes are one atomic statement** on SQLite and PostgreSQL
/// (`INSERT … ON CONFLICT DO UPDATE … WHERE expired RETURNING version` for if-absent,
/// `UPDATE … WHERE version = ? AND live` for if-version) and a transaction that locks the
/// row (`SELECT … FOR UPDATE`) on MySQL, rerun (with jittered backoff, for up to 30 s) if it
/// deadlocks. MySQL connections run `READ COMMITTED`, so that `SELECT` of a key that is not
/// there yet locks nothing (under `REPEATABLE READ` it locks the gap, and writers of
/// unrelated new keys deadlock each other); a server with `binlog_format = STATEMENT`
/// refuses writes at that level.
///
/// **Retries**: SQLite statements refused as busy are retried; reads, `touch`,
/// unconditional `set` and purges are retried once on a fresh connection when the
/// connection was lost. Other failures are returned: a conditional write or a delete whose
/// connection dropped may or may not have been applied.
///
/// Cloning is cheap: clones share the connection pool. The store runs on Tokio: connect
/// and use it inside a Tokio runtime.
#[derive(Clone)]
pub struct SqlStore {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) pool: Pool,
    pub(super) dialect: Dialect,
    pub(super) sql: Statements,
    pub(super) table: String,
    /// The URL with the password replaced, for `Debug`.
    pub(super) url: String,
    /// Aborts the background purge when the last clone is dropped.
    pub(super) _purge_task: Option<AbortOnDrop>,
    /// Until when (Unix ms) every pooled connection is pinged on checkout: set when a
    /// connection was found dead, since its pool mates likely are too.
    pub(super) suspect_until: Arc<AtomicI64>,
    /// See `SqlConfig::with_operation_timeout`.
    pub(super) operation_timeout: Option<Duration>,
    /// The WAL of a SQLite file database, kept bounded ([`wal`]).
    pub(super) wal: Option<wal::WalWatch>,
    /// The server's `max_allowed_packet` in bytes (MySQL/MariaDB); 0 where there is none.
    pub(super) max_packet: std::sync::atomic::AtomicUsize,
    /// The change feed, if the config asked for one (PostgreSQL).
    #[cfg(feature = "postgres")]
    pub(in crate::backend) feed: Option<Arc<watch::pg::PgFeed>>,
}

pub(super) enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
}

/// Runs `$body` with `$p` bound to the pool, whichever database it is: the body is compiled
/// once per database, so it may use anything the three drivers share.
macro_rules! with_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite($p) => $body,
            #[cfg(feature = "postgres")]
            Pool::Postgres($p) => $body,
            #[cfg(feature = "mysql")]
            Pool::MySql($p) => $body,
        }
    };
}

pub(super) struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl SqlStore {
    /// Connects to the database at `url` with the default [`SqlConfig`] (table
    /// `satchel_kv`), creating the table if it does not exist.
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidInput`] for a URL this build cannot open (unknown scheme,
    /// cargo feature not enabled, malformed); [`StoreErrorKind::Unavailable`] or
    /// [`StoreErrorKind::Timeout`] if the server cannot be reached;
    /// [`StoreErrorKind::Backend`] if it refuses the connection or the table.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::with_config(SqlConfig::new(url)).await
    }

    /// Connects as `config` says, creating the table if it does not exist, and starts the
    /// background purge if the config has an interval.
    ///
    /// # Errors
    /// As [`SqlStore::connect`]; also [`StoreErrorKind::InvalidInput`] for a table name
    /// other than `^[A-Za-z_][A-Za-z0-9_]{0,62}$`, a pool of zero connections, a zero purge
    /// interval, or a purge interval outside a Tokio runtime.
    pub async fn with_config(mut config: SqlConfig) -> Result<Self> {
        config.take_url_change_feed()?;
        config.validate()?;
        let runtime = match config.purge_interval {
            Some(_) => Some(tokio::runtime::Handle::try_current().map_err(|e| {
                StoreError::new(
                    StoreErrorKind::InvalidInput,
                    "a background purge needs a Tokio runtime",
                )
                .with_source(e)
            })?),
            None => None,
        };
        let url = redact_url(&config.url);
        // Refused before connecting: a SQLite file would be created first.
        let scheme = config.url.split_once(':').map_or("", |(scheme, _)| scheme);
        if config.change_feed && !matches!(scheme, "postgres" | "postgresql") {
            return Err(StoreError::new(
                StoreErrorKind::InvalidInput,
                format!(
                    "{url}: a change feed (SqlConfig::with_change_feed, `changeFeed=notify`) \
                     needs PostgreSQL; {scheme} has no notifications to build it on (satchel \
                     serve gives every store an in-process feed)"
                ),
            ));
        }
        let suspect_until = Arc::new(AtomicI64::new(0));
        let (pool, dialect, wal) = open_pool(&config, &url, &suspect_until).await?;
        #[cfg(feature = "postgres")]
        let feed = match (&pool, config.change_feed) {
            (Pool::Postgres(p), true) => Some(Arc::new(watch::pg::PgFeed::new(
                (*p.connect_options()).clone(),
                &config.table,
                config.acquire_timeout,
            ))),
            _ => None,
        };
        let sql = Statements::new(dialect, &config.table);
        let table = config.table;
        let new_inner = |purge_task| Inner {
            pool,
            dialect,
            sql,
            table,
            url,
            _purge_task: purge_task,
            suspect_until: suspect_until.clone(),
            operation_timeout: config.operation_timeout,
            max_packet: std::sync::atomic::AtomicUsize::new(0),
            wal,
            #[cfg(feature = "postgres")]
            feed: feed.clone(),
        };
        let inner = match (runtime, config.purge_interval) {
            (Some(runtime), Some(interval)) => Arc::new_cyclic(|weak| {
                let task = runtime.spawn(purge_loop(weak.clone(), interval));
                new_inner(Some(AbortOnDrop(task.abort_handle())))
            }),
            _ => Arc::new(new_inner(None)),
        };
        inner.create_schema().await?;
        #[cfg(feature = "postgres")]
        if inner.feed.is_some() {
            inner.install_feed_trigger().await?;
        }
        inner.read_max_packet().await?;
        Ok(Self { inner })
    }

    /// The table the values are in.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// Closes every connection of the pool, waiting for those in use to be returned.
    /// Operations on this store and its clones fail with
    /// [`StoreErrorKind::Unavailable`] afterwards. A SQLite file database is checkpointed
    /// first, so no write-ahead log is left next to it.
    pub async fn close(&self) {
        if self.inner.wal.is_some() {
            self.inner.checkpoint().await;
        }
        with_pool!(&self.inner.pool, p => p.close().await);
    }

    /// The size of a SQLite file database's write-ahead log now, in bytes (`None` for other
    /// databases); kept under 64 MiB under sustained writes.
    pub fn wal_size(&self) -> Option<u64> {
        self.inner.wal.as_ref().map(wal::WalWatch::size)
    }
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.inner.dialect.name())
            .field("url", &self.inner.url)
            .field("table", &self.inner.table)
            .finish()
    }
}

mod ops;
mod owners;
mod pool;
mod purge;
mod retry;
mod timeouts;
mod traits;
mod versions;
mod wal;
mod watch;

use pool::SUSPECT_FOR_MS;
use pool::open_pool;
use purge::purge_loop;
use versions::{Write, expiry, next_stamp, now_millis};
