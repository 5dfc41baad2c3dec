//! The replies of the scripts and of `SCAN`, checked for the shapes they can take: any
//! other shape is a [`StoreErrorKind::Backend`](satchel_store_core::StoreErrorKind) error,
//! never a panic.

use std::time::{Duration, SystemTime};

use redis::{RedisResult, Value};
use satchel_store_core::{Condition, Entry, Result, Version};

use crate::error::{Op, bad_reply, conflict, not_a_value};
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

/// The reply of a script that answers `1`/`0`, or `{what}` for a key that holds no value
/// ([`scripts::TOUCH`], [`scripts::DELETE_IF`]).
pub(super) fn flag_or_not_a_value(key: &str, op: Op, reply: Value) -> Result<bool> {
    match reply {
        Value::Int(n) => Ok(n == 1),
        Value::Array(items) => match items.as_slice() {
            [Value::BulkString(t)] => Err(not_a_value(key, op, t)),
            [Value::SimpleString(t)] => Err(not_a_value(key, op, t.as_bytes())),
            _ => Err(bad_reply(op, "an unexpected array").with_key(key)),
        },
        _ => Err(bad_reply(op, "not a number").with_key(key)),
    }
}

/// A reply with a server `WRONGTYPE` error taken out as `None`: the key is not a string.
pub(super) fn wrong_type_apart(reply: RedisResult<Value>) -> RedisResult<Option<Value>> {
    match reply {
        Err(e) if e.code() == Some("WRONGTYPE") => Ok(None),
        other => other.map(Some),
    }
}

/// When a value with `pttl` milliseconds left (`-1`: no expiry) expires.
pub(super) fn expiry_of(key: &str, pttl: i64) -> Result<Option<SystemTime>> {
    match pttl {
        -1 => Ok(None),
        ms if ms >= 0 => {
            Ok(SystemTime::now().checked_add(Duration::from_millis(ms.unsigned_abs())))
        }
        _ => Err(bad_reply(Op::Get, "the value has no time to live").with_key(key)),
    }
}

/// The reply of [`scripts::GET_LEGACY`].
pub(super) fn parse_legacy(key: &str, reply: Value) -> Result<Option<Entry>> {
    let items = match reply {
        Value::Nil => return Ok(None),
        Value::Array(items) => items,
        _ => return Err(bad_reply(Op::Get, "not an array").with_key(key)),
    };
    match <[Value; 3]>::try_from(items) {
        Ok([Value::BulkString(value), version, Value::Int(pttl)]) => {
            let version = parse_version(&version)
                .ok_or_else(|| bad_reply(Op::Get, "the version is not a number").with_key(key))?;
            let expires_at = expiry_of(key, pttl)?;
            Ok(Some(Entry::new(value, Version::new(version), expires_at)))
        }
        Ok(_) => Err(bad_reply(Op::Get, "fields of the wrong types").with_key(key)),
        Err(items) => match items.as_slice() {
            [Value::BulkString(what)] => Err(not_a_value(key, Op::Get, what)),
            _ => Err(bad_reply(Op::Get, "an array of the wrong length").with_key(key)),
        },
    }
}

/// The reply of [`scripts::SET`]: `Ok` when written (the caller chose the version).
pub(super) fn parse_set(key: &str, condition: Condition, reply: Value) -> Result<()> {
    let Value::Array(items) = reply else {
        return Err(bad_reply(Op::Set, "not an array").with_key(key));
    };
    let current = |kind: &[u8], n: &[u8]| -> Option<u64> {
        let n = std::str::from_utf8(n).ok()?;
        match kind {
            b"hex" => u64::from_str_radix(n, 16).ok(),
            b"dec" => n.parse().ok(),
            _ => None,
        }
    };
    match items.as_slice() {
        [Value::Int(1)] => Ok(()),
        [Value::Int(0)] => Err(conflict(key, condition, None)),
        [Value::Int(0), Value::BulkString(_), Value::BulkString(n)] if n.is_empty() => {
            Err(conflict(key, condition, None))
        }
        [Value::Int(0), Value::BulkString(kind), Value::BulkString(n)] => match current(kind, n) {
            Some(current) => Err(conflict(key, condition, Some(current))),
            None => Err(bad_reply(Op::Set, "the current version is not a number").with_key(key)),
        },
        [Value::Int(-1), Value::BulkString(what)] => Err(not_a_value(key, Op::Set, what)),
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
        let e = parse_legacy("k", Value::Int(3)).unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Backend);
        let e =
            parse_legacy("k", Value::Array(vec![Value::Nil, Value::Nil, Value::Nil])).unwrap_err();
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
        let entry = parse_legacy("k", reply).unwrap().unwrap();
        assert_eq!(entry, Entry::new(b"bytes".to_vec(), Version::new(42), None));
        let e = parse_legacy(
            "k",
            Value::Array(vec![Value::BulkString(b"a Redis list".to_vec())]),
        )
        .unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Corrupt);
        assert!(e.message().contains("a Redis list"), "{e}");

        assert!(parse_set("k", Condition::Always, Value::Array(vec![Value::Int(1)])).is_ok());
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let lost = Value::Array(vec![Value::Int(0), bulk("dec"), bulk("43")]);
        let e = parse_set("k", Condition::IfVersion(Version::new(42)), lost).unwrap_err();
        assert!(e.is_conflict());
        assert!(e.message().contains("v42 expected, v43 stored"), "{e}");
        let lost = Value::Array(vec![Value::Int(0), bulk("hex"), bulk("000000000000002b")]);
        let e = parse_set("k", Condition::IfVersion(Version::new(42)), lost).unwrap_err();
        assert!(e.message().contains("v43 stored"), "{e}");
        let gone = Value::Array(vec![Value::Int(0)]);
        assert!(
            parse_set("k", Condition::IfAbsent, gone)
                .unwrap_err()
                .is_conflict()
        );
        let foreign = Value::Array(vec![Value::Int(0), bulk("hex"), bulk("")]);
        assert!(
            parse_set("k", Condition::IfAbsent, foreign)
                .unwrap_err()
                .is_conflict()
        );
    }
}
