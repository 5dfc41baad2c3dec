//! [`SqlStore`]: the [`Store`] over a SQL table, one row per key.

use std::future::Future;
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};

use satchel_store_core::{
    BoxFuture, Capabilities, Condition, Entry, PurgeExpired, Result, Scan, Store, StoreError,
    StoreErrorKind, Version, check_key, check_write, from_unix_millis, redact_url, unix_millis,
    unknown_condition,
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

/// How many times a MySQL write transaction that deadlocked (or lost an insert race) is run
/// again before the error is returned.
#[cfg(feature = "mysql")]
const MYSQL_TX_ATTEMPTS: u32 = 16;

/// A [`Store`] in a SQL table: SQLite, PostgreSQL or MySQL/MariaDB, through `sqlx`.
///
/// Each key is one row `(key, value, version, expires_at)`; the table (and an index on
/// `expires_at`) is created when the store connects if it does not exist:
///
/// | column | SQLite | PostgreSQL | MySQL/MariaDB |
/// |---|---|---|---|
/// | `key` (primary key) | `TEXT` | `TEXT COLLATE "C"` | `VARBINARY(1020)`, at most 255 characters |
/// | `value` | `BLOB` | `BYTEA` | `LONGBLOB` |
/// | `version` | `BIGINT` | `BIGINT` | `BIGINT` |
/// | `expires_at` (Unix ms, `NULL`: never) | `BIGINT` | `BIGINT` | `BIGINT` |
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
/// row (`SELECT … FOR UPDATE`) on MySQL, rerun if it deadlocks.
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
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    dialect: Dialect,
    sql: Statements,
    table: String,
    /// The URL with the password replaced, for `Debug`.
    url: String,
    /// Aborts the background purge when the last clone is dropped.
    _purge_task: Option<AbortOnDrop>,
    /// Until when (Unix ms) every pooled connection is pinged on checkout: set when a
    /// connection was found dead, since its pool mates likely are too.
    suspect_until: Arc<AtomicI64>,
    /// See `SqlConfig::with_operation_timeout`.
    operation_timeout: Option<Duration>,
}

enum Pool {
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

struct AbortOnDrop(tokio::task::AbortHandle);

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
    pub async fn with_config(config: SqlConfig) -> Result<Self> {
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
        let suspect_until = Arc::new(AtomicI64::new(0));
        let (pool, dialect) = open_pool(&config, &url, &suspect_until).await?;
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
        };
        let inner = match (runtime, config.purge_interval) {
            (Some(runtime), Some(interval)) => Arc::new_cyclic(|weak| {
                let task = runtime.spawn(purge_loop(weak.clone(), interval));
                new_inner(Some(AbortOnDrop(task.abort_handle())))
            }),
            _ => Arc::new(new_inner(None)),
        };
        inner.create_schema().await?;
        Ok(Self { inner })
    }

    /// The table the values are in.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// Closes every connection of the pool, waiting for those in use to be returned.
    /// Operations on this store and its clones fail with
    /// [`StoreErrorKind::Unavailable`] afterwards.
    pub async fn close(&self) {
        with_pool!(&self.inner.pool, p => p.close().await);
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

async fn open_pool(
    config: &SqlConfig,
    redacted: &str,
    suspect_until: &Arc<AtomicI64>,
) -> Result<(Pool, Dialect)> {
    #[cfg(not(any(feature = "postgres", feature = "mysql")))]
    let _ = suspect_until;
    let url = config.url.as_str();
    let scheme = url
        .split_once(':')
        .map(|(scheme, _)| scheme.to_ascii_lowercase())
        .unwrap_or_default();
    match scheme.as_str() {
        #[cfg(feature = "sqlite")]
        "sqlite" => open_sqlite(config, redacted).await,
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => {
            let dialect = Dialect::Postgres;
            let options = sqlx::postgres::PgConnectOptions::from_str(url)
                .map_err(|e| error::connect_failed(e, dialect, redacted))?;
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(config.max_connections)
                .acquire_timeout(config.acquire_timeout)
                .test_before_acquire(false)
                .before_acquire({
                    let suspect = suspect_until.clone();
                    move |conn, meta| Box::pin(ping_if_needed(conn, meta, suspect.clone()))
                })
                .connect_with(options)
                .await
                .map_err(|e| error::connect_failed(e, dialect, redacted))?;
            Ok((Pool::Postgres(pool), dialect))
        }
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => {
            let dialect = Dialect::MySql;
            // sqlx knows MariaDB servers by the `mysql` scheme.
            let url = format!("mysql{}", &url[scheme.len()..]);
            let options = sqlx::mysql::MySqlConnectOptions::from_str(&url)
                .map_err(|e| error::connect_failed(e, dialect, redacted))?;
            let pool = sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(config.max_connections)
                .acquire_timeout(config.acquire_timeout)
                .test_before_acquire(false)
                .before_acquire({
                    let suspect = suspect_until.clone();
                    move |conn, meta| Box::pin(ping_if_needed(conn, meta, suspect.clone()))
                })
                .connect_with(options)
                .await
                .map_err(|e| error::connect_failed(e, dialect, redacted))?;
            Ok((Pool::MySql(pool), dialect))
        }
        #[allow(unreachable_patterns)]
        "sqlite" | "postgres" | "postgresql" | "mysql" | "mariadb" => Err(error::bad_url(
            redacted,
            "this build of satchel-sql lacks the cargo feature for it \
             (`sqlite`, `postgres` or `mysql`)",
        )),
        _ => Err(error::bad_url(
            redacted,
            "unknown scheme; expected sqlite:, postgres://, postgresql://, mysql:// or \
             mariadb://",
        )),
    }
}

#[cfg(feature = "sqlite")]
async fn open_sqlite(config: &SqlConfig, redacted: &str) -> Result<(Pool, Dialect)> {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };

    let dialect = Dialect::Sqlite;
    let url = config.url.as_str();
    let path = url.get("sqlite:".len()..).unwrap_or("");
    let in_memory =
        path.trim_start_matches("//").starts_with(":memory:") || path.contains("mode=memory");
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|e| error::connect_failed(e, dialect, redacted))?
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    let pool_options = SqlitePoolOptions::new().acquire_timeout(config.acquire_timeout);
    let (pool_options, options) = if in_memory {
        // The database lives as long as a connection to it: keep exactly one, forever,
        // so every operation sees the same data.
        (
            pool_options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None),
            options,
        )
    } else {
        (
            pool_options.max_connections(config.max_connections),
            options
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal),
        )
    };
    let pool = pool_options
        .connect_with(options)
        .await
        .map_err(|e| error::connect_failed(e, dialect, redacted))?;
    Ok((Pool::Sqlite(pool), dialect))
}

