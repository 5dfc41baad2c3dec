//! The [`Format`] trait: values to bytes and back.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, Limits};

/// A serialization format: turns any serde value into bytes and back.
///
/// This is the data-format half of serde's split (serde owns the data model, a `Format`
/// owns the bytes). It is generic in the value type, like serde itself, so it is not
/// object-safe; runtime choice goes through an enum of the compiled-in formats instead
/// (`satchel::AnyFormat`).
///
/// Implementations append to a caller-owned buffer, so the uncompressed path writes each
/// value once, straight behind the header.
///
/// # Example: a custom format
///
/// ```
/// use satchel_core::{Error, ErrorKind, Format, FormatId, HeaderFormat, Limits};
///
/// /// Stores `String`s as raw UTF-8 (a toy, to show the shape).
/// #[derive(Clone, Copy, Debug)]
/// struct Utf8;
///
/// impl Format for Utf8 {
///     fn name(&self) -> &'static str { "utf8" }
///     fn serialize_into<T: serde::Serialize + ?Sized>(&self, value: &T, out: &mut Vec<u8>) -> Result<(), Error> {
///         let s = serde_json::to_value(value).map_err(|e| Error::new(ErrorKind::Encode, "not a string").with_source(e))?;
///         out.extend_from_slice(s.as_str().ok_or_else(|| Error::new(ErrorKind::Encode, "not a string"))?.as_bytes());
///         Ok(())
///     }
///     fn deserialize<T: serde::de::DeserializeOwned>(&self, bytes: &[u8], _: &Limits) -> Result<T, Error> {
///         let s = std::str::from_utf8(bytes).map_err(|e| Error::new(ErrorKind::Decode, "not UTF-8").with_source(e))?;
///         serde_json::from_value(serde_json::Value::String(s.into()))
///             .map_err(|e| Error::new(ErrorKind::Decode, "not a string").with_source(e))
///     }
/// }
///
/// // An id from the custom range puts it behind a satchel header (`Codec::new(Utf8)`).
/// impl HeaderFormat for Utf8 {
///     fn id(&self) -> FormatId { FormatId::FIRST_CUSTOM }
/// }
///
/// let mut out = Vec::new();
/// Utf8.serialize_into("hi", &mut out)?;
/// assert_eq!(out, b"hi");
/// let back: String = Utf8.deserialize(&out, &Limits::default())?;
/// assert_eq!(back, "hi");
/// # Ok::<(), Error>(())
/// ```
///
/// A format says nothing about how its output is marked: that is the codec's
/// [`Framing`](crate::Framing). Formats that go behind satchel's header also implement
/// [`HeaderFormat`](crate::HeaderFormat), which gives their id.
pub trait Format: Debug + Send + Sync {
    /// The name used in pipeline specs and messages (`json`, `msgpack`, …).
    fn name(&self) -> &'static str;

    /// Serializes `value`, appending the bytes to `out`.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Encode`] if the value cannot be represented in this format.
    fn serialize_into<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error>;

    /// Deserializes a `T` from exactly `bytes` (trailing bytes are an error).
    ///
    /// # Errors
    /// [`crate::ErrorKind::Decode`] for malformed input or a type mismatch,
    /// [`crate::ErrorKind::LimitExceeded`] when nesting exceeds `limits.max_depth`.
    fn deserialize<T: DeserializeOwned>(&self, bytes: &[u8], limits: &Limits) -> Result<T, Error>;

    /// Like [`Format::deserialize`], for a buffer the caller no longer needs: formats that
    /// parse in place (simd-json) use it to skip a copy. The default forwards to
    /// [`Format::deserialize`].
    ///
    /// # Errors
    /// As [`Format::deserialize`].
    fn deserialize_mut<T: DeserializeOwned>(
        &self,
        bytes: &mut [u8],
        limits: &Limits,
    ) -> Result<T, Error> {
        self.deserialize(bytes, limits)
    }
}
