//! How kvdb-py frames a value in Redis: raw, or `_kvdbenc_` + compressed serializer output.

use std::fmt;
use std::io::Write;

use serde::Serialize;
use serde::de::DeserializeOwned;

use satchel_core::{
    Compression, CompressionId, Error, ErrorKind, Format, Framing, Limits, ReadAny, check_len,
    read_bounded,
};

use crate::classes::Classes;
use crate::raw::{RawDeserializer, Top, classify};
use crate::{KvdbJson, KvdbMsgPack};

/// The bytes kvdb-py's encoder puts in front of every serialized value.
pub const PREFIX: &[u8] = b"_kvdbenc_";

/// kvdb-py's serializers: the formats [`KvdbFrame`] can frame ([`KvdbJson`],
/// [`KvdbMsgPack`]). Sealed: kvdb-py has no others.
pub trait KvdbSerializer: Format + sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for crate::KvdbJson {}
    impl Sealed for crate::KvdbMsgPack {}
}

/// kvdb-py's framing, as a satchel [`Framing`]: raw strings and numbers, or [`PREFIX`] +
/// the serializer's output compressed as kvdb-py compresses it (see [`encode_into`] and
/// [`decode`]). No satchel header is written, and the header's settings (threshold,
/// checksum, unheadered reads) do not exist here: kvdb-py has none of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct KvdbFrame;

impl<F: KvdbSerializer, C: Compression> Framing<F, C> for KvdbFrame {
    fn encode_into<T: Serialize + ?Sized>(
        &self,
        format: &F,
        compression: &C,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        encode_into(format, compression, value, out)
    }

    fn decode<T: DeserializeOwned>(
        &self,
        format: &F,
        _: &C,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<T, Error> {
        decode(format, bytes, limits)
    }
}

/// Reads any serialized kvdb value (one that starts with [`PREFIX`]), whatever its
/// serializer and compression: the kvdb-py half of `decode_any_in`.
///
/// Python class names are checked against the [`Classes`] given (none by default: every
/// class is refused). The strings and numbers kvdb-py stores raw carry no mark, so they
/// are not recognised here; only a kvdb codec reads those.
#[derive(Clone, Copy, Debug)]
pub struct KvdbAny {
    classes: &'static Classes,
}

static NO_CLASSES: std::sync::LazyLock<Classes> = std::sync::LazyLock::new(Classes::new);

impl KvdbAny {
    /// Reads kvdb values, refusing every Python class named in them.
    pub fn new() -> Self {
        Self {
            classes: &NO_CLASSES,
        }
    }

    /// Reads kvdb values with these classes registered.
    pub const fn with_classes(classes: &'static Classes) -> Self {
        Self { classes }
    }
}

impl Default for KvdbAny {
    fn default() -> Self {
        Self::new()
    }
}

impl ReadAny for KvdbAny {
    fn describe(&self) -> String {
        "kvdb-py (_kvdbenc_)".to_string()
    }

    fn recognises(&self, bytes: &[u8]) -> bool {
        bytes.starts_with(PREFIX)
    }

