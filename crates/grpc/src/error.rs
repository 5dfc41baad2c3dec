//! [`ServeError`]: why a server could not start or stopped.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

/// What went wrong starting or running a [`Server`](crate::Server).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServeErrorKind {
    /// The listening address could not be bound.
    Bind,
    /// A certificate or key could not be read or used.
    Tls,
    /// The HTTP/2 transport failed while serving.
    Transport,
}

/// An error from the server side of this crate: a kind, a message that names the address
/// or file, and the cause as [`source`](StdError::source). (Client calls fail with
/// `satchel_store_core::StoreError`, like every store.)
pub struct ServeError {
    kind: ServeErrorKind,
    message: Cow<'static, str>,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl ServeError {
    pub(crate) fn new(kind: ServeErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(
        mut self,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ServeErrorKind {
        self.kind
    }
}

impl fmt::Debug for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl StdError for ServeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}
