//! Run-time pipelines: [`AnyFormat`], [`AnyCompression`], [`AnyFraming`], [`DynCodec`],
//! and reading whatever wrote a value: [`decode_any`], [`decode_any_in`], [`AnyHeader`].

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;

use satchel_core::{
    COMPRESSIONS, Compression, CompressionId, Error, ErrorKind, FORMATS, Format, FormatId, Framing,
    Headered, Identity, Level, Limits, MAGIC, Pipeline, ReadAny, WithLevel, sniff,
};

use crate::Codec;

/// Every format compiled into this build, chosen at run time.
///
/// This enum is the deliberate dynamic boundary of the format side (formats are generic
/// and not object-safe): one `match` per call, then the monomorphic fast path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AnyFormat {
    /// JSON.
    #[cfg(feature = "json")]
    #[cfg_attr(docsrs, doc(cfg(feature = "json")))]
    Json(crate::Json),
    /// MessagePack.
    #[cfg(feature = "msgpack")]
    #[cfg_attr(docsrs, doc(cfg(feature = "msgpack")))]
    MsgPack(crate::MsgPack),
    /// bincode.
    #[cfg(feature = "bincode")]
    #[cfg_attr(docsrs, doc(cfg(feature = "bincode")))]
    Bincode(crate::Bincode),
    /// kvdb-py's type-tagged JSON, framed the kvdb way (no header; see
    /// `Codec::kvdb_json`). Spec name `kvdb-json`.
    #[cfg(feature = "kvdb")]
    #[cfg_attr(docsrs, doc(cfg(feature = "kvdb")))]
    KvdbJson(crate::kvdb::KvdbJson),
    /// kvdb-py's msgpack, framed the kvdb way. Spec name `kvdb-msgpack`.
    #[cfg(feature = "kvdb")]
    #[cfg_attr(docsrs, doc(cfg(feature = "kvdb")))]
    KvdbMsgPack(crate::kvdb::KvdbMsgPack),
}

/// Names of the kvdb-py formats (feature `kvdb`), compiled in or not. They are framed
/// without a satchel header, so they are not in [`FORMAT_NAMES`].
pub const KVDB_FORMAT_NAMES: &[&str] = &["kvdb-json", "kvdb-msgpack"];

const fn names<T: Copy, const N: usize>(table: &[(T, &'static str)]) -> [&'static str; N] {
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = table[i].1;
        i += 1;
    }
    out
}

/// Names of every format satchel knows, compiled in or not (from
/// [`FORMATS`](satchel_core::FORMATS)).
pub const FORMAT_NAMES: &[&str] = &names::<FormatId, { FORMATS.len() }>(FORMATS);
/// Names of every compression satchel knows, compiled in or not (from
/// [`COMPRESSIONS`](satchel_core::COMPRESSIONS)).
pub const COMPRESSION_NAMES: &[&str] =
    &names::<CompressionId, { COMPRESSIONS.len() }>(COMPRESSIONS);

fn not_compiled(what: &str, name: &str) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "{what} `{name}` is not compiled into this build: enable cargo feature \
             `{name}` of satchel"
        ),
    )
}

