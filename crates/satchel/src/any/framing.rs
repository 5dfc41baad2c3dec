//! [`AnyFraming`]: the framing of a run-time codec, chosen with its format.

#[allow(unused_imports)]
use super::*;

/// The framing of a [`DynCodec`]: satchel's header with its settings, (feature `seal`)
/// the header with the payload sealed by a key ring, or (feature `kvdb`) kvdb-py's,
/// chosen with the format.
///
/// Only [`DynCodec`]'s constructors make one, always paired with a format it can frame.
/// It is `Clone` but not `Copy`: a sealed one shares its key ring.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AnyFraming(pub(super) Inner);

/// The key ring of a sealed run-time codec.
#[cfg(feature = "seal")]
pub(super) type Keys = std::sync::Arc<crate::seal::KeyRing>;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Inner {
    Header(Headered),
    #[cfg(feature = "seal")]
    Sealed(satchel_core::Sealed<Keys>),
    #[cfg(feature = "kvdb")]
    Kvdb(crate::kvdb::KvdbFrame),
}

impl AnyFraming {
    /// The header's settings, if this is satchel's header.
    pub const fn headered(&self) -> Option<&Headered> {
        match &self.0 {
            Inner::Header(h) => Some(h),
            #[cfg(feature = "seal")]
            Inner::Sealed(s) => Some(s.headered()),
            #[cfg(feature = "kvdb")]
            Inner::Kvdb(_) => None,
        }
    }

    /// Whether values are sealed (feature `seal`).
    pub const fn is_sealed(&self) -> bool {
        match self.0 {
            #[cfg(feature = "seal")]
            Inner::Sealed(_) => true,
            _ => false,
        }
    }

    /// What this framing is, for messages (`satchel header`, `kvdb-py`).
    pub const fn name(&self) -> &'static str {
        match self.0 {
            Inner::Header(_) => "satchel header",
            #[cfg(feature = "seal")]
            Inner::Sealed(_) => "sealed satchel header",
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
        self.encode_keyed_into(format, compression, value, "", out)
    }

    fn decode<T: DeserializeOwned>(
        &self,
        format: &AnyFormat,
        compression: &AnyCompression,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<T, Error> {
        self.decode_keyed(format, compression, bytes, "", limits)
    }

    fn binds_key(&self) -> bool {
        self.is_sealed()
    }

    fn encode_keyed_into<T: serde::Serialize + ?Sized>(
        &self,
        format: &AnyFormat,
        compression: &AnyCompression,
        value: &T,
        key: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let _ = key;
        match (&self.0, format) {
            #[cfg(feature = "seal")]
            (Inner::Sealed(s), f) => match f.header_id() {
                Some(id) => s.encode_keyed_with(id, f, compression, value, key, out),
                None => Err(unframed(format, self)),
            },
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

    fn decode_keyed<T: DeserializeOwned>(
        &self,
        format: &AnyFormat,
        compression: &AnyCompression,
        bytes: &[u8],
        key: &str,
        limits: &Limits,
    ) -> Result<T, Error> {
        let _ = key;
        match (&self.0, format) {
            #[cfg(feature = "seal")]
            (Inner::Sealed(s), f) => match f.header_id() {
                Some(id) => s.decode_keyed_with(id, f, compression, bytes, key, limits),
                None => Err(unframed(format, self)),
            },
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