/// Deletes expired rows every `interval` while a clone of the store is alive.
async fn purge_loop(store: Weak<Inner>, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        let Some(inner) = store.upgrade() else {
            return;
        };
        match inner.purge().await {
            Ok(n) => tracing::debug!(
                backend = inner.dialect.name(),
                table = %inner.table,
                purged = n,
                "purged expired rows"
            ),
            Err(e) => tracing::warn!(
                backend = inner.dialect.name(),
                table = %inner.table,
                error = %e,
                "background purge of expired rows failed"
            ),
        }
    }
}

/// Milliseconds since the epoch, now.
fn now_millis() -> i64 {
    unix_millis(SystemTime::now())
}

/// When a value written at `now` (ms) with `ttl` expires; a ttl under a millisecond still
/// gives the value that millisecond.
fn expiry(now: i64, ttl: Duration) -> i64 {
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    now.saturating_add(i64::try_from(millis).unwrap_or(i64::MAX))
}

/// The smallest version a write may take now: microseconds since the epoch, and above every
/// stamp this process handed out before (so two writes in one microsecond differ too).
fn next_stamp() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    let next = |last: i64| now.max(last.saturating_add(1));
    match LAST.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
        Some(next(last))
    }) {
        Ok(last) | Err(last) => next(last),
    }
}

/// What a `set` writes, worked out once before any attempt.
#[derive(Clone, Copy)]
struct Write<'a> {
    key: &'a str,
    value: &'a [u8],
    /// Unix ms, `None`: never.
    expires_at: Option<i64>,
    /// The lowest version this write may take ([`next_stamp`]).
    stamp: i64,
    /// Unix ms: rows expiring at or before this are gone.
    now: i64,
}

impl Inner {
    fn err(&self, err: sqlx::Error, op: Op) -> StoreError {
        error::from_sqlx(err, op, self.dialect)
    }

    fn version(&self, key: &str, version: i64) -> Result<Version> {
        u64::try_from(version)
            .map(Version)
            .map_err(|_| error::bad_version(key, version, self.dialect))
    }

