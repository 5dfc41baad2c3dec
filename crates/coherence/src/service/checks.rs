//! Request checks, value comparison and the statuses the endpoint answers.

use std::time::{Duration, SystemTime};

use crate::value::{COHERENCE_FORMAT_NAME, MAGIC};
use satchel_store_core::{Entry, StoreError, StoreErrorKind};
use tonic::Status;

use crate::KnownClasses;
use crate::keys::cache_prefix;

/// Refuses an empty cache name, and a format other than `json` where the request has one
/// (an empty format is taken as `json`).
pub(super) fn namespace(scope: &str, cache: &str, format: Option<&str>) -> Result<String, Status> {
    if cache.is_empty() {
        return Err(Status::invalid_argument(
            "invalid request, cache name cannot be null or empty",
        ));
    }
    if let Some(format) = format
        && !format.is_empty()
        && format != COHERENCE_FORMAT_NAME
    {
        return Err(Status::invalid_argument(format!(
            "unsupported serialization format {format:?}: satchel's Coherence endpoint \
             supports \"{COHERENCE_FORMAT_NAME}\" only"
        )));
    }
    Ok(cache_prefix(scope, cache))
}

/// The deepest nesting of arrays and objects a key or value may have: satchel's limit
/// (`Limits::max_depth`'s default, serde_json's own), so whatever the endpoint stores,
/// satchel's readers can read.
pub(super) const MAX_DEPTH: usize = 128;

/// How deeply `json` nests arrays and objects, counted without building anything (brackets
/// inside strings do not count); stops counting past `limit`.
fn nesting(json: &[u8], limit: usize) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in json {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if deepest > limit {
                    return deepest;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// Refuses bytes that are not a `json`-format value: `0x15` then one JSON text, nested at
/// most [`MAX_DEPTH`] levels, naming only classes that `known` knows.
pub(super) fn check_json(field: &str, bytes: &[u8]) -> Result<(), Status> {
    check_json_classes(field, bytes, &KnownClasses::any())
}

/// [`check_json`], refusing an object whose `@class` (at any depth) `known` does not know,
/// the way a Coherence server refuses a class it has no alias for ("Could not
/// deserialize").
pub(super) fn check_json_classes(
    field: &str,
    bytes: &[u8],
    known: &KnownClasses,
) -> Result<(), Status> {
    let Some((&MAGIC, json)) = bytes.split_first() else {
        return Err(Status::invalid_argument(if bytes.is_empty() {
            format!("malformed {field}: it is empty (format json is 0x15 followed by JSON)")
        } else {
            format!(
                "malformed {field}: it does not start with 0x15, the marker of format json \
                 (first byte: 0x{:02x})",
                bytes[0]
            )
        }));
    };
    if nesting(json, MAX_DEPTH) > MAX_DEPTH {
        return Err(Status::invalid_argument(format!(
            "malformed {field}: its JSON nests deeper than {MAX_DEPTH} levels, satchel's limit"
        )));
    }
    // serde_json skips ignored strings without checking their UTF-8: check it first.
    let text = std::str::from_utf8(json).map_err(|e| {
        Status::invalid_argument(format!(
            "malformed {field}: the JSON after 0x15 is not UTF-8 ({e})"
        ))
    })?;
    let malformed = |e: serde_json::Error| {
        Status::invalid_argument(format!(
            "malformed {field}: not valid JSON after 0x15 ({e})"
        ))
    };
    // Without `@class` (nor an escape that could spell it) there is no class to check, and
    // serde_json's own skipping is the fastest validation.
    if known.is_any() || !(text.contains("@class") || text.contains("\\u")) {
        return serde_json::from_str::<serde::de::IgnoredAny>(text)
            .map(drop)
            .map_err(malformed);
    }
    let unknown = std::cell::RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    // The walk recurses once a level: [`nesting`] above bounded the levels to MAX_DEPTH,
    // and serde_json's own limit (128 including the top) would refuse the deepest allowed.
    de.disable_recursion_limit();
    let walked = serde::de::DeserializeSeed::deserialize(
        classes::Walk {
            known,
            unknown: &unknown,
        },
        &mut de,
    )
    .and_then(|()| de.end());
    match (walked, unknown.into_inner()) {
        (_, Some(class)) => Err(Status::invalid_argument(format!(
            "Could not deserialize the {field}: its @class {class:?} is not a class this \
             server knows (satchel knows Coherence's own, {}, and the names given with \
             `satchel serve --coherence-class`)",
            KnownClasses::COHERENCE_NAMESPACES
                .iter()
                .map(|n| format!("{n}*"))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        (Err(e), None) => Err(malformed(e)),
        (Ok(()), None) => Ok(()),
    }
}

/// The walk over a JSON text that stops at the first unknown `@class`.
mod classes {
    use std::cell::RefCell;
    use std::fmt;

    use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};

    use crate::KnownClasses;

    /// Walks one JSON value; an unknown class is put in `unknown` and ends the walk.
    #[derive(Clone, Copy)]
    pub(super) struct Walk<'a> {
        pub(super) known: &'a KnownClasses,
        pub(super) unknown: &'a RefCell<Option<String>>,
    }

    impl<'de> DeserializeSeed<'de> for Walk<'_> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    macro_rules! scalars {
        ($($name:ident($ty:ty)),*) => {$(
            fn $name<E: de::Error>(self, _: $ty) -> Result<(), E> {
                Ok(())
            }
        )*};
    }

    impl<'de> Visitor<'de> for Walk<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON value")
        }

        scalars!(
            visit_bool(bool),
            visit_i64(i64),
            visit_u64(u64),
            visit_f64(f64),
            visit_str(&str)
        );

        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(self)?.is_some() {}
            Ok(())
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(is_class) = map.next_key_seed(IsClassKey)? {
                if is_class {
                    map.next_value_seed(Class(self))?;
                } else {
                    map.next_value_seed(self)?;
                }
            }
            Ok(())
        }
    }

    /// The value of an `@class` key: a name is checked; anything else is walked as any
    /// value (Coherence would refuse it, and so does the query language).
    struct Class<'a>(Walk<'a>);

    impl<'de> DeserializeSeed<'de> for Class<'_> {
        type Value = ();
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(self)
        }
    }

    impl<'de> Visitor<'de> for Class<'_> {
        type Value = ();

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a class name")
        }

        scalars!(
            visit_bool(bool),
            visit_i64(i64),
            visit_u64(u64),
            visit_f64(f64)
        );

        fn visit_unit<E: de::Error>(self) -> Result<(), E> {
            Ok(())
        }

        fn visit_str<E: de::Error>(self, class: &str) -> Result<(), E> {
            if self.0.known.knows(class) {
                return Ok(());
            }
            *self.0.unknown.borrow_mut() = Some(class.chars().take(200).collect());
            Err(de::Error::custom("unknown class"))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
            self.0.visit_seq(seq)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
            self.0.visit_map(map)
        }
    }

    /// Reads an object key: `true` if it is `@class` (no copy of the key).
    struct IsClassKey;

    impl<'de> DeserializeSeed<'de> for IsClassKey {
        type Value = bool;
        fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
            d.deserialize_str(self)
        }
    }

    impl<'de> Visitor<'de> for IsClassKey {
        type Value = bool;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object key")
        }

        fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
            Ok(key == crate::value::CLASS_FIELD)
        }
    }
}

