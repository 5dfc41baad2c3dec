//! [`KvdbMsgPack`]: kvdb-py's msgpack serializer, with its pydantic extension type.

use std::fmt;
use std::io::Cursor;

use serde::Serialize;
use serde::de::{self, DeserializeOwned, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use satchel_core::{Error, ErrorKind, Format, Limits};

use crate::classes::{Classes, shorten};
use crate::json::{check_depth, encode_error, plain_value, with_class};

/// The msgpack extension type kvdb-py writes pydantic models as: JSON of the model's
/// fields plus `"__class__"`.
pub const PYDANTIC_EXT: i8 = 2;

/// kvdb-py's msgpack serializer (`serializer="msgpack"`): `msgpack.packb(use_bin_type=True)`
/// with pydantic models as extension type 2.
///
/// This is the serializer half only; the `satchel` facade's `Codec::kvdb_msgpack()` adds
/// kvdb-py's prefix, compression and raw values. Reading accepts extension 2 only for a
/// `__class__` registered in [`Classes`], and refuses other extension types. Writing uses
/// msgpack maps for structs, `str` for strings and `bin` for bytes (`serde_bytes` or
/// [`Bytes`](crate::Bytes)); a top-level value of a registered Rust type is written as
/// extension 2.
///
/// kvdb-py 0.0.2 itself cannot write pydantic models through msgpack when orjson is
/// installed (its hook calls `.encode()` on orjson's bytes), nor datetimes, sets or
/// dataclasses at all.
#[derive(Clone, Copy, Debug, Default)]
pub struct KvdbMsgPack {
    classes: Option<&'static Classes>,
}

crate::classes::class_aware!(KvdbMsgPack);

fn write_ext(out: &mut Vec<u8>, kind: i8, data: &[u8]) -> Result<(), Error> {
    let len = data.len();
    if let Ok(n) = u8::try_from(len) {
        out.extend_from_slice(&[0xC7, n]);
    } else if let Ok(n) = u16::try_from(len) {
        out.push(0xC8);
        out.extend_from_slice(&n.to_be_bytes());
    } else if let Ok(n) = u32::try_from(len) {
        out.push(0xC9);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        return Err(Error::new(
            ErrorKind::Encode,
            "value is too large for a msgpack extension",
        ));
    }
    out.push(kind as u8);
    out.extend_from_slice(data);
    Ok(())
}

impl crate::KvdbSerializer for KvdbMsgPack {}

impl Format for KvdbMsgPack {
    fn name(&self) -> &'static str {
        "kvdb-msgpack"
    }

    fn serialize_into<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        match self.registry().class_of::<T>() {
            Some(class) => {
                let mut fields = match plain_value(value).map_err(|e| encode_error(e, "msgpack"))? {
                    Value::Object(fields) => fields,
                    _ => {
                        return Err(Error::new(
                            ErrorKind::Encode,
                            format!(
                                "a value of class `{class}` must serialize as a map of fields \
                                 to be written as a pydantic model"
                            ),
                        ));
                    }
                };
                fields.insert("__class__".into(), Value::String(class.into()));
                let json = serde_json::to_vec(&fields).map_err(|e| encode_error(e, "msgpack"))?;
                write_ext(out, PYDANTIC_EXT, &json)
            }
            None => {
                let mut serializer = rmp_serde::Serializer::new(out).with_struct_map();
                value
                    .serialize(&mut serializer)
                    .map_err(|e| encode_error(e, "msgpack"))
            }
        }
    }

    fn deserialize<T: DeserializeOwned>(&self, bytes: &[u8], limits: &Limits) -> Result<T, Error> {
        PENDING.with(|p| p.borrow_mut().take());
        let mut de = rmp_serde::Deserializer::new(Cursor::new(bytes));
        let seed = Node {
            classes: self.registry(),
            depth: 0,
            max_depth: limits.max_depth,
            top: Some(std::any::type_name::<T>()),
        };
        let value = match seed.deserialize(&mut de) {
            Ok(value) => value,
            Err(e) => return Err(take_error(e)),
        };
        let read = de.position() as usize;
        if read != bytes.len() {
            return Err(Error::new(
                ErrorKind::Decode,
                format!(
                    "kvdb msgpack value has {} unexpected bytes after its end",
                    bytes.len() - read
                ),
            ));
        }
        check_depth(&value, limits)?;
        T::deserialize(value).map_err(|e| {
            Error::new(
                ErrorKind::Decode,
                format!("kvdb msgpack value could not be read: {e}"),
            )
            .with_source(e)
        })
    }
}

