//! Rust types for the Python values kvdb-py tags: datetimes, bytes and sets.
//!
//! Each serializes to kvdb-py's tagged object (`{"__type__": "datetime", "value": …}` and
//! so on) so Python reads back a `datetime`, `bytes` or `set`, and deserializes from the
//! value it carries once the reader has unwrapped the tag (an ISO string, bytes, a list).
//! The tags are JSON-only, as in kvdb-py: its msgpack serializer stores bytes natively and
//! cannot store datetimes or sets at all, so there they are written as a string, bytes
//! and a list.

use std::collections::BTreeSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Whether the value is being written as kvdb's tagged JSON (so tags are emitted).
fn tagging<S: Serializer>(serializer: &S) -> bool {
    // JSON is human-readable and msgpack is not; a registered class's fields are plain.
    serializer.is_human_readable() && crate::json::tags_enabled()
}

fn tagged<S: Serializer, V: Serialize + ?Sized>(
    serializer: S,
    kind: &str,
    value: &V,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(2))?;
    map.serialize_entry("__type__", kind)?;
    map.serialize_entry("value", value)?;
    map.end()
}

/// A Python `datetime` (or `date`, `time`), kept as its ISO 8601 text, as kvdb-py stores it
/// (`datetime.isoformat()`, read back with `datetime.fromisoformat`).
///
/// Parse or format it with the time crate of your choice; a naive datetime has no offset.
///
/// ```
/// let at = satchel_kvdb::DateTime::new("2026-11-22T23:50:33.123456");
/// assert_eq!(at.as_str(), "2026-11-22T23:50:33.123456");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DateTime(String);

impl DateTime {
    /// Wraps ISO 8601 text (not checked: Python checks it when it reads the value).
    pub fn new(iso: impl Into<String>) -> Self {
        Self(iso.into())
    }

    /// The ISO 8601 text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if tagging(&serializer) {
            tagged(serializer, "datetime", &self.0)
        } else {
            serializer.serialize_str(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

/// Python `bytes`: written as kvdb-py's `{"__type__": "bytes", "value": hex}` in JSON and
/// as a msgpack `bin`, read from either (or from a list of numbers).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bytes(pub Vec<u8>);

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

pub(crate) fn from_hex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    let text = text.as_bytes();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if tagging(&serializer) {
            tagged(serializer, "bytes", &to_hex(&self.0))
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Bytes;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                Ok(Bytes(v.to_vec()))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                Ok(Bytes(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
                Ok(Bytes(v.as_bytes().to_vec()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(Bytes(out))
            }
        }
        deserializer.deserialize_byte_buf(V)
    }
}

/// A Python `set`: written as kvdb-py's `{"__type__": "set", "value": [...]}` in JSON (a
/// plain list in msgpack), read from a list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Set<T: Ord>(pub BTreeSet<T>);

impl<T: Ord + Serialize> Serialize for Set<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if tagging(&serializer) {
            tagged(serializer, "set", &self.0)
        } else {
            self.0.serialize(serializer)
        }
    }
}

impl<'de, T: Ord + Deserialize<'de>> Deserialize<'de> for Set<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        BTreeSet::deserialize(deserializer).map(Self)
    }
}

impl<T: Ord> FromIterator<T> for Set<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}