/// A request's `ttl` in milliseconds: 0 is the cache's default (satchel caches have none:
/// no expiry), -1 never expires, more expires after that long.
pub(super) fn ttl(ms: i64) -> Result<Option<Duration>, Status> {
    match ms {
        0 | -1 => Ok(None),
        ms if ms > 0 => Ok(Some(Duration::from_millis(ms.unsigned_abs()))),
        ms => Err(Status::invalid_argument(format!(
            "invalid ttl {ms}: use milliseconds > 0, 0 for the cache's default (no expiry) \
             or -1 for never"
        ))),
    }
}

/// Whether two serialized values are the same: the same bytes, or the same JSON (so a
/// value written by a client that spaces its JSON differently still matches).
pub(super) fn same_value(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    match (parse_value(a), parse_value(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// Values larger than this are compared by their bytes only: parsing them to compare as
/// JSON would cost many times their size in memory (a 16 MB value took 300 MB).
pub(super) const MAX_PARSED_VALUE: usize = 64 * 1024;

/// The value as JSON, to compare; `None` for a value that is not Coherence JSON or larger
/// than [`MAX_PARSED_VALUE`].
pub(super) fn parse_value(bytes: &[u8]) -> Option<serde_json::Value> {
    if bytes.len() > MAX_PARSED_VALUE {
        return None;
    }
    match bytes.split_first() {
        Some((&MAGIC, json)) => serde_json::from_slice(json).ok(),
        _ => None,
    }
}

pub(super) fn store_failed(op: &str, e: &StoreError) -> Status {
    match e.kind() {
        StoreErrorKind::Conflict | StoreErrorKind::NotFound | StoreErrorKind::InvalidInput => {
            tracing::debug!(op, error = %e, "coherence: store call refused");
        }
        _ => {
            tracing::warn!(op, error = %e, source = ?std::error::Error::source(e), "coherence: store call failed")
        }
    }
    satchel_grpc::to_status(e)
}

/// Waits before the next attempt of a compare-and-set that lost to `conflict`, or gives up
/// with `ABORTED` once the retry policy is spent (the policy's error, which says how many
/// attempts were made, is logged as the cause: a status carries no source).
pub(super) async fn retry_or_busy(
    attempts: &mut satchel_store_core::Attempts,
    op: &str,
    conflict: StoreError,
) -> Result<(), Status> {
    attempts.after_conflict(conflict).await.map_err(|gave_up| {
        tracing::debug!(op, error = %gave_up, "coherence: a compare-and-set gave up");
        Status::aborted(format!(
            "coherence {op}: the entry kept changing under concurrent writers; try again"
        ))
    })
}

/// What is left of an entry's time to live: `Ok(None)` for none, `Err(())` if it has just
/// expired.
pub(super) fn remaining(entry: &Entry) -> Result<Option<Duration>, ()> {
    match entry.expires_at {
        None => Ok(None),
        Some(at) => match at.duration_since(SystemTime::now()) {
            Ok(d) if !d.is_zero() => Ok(Some(d)),
            _ => Err(()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(ttl(0).unwrap(), None);
        assert_eq!(ttl(-1).unwrap(), None);
        assert_eq!(ttl(1500).unwrap(), Some(Duration::from_millis(1500)));
        assert_eq!(ttl(-2).unwrap_err().code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn json_checks_name_the_field() {
        assert!(check_json("key", b"\x15\"k\"").is_ok());
        for bad in [
            &b""[..],
            b"\x00x",
            b"\x15{not json",
            b"\x15",
            b"\x15\"\xff\"",
        ] {
            let e = check_json("key", bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
            assert!(e.message().contains("key"), "{}", e.message());
        }
    }

    #[test]
    fn regression_deep_values_are_refused() {
        let deep = |n: usize| {
            let mut v = vec![0x15];
            v.extend(std::iter::repeat_n(b'[', n));
            v.extend(std::iter::repeat_n(b']', n));
            v
        };
        assert!(check_json("value", &deep(MAX_DEPTH)).is_ok());
        let e = check_json("value", &deep(MAX_DEPTH + 1)).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        assert!(e.message().contains("128"), "{}", e.message());
        let e = check_json("key", &deep(8_000_000)).unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument);
        // Brackets inside strings are not nesting.
        let mut quoted = b"\x15\"".to_vec();
        quoted.extend(std::iter::repeat_n(b'[', 1000));
        quoted.extend(b"\\\"\"");
        assert!(check_json("value", &quoted).is_ok());
    }

    #[test]
    fn classes_are_checked_at_every_allowed_depth_and_however_spelled() {
        let known = KnownClasses::coherence();
        let nested = |n: usize, class: &str| {
            let mut v = vec![0x15];
            v.extend(std::iter::repeat_n(b'[', n - 1));
            v.extend(format!("{{\"@class\": \"{class}\"}}").bytes());
            v.extend(std::iter::repeat_n(b']', n - 1));
            v
        };
        // The deepest value allowed, with a class at its bottom: walked, not refused for
        // its depth (serde_json's own recursion limit would).
        assert!(check_json_classes("value", &nested(MAX_DEPTH, "math.BigInt"), &known).is_ok());
        let e = check_json_classes("value", &nested(MAX_DEPTH, "com.foo.Bar"), &known).unwrap_err();
        assert!(
            e.message().contains("Could not deserialize"),
            "{}",
            e.message()
        );
        // An escaped key is the same key.
        let escaped = b"\x15{\"@cl\\u0061ss\": \"com.foo.Bar\"}";
        assert!(check_json_classes("value", escaped, &known).is_err());
        assert!(check_json_classes("value", escaped, &KnownClasses::any()).is_ok());
        // Malformed JSON is still malformed, with or without a class in it.
        let e = check_json_classes("value", b"\x15{\"@class\": \"math.X\",", &known).unwrap_err();
        assert!(e.message().contains("not valid JSON"), "{}", e.message());
        // A long unknown name is cut in the message.
        let long = format!("\x15{{\"@class\": \"{}\"}}", "a".repeat(10_000));
        let e = check_json_classes("value", long.as_bytes(), &known).unwrap_err();
        assert!(e.message().len() < 1_000, "{}", e.message().len());
    }

    #[test]
    fn regression_large_values_are_compared_by_bytes_without_parsing() {
        let mut big = b"\x15[".to_vec();
        big.extend(std::iter::repeat_n(b"0,", MAX_PARSED_VALUE).flatten());
        big.extend(b"0]");
        assert_eq!(parse_value(&big), None);
        assert!(same_value(&big, &big.clone()));
    }

    #[test]
    fn values_match_by_bytes_or_json() {
        assert!(same_value(b"\x15{\"a\": 1}", b"\x15{\"a\":1}"));
        assert!(!same_value(b"\x151", b"\x151.0"));
        assert!(same_value(b"\x15NaN", b"\x15NaN"));
    }
}