thread_local! {
    /// The satchel error behind a serde error raised while walking msgpack, so its kind
    /// (limit, unregistered class, mismatch) survives rmp-serde's error type.
    static PENDING: std::cell::RefCell<Option<Error>> = const { std::cell::RefCell::new(None) };
}

fn raise<E: de::Error>(error: Error) -> E {
    let message = error.message().to_string();
    PENDING.with(|p| *p.borrow_mut() = Some(error));
    E::custom(message)
}

fn take_error(e: rmp_serde::decode::Error) -> Error {
    match PENDING.with(|p| p.borrow_mut().take()) {
        Some(error) => error,
        None => Error::new(
            ErrorKind::Decode,
            format!("kvdb msgpack value could not be read: {e}"),
        )
        .with_source(e),
    }
}

/// Reads one msgpack value into a JSON tree, following kvdb-py's extension 2.
#[derive(Clone, Copy)]
struct Node {
    classes: &'static Classes,
    depth: usize,
    max_depth: usize,
    top: Option<&'static str>,
}

impl Node {
    fn child<E: de::Error>(self) -> Result<Self, E> {
        if self.depth >= self.max_depth {
            return Err(raise(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "kvdb msgpack value nests deeper than the limit of {}",
                    self.max_depth
                ),
            )));
        }
        Ok(Self {
            depth: self.depth + 1,
            top: None,
            ..self
        })
    }
}

impl<'de> DeserializeSeed<'de> for Node {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

fn bytes_value(v: &[u8]) -> Value {
    Value::Array(v.iter().map(|b| Value::from(*b)).collect())
}

impl<'de> Visitor<'de> for Node {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a msgpack value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format_args!("kvdb msgpack float {v} has no JSON form")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.into()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        Ok(bytes_value(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let child = self.child()?;
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element_seed(child)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let child = self.child()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(child)? {
            let key = match key {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => if b { "True" } else { "False" }.into(),
                other => {
                    return Err(de::Error::custom(format_args!(
                        "kvdb msgpack map key {} cannot be read",
                        shorten(&other.to_string())
                    )));
                }
            };
            let value = map.next_value_seed(child)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        // rmp-serde hands an extension over as a newtype of (type, data).
        d.deserialize_any(Ext(self))
    }
}

struct Ext(Node);

impl<'de> Visitor<'de> for Ext {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a msgpack extension")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let kind: i8 = seq
            .next_element()?
            .ok_or_else(|| de::Error::custom("msgpack extension without a type"))?;
        let data = seq
            .next_element_seed(RawBytes)?
            .ok_or_else(|| de::Error::custom("msgpack extension without data"))?;
        if kind != PYDANTIC_EXT {
            return Err(raise(Error::new(
                ErrorKind::Decode,
                format!(
                    "stored value holds msgpack extension type {kind}; kvdb values only use \
                     type {PYDANTIC_EXT} (pydantic models)"
                ),
            )));
        }
        let fields: Value = serde_json::from_slice(&data).map_err(|e| {
            raise(Error::new(
                ErrorKind::Decode,
                format!("kvdb msgpack pydantic extension is not JSON: {e}"),
            ))
        })?;
        let Value::Object(mut fields) = fields else {
            return Err(raise(Error::new(
                ErrorKind::Decode,
                "kvdb msgpack pydantic extension is not a JSON object",
            )));
        };
        let class = match fields.remove("__class__") {
            Some(Value::String(class)) => class,
            _ => {
                return Err(raise(Error::new(
                    ErrorKind::Decode,
                    "kvdb msgpack pydantic extension has no `__class__` string",
                )));
            }
        };
        let node = self.0;
        let value = Value::Object(fields);
        if depth_ok(&value, node).is_err() {
            return Err(raise(Error::new(
                ErrorKind::LimitExceeded,
                format!(
                    "kvdb msgpack value nests deeper than the limit of {}",
                    node.max_depth
                ),
            )));
        }
        with_class(value, &class, node.classes, node.top).map_err(raise)
    }
}

fn depth_ok(value: &Value, node: Node) -> Result<(), ()> {
    if crate::json::depth_of(value) + node.depth > node.max_depth {
        Err(())
    } else {
        Ok(())
    }
}

struct RawBytes;

impl<'de> DeserializeSeed<'de> for RawBytes {
    type Value = Vec<u8>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_bytes(self)
    }
}

impl<'de> Visitor<'de> for RawBytes {
    type Value = Vec<u8>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("extension data")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }
}
