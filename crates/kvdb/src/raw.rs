//! Values kvdb-py stores raw: strings, bytes and numbers, without prefix or serializer.

use std::fmt;

use serde::de::value::{Error as DeError, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};
use serde::ser::{self, Impossible, Serialize};

/// What a value's top level is, as far as kvdb-py's encoder cares.
pub(crate) enum Top {
    /// Text: stored as its UTF-8 bytes.
    Str(String),
    /// Bytes: stored as they are.
    Bytes(Vec<u8>),
    /// A number or a boolean: stored as Python's `repr` of it.
    Repr(String),
    /// Anything else: `_kvdbenc_` and the serializer's output.
    Structured,
}

/// Finds the [`Top`] of a value without serializing more than its first level.
pub(crate) fn classify<T: Serialize + ?Sized>(value: &T) -> Top {
    value.serialize(Probe).unwrap_or(Top::Structured)
}

#[derive(Debug)]
struct NotRaw;

impl fmt::Display for NotRaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("structured value")
    }
}

impl std::error::Error for NotRaw {}

impl ser::Error for NotRaw {
    fn custom<M: fmt::Display>(_: M) -> Self {
        NotRaw
    }
}

struct Probe;

/// Python's `repr` of a float, which is what kvdb-py stores for one.
fn float_repr(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{v:?}")
    }
}

impl ser::Serializer for Probe {
    type Ok = Top;
    type Error = NotRaw;
    type SerializeSeq = Impossible<Top, NotRaw>;
    type SerializeTuple = Impossible<Top, NotRaw>;
    type SerializeTupleStruct = Impossible<Top, NotRaw>;
    type SerializeTupleVariant = Impossible<Top, NotRaw>;
    type SerializeMap = Impossible<Top, NotRaw>;
    type SerializeStruct = Impossible<Top, NotRaw>;
    type SerializeStructVariant = Impossible<Top, NotRaw>;

