//! Mapping `redis` errors to [`StoreError`].
//!
//! The `redis` error is always kept as the `source`, never written into the message: the
//! message says what we were doing and what kind of failure it was, with no server text and
//! no URL other than a redacted one.

use std::fmt;

use redis::{ErrorKind, RedisError, ServerErrorKind};
use satchel_store_core::{Condition, StoreError, StoreErrorKind, Version};

/// The backend name in every error.
pub(crate) const BACKEND: &str = "redis";

/// The operation that failed, for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Get,
    Set,
    Delete,
    Touch,
    Scan,
    KeysOf,
    DeleteOwner,
    DeletePrefix,
    Watch,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Set => "set",
            Self::Delete => "delete",
            Self::Touch => "touch",
            Self::Scan => "scan",
            Self::KeysOf => "keys_of",
            Self::DeleteOwner => "delete_owner",
            Self::DeletePrefix => "delete_prefix",
            Self::Watch => "watch",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The store error for a `redis` error during `op`.
pub(crate) fn from_redis(err: RedisError, op: Op) -> StoreError {
    let kind = kind_of(&err);
    let message = match kind {
        StoreErrorKind::Timeout if matches!(op, Op::Set | Op::DeleteOwner) => format!(
            "{op}: no reply from the server in time; the write may or may not have been applied"
        ),
        StoreErrorKind::Timeout => format!("{op}: no reply from the server in time"),
        StoreErrorKind::Unavailable => {
            format!("{op}: the server could not be reached or the connection was lost")
        }
        StoreErrorKind::InvalidInput => format!("{op}: the connection settings were refused"),
        _ => match err.code() {
            Some(code) => format!(
                "{op}: the server answered with an error ({}, {code})",
                err.category()
            ),
            None => format!("{op}: the client failed ({})", err.category()),
        },
    };
    StoreError::new(kind, message)
        .with_backend(BACKEND)
        .with_source(err)
}

/// The error for a connection attempt that failed, naming the (redacted) URL.
pub(crate) fn connect_failed(err: RedisError, redacted_urls: &str) -> StoreError {
    let kind = kind_of(&err);
    let what = match kind {
        StoreErrorKind::Timeout => "timed out",
        StoreErrorKind::Unavailable => "the server could not be reached",
        StoreErrorKind::InvalidInput => "the URL or settings were refused",
        _ => "the server refused the connection",
    };
    StoreError::new(
        kind,
        format!("could not connect to {redacted_urls}: {what}"),
    )
    .with_backend(BACKEND)
    .with_source(err)
}

/// A write that is not repeated (a conditional one, `delete_owner`) whose connection
/// dropped: it may or may not have been applied.
pub(crate) fn conditional_write_lost(err: RedisError, op: Op) -> StoreError {
    let what = if op == Op::DeleteOwner {
        "delete_owner: the connection was lost while deleting an owner's keys, which may or \
         may not have happened; list the owner's keys and retry"
    } else {
        "set: the connection was lost during a conditional write, which may or may not have \
         been applied; re-read the key and retry"
    };
    StoreError::new(StoreErrorKind::Unavailable, what)
        .with_backend(BACKEND)
        .with_source(err)
}

/// A reply of a shape the scripts never produce.
pub(crate) fn bad_reply(op: Op, what: &'static str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Backend,
        format!("{op}: unexpected reply from the server: {what}"),
    )
    .with_backend(BACKEND)
}

/// A conditional write that lost, worded like every other backend's.
pub(crate) fn conflict(key: &str, condition: Condition, current: Option<u64>) -> StoreError {
    StoreError::conflict(key, condition, current.map(Version::new), BACKEND)
}

/// A key that holds no value: a Redis type other than a string (or a 0.1 HASH), as
/// `what` (from the scripts) names it.
pub(crate) fn not_a_value(key: &str, op: Op, what: &[u8]) -> StoreError {
    let what = String::from_utf8_lossy(&what[..what.len().min(64)]);
    let advice = match op {
        Op::Get => {
            "it is left in place (satchel reads strings, whoever wrote them, and its own 0.1 hashes)"
        }
        _ => "conditional writes leave it alone; an unconditional set replaces it",
    };
    StoreError::new(
        StoreErrorKind::Corrupt,
        format!("{op}: the key holds {what}, not a value; {advice}"),
    )
    .with_key(key)
    .with_backend(BACKEND)
}

/// Which store error kind a `redis` error is.
fn kind_of(err: &RedisError) -> StoreErrorKind {
    if err.is_timeout() {
        return StoreErrorKind::Timeout;
    }
    if err.is_connection_refusal() || err.is_connection_dropped() || err.is_io_error() {
        return StoreErrorKind::Unavailable;
    }
    match err.kind() {
        ErrorKind::ClusterConnectionNotFound
        | ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown,
        ) => StoreErrorKind::Unavailable,
        ErrorKind::InvalidClientConfig => StoreErrorKind::InvalidInput,
        _ => StoreErrorKind::Backend,
    }
}

/// True for errors after which an idempotent operation is retried once: the connection
/// dropped, and the connection manager is already reconnecting.
pub(crate) fn is_dropped(err: &RedisError) -> bool {
    err.is_connection_dropped()
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::io;

    use super::*;

    #[test]
    fn kinds_and_sources() {
        let refused = RedisError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        let e = from_redis(refused, Op::Get);
        assert_eq!(e.kind(), StoreErrorKind::Unavailable);
        assert_eq!(e.backend(), Some("redis"));
        assert!(e.source().is_some_and(|s| s.is::<RedisError>()));

        let timeout = RedisError::from(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(from_redis(timeout, Op::Set).kind(), StoreErrorKind::Timeout);

        let reset = RedisError::from(io::Error::from(io::ErrorKind::ConnectionReset));
        assert!(is_dropped(&reset));
        assert_eq!(
            conditional_write_lost(reset, Op::Set).kind(),
            StoreErrorKind::Unavailable
        );

        let typed = RedisError::from((ErrorKind::UnexpectedReturnType, "bad"));
        let e = from_redis(typed, Op::Scan);
        assert_eq!(e.kind(), StoreErrorKind::Backend);
        assert!(!e.to_string().contains("bad"), "{e}");
    }
}
