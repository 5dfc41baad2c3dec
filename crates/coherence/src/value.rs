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

// ----- formatting as Python's json module does -------------------------------------------

/// A serde_json formatter that writes what Python's `json.dumps` writes with its defaults
/// (which jsonpickle uses): `", "` and `": "` separators, `ensure_ascii` escaping, and
/// floats as `repr` prints them.
#[derive(Clone, Copy, Debug, Default)]
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        w.write_all(python_float_repr(&format!("{value:e}")).as_bytes())
    }

    fn write_f32<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f32) -> io::Result<()> {
        w.write_all(python_float_repr(&format!("{value:e}")).as_bytes())
    }

    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // serde_json has already escaped quotes, backslashes and C0 controls; Python's
        // ensure_ascii also escapes DEL and everything outside ASCII.
        let mut plain = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() && c != '\x7f' {
                continue;
            }
            w.write_all(&fragment.as_bytes()[plain..i])?;
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                write!(w, "\\u{unit:04x}")?;
            }
            plain = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[plain..])
    }
}

/// Turns Rust's shortest round-trip scientific form (`3.25e0`, `1e300`, `-5e-324`) into
/// what Python's `repr(float)` prints for the same number (`3.25`, `1e+300`, `-5e-324`).
///
/// Both pick the shortest digit string that reads back as the same float; Python then
/// prints it in fixed notation when the decimal exponent is in `-4..16` (adding `.0` to
/// whole numbers) and in scientific notation otherwise, with a sign and at least two
/// exponent digits.
fn python_float_repr(sci: &str) -> String {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let mut out = String::with_capacity(digits.len() + 8);
    out.push_str(sign);
    if (-4..16).contains(&exp) {
        // Fixed notation; the decimal point goes after `exp + 1` digits.
        let point = exp + 1;
        if point <= 0 {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
            out.push_str(&digits);
        } else {
            let point = point as usize;
            if digits.len() <= point {
                out.push_str(&digits);
                out.extend(std::iter::repeat_n('0', point - digits.len()));
                out.push_str(".0");
            } else {
                out.push_str(&digits[..point]);
                out.push('.');
                out.push_str(&digits[point..]);
            }
        }
    } else {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.push('0');
        }
        out.push_str(&abs.to_string());
    }
    out
}

// ----- @class objects ---------------------------------------------------------------------

/// A type that Coherence clients know by a class name, written in the `@class` field.
///
/// The name is the alias the client registered for the type (Python: `@proxy("alias")`),
/// often a Java class name. Keep it stable once data is stored.
pub trait CoherenceClass {
    /// The value of the `@class` field.
    const CLASS: &'static str;
}

impl<T: CoherenceClass + ?Sized> CoherenceClass for &T {
    const CLASS: &'static str = T::CLASS;
}

/// A struct (or map) written as a JSON object with `"@class": T::CLASS` as its first field,
/// and read back only from an object of that class.
///
/// `T` must serialize as a struct or a map. Reading goes through a `serde_json::Value`, so
/// `T` must be deserializable from one (any derived struct is).
///
/// ```
/// use satchel_coherence::{Classed, CoherenceClass, from_slice, to_vec};
/// #[derive(serde::Serialize, serde::Deserialize, Debug)]
/// struct Order { id: u64 }
/// impl CoherenceClass for Order { const CLASS: &'static str = "shop.Order"; }
/// #[derive(serde::Serialize, serde::Deserialize, Debug)]
/// struct User { name: String }
/// impl CoherenceClass for User { const CLASS: &'static str = "shop.User"; }
///
/// let bytes = to_vec(&Classed(Order { id: 7 }))?;
/// assert_eq!(bytes, b"\x15{\"@class\": \"shop.Order\", \"id\": 7}");
/// let err = from_slice::<Classed<User>>(&bytes).unwrap_err();
/// let report = satchel_core::Report(&err).to_string();
/// assert!(report.contains("expected an object of class `shop.User`, found `shop.Order`"), "{report}");
/// # Ok::<(), satchel_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Classed<T>(pub T);

