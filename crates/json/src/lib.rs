//! JSON format for [satchel](https://docs.rs/satchel), through serde_json.
//!
//! [`Json`] writes compact JSON with serde_json, with its `float_roundtrip` feature on so
//! every `f64` reads back bit for bit. With the `simd` feature it decodes large
//! documents with simd-json, which measured faster than serde_json only above a size
//! threshold on this project's benchmarks (see `BENCHMARKS.md`); smaller documents keep
//! serde_json. Both give identical values on the project's test corpus, with one known
//! difference: an integer beyond 64 bits read into a `serde_json::Value` (which cannot
//! hold it) is rounded to a float by serde_json and refused by simd-json. Typed `i128` and
//! `u128` fields read the same with both.
//!
//! ```
//! use satchel_core::{Format, Limits};
//! use satchel_json::Json;
//!
//! let mut out = Vec::new();
//! Json::new().serialize_into(&vec![1, 2, 3], &mut out)?;
//! assert_eq!(out, b"[1,2,3]");
//! let back: Vec<u8> = Json::new().deserialize(&out, &Limits::default())?;
//! assert_eq!(back, [1, 2, 3]);
//! # Ok::<(), satchel_core::Error>(())
//! ```
//!
//! The `0x15`-prefixed JSON that Oracle Coherence's gRPC clients keep in their caches is
//! `satchel_coherence::CoherenceJson`, in the `satchel-coherence` crate (built on [`Json`]).

use serde::Serialize;
use serde::de::DeserializeOwned;

use satchel_core::depth::DepthLimit;
use satchel_core::{Error, ErrorKind, Format, FormatId, HeaderFormat, Limits};

/// serde_json's own nesting limit, which it always applies.
const SERDE_JSON_DEPTH: usize = 128;

/// The JSON format (serde_json; simd-json for large documents with feature `simd`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Json {
    simd_above: usize,
    simd_up_to: usize,
}

impl Json {
    /// Documents of at least this many bytes are decoded with simd-json when the `simd`
    /// feature is on. Placed from the `json_decoders` benchmark (see `BENCHMARKS.md`):
    /// serde_json was faster on a 300-byte session record, simd-json faster from about
    /// 4 KB up.
    pub const DEFAULT_SIMD_ABOVE: usize = 8 * 1024;

    /// Documents larger than this are decoded with serde_json whatever the feature:
    /// simd-json reserves its tape up front at 32 bytes per byte of input (measured: a
    /// 60 MB document of zeros made it ask for 1.92 GB before reading anything), while
    /// serde_json's memory follows what the data builds. 1 MiB keeps the tape at 32 MiB.
    pub const SIMD_UP_TO: usize = 1 << 20;

    /// JSON with the default decoder choice.
    pub const fn new() -> Self {
        Self {
            simd_above: if cfg!(feature = "simd") {
                Self::DEFAULT_SIMD_ABOVE
            } else {
                usize::MAX
            },
            simd_up_to: Self::SIMD_UP_TO,
        }
    }

    /// Always decode with serde_json.
    #[must_use]
    pub const fn serde_only(mut self) -> Self {
        self.simd_above = usize::MAX;
        self
    }

    /// Decode documents of at least `bytes` bytes (and at most [`Json::SIMD_UP_TO`]) with
    /// simd-json (0: every document up to that size).
    #[cfg(feature = "simd")]
    #[must_use]
    pub const fn simd_above(mut self, bytes: usize) -> Self {
        self.simd_above = bytes;
        self
    }

    /// Whether a document of `len` bytes is decoded with simd-json.
    pub const fn uses_simd(&self, len: usize) -> bool {
        len >= self.simd_above && len <= self.simd_up_to
    }

