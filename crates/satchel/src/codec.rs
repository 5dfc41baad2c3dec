//! [`Codec`]: one format, an optional compression, and the framing that marks them, and
//! [`ValueCodec`], what code generic over codecs asks for.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

use satchel_core::{
    Compression, Error, Format, Framing, HeaderFormat, Headered, Identity, Level, Limits, Pipeline,
    Seal, Sealed, WithLevel,
};

/// A serialization format plus an optional compression, behind a framing that marks both
/// (satchel's self-describing [`Header`](crate::Header) unless you pick another).
///
/// A small `Copy` value: build it once (often as a `const` or a field) and use it from any
/// thread. Each builder step that swaps a component returns a new type, so the whole
/// pipeline is known at compile time and the fast path has no dynamic dispatch:
/// `Codec::json()` is a `Codec<Json>`, `.compress(Zstd)` makes it a `Codec<Json, Zstd>`.
/// For a pipeline chosen at run time see [`DynCodec`](crate::DynCodec).
///
/// The third parameter is the [`Framing`]: [`Headered`] by default. Its settings
/// ([`Codec::compress_above`], [`Codec::checksum`], [`Codec::accept_unheadered`]) exist
/// only on headered codecs, so asking a codec with another framing for them (a kvdb-py
/// codec, a Coherence codec) does not compile.
///
/// ```
/// # #[cfg(all(feature = "json", feature = "zstd"))] {
/// use satchel::{Codec, Zstd};
///
/// #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
/// struct User { name: String, visits: u64 }
///
/// let codec = Codec::json().compress(Zstd.level(9)).compress_above(256);
/// let bytes = codec.encode(&User { name: "ann".into(), visits: 3 })?;
/// assert_eq!(&bytes[..2], [0xC1, 0x10]); // json, stored uncompressed: under 256 bytes
/// let user: User = codec.decode(&bytes)?;
/// assert_eq!(user.name, "ann");
/// # }
/// # Ok::<(), satchel::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Codec<F, C = Identity, E = Headered> {
    format: F,
    compression: C,
    framing: E,
    limits: Limits,
}

impl<F: HeaderFormat> Codec<F> {
    /// A codec for `format`, uncompressed, behind satchel's header. Any [`HeaderFormat`],
    /// including your own.
    pub const fn new(format: F) -> Self {
        Self::framed(format, Headered::new())
    }
}

impl<F, E> Codec<F, Identity, E> {
    /// A codec for `format`, uncompressed, marked by `framing` (for a framing of your own;
    /// the interop codecs have constructors of their own, such as `Codec::kvdb_json()`).
    pub const fn framed(format: F, framing: E) -> Self {
        Self {
            format,
            compression: Identity,
            framing,
            limits: Limits::new(),
        }
    }
}

#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
impl Codec<crate::Json> {
    /// JSON (serde_json), uncompressed.
    pub const fn json() -> Self {
        Self::new(crate::Json::new())
    }
}

#[cfg(feature = "msgpack")]
#[cfg_attr(docsrs, doc(cfg(feature = "msgpack")))]
impl Codec<crate::MsgPack> {
    /// MessagePack (rmp-serde, structs as maps), uncompressed.
    pub const fn msgpack() -> Self {
        Self::new(crate::MsgPack)
    }
}

#[cfg(feature = "bincode")]
#[cfg_attr(docsrs, doc(cfg(feature = "bincode")))]
impl Codec<crate::Bincode> {
    /// bincode 2, uncompressed.
    pub const fn bincode() -> Self {
        Self::new(crate::Bincode)
    }
}

impl<F, C, E> Codec<F, C, E> {
    /// The same codec with `compression` in place of the current one.
    pub fn compress<C2: Compression>(self, compression: C2) -> Codec<F, C2, E> {
        Codec {
            format: self.format,
            compression,
            framing: self.framing,
            limits: self.limits,
        }
    }

    /// Sets the compression level from a portable hint.
    #[must_use]
    pub fn level(mut self, level: Level) -> Self
    where
        C: WithLevel,
    {
        self.compression = self.compression.with_level(level);
        self
    }

    /// The most bytes a value may decode to (default 64 MiB). Checked before allocating.
    #[must_use]
    pub const fn max_decoded_len(mut self, bytes: usize) -> Self {
        self.limits.max_decoded_len = bytes;
        self
    }

    /// The deepest nesting accepted when decoding (default 128).
    #[must_use]
    pub const fn max_depth(mut self, depth: usize) -> Self {
        self.limits.max_depth = depth;
        self
    }

    /// Replaces all decoding limits at once.
    #[must_use]
    pub const fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The format.
    pub const fn format(&self) -> &F {
        &self.format
    }

    /// The compression ([`Identity`] when none).
    pub const fn compression(&self) -> &C {
        &self.compression
    }

    /// The framing, with its settings.
    pub const fn framing(&self) -> &E {
        &self.framing
    }

    /// The decoding limits.
    pub const fn decode_limits(&self) -> &Limits {
        &self.limits
    }