impl<T> Classed<T> {
    /// The inner value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

#[derive(Serialize)]
struct ClassedRef<'a, T: ?Sized> {
    #[serde(rename = "@class")]
    class: &'static str,
    #[serde(flatten)]
    value: &'a T,
}

impl<T: CoherenceClass + Serialize> Serialize for Classed<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ClassedRef {
            class: T::CLASS,
            value: &self.0,
        }
        .serialize(s)
    }
}

impl<'de, T: CoherenceClass + DeserializeOwned> Deserialize<'de> for Classed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut object = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        match object.remove(CLASS_FIELD) {
            Some(serde_json::Value::String(class)) if class == T::CLASS => {}
            Some(serde_json::Value::String(class)) => {
                return Err(de::Error::custom(format_args!(
                    "expected an object of class `{}`, found `{class}`",
                    T::CLASS
                )));
            }
            Some(_) => return Err(de::Error::custom("the `@class` field is not a string")),
            None => {
                return Err(de::Error::custom(format_args!(
                    "expected an object of class `{}`, found one without `@class`",
                    T::CLASS
                )));
            }
        }
        T::deserialize(serde_json::Value::Object(object))
            .map(Classed)
            .map_err(de::Error::custom)
    }
}

// ----- math.BigInt --------------------------------------------------------------------------

/// An integer that the Python client writes as a plain number inside its 64-bit range and as
/// `{"@class": "math.BigInt", "value": "<decimal>"}` outside it; reads either form.
///
/// (The range is Python's: `-(2**63) - 1 ..= 2**63 - 1`.)
///
/// ```
/// use satchel_coherence::{BigInt, from_slice, to_vec};
/// let big = BigInt(1 << 64);
/// assert_eq!(
///     to_vec(&big)?,
///     b"\x15{\"@class\": \"math.BigInt\", \"value\": \"18446744073709551616\"}"
/// );
/// assert_eq!(to_vec(&BigInt(42))?, b"\x1542");
/// assert_eq!(from_slice::<BigInt>(b"\x1542")?, BigInt(42));
/// # Ok::<(), satchel_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BigInt(pub i128);

impl BigInt {
    const PLAIN_MIN: i128 = i64::MIN as i128 - 1;
    const PLAIN_MAX: i128 = i64::MAX as i128;
}