impl AnyFormat {
    /// The format with this header id.
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`] naming the feature to enable, or saying the id is unknown.
    pub fn from_id(id: FormatId) -> Result<Self, Error> {
        match id {
            #[cfg(feature = "json")]
            FormatId::JSON => Ok(Self::Json(crate::Json::new())),
            #[cfg(feature = "msgpack")]
            FormatId::MSGPACK => Ok(Self::MsgPack(crate::MsgPack)),
            #[cfg(feature = "bincode")]
            FormatId::BINCODE => Ok(Self::Bincode(crate::Bincode)),
            other => match other.name() {
                Some(name) => Err(not_compiled("format", name)),
                None => Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "unknown format id {} (a custom format, or written by a newer \
                         satchel): decode it with a Codec built on that format",
                        other.get()
                    ),
                )),
            },
        }
    }

    /// The format with this spec name (`json`, `msgpack`, `bincode`).
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] listing the valid names, or [`ErrorKind::Unsupported`] naming the
    /// feature to enable.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        match name {
            #[cfg(feature = "kvdb")]
            "kvdb-json" => return Ok(Self::KvdbJson(crate::kvdb::KvdbJson::new())),
            #[cfg(feature = "kvdb")]
            "kvdb-msgpack" => return Ok(Self::KvdbMsgPack(crate::kvdb::KvdbMsgPack::new())),
            #[cfg(not(feature = "kvdb"))]
            "kvdb-json" | "kvdb-msgpack" => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "format `{name}` is not compiled into this build: enable cargo \
                         feature `kvdb` of satchel"
                    ),
                ));
            }
            _ => {}
        }
        match FormatId::from_name(name) {
            Some(id) => Self::from_id(id),
            None => Err(Error::new(
                ErrorKind::Spec,
                format!(
                    "unknown format `{name}`; valid formats: {}",
                    FORMAT_NAMES.join(", ")
                ),
            )),
        }
    }
}

impl AnyFormat {
    /// The id this format has in satchel's header; `None` for the kvdb-py formats, which
    /// only exist inside kvdb-py's framing.
    pub fn header_id(&self) -> Option<FormatId> {
        match *self {
            #[cfg(feature = "json")]
            Self::Json(f) => Some(satchel_core::HeaderFormat::id(&f)),
            #[cfg(feature = "msgpack")]
            Self::MsgPack(f) => Some(satchel_core::HeaderFormat::id(&f)),
            #[cfg(feature = "bincode")]
            Self::Bincode(f) => Some(satchel_core::HeaderFormat::id(&f)),
            #[cfg(feature = "kvdb")]
            Self::KvdbJson(_) | Self::KvdbMsgPack(_) => None,
        }
    }

    /// The framing values of this format are written in: satchel's header, or kvdb-py's.
    pub fn default_framing(&self) -> AnyFraming {
        match *self {
            #[cfg(feature = "kvdb")]
            Self::KvdbJson(_) | Self::KvdbMsgPack(_) => {
                AnyFraming(Inner::Kvdb(crate::kvdb::KvdbFrame))
            }
            #[allow(unreachable_patterns)]
            _ => AnyFraming(Inner::Header(Headered::new())),
        }
    }
}

impl Format for AnyFormat {
    fn name(&self) -> &'static str {
        match *self {
            #[cfg(feature = "json")]
            Self::Json(f) => f.name(),
            #[cfg(feature = "msgpack")]
            Self::MsgPack(f) => f.name(),
            #[cfg(feature = "bincode")]
            Self::Bincode(f) => f.name(),
            #[cfg(feature = "kvdb")]
            Self::KvdbJson(f) => f.name(),
            #[cfg(feature = "kvdb")]
            Self::KvdbMsgPack(f) => f.name(),
        }
    }

    fn serialize_into<T: serde::Serialize + ?Sized>(
        &self,
        _value: &T,
        _out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        match *self {
            #[cfg(feature = "json")]
            Self::Json(f) => f.serialize_into(_value, _out),
            #[cfg(feature = "msgpack")]
            Self::MsgPack(f) => f.serialize_into(_value, _out),
            #[cfg(feature = "bincode")]
            Self::Bincode(f) => f.serialize_into(_value, _out),
            #[cfg(feature = "kvdb")]
            Self::KvdbJson(f) => f.serialize_into(_value, _out),
            #[cfg(feature = "kvdb")]
            Self::KvdbMsgPack(f) => f.serialize_into(_value, _out),
        }
    }

    fn deserialize<T: DeserializeOwned>(
        &self,
        _bytes: &[u8],
        _limits: &Limits,
    ) -> Result<T, Error> {
        match *self {
            #[cfg(feature = "json")]
            Self::Json(f) => f.deserialize(_bytes, _limits),
            #[cfg(feature = "msgpack")]
            Self::MsgPack(f) => f.deserialize(_bytes, _limits),
            #[cfg(feature = "bincode")]
            Self::Bincode(f) => f.deserialize(_bytes, _limits),
            #[cfg(feature = "kvdb")]
            Self::KvdbJson(f) => f.deserialize(_bytes, _limits),
            #[cfg(feature = "kvdb")]
            Self::KvdbMsgPack(f) => f.deserialize(_bytes, _limits),
        }
    }

    fn deserialize_mut<T: DeserializeOwned>(
        &self,
        _bytes: &mut [u8],
        _limits: &Limits,
    ) -> Result<T, Error> {
        match *self {
            #[cfg(feature = "json")]
            Self::Json(f) => f.deserialize_mut(_bytes, _limits),
            #[cfg(feature = "msgpack")]
            Self::MsgPack(f) => f.deserialize_mut(_bytes, _limits),
            #[cfg(feature = "bincode")]
            Self::Bincode(f) => f.deserialize_mut(_bytes, _limits),
            #[cfg(feature = "kvdb")]
            Self::KvdbJson(f) => f.deserialize_mut(_bytes, _limits),
            #[cfg(feature = "kvdb")]
            Self::KvdbMsgPack(f) => f.deserialize_mut(_bytes, _limits),
        }
    }
}

/// Every compression compiled into this build, or none, chosen at run time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AnyCompression {
    /// Stored as is.
    #[default]
    None,
    /// Zstandard.
    #[cfg(feature = "zstd")]
    #[cfg_attr(docsrs, doc(cfg(feature = "zstd")))]
    Zstd(crate::Zstd),
    /// LZ4.
    #[cfg(feature = "lz4")]
    #[cfg_attr(docsrs, doc(cfg(feature = "lz4")))]
    Lz4(crate::Lz4),
    /// gzip.
    #[cfg(feature = "gzip")]
    #[cfg_attr(docsrs, doc(cfg(feature = "gzip")))]
    Gzip(crate::Gzip),
    /// zlib.
    #[cfg(feature = "zlib")]
    #[cfg_attr(docsrs, doc(cfg(feature = "zlib")))]
    Zlib(crate::Zlib),
}

macro_rules! dispatch {
    ($self:expr, $c:ident => $body:expr) => {
        match $self {
            AnyCompression::None => {
                let $c = &Identity;
                $body
            }
            #[cfg(feature = "zstd")]
            AnyCompression::Zstd($c) => $body,
            #[cfg(feature = "lz4")]
            AnyCompression::Lz4($c) => $body,
            #[cfg(feature = "gzip")]
            AnyCompression::Gzip($c) => $body,
            #[cfg(feature = "zlib")]
            AnyCompression::Zlib($c) => $body,
        }
    };
}

impl AnyCompression {
    /// The compression with this header id, at its default level.
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`] naming the feature to enable, or saying the id is unknown.
    pub fn from_id(id: CompressionId) -> Result<Self, Error> {
        match id {
            CompressionId::NONE => Ok(Self::None),
            #[cfg(feature = "zstd")]
            CompressionId::ZSTD => Ok(Self::Zstd(crate::Zstd::DEFAULT)),
            #[cfg(feature = "lz4")]
            CompressionId::LZ4 => Ok(Self::Lz4(crate::Lz4)),
            #[cfg(feature = "gzip")]
            CompressionId::GZIP => Ok(Self::Gzip(crate::Gzip::DEFAULT)),
            #[cfg(feature = "zlib")]
            CompressionId::ZLIB => Ok(Self::Zlib(crate::Zlib::DEFAULT)),
            other => match other.name() {
                Some(name) => Err(not_compiled("compression", name)),
                None => Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "unknown compression id {} (custom, or written by a newer satchel)",
                        other.get()
                    ),
                )),
            },
        }
    }

    /// The compression with this spec name (`none`, `zstd`, `lz4`, `gzip`, `zlib`).
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] listing the valid names, or [`ErrorKind::Unsupported`] naming the
    /// feature to enable.
    pub fn from_name(name: &str) -> Result<Self, Error> {
        match CompressionId::from_name(name) {
            Some(id) => Self::from_id(id),
            None => Err(Error::new(
                ErrorKind::Spec,
                format!(
                    "unknown compression `{name}`; valid compressions: {}",
                    COMPRESSION_NAMES.join(", ")
                ),
            )),
        }
    }

    /// The level this compression uses by default, if it has levels.
    fn default_level(&self) -> Option<i32> {
        Self::from_id(self.id()).ok().and_then(|d| d.level_in_use())
    }
}

