//! Coherence JSON: the bytes Oracle Coherence's gRPC clients keep in a cache.
//!
//! The Python (`coherence-client`), JavaScript and Go clients serialize every key and value
//! with the serializer named `json`: one marker byte `0x15`, then JSON text. Objects of a
//! class the client knows carry its name in an `@class` field, written first:
//!
//! ```text
//! "hello"                       15 22 68 65 6c 6c 6f 22           \x15"hello"
//! 42                            15 34 32                          \x1542
//! {"a": 1}                      15 7b 22 61 22 3a 20 31 7d        \x15{"a": 1}
//! Person(name="ann", age=30)    \x15{"@class": "test.Person", "name": "ann", "age": 30}
//! 2**64                         \x15{"@class": "math.BigInt", "value": "18446744073709551616"}
//! ```
//!
//! [`CoherenceJson`] is the [`Format`] and [`CoherenceFrame`] the framing (the marker) that
//! together read and write exactly those bytes. The format writes
//! what the Python client writes for the same data: `", "` and `": "` separators, every
//! character outside printable ASCII escaped as `\uXXXX` (surrogate pairs above U+FFFF),
//! floats as Python's `repr` prints them (`2.0`, `1e+16`, `1e-05`). Fields are written in
//! declaration order, as Python writes attributes in assignment order. The golden tests
//! (`tests/value.rs`) compare against bytes captured from `coherence-client` 2.0.4.
//!
//! Values kept for Coherence clients carry **no satchel header**: write them with
//! [`to_vec`] or a codec whose framing is [`CoherenceFrame`] (`satchel::Codec::coherence()`),
//! never behind satchel's header, which the clients cannot read. [`is_coherence_json`] recognises them
//! cheaply, so a reader can tell them from headered satchel values (which start with
//! `0xC1`).
//!
//! Helpers for the shapes Coherence adds on top of JSON:
//!
//! - [`Classed`] writes a struct with an `@class` field first and, when reading, checks it
//!   (a plain struct reads `@class` objects too: serde ignores the unknown field).
//! - [`BigInt`] is an integer written as `{"@class": "math.BigInt", "value": "…"}` outside
//!   the range Python writes as a plain number, and read from either form.
//! - [`Entries`] is a map written as `{"entries": [{"key": k, "value": v}, …]}`, the form
//!   the Python client uses for `dict` attributes of classed objects.
//!
//! What does not translate: Python writes non-finite floats as the bare tokens `NaN`,
//! `Infinity` and `-Infinity`, which are not JSON; reading them is an error that says so,
//! and writing a non-finite `f64` gives `null` (as serde_json does). Python tuples
//! (`{"py/tuple": […]}`) and other `py/…` objects are jsonpickle's own; they read as
//! ordinary JSON objects.
//!
//! ```
//! use satchel_coherence::{Classed, CoherenceClass, from_slice, is_coherence_json, to_vec};
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Person { name: String, age: u32 }
//! impl CoherenceClass for Person { const CLASS: &'static str = "test.Person"; }
//!
//! let out = to_vec(&Classed(Person { name: "ann".into(), age: 30 }))?;
//! assert_eq!(out, b"\x15{\"@class\": \"test.Person\", \"name\": \"ann\", \"age\": 30}");
//! assert!(is_coherence_json(&out));
//!
//! let back: Classed<Person> = from_slice(&out)?;
//! assert_eq!(back.0.age, 30);
//! # Ok::<(), satchel_core::Error>(())
//! ```

use std::fmt;
use std::io;

