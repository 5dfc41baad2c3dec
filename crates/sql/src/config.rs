//! [`SqlConfig`]: which database, which table, how many connections.

use std::fmt;
use std::time::Duration;

use satchel_store_core::{StoreError, StoreErrorKind, redact_url};

/// How a [`SqlStore`](crate::SqlStore) connects: the database URL, the table, the pool.
///
/// ```
/// use std::time::Duration;
/// use satchel_sql::SqlConfig;
///
/// let config = SqlConfig::new("postgres://app:s3cret@db.internal:5432/app")
///     .with_table("sessions")
///     .with_max_connections(20)
///     .with_purge_interval(Some(Duration::from_secs(300)));
/// // Debug output never shows the password.
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
///
/// URLs: `sqlite://path/to/file.db` (the file is created if missing), `sqlite::memory:`,
/// `postgres://…` or `postgresql://…`, `mysql://…` or `mariadb://…`; each needs the cargo
/// feature of the same name (`mariadb://` is `mysql`).
#[derive(Clone)]
#[non_exhaustive]
pub struct SqlConfig {
    pub(crate) url: String,
    pub(crate) table: String,
    pub(crate) max_connections: u32,
    pub(crate) acquire_timeout: Duration,
    pub(crate) purge_interval: Option<Duration>,
    pub(crate) operation_timeout: Option<Duration>,
    pub(crate) change_feed: bool,
}

impl SqlConfig {
    /// The default [`SqlConfig::table`]: `satchel_kv`.
    pub const DEFAULT_TABLE: &'static str = "satchel_kv";
    /// The default [`SqlConfig::max_connections`]: 10 (an in-memory SQLite database always
    /// has exactly one).
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
    /// The default [`SqlConfig::acquire_timeout`]: 10 seconds.
    pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default [`SqlConfig::operation_timeout`]: 30 seconds.
    pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

    /// The database at `url`, table [`SqlConfig::DEFAULT_TABLE`], default pool settings, no
    /// background purge.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            table: Self::DEFAULT_TABLE.to_string(),
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: Self::DEFAULT_ACQUIRE_TIMEOUT,
            purge_interval: None,
            operation_timeout: Some(Self::DEFAULT_OPERATION_TIMEOUT),
            change_feed: false,
        }
    }

    /// Gives the store a change feed (PostgreSQL only): on connect, a trigger is put on
    /// the table (`CREATE OR REPLACE`, so every process may ask for it) that raises a
    /// `NOTIFY` for each row written or deleted, whoever wrote it, and
    /// [`Watch::watch`](satchel_store_core::Watch::watch) listens for them on one
    /// connection of its own. The URL parameter `changeFeed=notify` does the same (for
    /// `satchel serve --store`). Once the trigger is on the table, every write to it pays
    /// for it, from any process; `docs/stores.md` has the measured cost and the statement
    /// that takes it off. On SQLite and MySQL,
    /// [`SqlStore::with_config`](crate::SqlStore::with_config) refuses it
    /// ([`StoreErrorKind::InvalidInput`]).
    #[must_use]
    pub fn with_change_feed(mut self, yes: bool) -> Self {
        self.change_feed = yes;
        self
    }

    /// The longest one store operation may take, waiting for a connection included, before
    /// it fails with [`StoreErrorKind::Timeout`] (`None`: no limit). Without it, a query
    /// sent just before the network stalls waits for TCP to give up (minutes). A write that
    /// times out may or may not have been applied; the error says so.
    #[must_use]
    pub fn with_operation_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// Keeps the values in table `name` (created on connect if missing). The name must match
    /// `^[A-Za-z_][A-Za-z0-9_]{0,62}$`; another name makes
    /// [`SqlStore::with_config`](crate::SqlStore::with_config) fail with
    /// [`StoreErrorKind::InvalidInput`].
    #[must_use]
    pub fn with_table(mut self, name: impl Into<String>) -> Self {
        self.table = name.into();
        self
    }

    /// The most connections the pool opens (at least 1).
    #[must_use]
    pub fn with_max_connections(mut self, max: u32) -> Self {
        self.max_connections = max;
        self
    }

    /// How long an operation waits for a connection from the pool (opening one included)
    /// before failing with [`StoreErrorKind::Timeout`]. This also bounds how long
    /// [`SqlStore::with_config`](crate::SqlStore::with_config) waits for an unreachable
    /// server.
    #[must_use]
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Deletes expired rows in the background every `interval` (`None`, the default: only
    /// when [`PurgeExpired::purge_expired`](satchel_store_core::PurgeExpired::purge_expired)
    /// is called). The task runs on the Tokio runtime that connected, and stops when the
    /// last clone of the store is dropped.
    #[must_use]
    pub fn with_purge_interval(mut self, interval: Option<Duration>) -> Self {
        self.purge_interval = interval;
        self
    }

    /// The database URL, password included: do not log it; `{:?}` on the config hides the
    /// password.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The pool size.
    pub fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// The acquire timeout.
    pub fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }

    /// The operation timeout, if any.
    pub fn operation_timeout(&self) -> Option<Duration> {
        self.operation_timeout
    }

    /// The background purge interval, if any.
    pub fn purge_interval(&self) -> Option<Duration> {
        self.purge_interval
    }

    /// Whether the store gets a change feed ([`SqlConfig::with_change_feed`]).
    pub fn change_feed(&self) -> bool {
        self.change_feed
    }

    /// Takes the `changeFeed=notify` parameter out of the URL, turning
    /// [`SqlConfig::with_change_feed`] on.
    pub(crate) fn take_url_change_feed(&mut self) -> Result<(), StoreError> {
        const NAME: &str = "changeFeed";
        let Some((base, query)) = self.url.split_once('?') else {
            return Ok(());
        };
        if !query.contains(NAME) {
            return Ok(());
        }
        let mut kept = Vec::new();
        for pair in query.split('&') {
            match pair.split_once('=') {
                Some((NAME, "notify")) => self.change_feed = true,
                Some((NAME, _)) | None if pair.starts_with(NAME) => {
                    return Err(invalid(format!(
                        "{}: changeFeed takes one value, `notify`",
                        redact_url(&self.url)
                    )));
                }
                _ => kept.push(pair),
            }
        }
        self.url = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok(())
    }

    /// Refuses a bad table name, an empty pool or a zero purge interval.
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        if !is_valid_table_name(&self.table) {
            return Err(invalid(format!(
                "the table name `{}` is not allowed: use 1 to 63 ASCII letters, digits or \
                 underscores, not starting with a digit",
                self.table.escape_debug()
            )));
        }
        if self.max_connections == 0 {
            return Err(invalid("the pool needs at least one connection".into()));
        }
        if self.purge_interval == Some(Duration::ZERO) {
            return Err(invalid("the purge interval must not be zero".into()));
        }
        Ok(())
    }
}