    #[cfg_attr(not(feature = "kvdb"), allow(dead_code))]
    pub(crate) fn with_format(mut self, format: F) -> Self {
        self.format = format;
        self
    }

    pub(crate) fn map_framing(mut self, f: impl FnOnce(E) -> E) -> Self {
        self.framing = f(self.framing);
        self
    }
}

impl<F, C> Codec<F, C, Headered> {
    /// Values whose serialized form is smaller than `bytes` are stored uncompressed (the
    /// header says so, and every reader handles it). Compressing a 60-byte value costs time
    /// and usually makes it bigger.
    #[must_use]
    pub const fn compress_above(mut self, bytes: usize) -> Self {
        self.framing = self.framing.compress_above(bytes);
        self
    }

    /// Adds a CRC-32C of the stored payload to values whose compression does not check
    /// itself (uncompressed and lz4; zstd, gzip and zlib carry their own checksums). The
    /// header grows from 2 to 9 bytes on those values; a flipped byte is then always an
    /// [`ErrorKind::Checksum`](crate::ErrorKind::Checksum) error instead of a possibly
    /// wrong value.
    #[must_use]
    pub const fn checksum(mut self) -> Self {
        self.framing = self.framing.checksum();
        self
    }

    /// Seals every value after compression with `keys` (a key ring, `satchel::seal::KeyRing`
    /// behind feature `seal`, usually in an `Arc`): authenticated encryption under the
    /// ring's current key, the key's id and a fresh nonce in the header, and the store key
    /// the value is kept under bound to it ([`ValueCodec::encode_keyed`]). See
    /// [`Sealed`] for what a sealed codec refuses.
    pub fn seal<S: Seal>(self, keys: S) -> Codec<F, C, Sealed<S>> {
        Codec {
            format: self.format,
            compression: self.compression,
            framing: Sealed::new(self.framing, keys),
            limits: self.limits,
        }
    }

    /// Also reads bytes that carry no satchel header (for example plain JSON written by
    /// another program) as this codec's format, uncompressed. Bytes that start with the
    /// header's magic byte are always read as headered.
    #[must_use]
    pub const fn accept_unheadered(mut self) -> Self {
        self.framing = self.framing.accept_unheadered();
        self
    }
}

impl<F: HeaderFormat, C: Compression> Codec<F, C, Headered> {
    /// The pipeline this codec names in the header it writes.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline {
            format: self.format.id(),
            compression: self.compression.id(),
        }
    }
}

impl<F, C, E: Framing<F, C>> Codec<F, C, E> {
    /// Encodes `value` into a new buffer: the framing, then the (possibly compressed)
    /// payload.
    ///
    /// # Errors
    /// [`ErrorKind::Encode`](crate::ErrorKind::Encode) if the format cannot represent the
    /// value, [`ErrorKind::Compress`](crate::ErrorKind::Compress) if compression fails.
    #[inline]
    pub fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, Error> {
        // serde_json's own `to_vec` starts at 128 bytes too: most values are small, and
        // starting from nothing costs several reallocations before the first 100 bytes.
        let mut out = Vec::with_capacity(128);
        self.encode_into(value, &mut out)?;
        Ok(out)
    }

    /// Encodes `value`, appending to `out`. On error `out` is left as it was.
    ///
    /// Uncompressed values are serialized straight into `out` behind the header, with no
    /// intermediate copy.
    ///
    /// # Errors
    /// As [`Codec::encode`].
    #[inline]
    pub fn encode_into<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.framing
            .encode_into(&self.format, &self.compression, value, out)
    }

    /// Decodes a value written by this codec's pipeline (or by the same format stored
    /// uncompressed, as [`Codec::compress_above`] does).
    ///
    /// # Errors
    /// With satchel's header:
    /// - [`ErrorKind::Header`](crate::ErrorKind::Header): no valid header (see
    ///   [`Codec::accept_unheadered`]);
    /// - [`ErrorKind::Mismatch`](crate::ErrorKind::Mismatch): written by another pipeline,
    ///   named in the message (use [`decode_any`](crate::decode_any) to follow the header
    ///   instead);
    /// - [`ErrorKind::Checksum`](crate::ErrorKind::Checksum),
    ///   [`ErrorKind::Decompress`](crate::ErrorKind::Decompress): the bytes are corrupt;
    /// - [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded): over
    ///   [`Codec::max_decoded_len`] or [`Codec::max_depth`];
    /// - [`ErrorKind::Decode`](crate::ErrorKind::Decode): the payload is not a `T`.
    #[inline]
    pub fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, Error> {
        self.framing
            .decode(&self.format, &self.compression, bytes, &self.limits)
    }

    /// [`Codec::encode`] for a value kept under store key `key`: a sealed codec
    /// ([`Codec::seal`]) binds the value to it, every other codec ignores it.
    ///
    /// # Errors
    /// As [`Codec::encode`].
    #[inline]
    pub fn encode_keyed<T: Serialize + ?Sized>(
        &self,
        value: &T,
        key: &str,
    ) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(128);
        self.framing
            .encode_keyed_into(&self.format, &self.compression, value, key, &mut out)?;
        Ok(out)
    }

    /// [`Codec::decode`] for a value read from store key `key`: a sealed value opens only
    /// under the key it was sealed under.
    ///
    /// # Errors
    /// As [`Codec::decode`]; for a sealed codec also
    /// [`ErrorKind::Unauthentic`](crate::ErrorKind::Unauthentic) and
    /// [`ErrorKind::UnknownKey`](crate::ErrorKind::UnknownKey).
    #[inline]
    pub fn decode_keyed<T: DeserializeOwned>(&self, bytes: &[u8], key: &str) -> Result<T, Error> {
        self.framing
            .decode_keyed(&self.format, &self.compression, bytes, key, &self.limits)
    }
}