impl WithLevel for AnyCompression {
    fn with_level(self, level: Level) -> Self {
        let _ = level; // unused when no compression is compiled in
        match self {
            Self::None => Self::None,
            #[cfg(feature = "zstd")]
            Self::Zstd(c) => Self::Zstd(c.with_level(level)),
            #[cfg(feature = "lz4")]
            Self::Lz4(c) => Self::Lz4(c.with_level(level)),
            #[cfg(feature = "gzip")]
            Self::Gzip(c) => Self::Gzip(c.with_level(level)),
            #[cfg(feature = "zlib")]
            Self::Zlib(c) => Self::Zlib(c.with_level(level)),
        }
    }
}

impl Compression for AnyCompression {
    fn id(&self) -> CompressionId {
        dispatch!(self, c => c.id())
    }
    fn name(&self) -> &'static str {
        dispatch!(self, c => c.name())
    }
    fn level_in_use(&self) -> Option<i32> {
        dispatch!(self, c => c.level_in_use())
    }
    fn self_checked(&self) -> bool {
        dispatch!(self, c => c.self_checked())
    }
    fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        dispatch!(self, c => c.compress(input, out))
    }
    fn decompress(&self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
        dispatch!(self, c => c.decompress(input, out, limit))
    }
}

/// The framing of a [`DynCodec`]: satchel's header with its settings, or (feature `kvdb`)
/// kvdb-py's, chosen with the format.
///
/// Only [`DynCodec`]'s constructors make one, always paired with a format it can frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AnyFraming(Inner);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Inner {
    Header(Headered),
    #[cfg(feature = "kvdb")]
    Kvdb(crate::kvdb::KvdbFrame),
}