    fn decode_any<T: DeserializeOwned>(&self, bytes: &[u8], limits: &Limits) -> Result<T, Error> {
        decode_any_with(bytes, limits, self.classes)
    }
}

/// Encodes `value` as kvdb-py stores it, appending to `out` (left as it was on error).
///
/// - a string, bytes, a number or a boolean at the top level is stored raw, as kvdb-py's
///   encoder does: UTF-8 text, the bytes, Python's `repr` (`42`, `0.5`, `True`). A string
///   or bytes that begin with [`PREFIX`] go through the serializer instead, so that
///   neither Python nor satchel misreads them;
/// - anything else is [`PREFIX`] followed by `format`'s output, compressed by
///   `compression` unless that is `none` (kvdb-py compresses every value when a
///   compression is configured, and cannot read an uncompressed one then). `lz4` means
///   the LZ4 *frame* format here, which is what kvdb-py's `lz4.frame` writes.
///
/// # Errors
/// [`ErrorKind::Encode`] from the format, [`ErrorKind::Compress`] from the compression,
/// [`ErrorKind::Unsupported`] for a compression kvdb-py does not have.
pub fn encode_into<F, C, T>(
    format: &F,
    compression: &C,
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), Error>
where
    F: Format,
    C: Compression + ?Sized,
    T: Serialize + ?Sized,
{
    let start = out.len();
    let result = encode_unchecked(format, compression, value, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn encode_unchecked<F, C, T>(
    format: &F,
    compression: &C,
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), Error>
where
    F: Format,
    C: Compression + ?Sized,
    T: Serialize + ?Sized,
{
    let mut escaped_bytes = None;
    match classify(value) {
        Top::Str(s) if !s.as_bytes().starts_with(PREFIX) => {
            out.extend_from_slice(s.as_bytes());
            return Ok(());
        }
        Top::Bytes(b) if !b.starts_with(PREFIX) => {
            out.extend_from_slice(&b);
            return Ok(());
        }
        Top::Bytes(b) => escaped_bytes = Some(crate::Bytes(b)),
        Top::Repr(r) => {
            out.extend_from_slice(r.as_bytes());
            return Ok(());
        }
        Top::Str(_) | Top::Structured => {}
    }
    out.extend_from_slice(PREFIX);
    let serialize = |buf: &mut Vec<u8>| match &escaped_bytes {
        Some(bytes) => format.serialize_into(bytes, buf),
        None => format.serialize_into(value, buf),
    };
    let id = compression.id();
    if id == CompressionId::NONE {
        return serialize(out);
    }
    let mut raw = Vec::with_capacity(128);
    serialize(&mut raw)?;
    match id {
        CompressionId::ZSTD | CompressionId::GZIP | CompressionId::ZLIB => {
            compression.compress(&raw, out)
        }
        CompressionId::LZ4 => lz4_frame_compress(&raw, out),
        other => Err(Error::new(
            ErrorKind::Unsupported,
            format!(
                "kvdb-py has no compression `{}`: use zstd, lz4, gzip or zlib",
                other
                    .name()
                    .map_or_else(|| other.get().to_string(), str::to_string)
            ),
        )),
    }
}

fn lz4_frame_compress(raw: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let info = lz4_flex::frame::FrameInfo::new()
        .content_size(Some(raw.len() as u64))
        .content_checksum(true);
    let mut encoder = lz4_flex::frame::FrameEncoder::with_frame_info(info, out);
    encoder
        .write_all(raw)
        .map_err(|e| Error::new(ErrorKind::Compress, "lz4 compression failed").with_source(e))?;
    encoder
        .finish()
        .map(drop)
        .map_err(|e| Error::new(ErrorKind::Compress, "lz4 compression failed").with_source(e))
}

/// Decodes a kvdb value with `format`, whatever compression it was written with.
///
/// A value without [`PREFIX`] is one kvdb-py stored raw: it reads as text, as a number or
/// boolean parsed from that text (`"42"` as `u32`, `"True"` as `bool`), or as bytes,
/// whichever `T` asks for. A prefixed value is decompressed as its first bytes say (zstd,
/// gzip, zlib, LZ4 frame, or none: kvdb-py falls back between compressions too), within
/// `limits.max_decoded_len`, then read by `format`.
///
/// # Errors
/// [`ErrorKind::LimitExceeded`] past a limit (nothing is allocated past it),
/// [`ErrorKind::Decompress`] for a corrupt stream, [`ErrorKind::Decode`] when the value
/// does not read as `T`, names an unregistered class or a pickle, and
/// [`ErrorKind::Mismatch`] for a registered class read as another registered type.
pub fn decode<F: Format, T: DeserializeOwned>(
    format: &F,
    bytes: &[u8],
    limits: &Limits,
) -> Result<T, Error> {
    let Some(payload) = bytes.strip_prefix(PREFIX) else {
        check_len(bytes.len(), limits.max_decoded_len, "stored")?;
        return T::deserialize(RawDeserializer(bytes)).map_err(|e| {
            Error::new(
                ErrorKind::Decode,
                format!("raw kvdb value could not be read: {e}"),
            )
            .with_source(e)
        });
    };
    match decompress(payload, limits)? {
        Some(raw) => format.deserialize(&raw, limits),
        None => {
            check_len(payload.len(), limits.max_decoded_len, "stored")?;
            format.deserialize(payload, limits)
        }
    }
}

/// The compression of a kvdb value, as told by its first bytes after [`PREFIX`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Packing {
    /// Not compressed.
    None,
    /// A zstd frame (`28 B5 2F FD`).
    Zstd,
    /// An LZ4 frame (`04 22 4D 18`), as Python's `lz4.frame` writes.
    Lz4,
    /// gzip (`1F 8B 08`).
    Gzip,
    /// zlib (`78` and a valid header check).
    Zlib,
}

impl Packing {
    /// The compression whose magic starts `payload` (the bytes after [`PREFIX`]).
    pub fn detect(payload: &[u8]) -> Self {
        match payload {
            [0x28, 0xB5, 0x2F, 0xFD, ..] => Self::Zstd,
            [0x04, 0x22, 0x4D, 0x18, ..] => Self::Lz4,
            [0x1F, 0x8B, 0x08, ..] => Self::Gzip,
            [0x78, flg, ..] if (0x7800u16 | u16::from(*flg)).is_multiple_of(31) => Self::Zlib,
            _ => Self::None,
        }
    }

    /// The name used in specs (`none`, `zstd`, `lz4`, `gzip`, `zlib`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Zstd => "zstd",
            Self::Lz4 => "lz4",
            Self::Gzip => "gzip",
            Self::Zlib => "zlib",
        }
    }
}

