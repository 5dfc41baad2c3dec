//! Reading whatever wrote a value: [`AnyHeader`], [`decode_any`], [`decode_any_in`].

#[allow(unused_imports)]
use super::*;

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
