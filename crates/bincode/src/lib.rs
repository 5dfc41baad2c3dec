//! Binary format for [satchel](https://docs.rs/satchel): bincode 2 through serde.
//!
//! The most compact and fastest format, at a price: the bytes carry no field names or
//! types, so the reader must use exactly the writer's type, and serde features that need
//! the data to describe itself (`deserialize_any`: `serde_json::Value`,
//! `#[serde(tag = …)]`, `untagged`, `flatten`) cannot be decoded. Those give a clear
//! [`ErrorKind::Unsupported`] error suggesting a self-describing format, never garbage.
//!
//! Hostile input is bounded: bincode's byte limit is set from [`Limits::max_decoded_len`]
//! and from the input itself ([`claim_limit`]: at most [`CLAIM_PER_INPUT_BYTE`] bytes per
//! byte of input), so a length prefix cannot make it allocate more (without a limit,
//! bincode allocates whatever a string's length prefix claims before reading it; the
//! limit's accounting costs about 10% of decoding time, see `BENCHMARKS.md`), and
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
                "bincode value claims more memory than allowed: max_decoded_len ({} bytes), \
                 and at most {CLAIM_PER_INPUT_BYTE} bytes per byte of input",
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
        // claim limit.
        let c = config::standard();
        macro_rules! rungs {
            ($($shift:literal)+) => {
                match claim_limit(bytes.len(), limits.max_decoded_len) {
                    $(n if n <= 1 << $shift => {
                        decode_with(bytes, c.with_limit::<{ 1 << $shift }>(), limits)
                    })+
                    _ => decode_with(bytes, c.with_limit::<{ 1 << 40 }>(), limits),
                }
            };
        }
        rungs!(16 18 20 22 24 26 28 30 32 34 36 38)
    }
}

/// How many bytes of memory bincode may claim per byte of input: what a string or vector's
/// length prefix may make it allocate, summed over the value. Generous for real data (a
/// `Vec<String>` of empty strings claims 24 bytes per input byte), and it keeps an 11-byte
/// value that claims 2^62 bytes from allocating anything, whatever `max_decoded_len` says.
pub const CLAIM_PER_INPUT_BYTE: usize = 256;

/// The byte limit bincode decodes `input_len` bytes with: the smaller of `max_decoded_len`
/// and [`CLAIM_PER_INPUT_BYTE`] × the input (64 KiB at least), never above 1 TiB.
pub const fn claim_limit(input_len: usize, max_decoded_len: usize) -> usize {
    let by_input = input_len.saturating_mul(CLAIM_PER_INPUT_BYTE);
    let by_input = if by_input < 1 << 16 {
        1 << 16
    } else {
        by_input
    };
    let limit = if by_input < max_decoded_len {
        by_input
    } else {
        max_decoded_len
    };
    if limit > 1 << 40 { 1 << 40 } else { limit }
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

    /// 0.1 dropped bincode's byte limit when `max_decoded_len` was above 1 GiB
    /// (`with_limit::<{usize::MAX}>`): an 11-byte value claiming 2^62 bytes then made
    /// bincode allocate them, and the process aborted.
    #[test]
    fn regression_huge_claim_with_a_huge_limit_is_refused() {
        let mut hostile = vec![0xFD];
        hostile.extend_from_slice(&(1u64 << 62).to_le_bytes());
        for limit in [1 << 31, 1 << 40, usize::MAX] {
            let limits = Limits::default().max_decoded_len(limit);
            let err = Bincode
                .deserialize::<String>(&hostile, &limits)
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{limit}: {err}");
        }
        // Legitimate values still decode under a huge limit.
        let strings: Vec<String> = vec![String::new(); 10_000];
        let mut out = Vec::new();
        Bincode.serialize_into(&strings, &mut out).unwrap();
        let limits = Limits::default().max_decoded_len(usize::MAX);
        let back: Vec<String> = Bincode.deserialize(&out, &limits).unwrap();
        assert_eq!(back.len(), 10_000);
        assert_eq!(claim_limit(11, usize::MAX), 1 << 16);
        assert_eq!(claim_limit(1 << 30, usize::MAX), 1 << 38);
        assert_eq!(claim_limit(1 << 33, usize::MAX), 1 << 40);
        assert_eq!(claim_limit(1 << 20, 1 << 24), 1 << 24);
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
