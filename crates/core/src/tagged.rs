//! [`Tagged`]: an explicit type tag around a value, checked when reading.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A stable name a type declares for itself, written by [`Tagged`].
///
/// Declared by the type, not derived from `std::any::type_name` (whose output may change
/// between compiler versions), so stored data stays readable after refactors: renaming the
/// Rust type keeps the tag.
///
/// ```
/// use satchel_core::Tag;
/// struct User { name: String }
/// impl Tag for User { const TAG: &'static str = "user"; }
/// ```
pub trait Tag {
    /// The tag written next to the value; keep it stable once data is stored.
    const TAG: &'static str;
}

impl<T: Tag + ?Sized> Tag for &T {
    const TAG: &'static str = T::TAG;
}

/// A value written together with its type's [`Tag`], so reading it as another type is a
/// clear error naming both tags instead of a silent misread.
///
/// It is a two-field struct `{ "type": TAG, "value": … }`, so it works in every format,
/// bincode included (where it is the tag string followed by the value).
///
/// ```
/// use satchel_core::{Tag, Tagged};
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct User { name: String }
/// impl Tag for User { const TAG: &'static str = "user"; }
/// #[derive(serde::Serialize, serde::Deserialize, Debug)]
/// struct Order { id: u64 }
/// impl Tag for Order { const TAG: &'static str = "order"; }
///
/// let json = serde_json::to_string(&Tagged(User { name: "ann".into() })).unwrap();
/// assert_eq!(json, r#"{"type":"user","value":{"name":"ann"}}"#);
/// let user: Tagged<User> = serde_json::from_str(&json).unwrap();
/// assert_eq!(user.0.name, "ann");
/// let err = serde_json::from_str::<Tagged<Order>>(&json).unwrap_err();
/// assert!(err.to_string().contains("expected a value tagged `order`, found `user`"));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tagged<T>(pub T);

impl<T> Tagged<T> {
    /// The inner value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

const FIELDS: &[&str] = &["type", "value"];

impl<T: Serialize + Tag> Serialize for Tagged<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Tagged", 2)?;
        s.serialize_field("type", T::TAG)?;
        s.serialize_field("value", &self.0)?;
        s.end()
    }
}

impl<'de, T: Deserialize<'de> + Tag> Deserialize<'de> for Tagged<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("Tagged", FIELDS, TaggedVisitor(PhantomData))
    }
}

struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de> + Tag> Visitor<'de> for TaggedVisitor<T> {
    type Value = Tagged<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a value tagged `{}`", T::TAG)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        seq.next_element_seed(TagCheck(T::TAG))?
            .ok_or_else(|| de::Error::invalid_length(0, &self))?;
        let value = seq
            .next_element()?
            .ok_or_else(|| de::Error::invalid_length(1, &self))?;
        Ok(Tagged(value))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        match map.next_key_seed(FieldName)? {
            Some(Field::Type) => map.next_value_seed(TagCheck(T::TAG))?,
            Some(Field::Value) => {
                return Err(de::Error::custom(format_args!(
                    "tagged value must have `type` before `value` (expected tag `{}`)",
                    T::TAG
                )));
            }
            None => return Err(de::Error::missing_field("type")),
        }
        match map.next_key_seed(FieldName)? {
            Some(Field::Value) => {
                let value = map.next_value()?;
                if map.next_key_seed(FieldName)?.is_some() {
                    return Err(de::Error::custom("tagged value has a field after `value`"));
                }
                Ok(Tagged(value))
            }
            Some(Field::Type) => Err(de::Error::duplicate_field("type")),
            None => Err(de::Error::missing_field("value")),
        }
    }
}

enum Field {
    Type,
    Value,
}

struct FieldName;

impl<'de> DeserializeSeed<'de> for FieldName {
    type Value = Field;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Field, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for FieldName {
    type Value = Field;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`type` or `value`")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Field, E> {
        match v {
            "type" => Ok(Field::Type),
            "value" => Ok(Field::Value),
            other => Err(E::unknown_field(other, FIELDS)),
        }
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Field, E> {
        match v {
            b"type" => Ok(Field::Type),
            b"value" => Ok(Field::Value),
            other => Err(E::unknown_field(&String::from_utf8_lossy(other), FIELDS)),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field, E> {
        match v {
            0 => Ok(Field::Type),
            1 => Ok(Field::Value),
            _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
        }
    }
}

/// Reads a tag string and compares it with the expected one, without allocating.
struct TagCheck(&'static str);

impl<'de> DeserializeSeed<'de> for TagCheck {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for TagCheck {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the type tag `{}`", self.0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if v == self.0 {
            Ok(())
        } else {
            Err(E::custom(format_args!(
                "expected a value tagged `{}`, found `{v}`",
                self.0
            )))
        }
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<(), E> {
        match std::str::from_utf8(v) {
            Ok(s) => self.visit_str(s),
            Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(v), &self)),
        }
    }
}
