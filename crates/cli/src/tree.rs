//! Decoding into a JSON tree with a bound on its size.
//!
//! The codec's limits bound the bytes a value decodes to (64 MiB), but not the tree the
//! tool builds from them: 64 MiB of MessagePack nils is 64 million `Value::Null`s, 2 GiB of
//! memory. Every node decoded here is counted against [`MAX_NODES`] first, so a hostile
//! value is refused after a bounded amount of work and memory, whatever its format.
//!
//! The budget lives in a thread-local counter that [`bounded`] sets before and clears after
//! one decoding; the types in this module read it. Decoding is synchronous, so one thread
//! decodes one value at a time.

use std::cell::Cell;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// The most nodes (scalars, arrays, objects, object keys not counted) one decoded value
/// may have: about 128 MiB of `serde_json::Value`s at 32 bytes each.
pub(crate) const MAX_NODES: usize = 4_000_000;

thread_local! {
    /// Nodes left in the current decoding; `usize::MAX` outside one.
    static LEFT: Cell<usize> = const { Cell::new(usize::MAX) };
    /// Set when the budget ran out, so the caller can tell that error from the format's.
    static EXCEEDED: Cell<bool> = const { Cell::new(false) };
    /// Set while `convert` decodes: what the JSON data model would change is an error.
    static STRICT: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with strict decoding: binary data (msgpack `bin`, which the JSON data model
/// can only hold as an array of numbers, a different type) is an error instead of an
/// array, so a value is never converted into something its readers no longer accept.
pub(crate) fn strictly<R>(f: impl FnOnce() -> R) -> R {
    STRICT.with(|s| s.set(true));
    let result = f();
    STRICT.with(|s| s.set(false));
    result
}

/// Whether JSON text holds an integer that does not fit 64 bits: serde_json reads it into
/// the JSON data model as a float, so writing it back changes it. A scan of the number
/// tokens outside strings; cheap next to parsing.
pub(crate) fn has_wide_integer(text: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => {
                i += 1;
                while i < text.len() && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < text.len()
                    && matches!(text[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let token = &text[start..i];
                let integer = !token.iter().any(|b| matches!(b, b'.' | b'e' | b'E'));
                if integer {
                    let digits = std::str::from_utf8(token).unwrap_or("");
                    if digits.parse::<i64>().is_err() && digits.parse::<u64>().is_err() {
                        return true;
                    }
                }
            }
            _ => i += 1,
        }
    }
    false
}

/// The message of the error a value over the budget gives.
pub(crate) fn too_large_message() -> String {
    format!(
        "the value holds more than {MAX_NODES} elements (a decompression or list bomb?); \
         satchel's command line shows values up to that size"
    )
}

/// Takes one node from the budget.
pub(crate) fn take<E: de::Error>() -> Result<(), E> {
    LEFT.with(|left| match left.get() {
        0 => {
            EXCEEDED.with(|e| e.set(true));
            Err(E::custom(too_large_message()))
        }
        n => {
            left.set(n - 1);
            Ok(())
        }
    })
}

/// Runs one decoding with a fresh budget of [`MAX_NODES`]; the flag says whether the budget
/// ran out (the error is then the budget's, whatever the format wrapped it in).
pub(crate) fn bounded<R>(f: impl FnOnce() -> R) -> (R, bool) {
    LEFT.with(|l| l.set(MAX_NODES));
    EXCEEDED.with(|e| e.set(false));
    let result = f();
    LEFT.with(|l| l.set(usize::MAX));
    (result, EXCEEDED.with(Cell::take))
}

/// A JSON value decoded under the budget: deserializes like `serde_json::Value` (from any
/// self-describing format) and counts every node first.
pub(crate) struct Tree(pub(crate) Value);

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_any(TreeVisitor).map(Tree)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        take::<E>()?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        take::<E>()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        take::<E>()?;
        Ok(Value::Number(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        take::<E>()?;
        Number::from_i128(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("integer {v} is wider than 64 bits")))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        take::<E>()?;
        Number::from_u128(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("integer {v} is wider than 64 bits")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        take::<E>()?;
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom(format!("{v} is not a number JSON can hold")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        take::<E>()?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        take::<E>()?;
        Ok(Value::String(v))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Value, E> {
        take::<E>()?;
        if STRICT.with(Cell::get) {
            return Err(E::custom(
                "it holds binary data (msgpack bin, also how a u128 is written), which the \
                 JSON data model can only hold as an array of numbers: a different type",
            ));
        }
        Ok(Value::Array(v.iter().map(|b| Value::from(*b)).collect()))
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        take::<E>()?;
        Ok(Value::Null)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        take::<E>()?;
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        Tree::deserialize(de).map(|t| t.0)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        take::<A::Error>()?;
        // The size a format announces is not trusted: grow as elements arrive.
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(Tree(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        take::<A::Error>()?;
        let mut out = Map::new();
        while let Some((key, Tree(value))) = map.next_entry::<String, Tree>()? {
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_integers_are_found_outside_strings_only() {
        assert!(has_wide_integer(b"[1, 18446744073709551616]"));
        assert!(has_wide_integer(b"{\"a\":-9223372036854775809}"));
        assert!(!has_wide_integer(
            b"[18446744073709551615, -9223372036854775808, 1e400, 2.5]"
        ));
        assert!(!has_wide_integer(b"\"18446744073709551616999\""));
        assert!(!has_wide_integer(b"[\"a\\\"99999999999999999999\", 1]"));
    }
}