/// What code that is generic over codecs asks for: encode a typed value, decode it again.
///
/// Every [`Codec`] whose framing fits its format and compression is one, static or
/// [`DynCodec`](crate::DynCodec), so a store or session type takes one parameter
/// `K: ValueCodec` instead of a format, a compression and a framing. The methods have the
/// names of [`Codec`]'s own, so code reads the same either way.
///
/// ```
/// # #[cfg(feature = "json")] {
/// use satchel::{Codec, ValueCodec};
///
/// fn round_trip<K: ValueCodec>(codec: &K, n: u32) -> Result<u32, satchel::Error> {
///     codec.decode(&codec.encode(&n)?)
/// }
/// assert_eq!(round_trip(&Codec::json(), 7)?, 7);
/// # }
/// # Ok::<(), satchel::Error>(())
/// ```
pub trait ValueCodec: Debug + Send + Sync {
    /// The format values are serialized with, before compression and framing.
    type Format: Format;

    /// The format, for callers that keep bare serialized values inside a larger record
    /// (a session keeps each entry that way, framed once as a whole).
    fn format(&self) -> &Self::Format;

    /// Encodes `value`, appending to `out` (left as it was on error).
    ///
    /// # Errors
    /// As [`Codec::encode`].
    fn encode_into<T: Serialize + ?Sized>(&self, value: &T, out: &mut Vec<u8>)
    -> Result<(), Error>;

    /// Decodes a value this codec wrote.
    ///
    /// # Errors
    /// As [`Codec::decode`].
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, Error>;

    /// The limits decoding applies.
    fn decode_limits(&self) -> &Limits;

    /// Whether values are bound to the store key they are kept under (a sealed codec):
    /// stores call the keyed methods either way, and work out the key only when true.
    fn binds_key(&self) -> bool {
        false
    }

    /// Encodes `value` kept under store key `key`, appending to `out`. The default ignores
    /// the key; a sealed codec binds the value to it, so it opens under that key only.
    ///
    /// # Errors
    /// As [`Codec::encode`].
    fn encode_keyed_into<T: Serialize + ?Sized>(
        &self,
        value: &T,
        key: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let _ = key;
        self.encode_into(value, out)
    }

    /// Decodes a value read from store key `key`. The default ignores the key.
    ///
    /// # Errors
    /// As [`Codec::decode_keyed`].
    fn decode_keyed<T: DeserializeOwned>(&self, bytes: &[u8], key: &str) -> Result<T, Error> {
        let _ = key;
        self.decode(bytes)
    }

    /// [`ValueCodec::encode_keyed_into`] into a new buffer.
    ///
    /// # Errors
    /// As [`Codec::encode`].
    fn encode_keyed<T: Serialize + ?Sized>(&self, value: &T, key: &str) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(128);
        self.encode_keyed_into(value, key, &mut out)?;
        Ok(out)
    }

    /// Encodes `value` into a new buffer.
    ///
    /// # Errors
    /// As [`Codec::encode`].
    fn encode<T: Serialize + ?Sized>(&self, value: &T) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(128);
        self.encode_into(value, &mut out)?;
        Ok(out)
    }
}

impl<F, C, E> ValueCodec for Codec<F, C, E>
where
    F: Format,
    C: Debug + Send + Sync,
    E: Framing<F, C>,
{
    type Format = F;

    fn format(&self) -> &F {
        Codec::format(self)
    }

    #[inline]
    fn encode_into<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        Codec::encode_into(self, value, out)
    }

    #[inline]
    fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, Error> {
        Codec::decode(self, bytes)
    }

    fn decode_limits(&self) -> &Limits {
        Codec::decode_limits(self)
    }

    fn binds_key(&self) -> bool {
        self.framing.binds_key()
    }

    #[inline]
    fn encode_keyed_into<T: Serialize + ?Sized>(
        &self,
        value: &T,
        key: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.framing
            .encode_keyed_into(&self.format, &self.compression, value, key, out)
    }

    #[inline]
    fn decode_keyed<T: DeserializeOwned>(&self, bytes: &[u8], key: &str) -> Result<T, Error> {
        Codec::decode_keyed(self, bytes, key)
    }
}