/// Decompresses `payload` as its magic says, or `None` if it is not compressed.
fn decompress(payload: &[u8], limits: &Limits) -> Result<Option<Vec<u8>>, Error> {
    let limit = limits.max_decoded_len;
    let mut out = Vec::new();
    match Packing::detect(payload) {
        Packing::None => return Ok(None),
        Packing::Zstd => satchel_zstd::Zstd.decompress(payload, &mut out, limit)?,
        Packing::Gzip => satchel_flate::Gzip.decompress(payload, &mut out, limit)?,
        Packing::Zlib => satchel_flate::Zlib.decompress(payload, &mut out, limit)?,
        Packing::Lz4 => lz4_frame_decompress(payload, &mut out, limit)?,
    }
    Ok(Some(out))
}

/// Decompresses one LZ4 frame, checking what its header declares (content size, against
/// the limit before decoding and against the result after) and that it is not cut short
/// (lz4_flex takes a frame missing its end mark as complete).
fn lz4_frame_decompress(payload: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
    let truncated = || {
        Error::new(
            ErrorKind::Decompress,
            "lz4 data is corrupt or truncated (frame cut short)",
        )
    };
    // Magic (4), FLG, BD, [content size (8)], header checksum.
    let flg = *payload.get(4).ok_or_else(truncated)?;
    let declared = if flg & 0x08 != 0 {
        let size = payload.get(6..14).ok_or_else(truncated)?;
        let size = u64::from_le_bytes(size.try_into().expect("8 bytes"));
        if size > limit as u64 {
            return Err(satchel_core::limit_error("lz4", size, limit));
        }
        Some(size as usize)
    } else {
        None
    };
    let tail = if flg & 0x04 != 0 { 8 } else { 4 };
    let end = payload.len().checked_sub(tail).ok_or_else(truncated)?;
    if payload.len() < 7 + tail || payload[end..end + 4] != [0, 0, 0, 0] {
        return Err(truncated());
    }
    let start = out.len();
    let decoder = lz4_flex::frame::FrameDecoder::new(payload);
    let hint = declared.unwrap_or_else(|| payload.len().saturating_mul(4));
    read_bounded(decoder, out, limit, hint, "lz4")?;
    if let Some(declared) = declared
        && out.len() - start != declared
    {
        out.truncate(start);
        return Err(Error::new(
            ErrorKind::Decompress,
            format!(
                "lz4 data is corrupt: it declares {declared} bytes but holds {}",
                out.len() - start
            ),
        ));
    }
    Ok(())
}

