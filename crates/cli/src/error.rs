//! The one error of the command line: a message a person can act on and an exit code.

use std::error::Error as StdError;
use std::fmt;
use std::path::Path;

use satchel_store::{StoreError, StoreErrorKind, redact_url};

/// Exit codes, documented in the README and in `satchel --help`.
pub(crate) mod code {
    /// Something failed that no other code describes (writing the output, encoding, …).
    pub(crate) const FAILURE: u8 = 1;
    /// Bad usage: an unknown argument, a bad pipeline spec, TTL or store URL.
    pub(crate) const USAGE: u8 = 2;
    /// An input file is missing or unreadable, or the input is not JSON.
    pub(crate) const INPUT: u8 = 3;
    /// The store cannot be reached, failed, or refused the request (a value over its size
    /// limit).
    pub(crate) const STORE: u8 = 4;
    /// Stored or encoded bytes cannot be read: header, checksum, decompression, decoding.
    pub(crate) const CORRUPT: u8 = 5;
    /// The key is not in the store.
    pub(crate) const NOT_FOUND: u8 = 6;
    /// `convert` or `ls` finished, but some keys could not be converted or read (each is
    /// listed), or `ls` found more keys than its `--limit`.
    pub(crate) const PARTIAL: u8 = 7;
    /// Stopped by Ctrl-C (SIGINT) before the end.
    pub(crate) const INTERRUPTED: u8 = 130;
    /// Whoever read standard output stopped reading (`satchel ls | head`): quiet, like a
    /// program ended by SIGPIPE.
    pub(crate) const BROKEN_PIPE: u8 = 141;
}

/// An error that ends the command: what went wrong, its causes, and the exit code.
pub(crate) struct CliError {
    code: u8,
    message: String,
}

impl CliError {
    /// An error with this exit code and message.
    pub(crate) fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// The exit code.
    pub(crate) fn code(&self) -> u8 {
        self.code
    }

    /// An input file that cannot be read, naming it.
    pub(crate) fn input_file(path: &Path, err: &std::io::Error) -> Self {
        let why = match err.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => err.to_string(),
        };
        Self::new(
            code::INPUT,
            format!("cannot read `{}`: {why}", path.display()),
        )
    }

    /// A pipeline spec that does not parse (the codec's message lists the valid names).
    pub(crate) fn spec(err: &satchel::Error) -> Self {
        Self::new(code::USAGE, format!("bad --codec: {}", chain(err)))
    }

    /// A store error, naming the (redacted) store URL. A request the store refuses (a value
    /// over its size limit, say) is the store's answer, not bad usage: exit code 4.
    pub(crate) fn store(url: &str, err: &StoreError) -> Self {
        let url = redact_url(url);
        match err.kind() {
            StoreErrorKind::InvalidInput => Self::new(
                code::STORE,
                format!("store `{url}` refused the request: {}", chain(err)),
            ),
            StoreErrorKind::Codec | StoreErrorKind::Corrupt => {
                Self::new(code::CORRUPT, format!("store `{url}`: {}", chain(err)))
            }
            StoreErrorKind::NotFound => {
                Self::new(code::NOT_FOUND, format!("store `{url}`: {}", chain(err)))
            }
            _ => Self::new(code::STORE, format!("store `{url}` failed: {}", chain(err))),
        }
    }

    /// A store that could not be opened (a URL it does not accept is bad usage: 2).
    pub(crate) fn open_store(url: &str, err: &StoreError) -> Self {
        match err.kind() {
            StoreErrorKind::InvalidInput => Self::new(
                code::USAGE,
                format!("store `{}`: {}", redact_url(url), chain(err)),
            ),
            _ => Self::new(
                code::STORE,
                format!("cannot reach store `{}`: {}", redact_url(url), chain(err)),
            ),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CliError({}, {:?})", self.code, self.message)
    }
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            return Self::new(code::BROKEN_PIPE, "");
        }
        Self::new(code::FAILURE, format!("cannot write the output: {err}"))
    }
}

/// `err` and its causes, joined by `: `, each said once ([`satchel::Report`]).
pub(crate) fn chain(err: &(dyn StdError + 'static)) -> String {
    satchel::Report(err).to_string()
}

/// The result of a command.
pub(crate) type CliResult<T = ()> = Result<T, CliError>;
