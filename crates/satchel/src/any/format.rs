//! [`AnyFormat`]: every format compiled in, chosen at run time; the name tables.

#[allow(unused_imports)]
use super::*;

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

pub(super) fn not_compiled(what: &str, name: &str) -> Error {
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
