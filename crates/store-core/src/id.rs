//! [`SessionId`]: 128 random bits from the OS, as URL-safe text, and what may be shown of
//! one: the key it is stored under (a hash) and its fingerprint (the start of that key).

use std::fmt;

use sha2::{Digest, Sha256};

use crate::{StoreError, StoreErrorKind, decode_base64url, encode_base64url};

/// A session id: 128 bits from the operating system's CSPRNG, written as 22 characters of
/// unpadded base64url (`[A-Za-z0-9_-]`), safe in URLs, cookies and store keys.
///
/// An id is a bearer secret. It is stored under [`SessionId::stored_key`], a hash from
/// which it cannot be recovered, and shown (in `Debug`, logs and errors) only as its
/// [`SessionId::fingerprint`], the start of that key: no character of the id itself.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(String);

impl SessionId {
    /// The length of an id in characters.
    pub const LEN: usize = 22;

    /// A new random id.
    ///
    /// # Errors
    /// [`StoreErrorKind::Backend`] if the operating system has no randomness to give
    /// (never on supported platforms; never a weaker fallback).
    pub fn generate() -> Result<Self, StoreError> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|e| {
            StoreError::new(
                StoreErrorKind::Backend,
                format!("the operating system's random source failed: {e}"),
            )
        })?;
        Ok(Self(encode(&bytes)))
    }

    /// Parses an id given by a client, `None` unless it has exactly the shape of an id
    /// this library issues (so a crafted key can never reach the store).
    pub fn parse(text: &str) -> Option<Self> {
        // Canonical unpadded base64url of 16 bytes: the last character carries 2 bits of
        // data and 4 zero bits, which the decoder checks.
        let valid =
            text.len() == Self::LEN && decode_base64url(text).is_some_and(|b| b.len() == 16);
        valid.then(|| Self(text.to_string()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key this session is stored under (before any key prefix): `h_` and the
    /// unpadded base64url SHA-256 of the id, 45 characters. A dump of the store holds these,
    /// which are useless as cookies. satchel-session and the gRPC server's session
    /// service both store sessions under it.
    ///
    /// ```
    /// use satchel_store_core::SessionId;
    /// let id = SessionId::parse("AAAAAAAAAAAAAAAAAAAAAA").unwrap();
    /// // SHA-256, as `printf AAAAAAAAAAAAAAAAAAAAAA | sha256sum` gives it, in base64url.
    /// assert_eq!(id.stored_key(), "h_ilvbTMFRZBJsbvJmjendJA0pnOY5ekLJWpQRuT0IDtg");
    /// ```
    pub fn stored_key(&self) -> String {
        format!("h_{}", encode_base64url(&Sha256::digest(self.0.as_bytes())))
    }

    /// What names this session in `Debug`, logs, spans and error messages: the first
    /// [`SessionId::FINGERPRINT_LEN`] characters of [`SessionId::stored_key`] (`h_` and 8
    /// characters, 48 bits of the hash). It reveals nothing of the id, and an operator
    /// finds the session's key in the store by it (the key starts with it).
    ///
    /// ```
    /// use satchel_store_core::SessionId;
    /// let id = SessionId::generate().unwrap();
    /// assert!(id.stored_key().starts_with(&id.fingerprint()));
    /// assert_eq!(format!("{id:?}"), format!("SessionId({}…)", id.fingerprint()));
    /// ```
    pub fn fingerprint(&self) -> String {
        let mut key = self.stored_key();
        key.truncate(Self::FINGERPRINT_LEN);
        key
    }

    /// The length of a [`SessionId::fingerprint`] in characters.
    pub const FINGERPRINT_LEN: usize = 10;

    /// `key` as logs and spans may show it: a key that is, or ends (after its last `:`)
    /// in, a session id, as sessions of satchel 0.1 and older gRPC servers were kept
    /// until moved to their hashed key, has that id replaced by `[id {fingerprint}]`.
    /// Every other key is shown as it is.
    ///
    /// ```
    /// use satchel_store_core::SessionId;
    /// let id = SessionId::generate().unwrap();
    /// let shown = SessionId::shown_key(&format!("session:{id}")).into_owned();
    /// assert_eq!(shown, format!("session:[id {}]", id.fingerprint()));
    /// assert_eq!(SessionId::shown_key("user:ann"), "user:ann");
    /// ```
    pub fn shown_key(key: &str) -> std::borrow::Cow<'_, str> {
        let at = key.rfind(':').map_or(0, |i| i + 1);
        match Self::parse(&key[at..]) {
            Some(id) => format!("{}[id {}]", &key[..at], id.fingerprint()).into(),
            None => key.into(),
        }
    }
}

fn encode(bytes: &[u8; 16]) -> String {
    encode_base64url(bytes)
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({}…)", self.fingerprint())
    }
}

impl AsRef<str> for SessionId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_22_url_safe_chars_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let id = SessionId::generate().unwrap();
            assert_eq!(id.as_str().len(), 22);
            assert_eq!(SessionId::parse(id.as_str()), Some(id.clone()));
            assert!(seen.insert(id));
        }
        assert!(!format!("{:?}", SessionId::generate().unwrap()).contains(&"x".repeat(22)));
    }

    #[test]
    fn debug_shows_the_fingerprint_and_no_part_of_the_id() {
        // Fixed ids, so that a chance match of 4 hash characters cannot make this flaky.
        for text in [
            "AAAAAAAAAAAAAAAAAAAAAA",
            "Q9Q9Q9Q9Q9Q9Q9Q9Q9Q9QQ",
            "_____________________w",
            "h_h_h_h_h_h_h_h_h_h_hg",
        ] {
            let id = SessionId::parse(text).unwrap();
            let shown = format!("{id:?}");
            assert_eq!(shown, format!("SessionId({}…)", id.fingerprint()));
            assert!(id.stored_key().starts_with(&id.fingerprint()));
            assert_eq!(id.fingerprint().len(), SessionId::FINGERPRINT_LEN);
            assert_eq!(id.stored_key().len(), 45);
            for start in 0..=text.len() - 4 {
                let part = &text[start..start + 4];
                assert!(!shown.contains(part), "{shown} shows `{part}` of the id");
            }
        }
    }

    #[test]
    fn foreign_ids_are_refused() {
        for bad in [
            "",
            "short",
            "AAAAAAAAAAAAAAAAAAAAA/",
            "AAAAAAAAAAAAAAAAAAAAAB",
            "AAAAAAAAAAAAAAAAAAAAA==",
            "../../../etc/passwd....",
        ] {
            assert_eq!(SessionId::parse(bad), None, "{bad}");
        }
        assert!(SessionId::parse("AAAAAAAAAAAAAAAAAAAAAA").is_some());
    }

    #[test]
    fn encoding_matches_base64url() {
        assert_eq!(encode(&[0xFF; 16]), "_____________________w");
        assert_eq!(encode(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
    }
}
