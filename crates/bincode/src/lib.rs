//! Binary format for [satchel](https://docs.rs/satchel): bincode 2 through serde.
//!
//! The most compact and fastest format, at a price: the bytes carry no field names or
//! types, so the reader must use exactly the writer's type, and serde features that need
//! the data to describe itself (`deserialize_any`: `serde_json::Value`,
//! `#[serde(tag = …)]`, `untagged`, `flatten`) cannot be decoded. Those give a clear
//! [`ErrorKind::Unsupported`] error suggesting a self-describing format, never garbage.
//!
//! Hostile input is bounded without bincode's byte limit, whose accounting (a check on
//! every integer read) cost 10–20% of decoding time. Where a length prefix could make
//! bincode allocate what the input does not hold, the declared length is checked against
//! the remaining input instead (see [`satchel_core::depth`]):
//! - owned strings and byte buffers are read through bincode's borrowing reads, which
//!   refuse a length longer than the rest of the input before anything is allocated (its
//!   owned reads allocate whatever the prefix claims), and are then copied;
//! - the element counts sequences and maps announce, from which serde's collections
//!   pre-allocate, are capped, summed over the value, at the input's length (every
//!   element takes at least a byte, so honest counts are never cut);
//! - the elements a value's sequences and maps hand out are counted, at most one per byte
//!   of input plus [`ELEMENT_MARGIN`]: an element can take no input at all (`()`, a unit
//!   struct), so a length prefix could otherwise make the decoder loop 2^60 times;
//! - nesting is bounded by [`Limits::max_depth`] (bincode itself has no depth limit, so a
//!   recursive type would otherwise overflow the stack).
//!
//! So decoding allocates in proportion to the input: a value of `n` bytes decodes into at
//! most `n` bytes of strings, and collections sized by the elements actually read.
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
    let depth = DepthLimit::new(limits.max_depth)
        .owned_reads_borrowed()
        .size_hint_budget(bytes.len())
        .element_budget(bytes.len().saturating_add(ELEMENT_MARGIN));
    let (value, read) =
        bincode::serde::seed_decode_from_slice(Limited(&depth, PhantomData), bytes, config)
            .map_err(|e| decode_error(e, &depth, bytes.len(), limits))?;
    if read != bytes.len() {
        return Err(Error::new(
            ErrorKind::Decode,
            "unexpected bytes after the bincode value (was it written as another type?)",
        ));
    }
    Ok(value)
}

/// Elements a value may hold beyond one per byte of its input: room for elements that take
/// no input (a `()`, a unit struct, `PhantomData`, a sequence's end), while a length prefix
/// claiming 2^60 of them stops after about a million iterations, a few milliseconds.
pub const ELEMENT_MARGIN: usize = 1 << 20;

fn decode_error(e: DecodeError, guard: &DepthLimit, input_len: usize, limits: &Limits) -> Error {
    if guard.elements_exceeded() {
        return Error::new(
            ErrorKind::LimitExceeded,
            format!(
                "bincode value claims more elements than its {input_len} bytes can hold (at \
                 most one per byte, plus {ELEMENT_MARGIN}): a length in it is corrupt or hostile"
            ),
        )
        .with_source(e);
    }
    if guard.exceeded() {
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
        DecodeError::UnexpectedEnd { .. } => (
            ErrorKind::Decode,
            "bincode value is truncated, or a length in it claims more bytes than it holds"
                .to_string(),
        ),
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
        decode_with(bytes, config::standard(), limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_length_prefix_is_refused_without_allocating() {
        // A value claiming u64::MAX / 2 bytes (varint 0xFD + 8 bytes), then nothing: the
        // sequence runs out of input (serde caps its pre-allocation, and so does the hint
        // budget), the string is refused before bincode allocates (tests/tests/bombs.rs measures).
        let mut hostile = vec![0xFD];
        hostile.extend_from_slice(&(u64::MAX / 2).to_le_bytes());
        for err in [
            Bincode
                .deserialize::<Vec<u8>>(&hostile, &Limits::default())
                .unwrap_err(),
            Bincode
                .deserialize::<String>(&hostile, &Limits::default())
                .unwrap_err(),
            Bincode
                .deserialize::<serde_bytes_like::Buf>(&hostile, &Limits::default())
                .unwrap_err(),
        ] {
            assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
            assert!(err.to_string().contains("claims more bytes"), "{err}");
        }
    }

    /// 0.1 dropped bincode's byte limit when `max_decoded_len` was above 1 GiB
    /// (`with_limit::<{usize::MAX}>`): an 11-byte value claiming 2^62 bytes then made
    /// bincode allocate them, and the process aborted. Lengths are now checked against the
    /// input, whatever the limits say.
    #[test]
    fn regression_huge_claim_with_a_huge_limit_is_refused() {
        let mut hostile = vec![0xFD];
        hostile.extend_from_slice(&(1u64 << 62).to_le_bytes());
        for limit in [1 << 31, 1 << 40, usize::MAX] {
            let limits = Limits::default().max_decoded_len(limit);
            let err = Bincode
                .deserialize::<String>(&hostile, &limits)
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode, "{limit}: {err}");
        }
        // Legitimate values still decode, under any limit.
        let strings: Vec<String> = vec![String::new(); 10_000];
        let mut out = Vec::new();
        Bincode.serialize_into(&strings, &mut out).unwrap();
        for limit in [1, usize::MAX] {
            let limits = Limits::default().max_decoded_len(limit);
            let back: Vec<String> = Bincode.deserialize(&out, &limits).unwrap();
            assert_eq!(back.len(), 10_000);
        }
    }

    /// Owned strings and byte buffers are read through bincode's borrowing reads; what they
    /// decode to is the same.
    #[test]
    fn owned_strings_and_buffers_read_the_same_through_the_borrowing_reads() {
        let value = (
            "héllo".to_string(),
            serde_bytes_like::Buf(vec![0, 1, 255]),
            vec!["a".to_string(), String::new()],
            'x',
        );
        let mut out = Vec::new();
        Bincode.serialize_into(&value, &mut out).unwrap();
        let back: (String, serde_bytes_like::Buf, Vec<String>, char) =
            Bincode.deserialize(&out, &Limits::default()).unwrap();
        assert_eq!(back, value);
        // Invalid UTF-8 in a string is a decode error.
        let err = Bincode
            .deserialize::<String>(&[2, 0xff, 0xfe], &Limits::default())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    }

    /// A byte buffer read with `deserialize_byte_buf`, as `serde_bytes::ByteBuf` does.
    mod serde_bytes_like {
        #[derive(Debug, PartialEq)]
        pub(super) struct Buf(pub(super) Vec<u8>);

        impl serde::Serialize for Buf {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for Buf {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = Buf;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("bytes")
                    }
                    fn visit_bytes<E>(self, v: &[u8]) -> Result<Buf, E> {
                        Ok(Buf(v.to_vec()))
                    }
                    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Buf, E> {
                        Ok(Buf(v))
                    }
                }
                d.deserialize_byte_buf(V)
            }
        }
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
