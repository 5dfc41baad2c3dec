//! [`Seal`]: authenticated encryption of a value's payload, and [`Sealed`], satchel's
//! header framing with a seal after compression.
//!
//! A sealed value is written as
//!
//! ```text
//! C1 FF format compression 02 | key id (u32 LE) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//! ```
//!
//! The ciphertext is the (possibly compressed) payload, encrypted with the key the id
//! names; the associated data is the whole header (key id and nonce included) followed by
//! the store key the value is kept under, so changing any header byte, or moving the value
//! to another key, makes it fail to open. The cipher lives in `satchel-seal` (its
//! `KeyRing`); this module only knows the layout.

use std::fmt::Debug;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::framing::{check_pipeline, decode_payload, scratch};
use crate::{
    Compression, CompressionId, Error, ErrorKind, Flags, Format, FormatId, Framing, Header,
    HeaderFormat, Headered, Limits, check_len,
};

/// Bytes of the authentication tag at the end of every sealed payload.
pub const SEAL_TAG_LEN: usize = 16;

/// Bytes of the nonce in a sealed value's header.
pub const SEAL_NONCE_LEN: usize = 12;

/// What a sealed value's header says about its seal: which key, which nonce.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SealInfo {
    /// The id of the key the value was sealed with, as listed in the key ring.
    pub key_id: u32,
    /// The nonce, unique to this value.
    pub nonce: [u8; SEAL_NONCE_LEN],
}

/// Authenticated encryption with keys picked by id: what [`Sealed`] calls.
///
/// `satchel-seal`'s `KeyRing` is the implementation; the trait is here so the framing
/// needs no cipher. The tag is [`SEAL_TAG_LEN`] bytes and the nonce [`SEAL_NONCE_LEN`].
pub trait Seal: Debug + Send + Sync {
    /// The key new values are sealed with, and a fresh nonce for one value.
    ///
    /// # Errors
    /// [`ErrorKind::Encode`] if no nonce can be drawn (the system's random source failed).
    fn begin(&self) -> Result<SealInfo, Error>;

    /// Encrypts `buf[from..]` in place with the key and nonce of `info`, authenticating
    /// `aad` along with it, and appends the tag.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownKey`] if the ring has no key `info.key_id`.
    fn seal(
        &self,
        info: &SealInfo,
        aad: &[u8],
        buf: &mut Vec<u8>,
        from: usize,
    ) -> Result<(), Error>;

    /// Checks and decrypts `buf` (ciphertext then tag) in place; returns the length of
    /// the plaintext at its start.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownKey`] if the ring has no key `info.key_id`;
    /// [`ErrorKind::Unauthentic`] if the bytes do not open (changed, cut short, sealed
    /// under another store key, or with another key of the same id).
    fn open(&self, info: &SealInfo, aad: &[u8], buf: &mut [u8]) -> Result<usize, Error>;
}

impl<S: Seal + ?Sized> Seal for Arc<S> {
    fn begin(&self) -> Result<SealInfo, Error> {
        (**self).begin()
    }
    fn seal(
        &self,
        info: &SealInfo,
        aad: &[u8],
        buf: &mut Vec<u8>,
        from: usize,
    ) -> Result<(), Error> {
        (**self).seal(info, aad, buf, from)
    }
    fn open(&self, info: &SealInfo, aad: &[u8], buf: &mut [u8]) -> Result<usize, Error> {
        (**self).open(info, aad, buf)
    }
}

/// satchel's header with the payload sealed after compression by `S` (a key ring).
///
/// Values are bound to the store key passed to the keyed calls
/// ([`Framing::encode_keyed_into`]); the plain calls bind them to the empty key. A
/// sealed codec reads sealed values only: an unsealed value (which anyone with write
/// access to the store could have put there) is a [`ErrorKind::Mismatch`], and
/// [`Headered::accept_unheadered`] is off. [`Headered::checksum`] is not needed (the tag
/// checks every byte) and is not written; [`Headered::compress_above`] applies.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Sealed<S> {
    header: Headered,
    seal: S,
}

impl<S> Sealed<S> {
    /// `header`'s settings, sealed by `seal`.
    pub const fn new(header: Headered, seal: S) -> Self {
        let mut header = header;
        header.accept_unheadered = false;
        header.checksum = false;
        Self { header, seal }
    }

    /// The header's settings.
    pub const fn headered(&self) -> &Headered {
        &self.header
    }

    /// The key ring.
    pub const fn seal(&self) -> &S {
        &self.seal
    }
}

/// The associated data of a sealed value: its header, then the store key. Short ones are
/// built on the stack.
fn with_aad<R>(header: &[u8], key: &str, f: impl FnOnce(&[u8]) -> R) -> R {
    let len = header.len() + key.len();
    let mut stack = [0u8; 256];
    if len <= stack.len() {
        stack[..header.len()].copy_from_slice(header);
        stack[header.len()..len].copy_from_slice(key.as_bytes());
        f(&stack[..len])
    } else {
        let mut heap = Vec::with_capacity(len);
        heap.extend_from_slice(header);
        heap.extend_from_slice(key.as_bytes());
        f(&heap)
    }
}

