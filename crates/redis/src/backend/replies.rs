//! The replies of the scripts and of `SCAN`, checked for the shapes they can take: any
//! other shape is a [`StoreErrorKind::Backend`](satchel_store_core::StoreErrorKind) error,
//! never a panic.

use std::time::{Duration, SystemTime};

use redis::Value;
use satchel_store_core::{Condition, Entry, Result, Version};

use crate::error::{Op, bad_reply, conflict, foreign};
#[cfg(doc)]
use crate::scripts;

/// A version as the scripts send it: decimal digits in a bulk string.
pub(super) fn parse_version(value: &Value) -> Option<u64> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        Value::Int(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// The reply of a script that answers `1`/`0`, or `{type}` for a key satchel did not write
/// ([`scripts::TOUCH`], [`scripts::DELETE_IF`]).
pub(super) fn flag_or_foreign(key: &str, op: Op, reply: Value) -> Result<bool> {
    match reply {
        Value::Int(n) => Ok(n == 1),
        Value::Array(items) => match items.as_slice() {
            [Value::BulkString(t)] => Err(foreign(key, op, t)),
            [Value::SimpleString(t)] => Err(foreign(key, op, t.as_bytes())),
            _ => Err(bad_reply(op, "an unexpected array").with_key(key)),
        },
        _ => Err(bad_reply(op, "not a number").with_key(key)),
    }
}

/// The reply of [`scripts::GET`].
pub(super) fn parse_get(key: &str, reply: Value) -> Result<Option<Entry>> {
    let items = match reply {
        Value::Nil => return Ok(None),
        Value::Array(items) => items,
        _ => return Err(bad_reply(Op::Get, "not an array").with_key(key)),
    };
    match <[Value; 3]>::try_from(items) {
        Ok([Value::BulkString(value), version, Value::Int(pttl)]) => {
            let version = parse_version(&version)
                .ok_or_else(|| bad_reply(Op::Get, "the version is not a number").with_key(key))?;
            let expires_at = match pttl {
                -1 => None,
                ms if ms >= 0 => SystemTime::now().checked_add(Duration::from_millis(ms as u64)),
                _ => return Err(bad_reply(Op::Get, "the value has no time to live").with_key(key)),
            };
            Ok(Some(Entry::new(value, Version::new(version), expires_at)))
        }
        Ok(_) => Err(bad_reply(Op::Get, "fields of the wrong types").with_key(key)),
        Err(items) => match items.as_slice() {
            [Value::BulkString(redis_type)] => Err(foreign(key, Op::Get, redis_type)),
            _ => Err(bad_reply(Op::Get, "an array of the wrong length").with_key(key)),
        },
    }
}

/// The reply of [`scripts::SET`].
pub(super) fn parse_set(key: &str, condition: Condition, reply: Value) -> Result<Version> {
    let Value::Array(items) = reply else {
        return Err(bad_reply(Op::Set, "not an array").with_key(key));
    };
    match items.as_slice() {
        [Value::Int(1), version] => parse_version(version)
            .map(Version::new)
            .ok_or_else(|| bad_reply(Op::Set, "the new version is not a number").with_key(key)),
        [Value::Int(0), Value::Nil] | [Value::Int(0)] => Err(conflict(key, condition, None)),
        [Value::Int(0), current] => match parse_version(current) {
            Some(current) => Err(conflict(key, condition, Some(current))),
            None => Err(bad_reply(Op::Set, "the current version is not a number").with_key(key)),
        },
        [Value::Int(-1), Value::BulkString(redis_type)] => Err(foreign(key, Op::Set, redis_type)),
        _ => Err(bad_reply(Op::Set, "an array of the wrong shape").with_key(key)),
    }
}

/// The reply of `SCAN`: the next cursor and a batch of keys.
pub(super) fn parse_scan(reply: Value) -> Result<(u64, Vec<Vec<u8>>)> {
    let Value::Array(items) = reply else {
        return Err(bad_reply(Op::Scan, "not an array"));
    };
    let Ok([cursor, Value::Array(keys)]) = <[Value; 2]>::try_from(items) else {
        return Err(bad_reply(Op::Scan, "not a cursor and a list of keys"));
    };
    let cursor =
        parse_version(&cursor).ok_or_else(|| bad_reply(Op::Scan, "the cursor is not a number"))?;
    keys.into_iter()
        .map(|key| match key {
            Value::BulkString(key) => Ok(key),
            _ => Err(bad_reply(Op::Scan, "a key is not a string")),
        })
        .collect::<Result<_>>()
        .map(|keys| (cursor, keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use satchel_store_core::StoreErrorKind;

    #[test]
    fn bad_replies_are_backend_errors() {
        let e = parse_get("k", Value::Int(3)).unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Backend);
        let e = parse_get("k", Value::Array(vec![Value::Nil, Value::Nil, Value::Nil])).unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Backend);
        let e = parse_set("k", Condition::Always, Value::Array(vec![Value::Int(7)])).unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Backend);
        let e = parse_scan(Value::Array(vec![Value::Nil])).unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Backend);
    }

    #[test]
    fn replies_parse() {
        let reply = Value::Array(vec![
            Value::BulkString(b"bytes".to_vec()),
            Value::BulkString(b"42".to_vec()),
            Value::Int(-1),
        ]);
        let entry = parse_get("k", reply).unwrap().unwrap();
        assert_eq!(entry, Entry::new(b"bytes".to_vec(), Version::new(42), None));
        let e = parse_get(
            "k",
            Value::Array(vec![Value::BulkString(b"string".to_vec())]),
        )
        .unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Corrupt);

        let ok = Value::Array(vec![Value::Int(1), Value::BulkString(b"43".to_vec())]);
        assert_eq!(
            parse_set("k", Condition::Always, ok).unwrap(),
            Version::new(43)
        );
        let lost = Value::Array(vec![Value::Int(0), Value::BulkString(b"43".to_vec())]);
        let e = parse_set("k", Condition::IfVersion(Version::new(42)), lost).unwrap_err();
        assert!(e.is_conflict());
        assert!(e.message().contains("v42 expected, v43 stored"), "{e}");
        let gone = Value::Array(vec![Value::Int(0), Value::Nil]);
        assert!(
            parse_set("k", Condition::IfAbsent, gone)
                .unwrap_err()
                .is_conflict()
        );
    }
}
