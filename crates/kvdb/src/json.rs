//! [`KvdbJson`]: kvdb-py's JSON serializer, with its type tags.

use std::cell::Cell;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use satchel_core::{Error, ErrorKind, Format, Limits};

use crate::classes::{Classes, shorten};
use crate::types::from_hex;

thread_local! {
    /// Set while the fields of a registered class are serialized: kvdb-py writes those with
    /// pydantic's `model_dump(mode="json")`, plain JSON without tags.
    static PLAIN: Cell<bool> = const { Cell::new(false) };
}

/// True if the wrapper types should write kvdb tags right now.
pub(crate) fn tags_enabled() -> bool {
    !PLAIN.with(Cell::get)
}

/// Serializes `value` as plain JSON (no tags from the wrapper types).
pub(crate) fn plain_value<T: Serialize + ?Sized>(value: &T) -> Result<Value, serde_json::Error> {
    let before = PLAIN.with(|p| p.replace(true));
    let result = serde_json::to_value(value);
    PLAIN.with(|p| p.set(before));
    result
}

pub(crate) fn encode_error(e: impl std::error::Error + Send + Sync + 'static, what: &str) -> Error {
    Error::new(
        ErrorKind::Encode,
        format!("value cannot be written as kvdb {what}"),
    )
    .with_source(e)
}

/// kvdb-py's JSON serializer (`serializer="json"`): orjson over its type-tagged objects.
///
/// This is the serializer half only (serde values ⇄ the JSON text kvdb-py stores after its
/// `_kvdbenc_` prefix); the `satchel` facade's `Codec::kvdb_json()` adds the prefix, the
/// compression and kvdb-py's raw strings and numbers.
///
/// Reading follows kvdb-py's `deserialize_object`: an object with a `__type__` is a tagged
/// Python value. `datetime`, `uuid` read as their text, `bytes` as the bytes its hex
/// stands for, `set` as a list, `timedelta` as seconds; `pydantic`, `dataclass`, `enum`,
/// `path` and `numpy` carry a `__class__`, accepted only if registered in [`Classes`]
/// (then the object's fields are read into the caller's type); `pickle` is always refused.
/// As in kvdb-py, a tagged object's `value` is taken as it is (tags inside it are not
/// followed) and objects without `__type__` are searched for tags.
///
/// Writing produces what kvdb-py writes: serde's JSON, with the top-level value wrapped as
/// `{"__type__": "pydantic", "__class__": …, "value": …}` when its Rust type is registered,
/// and [`DateTime`](crate::DateTime), [`Bytes`](crate::Bytes) and [`Set`](crate::Set)
/// tagged wherever they appear (except inside a registered class, which pydantic dumps
/// plain).
#[derive(Clone, Copy, Debug, Default)]
pub struct KvdbJson {
    classes: Option<&'static Classes>,
}

crate::classes::class_aware!(KvdbJson);

/// How deeply `value` nests (a scalar is 0).
pub(crate) fn depth_of(value: &Value) -> usize {
    // Iterative, so a deep hostile value cannot overflow the stack here.
    let mut max = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Array(items) => {
                max = max.max(d + 1);
                stack.extend(items.iter().map(|i| (i, d + 1)));
            }
            Value::Object(map) => {
                max = max.max(d + 1);
                stack.extend(map.values().map(|i| (i, d + 1)));
            }
            _ => {}
        }
    }
    max
}

pub(crate) fn check_depth(value: &Value, limits: &Limits) -> Result<(), Error> {
    let depth = depth_of(value);
    if depth > limits.max_depth {
        return Err(Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "kvdb value nests {depth} levels deep, over the limit of {}",
                limits.max_depth
            ),
        ));
    }
    Ok(())
}

pub(crate) fn decode_error(e: serde_json::Error, what: &str) -> Error {
    let kind = if e.to_string().starts_with("recursion limit exceeded") {
        ErrorKind::LimitExceeded
    } else {
        ErrorKind::Decode
    };
    Error::new(kind, format!("kvdb {what} value could not be read: {e}")).with_source(e)
}

fn tag_error(message: String) -> Error {
    Error::new(ErrorKind::Decode, message)
}