    /// Runs `attempt` until it succeeds or fails for good: statements refused because
    /// SQLite was busy are run again (they did nothing), and if `idempotent`, one attempt
    /// that lost its connection is run again on another.
    async fn retry<T, F, Fut>(&self, idempotent: bool, mut attempt: F) -> Result<T, sqlx::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        let busy_until = Instant::now() + BUSY_RETRY_FOR;
        let mut pause = Duration::from_millis(1);
        let mut reconnected = false;
        loop {
            let result = attempt().await;
            if let Err(e) = &result
                && error::is_connection_lost(e, self.dialect)
            {
                self.suspect_until
                    .store(now_millis() + SUSPECT_FOR_MS, Ordering::Relaxed);
            }
            match result {
                Err(e) if error::is_busy(&e, self.dialect) && Instant::now() < busy_until => {
                    tracing::debug!(backend = self.dialect.name(), "database busy; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e)
                    if idempotent
                        && !reconnected
                        && error::is_connection_lost(&e, self.dialect) =>
                {
                    tracing::debug!(
                        backend = self.dialect.name(),
                        error = %e,
                        "connection lost; retrying once"
                    );
                    reconnected = true;
                }
                other => return other,
            }
        }
    }

    async fn create_schema(&self) -> Result<()> {
        let statements = std::iter::once(&self.sql.create_table).chain(&self.sql.create_index);
        for sql in statements {
            let result = with_pool!(&self.pool, p => {
                self.retry(true, || async move { sqlx::query(sql).execute(p).await.map(drop) })
                    .await
            });
            match result {
                Ok(_) => {}
                // Two processes creating the same table at once: PostgreSQL's catalog
                // refuses the second, and the table is there.
                Err(e) if error::is_unique_violation(&e) => {}
                Err(e) => {
                    return Err(self.err(e, Op::Schema).with_key(self.table.clone()));
                }
            }
        }
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>> {
        check_key(key)?;
        let now = now_millis();
        let sql = self.sql.get.as_str();
        let row = with_pool!(&self.pool, p => {
            self.retry(true, || async move {
                sqlx::query_as::<_, (Vec<u8>, i64, Option<i64>)>(sql)
                    .bind(key)
                    .bind(now)
                    .fetch_optional(p)
                    .await
            })
            .await
        })
        .map_err(|e| self.err(e, Op::Get).with_key(key))?;
        match row {
            Some((value, version, expires_at)) => Ok(Some(Entry::new(
                value,
                self.version(key, version)?,
                expires_at.map(from_unix_millis),
            ))),
            None => Ok(None),
        }
    }

    async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        condition: Condition,
    ) -> Result<Version> {
        check_write(key, ttl)?;
        #[cfg(feature = "mysql")]
        if self.dialect == Dialect::MySql
            && key.chars().count() > crate::dialect::MYSQL_MAX_KEY_CHARS
        {
            return Err(error::key_too_long(
                key,
                crate::dialect::MYSQL_MAX_KEY_CHARS,
                self.dialect,
            ));
        }
        let now = now_millis();
        let write = Write {
            key,
            value,
            expires_at: ttl.map(|ttl| expiry(now, ttl)),
            stamp: next_stamp(),
            now,
        };
        let if_absent = match condition {
            Condition::IfVersion(expected) => return self.set_if_version(write, expected).await,
            Condition::IfAbsent => true,
            Condition::Always => false,
            _ => return Err(unknown_condition(key, condition, self.dialect.name())),
        };
        let conflict = || error::conflict(key, condition, self.dialect);
        let fail = |e: sqlx::Error| {
            if if_absent && error::is_unique_violation(&e) {
                conflict()
            } else {
                self.err(e, Op::Set).with_key(key)
            }
        };

        // SQLite and PostgreSQL: one upsert statement that returns the new version, or no
        // row when if-absent finds a live value.
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        macro_rules! upsert {
            ($p:expr) => {{
                let sql = if if_absent {
                    self.sql.insert_if_absent.as_str()
                } else {
                    self.sql.upsert.as_str()
                };
                self.retry(!if_absent, || async move {
                    let query = sqlx::query_scalar::<_, i64>(sql)
                        .bind(write.key)
                        .bind(write.value)
                        .bind(write.stamp)
                        .bind(write.expires_at);
                    let query = if if_absent {
                        query.bind(write.now)
                    } else {
                        query
                    };
                    query.fetch_optional($p).await
                })
                .await
            }};
        }
        let version = match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => upsert!(p),
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => upsert!(p),
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => self.mysql_set(p, write, if_absent).await,
        }
        .map_err(fail)?;
        match version {
            Some(version) => self.version(key, version),
            None => Err(conflict()),
        }
    }