use serde::de::{self, DeserializeOwned, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use satchel_core::{Error, ErrorKind, Format, Framing, Identity, Limits, ReadAny};

use satchel_json::Json;

mod python;
mod shapes;

use python::PythonFormatter;
pub use shapes::{BigInt, Classed, CoherenceClass, Entries};

/// The byte in front of every value the Coherence `json` serializer writes.
pub const MAGIC: u8 = 0x15;

/// The name Coherence clients send in the `format` field of their requests.
pub const COHERENCE_FORMAT_NAME: &str = "json";

/// The `@class` of integers outside the 64-bit range, as the Python client writes them.
pub const BIG_INT_CLASS: &str = "math.BigInt";

/// The `@class` of `decimal.Decimal` values, as the Python client writes them.
pub const BIG_DEC_CLASS: &str = "math.BigDec";

/// The field that names an object's class.
pub const CLASS_FIELD: &str = "@class";

/// Whether `bytes` look like a Coherence JSON value: the `0x15` marker followed by the first
/// byte of a JSON value (leading whitespace allowed).
///
/// A cheap sniff, not a validation: it reads at most the bytes up to the first
/// non-whitespace one. `0x15` never starts a satchel header (`0xC1`), UTF-8 JSON text, or a
/// MessagePack value longer than one byte, so the test does not confuse them.
///
/// ```
/// use satchel_coherence::is_coherence_json;
/// assert!(is_coherence_json(b"\x15\"hello\""));
/// assert!(is_coherence_json(b"\x15{\"a\": 1}"));
/// assert!(!is_coherence_json(b"\x15"));
/// assert!(!is_coherence_json(b"{\"a\": 1}"));
/// assert!(!is_coherence_json(&[0xC1, 0x10, b'1']));
/// ```
pub fn is_coherence_json(bytes: &[u8]) -> bool {
    let Some((&MAGIC, rest)) = bytes.split_first() else {
        return false;
    };
    rest.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|b| {
            matches!(
                b,
                b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n' | b'N' | b'I'
            )
        })
}

/// The JSON dialect Coherence clients write, byte for byte (Python's separators, escapes and
/// float forms; `@class` fields). See the [module documentation](self).
///
/// A [`Format`] only: the `0x15` marker in front is the [`CoherenceFrame`], so a codec
/// reading or writing Coherence values is `Codec<CoherenceJson, Identity, CoherenceFrame>`
/// (`satchel::Codec::coherence()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CoherenceJson {
    json: Json,
}

impl CoherenceJson {
    /// The name of this format in pipeline specs and messages.
    pub const NAME: &'static str = "coherence-json";

    /// Coherence JSON with the default JSON decoder choice (see [`Json::new`]).
    pub const fn new() -> Self {
        Self { json: Json::new() }
    }

    /// Decodes with this [`Json`] (for example `Json::new().serde_only()`).
    #[must_use]
    pub const fn with_json(json: Json) -> Self {
        Self { json }
    }

    fn explain(e: Error, body: &[u8]) -> Error {
        if e.kind() == ErrorKind::Decode && has_non_finite_token(body) {
            return Error::new(
                ErrorKind::Decode,
                "invalid Coherence JSON: it holds NaN or Infinity, which Python writes for \
                 non-finite floats but which are not JSON and cannot be read",
            )
            .with_source(e);
        }
        e
    }
}

/// The Coherence clients' framing: one marker byte `0x15` ([`MAGIC`]), then the value.
///
/// It carries no compression and no header: the clients cannot read either. As a
/// [`ReadAny`] it recognises values with the marker ([`is_coherence_json`]), so
/// `decode_any_in` can be told to read Coherence values next to satchel's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CoherenceFrame;

fn body(bytes: &[u8]) -> Result<&[u8], Error> {
    match bytes.split_first() {
        Some((&MAGIC, rest)) => Ok(rest),
        Some((&b, _)) => Err(Error::new(
            ErrorKind::Header,
            format!("not Coherence JSON: expected the marker byte 0x15 first, found {b:#04x}"),
        )),
        None => Err(Error::new(
            ErrorKind::Header,
            "not Coherence JSON: empty input (Coherence clients send empty bytes for \
             \"no value\"; handle that before decoding)",
        )),
    }
}