    fn serde_decode<T: DeserializeOwned>(bytes: &[u8], limits: &Limits) -> Result<T, Error> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let value = if limits.max_depth < SERDE_JSON_DEPTH {
            let limit = DepthLimit::new(limits.max_depth);
            limit
                .deserialize(&mut de)
                .map_err(|e| json_error(e, limit.exceeded(), limits))?
        } else {
            T::deserialize(&mut de).map_err(|e| json_error(e, false, limits))?
        };
        de.end().map_err(|e| json_error(e, false, limits))?;
        Ok(value)
    }

    #[cfg(feature = "simd")]
    fn simd_decode<T: DeserializeOwned>(bytes: &mut [u8], limits: &Limits) -> Result<T, Error> {
        let mut de = simd_json::Deserializer::from_slice(bytes).map_err(|e| {
            let kind = if matches!(e.error(), simd_json::ErrorType::DepthLimitExceeded) {
                ErrorKind::LimitExceeded
            } else {
                ErrorKind::Decode
            };
            Error::new(kind, "invalid JSON (simd-json)").with_source(e)
        })?;
        let limit = DepthLimit::new(limits.max_depth);
        let value = limit.deserialize(&mut de).map_err(|e| {
            if limit.exceeded() {
                depth_error(limits)
            } else {
                Error::new(ErrorKind::Decode, "JSON does not match the expected type")
                    .with_source(e)
            }
        })?;
        Ok(value)
    }
}

impl Default for Json {
    fn default() -> Self {
        Self::new()
    }
}

fn depth_error(limits: &Limits) -> Error {
    Error::new(
        ErrorKind::LimitExceeded,
        format!(
            "JSON nests deeper than {} levels",
            limits.max_depth.min(SERDE_JSON_DEPTH)
        ),
    )
}

fn json_error(e: serde_json::Error, depth_exceeded: bool, limits: &Limits) -> Error {
    // serde_json reports its own nesting limit as a syntax error with this text.
    if depth_exceeded || e.to_string().starts_with("recursion limit exceeded") {
        return depth_error(limits).with_source(e);
    }
    let message = match e.classify() {
        serde_json::error::Category::Data => "JSON does not match the expected type",
        serde_json::error::Category::Eof => "JSON is truncated",
        _ => "invalid JSON",
    };
    Error::new(ErrorKind::Decode, message).with_source(e)
}

impl HeaderFormat for Json {
    fn id(&self) -> FormatId {
        FormatId::JSON
    }
}

impl Format for Json {
    fn name(&self) -> &'static str {
        "json"
    }

    #[inline]
    fn serialize_into<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        serde_json::to_writer(out, value).map_err(|e| {
            Error::new(ErrorKind::Encode, "value cannot be written as JSON").with_source(e)
        })
    }

    #[inline]
    fn deserialize<T: DeserializeOwned>(&self, bytes: &[u8], limits: &Limits) -> Result<T, Error> {
        #[cfg(feature = "simd")]
        if self.uses_simd(bytes.len()) {
            // simd-json parses in place, so it needs a private copy.
            let mut scratch = bytes.to_vec();
            return Self::simd_decode(&mut scratch, limits);
        }
        Self::serde_decode(bytes, limits)
    }

    #[inline]
    fn deserialize_mut<T: DeserializeOwned>(
        &self,
        bytes: &mut [u8],
        limits: &Limits,
    ) -> Result<T, Error> {
        #[cfg(feature = "simd")]
        if self.uses_simd(bytes.len()) {
            return Self::simd_decode(bytes, limits);
        }
        Self::serde_decode(bytes, limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 0.1 decoded every JSON document of 8 KiB and more with simd-json, whose tape is
    /// reserved up front at 32 bytes per input byte: a 60 MB value (within the 64 MiB
    /// limit) asked for 1.92 GB. Large documents go to serde_json.
    #[test]
    fn regression_large_documents_never_reach_simd_json() {
        let json = Json::new();
        assert!(!json.uses_simd(Json::SIMD_UP_TO + 1));
        assert!(!json.uses_simd(60_000_000));
        assert_eq!(json.uses_simd(Json::SIMD_UP_TO), cfg!(feature = "simd"));
        assert!(!json.uses_simd(100), "small documents stay with serde_json");
        assert!(!json.serde_only().uses_simd(Json::SIMD_UP_TO));
    }
}