    fn serialize_bool(self, v: bool) -> Result<Top, NotRaw> {
        Ok(Top::Repr(if v { "True" } else { "False" }.into()))
    }
    fn serialize_i8(self, v: i8) -> Result<Top, NotRaw> {
        Ok(Top::Repr(v.to_string()))
    }
    fn serialize_i16(self, v: i16) -> Result<Top, NotRaw> {
        Ok(Top::Repr(v.to_string()))
    }
    fn serialize_i32(self, v: i32) -> Result<Top, NotRaw> {
        Ok(Top::Repr(v.to_string()))
    }
    fn serialize_i64(self, v: i64) -> Result<Top, NotRaw> {
        Ok(Top::Repr(v.to_string()))
    }
    fn serialize_i128(self, v: i128) -> Result<Top, NotRaw> {
        Ok(Top::Repr(v.to_string()))
    }
    fn serialize_u8(self, v: u8) -> Result<Top, NotRaw> {
        Ok(Top::Repr(v.to_string()))
    }
    fn serialize_u16(self, v: u16) -> Result<Top, NotRaw> {
        Ok(Top::Repr(v.to_string()))
    }
    fn serialize_u32(self, v: u32) -> Result<Top, NotRaw> {
        Ok(Top::Repr(v.to_string()))
    }
    fn serialize_u64(self, v: u64) -> Result<Top, NotRaw> {
        Ok(Top::Repr(v.to_string()))
    }
    fn serialize_u128(self, v: u128) -> Result<Top, NotRaw> {
        Ok(Top::Repr(v.to_string()))
    }
    fn serialize_f32(self, v: f32) -> Result<Top, NotRaw> {
        Ok(Top::Repr(float_repr(f64::from(v))))
    }
    fn serialize_f64(self, v: f64) -> Result<Top, NotRaw> {
        Ok(Top::Repr(float_repr(v)))
    }
    fn serialize_char(self, v: char) -> Result<Top, NotRaw> {
        Ok(Top::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Top, NotRaw> {
        Ok(Top::Str(v.into()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Top, NotRaw> {
        Ok(Top::Bytes(v.into()))
    }
    fn serialize_none(self) -> Result<Top, NotRaw> {
        Ok(Top::Structured)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Top, NotRaw> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Top, NotRaw> {
        Ok(Top::Structured)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Top, NotRaw> {
        Ok(Top::Structured)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
    ) -> Result<Top, NotRaw> {
        Ok(Top::Structured)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<Top, NotRaw> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<Top, NotRaw> {
        Err(NotRaw)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotRaw> {
        Err(NotRaw)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotRaw> {
        Err(NotRaw)
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotRaw> {
        Err(NotRaw)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotRaw> {
        Err(NotRaw)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotRaw> {
        Err(NotRaw)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, NotRaw> {
        Err(NotRaw)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotRaw> {
        Err(NotRaw)
    }
}

/// Reads a raw value as whatever the caller asks for: text as a string, the same text
/// parsed as a number or a boolean (kvdb-py stores `42` and `True` as their `repr`), or
/// the bytes themselves.
pub(crate) struct RawDeserializer<'a>(pub(crate) &'a [u8]);

impl RawDeserializer<'_> {
    fn text(&self) -> Result<&str, DeError> {
        std::str::from_utf8(self.0)
            .map_err(|_| de::Error::custom("raw kvdb value is not UTF-8 text"))
    }

    fn parse<N: std::str::FromStr>(&self, what: &str) -> Result<N, DeError> {
        let text = self.text()?;
        text.trim().parse().map_err(|_| {
            de::Error::custom(format_args!(
                "raw kvdb value `{}` is not {what}",
                text.chars().take(40).collect::<String>()
            ))
        })
    }
}

macro_rules! parse_number {
    ($($method:ident $visit:ident $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            visitor.$visit(self.parse::<$ty>(stringify!($ty))?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for RawDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match std::str::from_utf8(self.0) {
            Ok(text) => visitor.visit_str(text),
            Err(_) => visitor.visit_bytes(self.0),
        }
    }

    parse_number! {
        deserialize_i8 visit_i8 i8, deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32, deserialize_i64 visit_i64 i64,
        deserialize_i128 visit_i128 i128, deserialize_u8 visit_u8 u8,
        deserialize_u16 visit_u16 u16, deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64, deserialize_u128 visit_u128 u128,
        deserialize_f32 visit_f32 f32, deserialize_f64 visit_f64 f64,
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.text()?.trim() {
            "True" | "true" | "1" => visitor.visit_bool(true),
            "False" | "false" | "0" => visitor.visit_bool(false),
            other => Err(de::Error::custom(format_args!(
                "raw kvdb value `{}` is not a boolean",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_bytes(self.0)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_byte_buf(self.0.to_vec())
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // `Vec<u8>` asks for a sequence: give it the bytes.
        let mut seq = SeqDeserializer::new(self.0.iter().copied());
        let value = visitor.visit_seq(&mut seq)?;
        seq.end()?;
        Ok(value)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_enum(self.text()?.to_owned().into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        char str string unit unit_struct tuple tuple_struct map struct identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn top<T: Serialize + ?Sized>(value: &T) -> String {
        match classify(value) {
            Top::Str(s) => format!("str {s}"),
            Top::Bytes(b) => format!("bytes {b:?}"),
            Top::Repr(r) => format!("repr {r}"),
            Top::Structured => "structured".into(),
        }
    }

    #[test]
    fn top_levels_are_classified_as_kvdb_py_stores_them() {
        assert_eq!(top("a"), "str a");
        assert_eq!(top(&'x'), "str x");
        assert_eq!(top(&Some(7u8)), "repr 7");
        assert_eq!(top(&-3i64), "repr -3");
        assert_eq!(top(&1.0f64), "repr 1.0");
        assert_eq!(top(&1e16f64), "repr 1e16");
        assert_eq!(top(&f64::NAN), "repr nan");
        assert_eq!(top(&f64::NEG_INFINITY), "repr -inf");
        assert_eq!(top(&false), "repr False");
        assert_eq!(top(&None::<u8>), "structured");
        assert_eq!(top(&()), "structured");
        assert_eq!(top(&vec![1]), "structured");
        assert_eq!(
            top(&std::collections::BTreeMap::<u8, u8>::new()),
            "structured"
        );
    }

    #[test]
    fn raw_values_read_as_the_type_asked_for() {
        let de = || RawDeserializer(b"42");
        assert_eq!(u16::deserialize(de()).unwrap(), 42);
        assert_eq!(f64::deserialize(de()).unwrap(), 42.0);
        assert_eq!(String::deserialize(de()).unwrap(), "42");
        assert_eq!(Option::<i8>::deserialize(de()).unwrap(), Some(42));
        assert_eq!(Vec::<u8>::deserialize(de()).unwrap(), b"42");
        assert!(bool::deserialize(RawDeserializer(b"True")).unwrap());
        assert!(u8::deserialize(RawDeserializer(b"300")).is_err());
        assert!(String::deserialize(RawDeserializer(b"\xC1\x10")).is_err());
    }
}
