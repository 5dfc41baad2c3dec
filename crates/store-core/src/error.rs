//! [`StoreError`]: the one error type of the store layer.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

/// What went wrong with a store operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The key has no live value (for operations that need one).
    NotFound,
    /// A conditional write lost: the key exists (if-absent) or its version moved on
    /// (if-version). Re-read and try again.
    Conflict,
    /// A value could not be encoded, or decoded for a reason other than corruption.
    Codec,
    /// The stored bytes under a key are not a readable value. They are left in place.
    Corrupt,
    /// The backend did not answer in time.
    Timeout,
    /// The backend could not be reached, or the connection was lost.
    Unavailable,
    /// The arguments were refused before reaching the backend (empty key, zero ttl, bad URL
    /// or table name).
    InvalidInput,
    /// The backend reported an error of its own.
    Backend,
    /// The store cannot do this at all: a capability it does not have (see
    /// `Store::capabilities`) or a [`Condition`](crate::Condition) it does not know.
    /// Retrying will not help.
    Unsupported,
}

impl StoreErrorKind {
    /// A short lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not found",
            Self::Conflict => "conflict",
            Self::Codec => "codec",
            Self::Corrupt => "corrupt value",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::InvalidInput => "invalid input",
            Self::Backend => "backend error",
            Self::Unsupported => "unsupported",
        }
    }
}

impl fmt::Display for StoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from a store: a kind to branch on, the key it concerns, a message, and the
/// backend's (or codec's) error kept as [`std::error::Error::source`].
pub struct StoreError {
    inner: Box<Inner>,
}

struct Inner {
    kind: StoreErrorKind,
    key: Option<String>,
    backend: Option<&'static str>,
    message: Cow<'static, str>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl StoreError {
    /// A new error.
    pub fn new(kind: StoreErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                key: None,
                backend: None,
                message: message.into(),
                source: None,
            }),
        }
    }

    /// The error for a conditional write that lost, worded the same on every backend.
    /// `current` is the live version found, if the backend knows it.
    pub fn conflict(
        key: &str,
        condition: crate::Condition,
        current: Option<crate::Version>,
        backend: &'static str,
    ) -> Self {
        use crate::Condition;
        let message = match (condition, current) {
            (Condition::IfAbsent, _) => "the key already has a value (set if absent)".to_string(),
            (Condition::IfVersion(v), Some(now)) => format!(
                "the value changed since it was read ({v} expected, {now} stored): re-read and retry"
            ),
            (Condition::IfVersion(v), None) => format!(
                "the value changed, was deleted or expired since it was read ({v} expected): \
                 re-read and retry"
            ),
            _ => "conditional write failed".to_string(),
        };
        Self::new(StoreErrorKind::Conflict, message)
            .with_key(key)
            .with_backend(backend)
    }

    /// Names the key the operation was about.
    #[must_use]
    pub fn with_key(mut self, key: impl Into<String>) -> Self {
        self.inner.key = Some(key.into());
        self
    }

    /// Names the backend (`redis`, `postgres`, …).
    #[must_use]
    pub fn with_backend(mut self, backend: &'static str) -> Self {
        self.inner.backend = Some(backend);
        self
    }

    /// Keeps `source` as the cause.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// The category of the failure.
    pub fn kind(&self) -> StoreErrorKind {
        self.inner.kind
    }

    /// The key the operation was about, if known.
    pub fn key(&self) -> Option<&str> {
        self.inner.key.as_deref()
    }

    /// The backend, if known.
    pub fn backend(&self) -> Option<&'static str> {
        self.inner.backend
    }

    /// The message, without key, backend or cause.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// True for [`StoreErrorKind::Conflict`].
    pub fn is_conflict(&self) -> bool {
        self.kind() == StoreErrorKind::Conflict
    }

    /// True for [`StoreErrorKind::NotFound`].
    pub fn is_not_found(&self) -> bool {
        self.kind() == StoreErrorKind::NotFound
    }

    /// True for errors that may go away by retrying later ([`StoreErrorKind::Timeout`],
    /// [`StoreErrorKind::Unavailable`]).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind(),
            StoreErrorKind::Timeout | StoreErrorKind::Unavailable
        )
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("StoreError");
        d.field("kind", &self.inner.kind);
        if let Some(key) = &self.inner.key {
            d.field("key", key);
        }
        if let Some(backend) = &self.inner.backend {
            d.field("backend", backend);
        }
        d.field("message", &self.inner.message);
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(backend) = self.inner.backend {
            write!(f, "{backend}: ")?;
        }
        if let Some(key) = &self.inner.key {
            write!(f, "key `{key}`: ")?;
        }
        f.write_str(&self.inner.message)
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_backend_and_key_and_keeps_source() {
        let e = StoreError::new(StoreErrorKind::Corrupt, "value is not readable")
            .with_key("user:1")
            .with_backend("redis")
            .with_source(std::io::Error::other("bad header"));
        assert_eq!(e.to_string(), "redis: key `user:1`: value is not readable");
        assert!(
            e.source()
                .unwrap()
                .downcast_ref::<std::io::Error>()
                .is_some()
        );
        assert_eq!(size_of::<StoreError>(), size_of::<usize>());
    }
}