fn invalid(message: String) -> StoreError {
    StoreError::new(StoreErrorKind::InvalidInput, message)
}

/// `^[A-Za-z_][A-Za-z0-9_]{0,62}$`.
fn is_valid_table_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest.len() <= 62
                && rest.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        }
        None => false,
    }
}

impl fmt::Debug for SqlConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlConfig")
            .field("url", &redact_url(&self.url))
            .field("table", &self.table)
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("purge_interval", &self.purge_interval)
            .field("change_feed", &self.change_feed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_change_feed_parameter_is_taken_out_of_the_url() {
        let taken = |url: &str| {
            let mut config = SqlConfig::new(url);
            config
                .take_url_change_feed()
                .map(|()| (config.url, config.change_feed))
        };
        assert_eq!(
            taken("postgres://h/db?changeFeed=notify").unwrap(),
            ("postgres://h/db".to_string(), true)
        );
        assert_eq!(
            taken("postgres://h/db?sslmode=disable&changeFeed=notify&application_name=a").unwrap(),
            (
                "postgres://h/db?sslmode=disable&application_name=a".to_string(),
                true
            )
        );
        assert_eq!(
            taken("postgres://h/db?sslmode=disable").unwrap(),
            ("postgres://h/db?sslmode=disable".to_string(), false)
        );
        for bad in [
            "postgres://u:s3cret@h/db?changeFeed=on",
            "postgres://u:s3cret@h/db?changeFeed",
        ] {
            let err = taken(bad).unwrap_err();
            assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
            assert!(err.to_string().contains("`notify`"), "{err}");
            assert!(!err.to_string().contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn table_names() {
        for ok in ["satchel_kv", "_", "a", "A1_b", &"x".repeat(63)] {
            assert!(is_valid_table_name(ok), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "a-b",
            "a b",
            "a;drop",
            "\"q\"",
            "é",
            &"x".repeat(64),
        ] {
            assert!(!is_valid_table_name(bad), "{bad}");
        }
        let e = SqlConfig::new("sqlite::memory:")
            .with_table("no-dashes")
            .validate()
            .unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::InvalidInput);
    }

    #[test]
    fn debug_hides_the_password() {
        let config = SqlConfig::new("postgres://u:secretpw@127.0.0.1:1/x");
        let debug = format!("{config:?}");
        assert!(!debug.contains("secretpw"), "{debug}");
        assert!(debug.contains("postgres://u:***@127.0.0.1:1/x"), "{debug}");
        assert_eq!(config.url(), "postgres://u:secretpw@127.0.0.1:1/x");
    }
}