impl Serialize for BigInt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if (Self::PLAIN_MIN..=Self::PLAIN_MAX).contains(&self.0) {
            return s.serialize_i128(self.0);
        }
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry(CLASS_FIELD, BIG_INT_CLASS)?;
        map.serialize_entry("value", &self.0.to_string())?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for BigInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = BigInt;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an integer or a math.BigInt object")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<BigInt, E> {
                Ok(BigInt(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<BigInt, E> {
                Ok(BigInt(v.into()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<BigInt, E> {
                Ok(BigInt(v))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<BigInt, E> {
                i128::try_from(v)
                    .map(BigInt)
                    .map_err(|_| E::custom("integer does not fit in 128 bits"))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BigInt, A::Error> {
                let mut class: Option<String> = None;
                let mut value: Option<String> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        CLASS_FIELD => class = Some(map.next_value()?),
                        "value" => value = Some(map.next_value()?),
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                match class.as_deref() {
                    Some(BIG_INT_CLASS) => {}
                    Some(other) => {
                        return Err(de::Error::custom(format_args!(
                            "expected an object of class `{BIG_INT_CLASS}`, found `{other}`"
                        )));
                    }
                    None => return Err(de::Error::missing_field(CLASS_FIELD)),
                }
                let value = value.ok_or_else(|| de::Error::missing_field("value"))?;
                value.parse::<i128>().map(BigInt).map_err(|_| {
                    de::Error::custom(format_args!(
                        "math.BigInt value `{value}` is not an integer that fits in 128 bits"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

// ----- {"entries": [...]} maps ---------------------------------------------------------------

/// A map written as `{"entries": [{"key": k, "value": v}, …]}`, the form the Python client
/// uses for `dict` attributes of `@class` objects (and Java maps use on the wire). Keeps the
/// order of its pairs. Reads that form or a plain JSON object (whose keys are strings).
///
/// ```
/// use satchel_coherence::{Entries, to_vec};
/// let m = Entries(vec![("eur".to_string(), 10), ("usd".to_string(), 5)]);
/// assert_eq!(
///     to_vec(&m)?,
///     &b"\x15{\"entries\": [{\"key\": \"eur\", \"value\": 10}, {\"key\": \"usd\", \"value\": 5}]}"[..]
/// );
/// # Ok::<(), satchel_core::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Entries<K, V>(pub Vec<(K, V)>);

#[derive(Serialize, Deserialize)]
struct EntryRef<K, V> {
    key: K,
    value: V,
}

struct EntriesSeq<'a, K, V>(&'a [(K, V)]);

impl<K: Serialize, V: Serialize> Serialize for EntriesSeq<'_, K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for (key, value) in self.0 {
            seq.serialize_element(&EntryRef { key, value })?;
        }
        seq.end()
    }
}

impl<K: Serialize, V: Serialize> Serialize for Entries<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("entries", &EntriesSeq(&self.0))?;
        map.end()
    }
}

impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Entries<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<K, V>(std::marker::PhantomData<(K, V)>);
        struct PairsSeed<K, V>(std::marker::PhantomData<(K, V)>);

        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> de::DeserializeSeed<'de> for PairsSeed<K, V> {
            type Value = Vec<(K, V)>;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                struct SeqV<K, V>(std::marker::PhantomData<(K, V)>);
                impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for SeqV<K, V> {
                    type Value = Vec<(K, V)>;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a list of {\"key\", \"value\"} objects")
                    }
                    fn visit_seq<A: SeqAccess<'de>>(
                        self,
                        mut seq: A,
                    ) -> Result<Self::Value, A::Error> {
                        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                        while let Some(EntryRef { key, value }) =
                            seq.next_element::<EntryRef<K, V>>()?
                        {
                            out.push((key, value));
                        }
                        Ok(out)
                    }
                }
                d.deserialize_seq(SeqV(std::marker::PhantomData))
            }
        }

        impl<'de, K: Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<K, V> {
            type Value = Entries<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an {\"entries\": [...]} object or a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // Either {"entries": [...]} (other keys such as "@class" ignored) or a plain
                // object whose keys are the map's keys. Decide on the first key.
                let mut pairs: Vec<(K, V)> = Vec::new();
                let mut entries: Option<Vec<(K, V)>> = None;
                let mut plain = false;
                while let Some(key) = map.next_key::<String>()? {
                    if !plain && key == "entries" {
                        entries = Some(map.next_value_seed(PairsSeed(std::marker::PhantomData))?);
                    } else if !plain && (key == CLASS_FIELD || key == "@ordered") {
                        map.next_value::<de::IgnoredAny>()?;
                    } else {
                        if entries.is_some() {
                            return Err(de::Error::custom(format_args!(
                                "unexpected field `{key}` next to `entries`"
                            )));
                        }
                        plain = true;
                        let k =
                            K::deserialize(de::value::StringDeserializer::<A::Error>::new(key))?;
                        pairs.push((k, map.next_value()?));
                    }
                }
                Ok(Entries(entries.unwrap_or(pairs)))
            }
        }
        d.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_rules() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (2.5, "2.5"),
            (0.1, "0.1"),
            (1e-4, "0.0001"),
            (1e-5, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (123_456_789_012_345_680.0, "1.2345678901234568e+17"),
            (1e300, "1e+300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (-3.25, "-3.25"),
        ];
        for &(v, want) in cases {
            assert_eq!(python_float_repr(&format!("{v:e}")), want, "{v:e}");
        }
    }

    #[test]
    fn non_finite_tokens_are_found_outside_strings_only() {
        assert!(has_non_finite_token(b"[1, NaN]"));
        assert!(has_non_finite_token(b"-Infinity"));
        assert!(!has_non_finite_token(br#"["NaN", "a\"Infinity"]"#));
    }
}
