//! [`SessionId`]: 128 random bits from the OS, as URL-safe text.

use std::fmt;

use crate::{StoreError, StoreErrorKind, decode_base64url, encode_base64url};

/// A session id: 128 bits from the operating system's CSPRNG, written as 22 characters of
/// unpadded base64url (`[A-Za-z0-9_-]`), safe in URLs, cookies and store keys.
///
/// An id is a bearer secret: its `Debug` shows only the first four characters.
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
        write!(f, "SessionId({}…)", &self.0[..4])
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
