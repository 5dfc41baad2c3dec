//! Binary format for [satchel](https://docs.rs/satchel): bincode 2 through serde.
//!
//! The most compact and fastest format, at a price: the bytes carry no field names or
//! types, so the reader must use exactly the writer's type, and serde features that need
//! the data to describe itself (`deserialize_any`: `serde_json::Value`,
//! `#[serde(tag = …)]`, `untagged`, `flatten`) cannot be decoded. Those give a clear
//! [`ErrorKind::Unsupported`] error suggesting a self-describing format, never garbage.
//!
//! Hostile input is bounded: bincode's byte limit is set from
//! [`Limits::max_decoded_len`], so a length prefix cannot make it allocate more (without a
//! limit, bincode allocates whatever a string's length prefix claims before reading it;
//! the limit's accounting costs about 10% of decoding time, see `BENCHMARKS.md`), and
//! nesting is bounded by [`Limits::max_depth`] (bincode itself has no depth limit, so a
//! recursive type would otherwise overflow the stack).
//!
//! ```
//! use satchel_core::{Format, Limits};
//! use satchel_bincode::Bincode;
//!
//! let mut out = Vec::new();
//! Bincode.serialize_into(&(1u8, "hi"), &mut out)?;
//! assert_eq!(out, [1, 2, b'h', b'i']);
//! let back: (u8, String) = Bincode.deserialize(&out, &Limits::default())?;
//! assert_eq!(back, (1, "hi".to_string()));
//! # Ok::<(), satchel_core::Error>(())
//! ```

use bincode::config::{self, Config};
use std::marker::PhantomData;

use bincode::error::DecodeError;
use serde::de::{DeserializeOwned, DeserializeSeed};
use serde::{Deserialize, Serialize};

use satchel_core::depth::DepthLimit;
use satchel_core::{Error, ErrorKind, Format, FormatId, HeaderFormat, Limits};

/// The bincode 2 format with its standard configuration (varint integers, little-endian).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bincode;

/// Appends to a `Vec` directly (bincode's `std::io::Write` adapter costs about 10% on
/// encoding, measured in `BENCHMARKS.md`).
struct VecWriter<'a>(&'a mut Vec<u8>);

impl bincode::enc::write::Writer for VecWriter<'_> {
    #[inline]
    fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Hands the deserializer to the depth limit (bincode's seed entry point is the one that
/// both borrows from the input and reports how much of it was read).
struct Limited<'a, T>(&'a DepthLimit, PhantomData<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Limited<'_, T> {
    type Value = T;

    #[inline]
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        self.0.deserialize(d)
    }
}

fn decode_with<T: DeserializeOwned, C: Config>(
    bytes: &[u8],
    config: C,
    limits: &Limits,
) -> Result<T, Error> {
    let depth = DepthLimit::new(limits.max_depth);
    let (value, read) =
        bincode::serde::seed_decode_from_slice(Limited(&depth, PhantomData), bytes, config)
            .map_err(|e| decode_error(e, depth.exceeded(), limits))?;
    if read != bytes.len() {
        return Err(Error::new(
            ErrorKind::Decode,
            "unexpected bytes after the bincode value (was it written as another type?)",
        ));
    }
    Ok(value)
}

fn decode_error(e: DecodeError, depth_exceeded: bool, limits: &Limits) -> Error {
    if depth_exceeded {
        return Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "bincode value nests deeper than {} levels",
                limits.max_depth
            ),
        )
        .with_source(e);
    }
    let (kind, message) = match &e {
        DecodeError::Serde(
            bincode::serde::DecodeError::AnyNotSupported
            | bincode::serde::DecodeError::IgnoredAnyNotSupported,
        ) => (
            ErrorKind::Unsupported,
            "bincode cannot decode this type: it needs a self-describing format \
             (serde_json::Value, #[serde(tag)], untagged or flatten); use json or msgpack"
                .to_string(),
        ),
        DecodeError::LimitExceeded => (
            ErrorKind::LimitExceeded,
            format!(
                "bincode value claims more than max_decoded_len ({} bytes)",
                limits.max_decoded_len
            ),
        ),
        DecodeError::UnexpectedEnd { .. } => {
            (ErrorKind::Decode, "bincode value is truncated".to_string())
        }
        _ => (
            ErrorKind::Decode,
            "bincode bytes do not match the expected type".to_string(),
        ),
    };
    Error::new(kind, message).with_source(e)
}

impl HeaderFormat for Bincode {
    fn id(&self) -> FormatId {
        FormatId::BINCODE
    }
}

impl Format for Bincode {
    fn name(&self) -> &'static str {
        "bincode"
    }

    #[inline]
    fn serialize_into<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        bincode::serde::encode_into_writer(value, VecWriter(out), config::standard()).map_err(|e| {
            Error::new(ErrorKind::Encode, "value cannot be written as bincode").with_source(e)
        })
    }

    #[inline]
    fn deserialize<T: DeserializeOwned>(&self, bytes: &[u8], limits: &Limits) -> Result<T, Error> {
        // bincode's byte limit is a const generic: pick the smallest rung at or above the
        // configured limit.
        let c = config::standard();
        match limits.max_decoded_len {
            n if n <= 1 << 16 => decode_with(bytes, c.with_limit::<{ 1 << 16 }>(), limits),
            n if n <= 1 << 20 => decode_with(bytes, c.with_limit::<{ 1 << 20 }>(), limits),
            n if n <= 1 << 24 => decode_with(bytes, c.with_limit::<{ 1 << 24 }>(), limits),
            n if n <= 1 << 26 => decode_with(bytes, c.with_limit::<{ 1 << 26 }>(), limits),
            n if n <= 1 << 28 => decode_with(bytes, c.with_limit::<{ 1 << 28 }>(), limits),
            n if n <= 1 << 30 => decode_with(bytes, c.with_limit::<{ 1 << 30 }>(), limits),
            _ => decode_with(bytes, c.with_limit::<{ usize::MAX }>(), limits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_length_prefix_is_refused_without_allocating() {
        // A Vec<u8> claiming u64::MAX / 2 bytes (varint 0xFD + 8 bytes), then nothing.
        let mut hostile = vec![0xFD];
        hostile.extend_from_slice(&(u64::MAX / 2).to_le_bytes());
        let err = Bincode
            .deserialize::<Vec<u8>>(&hostile, &Limits::default())
            .unwrap_err();
        // Sequences are read element by element (serde caps the pre-allocation), so this
        // runs out of input; strings are claimed whole, so the byte limit refuses them.
        assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
        let err = Bincode
            .deserialize::<String>(&hostile, &Limits::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
    }

    #[test]
    fn deserialize_any_is_a_clear_error() {
        let mut out = Vec::new();
        Bincode
            .serialize_into(&serde_json::json!({"a": 1}), &mut out)
            .unwrap();
        let err = Bincode
            .deserialize::<serde_json::Value>(&out, &Limits::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(err.to_string().contains("use json or msgpack"), "{err}");
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let err = Bincode
            .deserialize::<u8>(&[1, 2], &Limits::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode);
    }

    #[derive(serde::Serialize, serde::Deserialize, Debug)]
    enum Tree {
        Leaf,
        Node(Box<Tree>),
    }

    #[test]
    fn deep_recursion_is_an_error_not_a_stack_overflow() {
        let mut hostile = vec![1u8; 100_000];
        hostile.push(0);
        let err = Bincode
            .deserialize::<Tree>(&hostile, &Limits::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
        let mut ok = vec![1u8; 100];
        ok.push(0);
        Bincode
            .deserialize::<Tree>(&ok, &Limits::default())
            .unwrap();
    }
}
