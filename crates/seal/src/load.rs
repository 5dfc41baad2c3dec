//! Loading a [`KeyRing`] from its text form: a string, a file, or the environment.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use satchel_core::{Error, ErrorKind};
use zeroize::Zeroizing;

use crate::{KEY_LEN, KeyRing};

/// The environment variable holding a key ring's text (entries separated by newlines or
/// `;`), read by [`KeyRing::from_env`].
pub const KEYS_ENV: &str = "SATCHEL_SEAL_KEYS";

/// The environment variable naming a key ring file, read by [`KeyRing::from_env`].
pub const KEYS_FILE_ENV: &str = "SATCHEL_SEAL_KEYS_FILE";

impl KeyRing {
    /// Reads a ring from its text form: one key per line, `<id> <base64 of 32 bytes>`, the
    /// current key first; `;` also separates entries (for an environment variable), blank
    /// lines and lines starting with `#` are skipped. Ids are whole numbers from 0 to
    /// 4294967295.
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] naming the entry (by number, never quoting a key): not two
    /// fields, an id that is not a number, a key that is not base64 or not 32 bytes, an id
    /// given twice, or no key at all.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::parse_from(text, "key ring")
    }

    fn parse_from(text: &str, what: &str) -> Result<Self, Error> {
        let mut keys = Vec::new();
        let entries = text
            .split(['\n', ';'])
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        for (n, entry) in entries.enumerate() {
            let at = || format!("{what}, entry {}", n + 1);
            let mut fields = entry.split_whitespace();
            let (Some(id), Some(key), None) = (fields.next(), fields.next(), fields.next()) else {
                return Err(Error::new(
                    ErrorKind::Spec,
                    format!(
                        "{}: expected `<id> <base64 key>` (two fields separated by a space)",
                        at()
                    ),
                ));
            };
            let id: u32 = id.parse().map_err(|_| {
                Error::new(
                    ErrorKind::Spec,
                    format!(
                        "{}: the key id is not a whole number from 0 to 4294967295",
                        at()
                    ),
                )
            })?;
            keys.push((id, decode_key(key, id, &at)?));
        }
        Self::from_keys(keys, what)
    }

    /// Reads a ring from a file in the form [`KeyRing::parse`] reads.
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] if the file cannot be read (the I/O error kept as the source)
    /// or does not parse.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map(Zeroizing::new)
            .map_err(|e| {
                Error::new(
                    ErrorKind::Spec,
                    format!(
                        "cannot read the key ring file {}: check the path and that this \
                     process may read it",
                        path.display()
                    ),
                )
                .with_source(e)
            })?;
        Self::parse_from(&text, &format!("key ring file {}", path.display()))
    }

    /// The ring the environment names: [`KEYS_ENV`] holding the keys, or
    /// [`KEYS_FILE_ENV`] naming a file; `None` if neither is set.
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] if both are set (which one wins would be a guess), or as
    /// [`KeyRing::parse`] and [`KeyRing::from_file`].
    pub fn from_env() -> Result<Option<Self>, Error> {
        let inline = std::env::var_os(KEYS_ENV);
        let file = std::env::var_os(KEYS_FILE_ENV);
        match (inline, file) {
            (Some(_), Some(_)) => Err(Error::new(
                ErrorKind::Spec,
                format!("both {KEYS_ENV} and {KEYS_FILE_ENV} are set: set only one"),
            )),
            (Some(inline), None) => {
                let text = Zeroizing::new(inline.into_string().map_err(|_| {
                    Error::new(
                        ErrorKind::Spec,
                        format!("{KEYS_ENV} is not valid UTF-8: write `<id> <base64 key>` entries"),
                    )
                })?);
                Self::parse_from(&text, KEYS_ENV).map(Some)
            }
            (None, Some(path)) => Self::from_file(path).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// [`KeyRing::from_env`], with an error saying what to set when neither variable is.
    ///
    /// # Errors
    /// As [`KeyRing::from_env`]; [`ErrorKind::Spec`] when no ring is configured.
    pub fn require_env() -> Result<Self, Error> {
        Self::from_env()?.ok_or_else(|| {
            Error::new(
                ErrorKind::Spec,
                format!(
                    "sealed values need a key ring: set {KEYS_ENV} to `<id> <base64 key>` \
                     entries or {KEYS_FILE_ENV} to a file of them (`satchel keygen` makes one)"
                ),
            )
        })
    }
}

/// Decodes one base64 key. The decoder's own error is not kept: its message can quote a
/// character of the key.
fn decode_key(
    text: &str,
    id: u32,
    at: &dyn Fn() -> String,
) -> Result<Zeroizing<[u8; KEY_LEN]>, Error> {
    let decoded = Zeroizing::new(STANDARD.decode(text).map_err(|_| {
        Error::new(
            ErrorKind::Spec,
            format!("{}: the key of id {id} is not standard base64", at()),
        )
    })?);
    if decoded.len() != KEY_LEN {
        return Err(Error::new(
            ErrorKind::Spec,
            format!(
                "{}: the key of id {id} is {} bytes; keys are {KEY_LEN} bytes (base64 of 32 \
                 random bytes, as `satchel keygen` prints)",
                at(),
                decoded.len()
            ),
        ));
    }
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    bytes.copy_from_slice(&decoded);
    Ok(bytes)
}
