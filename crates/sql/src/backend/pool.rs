//! Opening the pool of each database, and pinging connections on checkout only when they
//! may be dead.

use super::*;

pub(super) async fn open_pool(
    config: &SqlConfig,
    redacted: &str,
    suspect_until: &Arc<AtomicI64>,
) -> Result<(Pool, Dialect, Option<super::wal::WalWatch>)> {
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
            Ok((Pool::Postgres(pool), dialect, None))
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
                // READ COMMITTED: a `SELECT … FOR UPDATE` of a missing key then locks
                // nothing, where REPEATABLE READ (InnoDB's default) locks the gap around it,
                // so writers of unrelated new keys that fall in one gap deadlock each other.
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        sqlx::Executor::execute(
                            conn,
                            "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
                        )
                        .await
                        .map(drop)
                    })
                })
                .test_before_acquire(false)
                .before_acquire({
                    let suspect = suspect_until.clone();
                    move |conn, meta| Box::pin(ping_if_needed(conn, meta, suspect.clone()))
                })
                .connect_with(options)
                .await
                .map_err(|e| error::connect_failed(e, dialect, redacted))?;
            Ok((Pool::MySql(pool), dialect, None))
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
pub(super) async fn open_sqlite(
    config: &SqlConfig,
    redacted: &str,
) -> Result<(Pool, Dialect, Option<super::wal::WalWatch>)> {
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
                .synchronous(SqliteSynchronous::Normal)
                // After each reset of the log, the file is cut back to this size.
                .pragma("journal_size_limit", super::wal::WAL_LIMIT.to_string()),
        )
    };
    let wal = (!in_memory).then(|| super::wal::WalWatch::new(options.get_filename()));
    let pool = pool_options
        .connect_with(options)
        .await
        .map_err(|e| error::connect_failed(e, dialect, redacted))?;
    Ok((Pool::Sqlite(pool), dialect, wal))
}

/// How long a pooled connection may sit idle before it is pinged on checkout.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(super) const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// How long every checkout pings after a connection was found dead.
pub(super) const SUSPECT_FOR_MS: i64 = 5_000;

/// Pings a connection on checkout only when it may be dead: it sat idle for a while, or
/// another connection of the pool was recently found dead (a server restart or
/// `pg_terminate_backend` kills them all). sqlx's default pings every checkout, one extra
/// round trip per operation, measured at about half the throughput of single gets.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(super) async fn ping_if_needed<C: sqlx::Connection>(
    conn: &mut C,
    meta: sqlx::pool::PoolConnectionMetadata,
    suspect_until: Arc<AtomicI64>,
) -> std::result::Result<bool, sqlx::Error> {
    if meta.idle_for >= PING_AFTER_IDLE || now_millis() < suspect_until.load(Ordering::Relaxed) {
        conn.ping().await?;
    }
    Ok(true)
}
