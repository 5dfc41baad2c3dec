//! [`AnyFraming`]: the framing of a run-time codec, chosen with its format.

#[allow(unused_imports)]
use super::*;

/// The framing of a [`DynCodec`]: satchel's header with its settings, or (feature `kvdb`)
/// kvdb-py's, chosen with the format.
///
/// Only [`DynCodec`]'s constructors make one, always paired with a format it can frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AnyFraming(pub(super) Inner);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Inner {
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
