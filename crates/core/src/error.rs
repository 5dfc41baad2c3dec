//! The one error type of the codec layer.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

/// What went wrong, as a stable category to branch on.
///
/// The text of an [`Error`] says the details; the kind says what to do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The bytes do not start with a valid satchel header (missing magic, truncated,
    /// reserved ids or unknown flags).
    Header,
    /// The header names a different pipeline than the codec reading it.
    Mismatch,
    /// The header names a format or compression that this build cannot handle
    /// (a cargo feature is off, or the id is unknown).
    Unsupported,
    /// The value could not be serialized.
    Encode,
    /// The bytes could not be deserialized into the requested type.
    Decode,
    /// Compression failed.
    Compress,
    /// The compressed stream is corrupt or truncated.
    Decompress,
    /// A limit was hit: decoded size, declared size or nesting depth.
    LimitExceeded,
    /// The stored checksum does not match the bytes: the value was corrupted.
    Checksum,
    /// A pipeline spec such as `msgpack+zstd:3` could not be parsed, or the key ring a
    /// sealed spec needs could not be loaded.
    Spec,
    /// A compression dictionary is missing or unusable: the value was compressed with a
    /// dictionary that is not loaded (the message names its id), or a dictionary could
    /// not be loaded (not a dictionary, unreadable, an id already taken by another one).
    Dictionary,
    /// A sealed value does not open: a byte was changed, it was cut short, it was sealed
    /// under another store key (copied from elsewhere), or the ring's key of that id is not
    /// the one it was sealed with. Nothing of it is returned.
    Unauthentic,
    /// A sealed value names a key id the key ring does not hold (an old key was removed,
    /// or the ring is another deployment's).
    UnknownKey,
}

impl ErrorKind {
    /// A short lowercase name for the kind, as used in messages and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Mismatch => "pipeline mismatch",
            Self::Unsupported => "unsupported",
            Self::Encode => "encode",
            Self::Decode => "decode",
            Self::Compress => "compress",
            Self::Decompress => "decompress",
            Self::LimitExceeded => "limit exceeded",
            Self::Checksum => "checksum",
            Self::Spec => "spec",
            Self::Dictionary => "dictionary",
            Self::Unauthentic => "unauthentic",
            Self::UnknownKey => "unknown key",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from encoding or decoding a value.
///
/// One opaque type for the whole codec layer: branch on [`Error::kind`], read the cause
/// through [`std::error::Error::source`] (the backend's own error, never flattened into
/// text). It is one pointer wide, so `Result<T, Error>` stays small on the fast path.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` with a message saying what failed and what to do.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                source: None,
            }),
        }
    }

    /// Keeps `source` as the cause, returned by [`std::error::Error::source`].
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// The category of the failure.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The message, without the cause.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// Prepends `context` to the message (for example the key or file being decoded).
    #[must_use]
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.inner.message = format!("{context}: {}", self.inner.message).into();
        self
    }

    /// True if the bytes were refused because a size or depth limit was hit.
    pub fn is_limit(&self) -> bool {
        self.kind() == ErrorKind::LimitExceeded
    }

    /// True if the bytes are damaged: bad header, failed checksum, corrupt stream, or a
    /// sealed value that does not open ([`ErrorKind::Unauthentic`]).
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::Header
                | ErrorKind::Checksum
                | ErrorKind::Decompress
                | ErrorKind::Unauthentic
        )
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// Writes an error and its chain of causes on one line, `a: b: c`.
///
/// Handy for logs and command-line output, where `{}` alone would hide the cause. A cause
/// whose text the line already holds (a message that quotes its cause) is not repeated.
/// The one way satchel's crates print a chain of causes.
pub struct Report<'a>(pub &'a (dyn StdError + 'static));

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.0.to_string();
        let mut cause = self.0.source();
        while let Some(c) = cause {
            let text = c.to_string();
            if !line.contains(&text) {
                line.push_str(": ");
                line.push_str(&text);
            }
            cause = c.source();
        }
        f.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_one_pointer() {
        assert_eq!(size_of::<Error>(), size_of::<usize>());
    }

    #[test]
    fn source_is_kept_not_stringified() {
        let io = std::io::Error::other("disk on fire");
        let e = Error::new(ErrorKind::Decompress, "zstd stream is corrupt").with_source(io);
        assert_eq!(e.to_string(), "zstd stream is corrupt");
        let src = e.source().expect("source kept");
        assert!(src.downcast_ref::<std::io::Error>().is_some());
        assert_eq!(
            Report(&e).to_string(),
            "zstd stream is corrupt: disk on fire"
        );
        // A message that already quotes its cause does not repeat it.
        let quoting = Error::new(ErrorKind::Decode, "bad value (disk on fire)")
            .with_source(std::io::Error::other("disk on fire"));
        assert_eq!(Report(&quoting).to_string(), "bad value (disk on fire)");
        assert!(e.is_corrupt());
        let e = e.context("key `user:1`");
        assert_eq!(e.message(), "key `user:1`: zstd stream is corrupt");
    }
}