impl<S: Seal> Sealed<S> {
    /// [`Framing::encode_keyed_into`] for a format whose header id is `id` (what run-time
    /// dispatch calls once it knows the id).
    ///
    /// # Errors
    /// As [`Headered::encode_with`]; [`ErrorKind::Encode`] if no nonce can be drawn.
    pub fn encode_keyed_with<F, C, T>(
        &self,
        id: FormatId,
        format: &F,
        compression: &C,
        value: &T,
        key: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), Error>
    where
        F: Format + ?Sized,
        C: Compression + ?Sized,
        T: Serialize + ?Sized,
    {
        let start = out.len();
        let result = self.encode_unchecked(id, format, compression, value, key, out, start);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn encode_unchecked<F, C, T>(
        &self,
        id: FormatId,
        format: &F,
        compression: &C,
        value: &T,
        key: &str,
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<(), Error>
    where
        F: Format + ?Sized,
        C: Compression + ?Sized,
        T: Serialize + ?Sized,
    {
        let info = self.seal.begin()?;
        let header = |compression_id| {
            let mut h = self.header.header(id, compression_id, true);
            h.flags = Flags::SEALED;
            h.seal = Some(info);
            h
        };
        if compression.id() == CompressionId::NONE {
            header(CompressionId::NONE).write(out);
            let payload_at = out.len();
            format.serialize_into(value, out)?;
            self.seal_from(&info, key, out, start, payload_at)
        } else {
            scratch::with(&scratch::ENCODE, |raw| {
                format.serialize_into(value, raw)?;
                let compressed = raw.len() >= self.header.compress_above;
                let id = if compressed {
                    compression.id()
                } else {
                    CompressionId::NONE
                };
                header(id).write(out);
                let payload_at = out.len();
                if compressed {
                    compression.compress(raw, out)?;
                } else {
                    out.extend_from_slice(raw);
                }
                self.seal_from(&info, key, out, start, payload_at)
            })
        }
    }

    fn seal_from(
        &self,
        info: &SealInfo,
        key: &str,
        out: &mut Vec<u8>,
        start: usize,
        payload_at: usize,
    ) -> Result<(), Error> {
        // The header is copied out (at most MAX_HEADER_LEN bytes) so the buffer it sits
        // in can be sealed in place.
        let mut header = [0u8; crate::MAX_HEADER_LEN];
        let len = payload_at - start;
        header[..len].copy_from_slice(&out[start..payload_at]);
        with_aad(&header[..len], key, |aad| {
            self.seal.seal(info, aad, out, payload_at)
        })
    }

    /// [`Framing::decode_keyed`] for a format whose header id is `id`.
    ///
    /// # Errors
    /// - [`ErrorKind::Header`]: no valid header;
    /// - [`ErrorKind::Mismatch`]: another pipeline, or a value that is not sealed;
    /// - [`ErrorKind::UnknownKey`]: sealed with a key the ring does not hold;
    /// - [`ErrorKind::Unauthentic`]: does not open (changed, cut short, another store
    ///   key, another key under the same id);
    /// - then as [`Headered::decode_with`].
    pub fn decode_keyed_with<F, C, T>(
        &self,
        id: FormatId,
        format: &F,
        compression: &C,
        bytes: &[u8],
        key: &str,
        limits: &Limits,
    ) -> Result<T, Error>
    where
        F: Format + ?Sized,
        C: Compression + ?Sized,
        T: DeserializeOwned,
    {
        let (header, payload) = Header::parse(bytes)?;
        check_pipeline(&header, id, compression.id())?;
        let Some(info) = header.seal else {
            return Err(Error::new(
                ErrorKind::Mismatch,
                format!(
                    "value is not sealed ({}), and this codec reads sealed values only: \
                     anyone who can write to the store could have put it there; if it is \
                     yours, re-seal it (`satchel convert --to {}+seal`)",
                    header.pipeline, header.pipeline
                ),
            ));
        };
        // The sealed payload is at most the decoded limit plus a compression's overhead:
        // refuse anything far larger before copying it.
        check_len(
            payload.len(),
            limits
                .max_decoded_len
                .saturating_add(limits.max_decoded_len / 8 + 1024),
            "sealed",
        )?;
        let head = &bytes[..bytes.len() - payload.len()];
        scratch::with(&scratch::OPEN, |buf| {
            buf.extend_from_slice(payload);
            let len = with_aad(head, key, |aad| self.seal.open(&info, aad, buf))?;
            buf.truncate(len);
            if header.pipeline.compression == CompressionId::NONE {
                check_len(buf.len(), limits.max_decoded_len, "stored")?;
                format.deserialize_mut(buf, limits)
            } else {
                decode_payload(format, compression, &header, buf, limits)
            }
        })
    }
}

impl<F: HeaderFormat, C: Compression, S: Seal> Framing<F, C> for Sealed<S> {
    fn encode_into<T: Serialize + ?Sized>(
        &self,
        format: &F,
        compression: &C,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.encode_keyed_with(format.id(), format, compression, value, "", out)
    }

    fn decode<T: DeserializeOwned>(
        &self,
        format: &F,
        compression: &C,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<T, Error> {
        self.decode_keyed_with(format.id(), format, compression, bytes, "", limits)
    }

    fn binds_key(&self) -> bool {
        true
    }

    fn encode_keyed_into<T: Serialize + ?Sized>(
        &self,
        format: &F,
        compression: &C,
        value: &T,
        key: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.encode_keyed_with(format.id(), format, compression, value, key, out)
    }

    fn decode_keyed<T: DeserializeOwned>(
        &self,
        format: &F,
        compression: &C,
        bytes: &[u8],
        key: &str,
        limits: &Limits,
    ) -> Result<T, Error> {
        self.decode_keyed_with(format.id(), format, compression, bytes, key, limits)
    }
}
