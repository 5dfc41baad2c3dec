//! Mapping `sqlx` errors to [`StoreError`].
//!
//! The `sqlx` error is always kept as the `source`, never written into the message: the
//! message says what we were doing and what kind of failure it was (with the SQLSTATE or
//! error code when the database sent one), never server text and never a URL other than a
//! redacted one.

use std::fmt;

use satchel_store_core::{Condition, StoreError, StoreErrorKind};

use crate::dialect::Dialect;

/// The operation that failed, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Schema,
    Get,
    Set,
    Delete,
    Touch,
    Scan,
    Purge,
    DeletePrefix,
    KeysOf,
    DeleteOwner,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Watch,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Self::Schema => "create table",
            Self::Get => "get",
            Self::Set => "set",
            Self::Delete => "delete",
            Self::Touch => "touch",
            Self::Scan => "scan",
            Self::Purge => "purge expired",
            Self::DeletePrefix => "delete by prefix",
            Self::KeysOf => "list the keys of an owner",
            Self::DeleteOwner => "delete the keys of an owner",
            Self::Watch => "watch (change feed)",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The store error for a `sqlx` error during `op`.
pub(crate) fn from_sqlx(err: sqlx::Error, op: Op, dialect: Dialect) -> StoreError {
    let kind = kind_of(&err, dialect);
    let message = match kind {
        StoreErrorKind::Timeout => {
            format!("{op}: timed out waiting for a connection or for the database")
        }
        StoreErrorKind::Unavailable => {
            format!("{op}: the database could not be reached or the connection was lost")
        }
        StoreErrorKind::InvalidInput => {
            format!("{op}: the URL or the connection settings were refused")
        }
        _ => match &err {
            sqlx::Error::Database(db) => match db.code() {
                Some(code) => format!("{op}: the database answered with an error (code {code})"),
                None => format!("{op}: the database answered with an error"),
            },
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                format!("{op}: a column of the table could not be read; is it satchel's table?")
            }
            _ => format!("{op}: the database driver failed"),
        },
    };
    StoreError::new(kind, message)
        .with_backend(dialect.name())
        .with_source(err)
}

/// The error for a failed connection attempt, naming the (redacted) URL.
pub(crate) fn connect_failed(err: sqlx::Error, dialect: Dialect, redacted_url: &str) -> StoreError {
    let kind = kind_of(&err, dialect);
    let what = match kind {
        StoreErrorKind::Timeout => "timed out",
        StoreErrorKind::Unavailable => "the server could not be reached",
        StoreErrorKind::InvalidInput => "the URL or the settings were refused",
        _ => "the server refused the connection",
    };
    StoreError::new(kind, format!("could not connect to {redacted_url}: {what}"))
        .with_backend(dialect.name())
        .with_source(err)
}

/// A URL this build cannot open.
pub(crate) fn bad_url(redacted_url: &str, why: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::InvalidInput,
        format!("cannot open {redacted_url}: {why}"),
    )
}

/// A conditional write that lost, worded like the memory store's.
pub(crate) fn conflict(key: &str, condition: Condition, dialect: Dialect) -> StoreError {
    StoreError::conflict(key, condition, None, dialect.name())
}

/// A key the table cannot hold (MySQL's key column is limited).
#[cfg(feature = "mysql")]
pub(crate) fn key_too_long(key: &str, max_chars: usize, dialect: Dialect) -> StoreError {
    let short: String = key.chars().take(32).collect();
    StoreError::new(
        StoreErrorKind::InvalidInput,
        format!(
            "the key is {} characters long; {} keys hold at most {max_chars}",
            key.chars().count(),
            dialect.name()
        ),
    )
    .with_key(format!("{short}…"))
    .with_backend(dialect.name())
}

/// A value the server would refuse for its packet size (MySQL's `max_allowed_packet`).
pub(crate) fn value_over_packet(
    key: &str,
    len: usize,
    max_packet: usize,
    dialect: Dialect,
) -> StoreError {
    StoreError::new(
        StoreErrorKind::InvalidInput,
        format!(
            "the value is {len} bytes; with its key and statement that is over the server's \
             max_allowed_packet of {max_packet} bytes: raise max_allowed_packet on the server, \
             or store less"
        ),
    )
    .with_key(key)
    .with_backend(dialect.name())
}

/// A stored number that cannot be a version.
pub(crate) fn bad_version(key: &str, version: i64, dialect: Dialect) -> StoreError {
    StoreError::new(
        StoreErrorKind::Corrupt,
        format!("the stored version {version} is negative; the row was not written by satchel"),
    )
    .with_key(key)
    .with_backend(dialect.name())
}

/// Which store error kind a `sqlx` error is.
pub(crate) fn kind_of(err: &sqlx::Error, dialect: Dialect) -> StoreErrorKind {
    match err {
        sqlx::Error::PoolTimedOut => StoreErrorKind::Timeout,
        sqlx::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => StoreErrorKind::Timeout,
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreErrorKind::Unavailable,
        sqlx::Error::Configuration(_) | sqlx::Error::InvalidArgument(_) => {
            StoreErrorKind::InvalidInput
        }
        sqlx::Error::Database(db) => database_kind(db.as_ref(), dialect),
        _ => StoreErrorKind::Backend,
    }
}