impl AnyFraming {
    /// The header's settings, if this is satchel's header.
    pub const fn headered(&self) -> Option<&Headered> {
        match &self.0 {
            Inner::Header(h) => Some(h),
            #[cfg(feature = "kvdb")]
            Inner::Kvdb(_) => None,
        }
    }

    /// What this framing is, for messages (`satchel header`, `kvdb-py`).
    pub const fn name(&self) -> &'static str {
        match self.0 {
            Inner::Header(_) => "satchel header",
            #[cfg(feature = "kvdb")]
            Inner::Kvdb(_) => "kvdb-py",
        }
    }
}

fn unframed(format: &AnyFormat, framing: &AnyFraming) -> Error {
    Error::new(
        ErrorKind::Unsupported,
        format!(
            "format `{}` cannot be written in the {} framing",
            format.name(),
            framing.name()
        ),
    )
}

impl Framing<AnyFormat, AnyCompression> for AnyFraming {
    fn encode_into<T: serde::Serialize + ?Sized>(
        &self,
        format: &AnyFormat,
        compression: &AnyCompression,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        match (&self.0, format) {
            #[cfg(feature = "kvdb")]
            (Inner::Kvdb(k), AnyFormat::KvdbJson(f)) => k.encode_into(f, compression, value, out),
            #[cfg(feature = "kvdb")]
            (Inner::Kvdb(k), AnyFormat::KvdbMsgPack(f)) => {
                k.encode_into(f, compression, value, out)
            }
            (Inner::Header(h), f) => match f.header_id() {
                Some(id) => h.encode_with(id, f, compression, value, out),
                None => Err(unframed(format, self)),
            },
            #[allow(unreachable_patterns)]
            _ => Err(unframed(format, self)),
        }
    }