    /// Compare-and-set: one `UPDATE` of the live row at `expected`, on every database.
    async fn set_if_version(&self, write: Write<'_>, expected: Version) -> Result<Version> {
        let Write {
            key,
            value,
            expires_at,
            stamp,
            now,
        } = write;
        let condition = Condition::IfVersion(expected);
        // A version above i64::MAX was never handed out: nothing can match it.
        let Ok(expected) = i64::try_from(expected.0) else {
            return Err(error::conflict(key, condition, self.dialect));
        };
        let version = stamp.max(expected.saturating_add(1));
        let sql = self.sql.update_if_version.as_str();
        let updated = with_pool!(&self.pool, p => {
            self.retry(false, || async move {
                sqlx::query(sql)
                    .bind(value)
                    .bind(version)
                    .bind(expires_at)
                    .bind(key)
                    .bind(expected)
                    .bind(now)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected())
            })
            .await
        })
        .map_err(|e| self.err(e, Op::Set).with_key(key))?;
        if updated == 1 {
            self.version(key, version)
        } else {
            Err(error::conflict(key, condition, self.dialect))
        }
    }

    /// MySQL has no `RETURNING`: lock the row, decide, write, commit; rerun on deadlock.
    /// `Ok(None)` is a lost if-absent.
    #[cfg(feature = "mysql")]
    async fn mysql_set(
        &self,
        pool: &sqlx::MySqlPool,
        write: Write<'_>,
        if_absent: bool,
    ) -> Result<Option<i64>, sqlx::Error> {
        let Write {
            key,
            value,
            expires_at,
            stamp,
            now,
        } = write;
        let mut attempts = 0;
        let mut reconnected = false;
        loop {
            attempts += 1;
            let result: Result<Option<i64>, sqlx::Error> = async {
                let mut tx = pool.begin().await?;
                let row = sqlx::query_as::<_, (i64, Option<i64>)>(&self.sql.select_for_update)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?;
                let version = match row {
                    Some((_, expires)) if if_absent && expires.is_none_or(|t| t > now) => {
                        tx.rollback().await?;
                        return Ok(None);
                    }
                    Some((old, _)) => {
                        let version = stamp.max(old.saturating_add(1));
                        sqlx::query(&self.sql.replace)
                            .bind(value)
                            .bind(version)
                            .bind(expires_at)
                            .bind(key)
                            .execute(&mut *tx)
                            .await?;
                        version
                    }
                    None => {
                        // A concurrent insert of the same key makes this fail (duplicate
                        // key or deadlock); the rerun then finds and locks its row.
                        sqlx::query(&self.sql.insert)
                            .bind(key)
                            .bind(value)
                            .bind(stamp)
                            .bind(expires_at)
                            .execute(&mut *tx)
                            .await?;
                        stamp
                    }
                };
                tx.commit().await?;
                Ok(Some(version))
            }
            .await;
            match result {
                Err(e)
                    if attempts < MYSQL_TX_ATTEMPTS
                        && (error::is_deadlock(&e) || error::is_unique_violation(&e)) =>
                {
                    tracing::debug!(
                        backend = "mysql",
                        "write transaction lost a race; rerunning"
                    );
                }
                Err(e)
                    if !if_absent
                        && !reconnected
                        && error::is_connection_lost(&e, self.dialect) =>
                {
                    reconnected = true;
                }
                other => return other,
            }
        }
    }

    async fn delete(&self, key: &str) -> Result<bool> {
        check_key(key)?;
        let now = now_millis();
        let (live, expired) = (
            self.sql.delete_live.as_str(),
            self.sql.delete_expired_key.as_str(),
        );
        let deleted = with_pool!(&self.pool, p => {
            async {
                let deleted = self
                    .retry(false, || async move {
                        sqlx::query(live)
                            .bind(key)
                            .bind(now)
                            .execute(p)
                            .await
                            .map(|r| r.rows_affected())
                    })
                    .await?;
                if deleted == 0 {
                    // An expired row is invisible already; remove it as the memory store
                    // does.
                    self.retry(true, || async move {
                        sqlx::query(expired).bind(key).bind(now).execute(p).await.map(drop)
                    })
                    .await?;
                }
                Ok::<_, sqlx::Error>(deleted)
            }
            .await
        })
        .map_err(|e| self.err(e, Op::Delete).with_key(key))?;
        Ok(deleted > 0)
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<bool> {
        check_write(key, Some(ttl))?;
        let now = now_millis();
        let expires_at = expiry(now, ttl);
        let sql = self.sql.touch.as_str();
        let touched = with_pool!(&self.pool, p => {
            self.retry(true, || async move {
                sqlx::query(sql)
                    .bind(expires_at)
                    .bind(key)
                    .bind(now)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected())
            })
            .await
        })
        .map_err(|e| self.err(e, Op::Touch).with_key(key))?;
        Ok(touched > 0)
    }

    async fn scan(&self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now = now_millis();
        let pattern = like_prefix(prefix);
        let pattern = pattern.as_str();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = self.sql.scan.as_str();
        // Where LIKE ignores case, the prefix is also compared exactly.
        let exact = self.dialect.like_ignores_case().then(|| {
            (
                i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX),
                prefix,
            )
        });
        let keys = with_pool!(&self.pool, p => {
            self.retry(true, || async move {
                let query = sqlx::query_scalar::<_, String>(sql).bind(pattern).bind(now);
                let query = match exact {
                    Some((chars, prefix)) => query.bind(chars).bind(prefix),
                    None => query,
                };
                query.bind(limit).fetch_all(p).await
            })
            .await
        });
        keys.map_err(|e| self.err(e, Op::Scan))
    }

    async fn purge(&self) -> Result<u64> {
        let now = now_millis();
        let sql = self.sql.purge.as_str();
        with_pool!(&self.pool, p => {
            self.retry(true, || async move {
                sqlx::query(sql).bind(now).execute(p).await.map(|r| r.rows_affected())
            })
            .await
        })
        .map_err(|e| self.err(e, Op::Purge))
    }
}

