//! The stored form of a session.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One session as stored: its data values are each encoded by the session's format on
/// their own, so any serde type (in any format, bincode included) can sit under a key,
/// and the whole record then goes through the codec once (header, compression).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct Record {
    /// Creation time, Unix milliseconds (the absolute expiry counts from it).
    pub(crate) created_ms: i64,
    /// The owner, if the session is tied to one.
    pub(crate) owner: Option<String>,
    /// Encoded values by key.
    pub(crate) data: BTreeMap<String, Blob>,
    /// The format of each value written in another format than the configured one (read
    /// from a record another pipeline wrote); not stored as a field (see
    /// `session::pipeline`).
    #[serde(skip)]
    pub(crate) formats: BTreeMap<String, satchel::FormatId>,
}

/// Bytes that are a base64url string in human-readable formats (JSON) and raw bytes in
/// binary ones (MessagePack, bincode).
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub(crate) struct Blob(pub(crate) Vec<u8>);

fn to_base64(bytes: &[u8]) -> String {
    satchel_store::encode_base64url(bytes)
}

fn from_base64(text: &str) -> Option<Vec<u8>> {
    satchel_store::decode_base64url(text)
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&to_base64(&self.0))
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes or a base64url string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Blob, E> {
                from_base64(v)
                    .map(Blob)
                    .ok_or_else(|| E::custom("session value is not valid base64url"))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v))
            }
        }
        if d.is_human_readable() {
            d.deserialize_str(V)
        } else {
            d.deserialize_byte_buf(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_every_length() {
        for len in 0..70 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let text = to_base64(&bytes);
            assert_eq!(from_base64(&text), Some(bytes), "len {len}");
        }
        assert_eq!(to_base64(b"hi?"), "aGk_");
        assert_eq!(from_base64("a*"), None);
        assert_eq!(from_base64("aGk"), Some(b"hi".to_vec()));
        assert_eq!(from_base64("aGl"), None, "non-zero padding bits");
    }
}