impl Framing<CoherenceJson, Identity> for CoherenceFrame {
    fn encode_into<T: Serialize + ?Sized>(
        &self,
        format: &CoherenceJson,
        _: &Identity,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let start = out.len();
        out.push(MAGIC);
        format
            .serialize_into(value, out)
            .inspect_err(|_| out.truncate(start))
    }

    fn decode<T: DeserializeOwned>(
        &self,
        format: &CoherenceJson,
        _: &Identity,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<T, Error> {
        format.deserialize(body(bytes)?, limits)
    }
}

impl ReadAny for CoherenceFrame {
    fn describe(&self) -> String {
        "Coherence JSON (0x15)".to_string()
    }

    fn recognises(&self, bytes: &[u8]) -> bool {
        is_coherence_json(bytes)
    }

    fn decode_any<T: DeserializeOwned>(&self, bytes: &[u8], limits: &Limits) -> Result<T, Error> {
        self.decode(&CoherenceJson::new(), &Identity, bytes, limits)
    }
}

/// Whether `NaN` or `Infinity` appears outside a string (a rough check, for the message).
fn has_non_finite_token(body: &[u8]) -> bool {
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in body.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
        } else if b == b'"' {
            in_string = true;
        } else if body[i..].starts_with(b"NaN") || body[i..].starts_with(b"Infinity") {
            return true;
        }
    }
    false
}

impl Format for CoherenceJson {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn serialize_into<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let start = out.len();
        let mut ser = serde_json::Serializer::with_formatter(&mut *out, PythonFormatter);
        value
            .serialize(&mut ser)
            .map_err(|e| {
                Error::new(
                    ErrorKind::Encode,
                    "value cannot be written as Coherence JSON",
                )
                .with_source(e)
            })
            .inspect_err(|_| out.truncate(start))
    }

    fn deserialize<T: DeserializeOwned>(&self, bytes: &[u8], limits: &Limits) -> Result<T, Error> {
        self.json
            .deserialize(bytes, limits)
            .map_err(|e| Self::explain(e, bytes))
    }

    fn deserialize_mut<T: DeserializeOwned>(
        &self,
        bytes: &mut [u8],
        limits: &Limits,
    ) -> Result<T, Error> {
        match self.json.deserialize_mut(bytes, limits) {
            Ok(v) => Ok(v),
            // simd-json may have parsed in place; the check only looks for tokens that would
            // have failed before any rewrite.
            Err(e) => Err(Self::explain(e, bytes)),
        }
    }
}

/// Writes `value` as Coherence JSON (`0x15` + JSON) into a new vector.
///
/// # Errors
/// [`ErrorKind::Encode`] if the value cannot be written as JSON (a map with non-string
/// keys, a failing `Serialize` implementation).
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    CoherenceFrame.encode_into(&CoherenceJson::new(), &Identity, value, &mut out)?;
    Ok(out)
}

/// Reads a Coherence JSON value with the default [`Limits`].
///
/// # Errors
/// [`ErrorKind::Header`] if the marker is missing, [`ErrorKind::Decode`] if the JSON is invalid or does not match
/// `T`; [`ErrorKind::LimitExceeded`] if it nests deeper than the limit.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    CoherenceFrame.decode(&CoherenceJson::new(), &Identity, bytes, &Limits::default())
}

/// The `@class` of a JSON object, if it has one.
///
/// ```
/// let v: serde_json::Value = satchel_coherence::from_slice(b"\x15{\"@class\": \"x.Y\"}")?;
/// assert_eq!(satchel_coherence::class_of(&v), Some("x.Y"));
/// # Ok::<(), satchel_core::Error>(())
/// ```
pub fn class_of(value: &serde_json::Value) -> Option<&str> {
    value.as_object()?.get(CLASS_FIELD)?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_tokens_are_found_outside_strings_only() {
        assert!(has_non_finite_token(b"[1, NaN]"));
        assert!(has_non_finite_token(b"-Infinity"));
        assert!(!has_non_finite_token(br#"["NaN", "a\"Infinity"]"#));
    }
}
