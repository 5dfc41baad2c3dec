//! Run-time pipelines: [`AnyFormat`], [`AnyCompression`], [`DynCodec`] and [`decode_any`].

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;

use satchel_core::{
    Compression, CompressionId, Error, ErrorKind, Format, FormatId, Identity, Level, Limits,
    Pipeline, WithLevel, sniff,
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
    /// [`Codec::kvdb_json`]). Spec name `kvdb-json`.
    #[cfg(feature = "kvdb")]
    #[cfg_attr(docsrs, doc(cfg(feature = "kvdb")))]
    KvdbJson(crate::KvdbJson),
    /// kvdb-py's msgpack, framed the kvdb way. Spec name `kvdb-msgpack`.
    #[cfg(feature = "kvdb")]
    #[cfg_attr(docsrs, doc(cfg(feature = "kvdb")))]
    KvdbMsgPack(crate::KvdbMsgPack),
}

/// Names of the kvdb-py formats (feature `kvdb`), compiled in or not. They are framed
/// without a satchel header, so they are not in [`FORMAT_NAMES`].
pub const KVDB_FORMAT_NAMES: &[&str] = &["kvdb-json", "kvdb-msgpack"];

/// Names of every format satchel knows, compiled in or not.
pub const FORMAT_NAMES: &[&str] = &["json", "msgpack", "bincode"];
/// Names of every compression satchel knows, compiled in or not.
pub const COMPRESSION_NAMES: &[&str] = &["none", "zstd", "lz4", "gzip", "zlib"];

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
            #[cfg(feature = "kvdb")]
            satchel_kvdb::KVDB_JSON => Ok(Self::KvdbJson(crate::KvdbJson::new())),
            #[cfg(feature = "kvdb")]
            satchel_kvdb::KVDB_MSGPACK => Ok(Self::KvdbMsgPack(crate::KvdbMsgPack::new())),
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
            "kvdb-json" => return Ok(Self::KvdbJson(crate::KvdbJson::new())),
            #[cfg(feature = "kvdb")]
            "kvdb-msgpack" => return Ok(Self::KvdbMsgPack(crate::KvdbMsgPack::new())),
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
        match FORMAT_NAMES.iter().position(|n| *n == name) {
            Some(i) => Self::from_id(FormatId::new(i as u8 + 1)),
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

impl Format for AnyFormat {
    fn id(&self) -> FormatId {
        match *self {
            #[cfg(feature = "json")]
            Self::Json(f) => f.id(),
            #[cfg(feature = "msgpack")]
            Self::MsgPack(f) => f.id(),
            #[cfg(feature = "bincode")]
            Self::Bincode(f) => f.id(),
            #[cfg(feature = "kvdb")]
            Self::KvdbJson(f) => f.id(),
            #[cfg(feature = "kvdb")]
            Self::KvdbMsgPack(f) => f.id(),
        }
    }

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
        match COMPRESSION_NAMES.iter().position(|n| *n == name) {
            Some(i) => Self::from_id(CompressionId::new(i as u8)),
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
        Self::from_id(self.id()).ok().and_then(|d| d.level())
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
    fn level(&self) -> Option<i32> {
        dispatch!(self, c => c.level())
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

/// A codec chosen at run time, from a spec string or a stored value's header.
///
/// Specs are `format[+compression[:level]]`: `json`, `msgpack+zstd`, `bincode+lz4`,
/// `json+gzip:9`. A `DynCodec` prints back as its spec, and (de)serializes as one, so it
/// can sit in a config file.
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
pub type DynCodec = Codec<AnyFormat, AnyCompression>;

impl Codec<AnyFormat, AnyCompression> {
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
                        if compression.level().is_none() {
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
        Ok(Codec::new(format).compress(compression))
    }

    /// The codec that reads values written by `pipeline`.
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`] if a part of it is not compiled in.
    pub fn for_pipeline(pipeline: Pipeline) -> Result<Self, Error> {
        Ok(Codec::new(AnyFormat::from_id(pipeline.format)?)
            .compress(AnyCompression::from_id(pipeline.compression)?))
    }
}

impl FromStr for Codec<AnyFormat, AnyCompression> {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::from_spec(s)
    }
}

impl fmt::Display for Codec<AnyFormat, AnyCompression> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.format().name())?;
        let c = self.compression();
        if c.id() != CompressionId::NONE {
            write!(f, "+{}", c.name())?;
            if let Some(level) = c.level().filter(|_| c.level() != c.default_level()) {
                write!(f, ":{level}")?;
            }
        }
        Ok(())
    }
}

impl serde::Serialize for Codec<AnyFormat, AnyCompression> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Codec<AnyFormat, AnyCompression> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spec = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        spec.parse().map_err(serde::de::Error::custom)
    }
}

/// No classes: `decode_any` refuses every Python class name it meets in a kvdb value.
#[cfg(feature = "kvdb")]
static KVDB_CLASSES: std::sync::LazyLock<satchel_kvdb::Classes> =
    std::sync::LazyLock::new(satchel_kvdb::Classes::new);

/// Decodes a value written by any pipeline compiled into this build, following its header.
///
/// With feature `kvdb`, values kvdb-py serialized (they start with `_kvdbenc_`) are read
/// too, whatever their serializer and compression; a Python class named in one is refused
/// (read it with a kvdb codec that registers the class, or with
/// [`kvdb::decode_any_with`](crate::kvdb::decode_any_with) and
/// [`Classes::keep_unregistered`](crate::kvdb::Classes::keep_unregistered) to migrate it
/// as data). The strings and numbers kvdb-py stores raw carry no mark, so only a kvdb
/// codec reads those.
///
/// With feature `json`, values Coherence clients write (a `0x15` byte, then JSON; see
/// [`CoherenceJson`](crate::CoherenceJson)) are read too.
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
    #[cfg(feature = "kvdb")]
    if bytes.starts_with(satchel_kvdb::PREFIX) {
        return satchel_kvdb::decode_any_with(bytes, limits, &KVDB_CLASSES);
    }
    // 0x15 is never the first byte of a satchel header (0xC1) or of a kvdb value.
    #[cfg(feature = "json")]
    if satchel_json::coherence::is_coherence_json(bytes) {
        return satchel_core::Format::deserialize(
            &satchel_json::CoherenceJson::new(),
            bytes,
            limits,
        );
    }
    let header = sniff(bytes)?;
    DynCodec::for_pipeline(header.pipeline)?
        .limits(*limits)
        .decode(bytes)
}