/// True for errors after which an idempotent operation is retried once on a fresh
/// connection: the connection was lost (the pool drops a broken connection).
pub(crate) fn is_connection_lost(err: &sqlx::Error, dialect: Dialect) -> bool {
    !matches!(err, sqlx::Error::PoolClosed) && kind_of(err, dialect) == StoreErrorKind::Unavailable
}

/// True for an error that says the statement was not run because the database was busy
/// (SQLite's `SQLITE_BUSY` / `SQLITE_LOCKED` once the busy timeout ran out): running it
/// again is safe.
pub(crate) fn is_busy(err: &sqlx::Error, dialect: Dialect) -> bool {
    match err {
        sqlx::Error::Database(db) => sqlite_busy(db.as_ref(), dialect),
        _ => false,
    }
}

/// True for a MySQL deadlock (the transaction was rolled back; running it again is safe).
#[cfg(feature = "mysql")]
pub(crate) fn is_deadlock(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c == "40001"),
        _ => false,
    }
}

/// True for a unique-key violation.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}

fn database_kind(db: &dyn sqlx::error::DatabaseError, dialect: Dialect) -> StoreErrorKind {
    // `code()` is the SQLSTATE on PostgreSQL and MySQL.
    match dialect {
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite if sqlite_busy(db, dialect) => StoreErrorKind::Timeout,
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => StoreErrorKind::Backend,
        #[cfg(feature = "postgres")]
        Dialect::Postgres => match db.code().unwrap_or_default().as_ref() {
            // connection_exception, admin/crash shutdown, cannot connect now,
            // too many connections
            c if c.starts_with("08") => StoreErrorKind::Unavailable,
            "57P01" | "57P02" | "57P03" | "53300" => StoreErrorKind::Unavailable,
            // query_canceled (statement_timeout), lock_not_available
            "57014" | "55P03" => StoreErrorKind::Timeout,
            // program_limit_exceeded (a key too long for the index: "index row size …
            // exceeds maximum"), character_not_in_repertoire, string_data_right_truncation:
            // the request, not the database, is at fault
            c if c.starts_with("54") => StoreErrorKind::InvalidInput,
            "22021" | "22001" => StoreErrorKind::InvalidInput,
            _ => StoreErrorKind::Backend,
        },
        #[cfg(feature = "mysql")]
        Dialect::MySql => {
            let number = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(sqlx::mysql::MySqlDatabaseError::number);
            match number {
                // too many connections, shutdown in progress, server gone away, lost
                // connection, connection killed
                Some(1040 | 1053 | 1927 | 2006 | 2013) => StoreErrorKind::Unavailable,
                // lock wait timeout, max_execution_time exceeded (MySQL, MariaDB)
                Some(1205 | 3024 | 1969) => StoreErrorKind::Timeout,
                _ if db.code().is_some_and(|c| c.starts_with("08")) => StoreErrorKind::Unavailable,
                _ => StoreErrorKind::Backend,
            }
        }
    }
}

fn sqlite_busy(db: &dyn sqlx::error::DatabaseError, dialect: Dialect) -> bool {
    match dialect {
        #[cfg(feature = "sqlite")]
        Dialect::Sqlite => {
            // The extended result code; the primary code is its low byte.
            // SQLITE_BUSY = 5, SQLITE_LOCKED = 6.
            db.code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6))
        }
        #[allow(unreachable_patterns)]
        _ => {
            let _ = db;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::io;

    use super::*;

    fn any_dialect() -> Dialect {
        Dialect::ALL[0]
    }

    #[test]
    fn kinds_and_sources() {
        let d = any_dialect();
        let refused = sqlx::Error::Io(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert!(is_connection_lost(&refused, d));
        let e = from_sqlx(refused, Op::Get, d);
        assert_eq!(e.kind(), StoreErrorKind::Unavailable);
        assert_eq!(e.backend(), Some(d.name()));
        assert!(e.source().is_some_and(|s| s.is::<sqlx::Error>()));

        assert_eq!(
            from_sqlx(sqlx::Error::PoolTimedOut, Op::Set, d).kind(),
            StoreErrorKind::Timeout
        );
        assert!(!is_connection_lost(&sqlx::Error::PoolClosed, d));
        assert_eq!(
            from_sqlx(sqlx::Error::PoolClosed, Op::Set, d).kind(),
            StoreErrorKind::Unavailable
        );
        let e = from_sqlx(sqlx::Error::Protocol("secret detail".into()), Op::Scan, d);
        assert_eq!(e.kind(), StoreErrorKind::Backend);
        assert!(!e.to_string().contains("secret detail"), "{e}");
    }
}