    fn decode<T: DeserializeOwned>(
        &self,
        format: &AnyFormat,
        compression: &AnyCompression,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<T, Error> {
        match (&self.0, format) {
            #[cfg(feature = "kvdb")]
            (Inner::Kvdb(k), AnyFormat::KvdbJson(f)) => k.decode(f, compression, bytes, limits),
            #[cfg(feature = "kvdb")]
            (Inner::Kvdb(k), AnyFormat::KvdbMsgPack(f)) => k.decode(f, compression, bytes, limits),
            (Inner::Header(h), f) => match f.header_id() {
                Some(id) => h.decode_with(id, f, compression, bytes, limits),
                None => Err(unframed(format, self)),
            },
            #[allow(unreachable_patterns)]
            _ => Err(unframed(format, self)),
        }
    }
}

/// A codec chosen at run time, from a spec string or a stored value's header.
///
/// Specs are `format[+compression[:level]]`: `json`, `msgpack+zstd`, `bincode+lz4`,
/// `json+gzip:9` (and, with feature `kvdb`, `kvdb-json+zstd`, framed as kvdb-py frames
/// values). A `DynCodec` prints back as its spec, and (de)serializes as one, so it can sit
/// in a config file.
///
/// The header's settings are fallible here ([`DynCodec::checksum`] and friends return a
/// `Result`): a codec chosen at run time may have a framing that has no such setting, and
/// asking for one is then an error instead of being ignored.
///
/// ```
/// # #[cfg(all(feature = "msgpack", feature = "zstd"))] {
/// use satchel::DynCodec;
///
/// let codec: DynCodec = "msgpack+zstd:9".parse()?;
/// assert_eq!(codec.to_string(), "msgpack+zstd:9");
/// let bytes = codec.encode(&vec!["a", "b"])?;
/// assert_eq!(codec.decode::<Vec<String>>(&bytes)?, ["a", "b"]);
///
/// let err = "xml+zstd".parse::<DynCodec>().unwrap_err();
/// assert_eq!(err.to_string(), "unknown format `xml` in spec `xml+zstd`; valid formats: json, msgpack, bincode");
/// # }
/// # Ok::<(), satchel::Error>(())
/// ```
pub type DynCodec = Codec<AnyFormat, AnyCompression, AnyFraming>;

impl Codec<AnyFormat, AnyCompression, AnyFraming> {
    /// Parses a spec such as `msgpack+zstd:3`.
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] for a malformed spec or an unknown name (the message lists the
    /// valid ones); [`ErrorKind::Unsupported`] for a backend not compiled in (the message
    /// names the cargo feature).
    pub fn from_spec(spec: &str) -> Result<Self, Error> {
        let in_spec = |e: Error| {
            let message = e.message().to_string();
            let message = match message.split_once(';') {
                Some((head, tail)) => format!("{head} in spec `{spec}`;{tail}"),
                None => format!("{message} (spec `{spec}`)"),
            };
            Error::new(e.kind(), message)
        };
        let trimmed = spec.trim();
        let (format, compression) = match trimmed.split_once('+') {
            Some((f, c)) => (f, Some(c)),
            None => (trimmed, None),
        };
        let format = AnyFormat::from_name(format).map_err(in_spec)?;
        let compression = match compression {
            None => AnyCompression::None,
            Some(c) => {
                let (name, level) = match c.split_once(':') {
                    Some((name, level)) => (name, Some(level)),
                    None => (c, None),
                };
                let compression = AnyCompression::from_name(name).map_err(in_spec)?;
                match level {
                    None => compression,
                    Some(level) => {
                        let n: i32 = level.parse().map_err(|_| {
                            Error::new(
                                ErrorKind::Spec,
                                format!(
                                    "level `{level}` in spec `{spec}` is not a whole number \
                                     (e.g. `zstd:19`, `gzip:9`)"
                                ),
                            )
                        })?;
                        if compression.level_in_use().is_none() {
                            return Err(Error::new(
                                ErrorKind::Spec,
                                format!("`{name}` has no levels (spec `{spec}`)"),
                            ));
                        }
                        compression.with_level(Level::Precise(n))
                    }
                }
            }
        };
        Ok(Self::from_parts(format, compression))
    }

    /// The codec for `format` and `compression`, in the framing the format is written in
    /// ([`AnyFormat::default_framing`]).
    pub fn from_parts(format: AnyFormat, compression: AnyCompression) -> Self {
        let framing = format.default_framing();
        Codec::framed(format, framing).compress(compression)
    }

    /// The codec that reads values written by `pipeline`.
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`] if a part of it is not compiled in.
    pub fn for_pipeline(pipeline: Pipeline) -> Result<Self, Error> {
        Ok(Self::from_parts(
            AnyFormat::from_id(pipeline.format)?,
            AnyCompression::from_id(pipeline.compression)?,
        ))
    }

    /// The pipeline this codec names in satchel's header; `None` for a codec in another
    /// framing (kvdb-py's), which writes no header.
    pub fn pipeline(&self) -> Option<Pipeline> {
        self.framing().headered()?;
        Some(Pipeline {
            format: self.format().header_id()?,
            compression: self.compression().id(),
        })
    }

    #[cfg_attr(not(feature = "kvdb"), allow(unused_variables))]
    fn header_setting(
        self,
        setting: &str,
        f: impl FnOnce(Headered) -> Headered,
    ) -> Result<Self, Error> {
        match self.framing().0 {
            Inner::Header(_) => Ok(self.map_framing(|e| match e.0 {
                Inner::Header(h) => AnyFraming(Inner::Header(f(h))),
                #[allow(unreachable_patterns)]
                other => AnyFraming(other),
            })),
            #[cfg(feature = "kvdb")]
            Inner::Kvdb(_) => Err(Error::new(
                ErrorKind::Spec,
                format!(
                    "`{setting}` is a setting of satchel's header, and `{self}` is written in \
                     kvdb-py's framing, which has no header: leave it off for kvdb codecs"
                ),
            )),
        }
    }

    /// [`Codec::compress_above`] for a codec chosen at run time.
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] if this codec's framing has no header (kvdb-py's).
    pub fn compress_above(self, bytes: usize) -> Result<Self, Error> {
        self.header_setting("compress_above", |h| h.compress_above(bytes))
    }

    /// [`Codec::checksum`] for a codec chosen at run time.
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] if this codec's framing has no header (kvdb-py's).
    pub fn checksum(self) -> Result<Self, Error> {
        self.header_setting("checksum", Headered::checksum)
    }

    /// [`Codec::accept_unheadered`] for a codec chosen at run time.
    ///
    /// # Errors
    /// [`ErrorKind::Spec`] if this codec's framing has no header (kvdb-py's).
    pub fn accept_unheadered(self) -> Result<Self, Error> {
        self.header_setting("accept_unheadered", Headered::accept_unheadered)
    }
}

impl FromStr for DynCodec {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_spec(s)
    }
}

impl fmt::Display for DynCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.format().name())?;
        let c = self.compression();
        if c.id() != CompressionId::NONE {
            write!(f, "+{}", c.name())?;
            if let Some(level) = c
                .level_in_use()
                .filter(|_| c.level_in_use() != c.default_level())
            {
                write!(f, ":{level}")?;
            }
        }
        Ok(())
    }
}

impl serde::Serialize for DynCodec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DynCodec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spec = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        spec.parse().map_err(serde::de::Error::custom)
    }
}

/// Reads values behind satchel's header, whatever pipeline compiled into this build wrote
/// them: the [`ReadAny`] that [`decode_any`] uses, and the one to list first in a set given
/// to [`decode_any_in`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AnyHeader;

impl ReadAny for AnyHeader {
    fn describe(&self) -> String {
        "satchel header (0xC1)".to_string()
    }

    fn recognises(&self, bytes: &[u8]) -> bool {
        bytes.first() == Some(&MAGIC)
    }

    fn decode_any<T: DeserializeOwned>(&self, bytes: &[u8], limits: &Limits) -> Result<T, Error> {
        let header = sniff(bytes)?;
        DynCodec::for_pipeline(header.pipeline)?
            .limits(*limits)
            .decode(bytes)
    }
}

/// Decodes a value written by any pipeline compiled into this build, following its
/// satchel header.
///
/// Only satchel's header is recognised: to read values other programs framed too (kvdb-py,
/// Coherence clients), name them with [`decode_any_in`].
///
/// Uses the default [`Limits`]; see [`decode_any_with`] to change them.
///
/// ```
/// # #[cfg(all(feature = "msgpack", feature = "lz4"))] {
/// use satchel::{Codec, Lz4, decode_any};
/// let bytes = Codec::msgpack().compress(Lz4).encode(&42u32)?;
/// assert_eq!(decode_any::<u32>(&bytes)?, 42);
/// # }
/// # Ok::<(), satchel::Error>(())
/// ```
///
/// # Errors
/// As [`Codec::decode`]; [`ErrorKind::Unsupported`] naming the cargo feature when the
/// header names a backend this build lacks.
pub fn decode_any<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    decode_any_with(bytes, &Limits::default())
}

/// [`decode_any`] with explicit limits.
///
/// # Errors
/// As [`decode_any`].
pub fn decode_any_with<T: DeserializeOwned>(bytes: &[u8], limits: &Limits) -> Result<T, Error> {
    AnyHeader.decode_any(bytes, limits)
}

/// Decodes a value in any of the framings `readers` recognise, tried in order: a
/// [`ReadAny`], or a tuple of them.
///
/// ```
/// # #[cfg(all(feature = "json", feature = "kvdb", feature = "coherence"))] {
/// use satchel::{AnyHeader, Codec, Limits, decode_any_in};
/// use satchel::coherence::CoherenceFrame;
/// use satchel::kvdb::KvdbAny;
///
/// let readers = (AnyHeader, KvdbAny::new(), CoherenceFrame);
/// let limits = Limits::default();
/// for bytes in [
///     Codec::json().encode(&[1, 2])?,
///     b"_kvdbenc_[1, 2]".to_vec(),
///     b"\x15[1, 2]".to_vec(),
/// ] {
///     assert_eq!(decode_any_in::<Vec<u8>>(&bytes, &limits, &readers)?, [1, 2]);
/// }
/// // Plain decode_any reads satchel's header only.
/// assert!(satchel::decode_any::<Vec<u8>>(b"_kvdbenc_[1, 2]").is_err());
/// # }
/// # Ok::<(), satchel::Error>(())
/// ```
///
/// # Errors
/// [`ErrorKind::Header`] naming the framings tried when none recognises the bytes;
/// otherwise as that framing's decode.
pub fn decode_any_in<T: DeserializeOwned>(
    bytes: &[u8],
    limits: &Limits,
    readers: &(impl ReadAny + ?Sized),
) -> Result<T, Error> {
    if readers.recognises(bytes) {
        readers.decode_any(bytes, limits)
    } else {
        Err(satchel_core::unrecognised(bytes, &readers.describe()))
    }
}