impl Inner {
    /// Runs one operation under the operation timeout.
    async fn timed<T>(
        &self,
        key: Option<&str>,
        write: bool,
        op: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(limit) = self.operation_timeout else {
            return op.await;
        };
        match tokio::time::timeout(limit, op).await {
            Ok(result) => result,
            Err(_) => {
                let e = StoreError::new(
                    StoreErrorKind::Timeout,
                    format!(
                        "no answer from the database within {limit:?} (SqlConfig::\
                         with_operation_timeout){}",
                        if write {
                            "; the write may or may not have been applied: re-read before \
                             retrying"
                        } else {
                            ""
                        }
                    ),
                )
                .with_backend(self.dialect.name());
                Err(match key {
                    Some(key) => e.with_key(key),
                    None => e,
                })
            }
        }
    }
}

impl Store for SqlStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
        Box::pin(self.inner.timed(Some(key), false, self.inner.get(key)))
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
    ) -> BoxFuture<'a, Result<Version>> {
        Box::pin(
            self.inner
                .timed(Some(key), true, self.inner.set(key, value, ttl, condition)),
        )
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(self.inner.timed(Some(key), true, self.inner.delete(key)))
    }

    fn touch<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        Box::pin(
            self.inner
                .timed(Some(key), true, self.inner.touch(key, ttl)),
        )
    }

    fn backend(&self) -> &'static str {
        self.inner.dialect.name()
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_scan(true).with_purge_expired(true)
    }
}

satchel_store_core::store_object!(SqlStore: scan, purge_expired);

impl Scan for SqlStore {
    fn scan<'a>(&'a self, prefix: &'a str, limit: usize) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(
            self.inner
                .timed(None, false, self.inner.scan(prefix, limit)),
        )
    }
}

impl PurgeExpired for SqlStore {
    fn purge_expired(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(self.inner.timed(None, true, self.inner.purge()))
    }
}

/// How long a pooled connection may sit idle before it is pinged on checkout.
#[cfg(any(feature = "postgres", feature = "mysql"))]
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// How long every checkout pings after a connection was found dead.
const SUSPECT_FOR_MS: i64 = 5_000;

/// Pings a connection on checkout only when it may be dead: it sat idle for a while, or
/// another connection of the pool was recently found dead (a server restart or
/// `pg_terminate_backend` kills them all). sqlx's default pings every checkout, one extra
/// round trip per operation, measured at about half the throughput of single gets.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn ping_if_needed<C: sqlx::Connection>(
    conn: &mut C,
    meta: sqlx::pool::PoolConnectionMetadata,
    suspect_until: Arc<AtomicI64>,
) -> std::result::Result<bool, sqlx::Error> {
    if meta.idle_for >= PING_AFTER_IDLE || now_millis() < suspect_until.load(Ordering::Relaxed) {
        conn.ping().await?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_strictly_increase() {
        let mut last = 0;
        for _ in 0..10_000 {
            let s = next_stamp();
            assert!(s > last);
            last = s;
        }
    }

    #[test]
    fn expiry_rounds_up_and_saturates() {
        assert_eq!(expiry(1_000, Duration::from_millis(300)), 1_300);
        assert_eq!(expiry(1_000, Duration::from_nanos(1)), 1_001);
        assert_eq!(expiry(1_000, Duration::MAX), i64::MAX);
    }
}