/// Follows kvdb-py's tags in `value` (see [`KvdbJson`]). `top` is the Rust type being read
/// at the top level.
pub(crate) fn untag(
    value: Value,
    classes: &Classes,
    top: Option<&'static str>,
) -> Result<Value, Error> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|v| untag(v, classes, None))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        Value::Object(mut map) => {
            let Some(kind) = map.remove("__type__") else {
                return map
                    .into_iter()
                    .map(|(k, v)| Ok((k, untag(v, classes, None)?)))
                    .collect::<Result<Map<_, _>, Error>>()
                    .map(Value::Object);
            };
            let Value::String(kind) = kind else {
                return Err(tag_error(format!(
                    "kvdb tagged object has a `__type__` that is not a string: {}",
                    shorten(&kind.to_string())
                )));
            };
            if kind == "pickle" {
                return Err(tag_error(
                    "stored value is a pickled Python object (kvdb tag `pickle`): refused, \
                     satchel never unpickles (kvdb-py would run it)"
                        .into(),
                ));
            }
            let Some(inner) = map.remove("value") else {
                return Err(tag_error(format!(
                    "kvdb tagged object `{}` has no `value`",
                    shorten(&kind)
                )));
            };
            match kind.as_str() {
                "datetime" | "uuid" => match inner {
                    Value::String(_) => Ok(inner),
                    other => Err(tag_error(format!(
                        "kvdb `{kind}` value is not a string: {}",
                        shorten(&other.to_string())
                    ))),
                },
                "timedelta" => match inner {
                    Value::Number(_) => Ok(inner),
                    other => Err(tag_error(format!(
                        "kvdb `timedelta` value is not a number of seconds: {}",
                        shorten(&other.to_string())
                    ))),
                },
                "bytes" => match inner.as_str().and_then(from_hex) {
                    Some(bytes) => Ok(Value::Array(bytes.into_iter().map(Value::from).collect())),
                    None => Err(tag_error(format!(
                        "kvdb `bytes` value is not hex text: {}",
                        shorten(&inner.to_string())
                    ))),
                },
                "set" | "tensor" => match inner {
                    Value::Array(_) => Ok(inner),
                    other => Err(tag_error(format!(
                        "kvdb `{kind}` value is not a list: {}",
                        shorten(&other.to_string())
                    ))),
                },
                "pydantic" | "dataclass" | "enum" | "path" | "numpy" => {
                    let class = match map.remove("__class__") {
                        Some(Value::String(class)) => class,
                        _ => {
                            return Err(tag_error(format!(
                                "kvdb `{kind}` object has no `__class__` string"
                            )));
                        }
                    };
                    with_class(inner, &class, classes, top)
                }
                other => Err(tag_error(format!(
                    "stored value has a kvdb tag satchel does not read: `__type__` = `{}`",
                    shorten(other)
                ))),
            }
        }
        scalar => Ok(scalar),
    }
}

/// A classed object's value, once its class is checked.
pub(crate) fn with_class(
    inner: Value,
    class: &str,
    classes: &Classes,
    top: Option<&'static str>,
) -> Result<Value, Error> {
    let keep = classes.check(class, top)?;
    Ok(match inner {
        Value::Object(mut fields) if keep => {
            fields.insert("__class__".into(), Value::String(class.into()));
            Value::Object(fields)
        }
        other => other,
    })
}

impl crate::KvdbSerializer for KvdbJson {}

impl Format for KvdbJson {
    fn name(&self) -> &'static str {
        "kvdb-json"
    }

    fn serialize_into<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let value = match self.registry().class_of::<T>() {
            Some(class) => {
                let fields = plain_value(value).map_err(|e| encode_error(e, "JSON"))?;
                let mut tagged = Map::with_capacity(3);
                tagged.insert("__type__".into(), Value::String("pydantic".into()));
                tagged.insert("__class__".into(), Value::String(class.into()));
                tagged.insert("value".into(), fields);
                Value::Object(tagged)
            }
            None => serde_json::to_value(value).map_err(|e| encode_error(e, "JSON"))?,
        };
        serde_json::to_writer(out, &value).map_err(|e| encode_error(e, "JSON"))
    }

    fn deserialize<T: DeserializeOwned>(&self, bytes: &[u8], limits: &Limits) -> Result<T, Error> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| decode_error(e, "JSON"))?;
        check_depth(&value, limits)?;
        let value = untag(value, self.registry(), Some(std::any::type_name::<T>()))?;
        T::deserialize(value).map_err(|e| decode_error(e, "JSON"))
    }
}