/// kvdb-py's serializers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Serializer {
    /// `serializer="json"`: [`KvdbJson`].
    Json,
    /// `serializer="msgpack"`: [`KvdbMsgPack`].
    MsgPack,
}

impl Serializer {
    /// Which serializer wrote `raw` (uncompressed serializer output): JSON text starts with
    /// `{`, `[`, `"`, a digit, `-`, `t`, `f`, `n` or whitespace; anything else is msgpack.
    pub fn detect(raw: &[u8]) -> Self {
        match raw.first() {
            Some(b'{' | b'[' | b'"' | b'0'..=b'9' | b'-' | b't' | b'f' | b'n')
            | Some(b' ' | b'\t' | b'\r' | b'\n') => Self::Json,
            _ => Self::MsgPack,
        }
    }

    /// The spec name (`kvdb-json`, `kvdb-msgpack`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Json => "kvdb-json",
            Self::MsgPack => "kvdb-msgpack",
        }
    }
}

/// What a kvdb value's bytes say about how it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Detected {
    /// The serializer, if known: [`sniff`] leaves it `None` for compressed values.
    pub serializer: Option<Serializer>,
    /// The compression.
    pub compression: Packing,
}

impl fmt::Display for Detected {
    /// The pipeline spec, `kvdb-json+zstd`, or `kvdb-?+zstd` when the serializer is unknown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.serializer.map_or("kvdb-?", Serializer::name))?;
        if self.compression != Packing::None {
            write!(f, "+{}", self.compression.name())?;
        }
        Ok(())
    }
}

/// Recognises a serialized kvdb value from its first bytes, without decompressing: it
/// starts with [`PREFIX`]. `None` for anything else, including satchel's own values
/// (which start with `0xC1`) and the strings and numbers kvdb-py stores raw (which have no
/// mark at all).
///
/// ```
/// let d = satchel_kvdb::sniff(b"_kvdbenc_{\"a\":1}").unwrap();
/// assert_eq!(d.to_string(), "kvdb-json");
/// assert!(satchel_kvdb::sniff(&[0xC1, 0x10, b'1']).is_none());
/// ```
pub fn sniff(bytes: &[u8]) -> Option<Detected> {
    let payload = bytes.strip_prefix(PREFIX)?;
    let compression = Packing::detect(payload);
    Some(Detected {
        serializer: (compression == Packing::None).then(|| Serializer::detect(payload)),
        compression,
    })
}

/// Like [`sniff`], and also finds the serializer of a compressed value by decompressing it
/// (within `limits`).
///
/// # Errors
/// As decompression in [`decode`].
pub fn inspect(bytes: &[u8], limits: &Limits) -> Result<Option<Detected>, Error> {
    let Some(mut detected) = sniff(bytes) else {
        return Ok(None);
    };
    if detected.serializer.is_none() {
        let raw = decompress(&bytes[PREFIX.len()..], limits)?.unwrap_or_default();
        detected.serializer = Some(Serializer::detect(&raw));
    }
    Ok(Some(detected))
}

/// Decodes any serialized kvdb value (one that starts with [`PREFIX`]), finding its
/// compression and serializer from the bytes, with `classes` for `__class__` names.
///
/// # Errors
/// [`ErrorKind::Header`] if `bytes` is not a serialized kvdb value; otherwise as [`decode`].
pub fn decode_any_with<T: DeserializeOwned>(
    bytes: &[u8],
    limits: &Limits,
    classes: &'static Classes,
) -> Result<T, Error> {
    let Some(payload) = bytes.strip_prefix(PREFIX) else {
        return Err(Error::new(
            ErrorKind::Header,
            "not a serialized kvdb value: it does not start with `_kvdbenc_`",
        ));
    };
    let decompressed = decompress(payload, limits)?;
    let raw = match &decompressed {
        Some(raw) => raw.as_slice(),
        None => {
            check_len(payload.len(), limits.max_decoded_len, "stored")?;
            payload
        }
    };
    match Serializer::detect(raw) {
        Serializer::Json => KvdbJson::new().classes(classes).deserialize(raw, limits),
        Serializer::MsgPack => KvdbMsgPack::new().classes(classes).deserialize(raw, limits),
    }
}
