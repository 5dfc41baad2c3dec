//! [`Codec`]: one format, an optional compression, and the header that names both.

use serde::Serialize;
use serde::de::DeserializeOwned;

use satchel_core::{
    Compression, CompressionId, Error, ErrorKind, Flags, Format, Header, Identity, Level, Limits,
    MAGIC, Pipeline, WithLevel, check_len,
};

/// A serialization format plus an optional compression, behind a self-describing header.
///
/// A small `Copy` value: build it once (often as a `const` or a field) and use it from any
/// thread. Each builder step that swaps a component returns a new type, so the whole
/// pipeline is known at compile time and the fast path has no dynamic dispatch:
/// `Codec::json()` is a `Codec<Json>`, `.compress(Zstd)` makes it a `Codec<Json, Zstd>`.
/// For a pipeline chosen at run time see [`DynCodec`](crate::DynCodec).
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
pub struct Codec<F, C = Identity> {
    format: F,
    compression: C,
    compress_above: usize,
    limits: Limits,
    checksum: bool,
    accept_unheadered: bool,
}

impl<F: Format> Codec<F> {
    /// A codec for `format`, uncompressed. Any [`Format`], including your own.
    pub const fn new(format: F) -> Self {
        Self {
            format,
            compression: Identity,
            compress_above: 0,
            limits: Limits::new(),
            checksum: false,
            accept_unheadered: false,
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

#[cfg(feature = "kvdb")]
#[cfg_attr(docsrs, doc(cfg(feature = "kvdb")))]
impl Codec<crate::KvdbJson> {
    /// kvdb-py's type-tagged JSON (`serializer="json"`), uncompressed, framed as kvdb-py
    /// frames it: no satchel header; see [`crate::kvdb`].
    ///
    /// Its values carry kvdb-py's `_kvdbenc_` prefix instead of a header, and plain
    /// strings, bytes and numbers are stored raw, so a kvdb codec is a `Codec` whose
    /// *format* says "kvdb": [`Codec::encode`] and [`Codec::decode`] apply kvdb's framing
    /// for it, the compression is applied after the prefix (`lz4` meaning the LZ4 frame
    /// format, as kvdb-py's), and the header-only settings (`compress_above`, `checksum`,
    /// `accept_unheadered`) do not apply. Reading accepts any compression, as kvdb-py
    /// falls back between them too.
    ///
    /// ```
    /// # #[cfg(feature = "zstd")] {
    /// use satchel::{Codec, Zstd};
    ///
    /// let codec = Codec::kvdb_json().compress(Zstd);
    /// let bytes = codec.encode(&vec![1, 2])?;
    /// assert!(bytes.starts_with(b"_kvdbenc_\x28\xB5\x2F\xFD"));
    /// assert_eq!(codec.decode::<Vec<u8>>(&bytes)?, [1, 2]);
    /// assert_eq!(codec.encode("plain")?, b"plain"); // strings are stored raw
    /// # }
    /// # Ok::<(), satchel::Error>(())
    /// ```
    pub const fn kvdb_json() -> Self {
        Self::new(crate::KvdbJson::new())
    }
}

#[cfg(feature = "kvdb")]
#[cfg_attr(docsrs, doc(cfg(feature = "kvdb")))]
impl Codec<crate::KvdbMsgPack> {
    /// kvdb-py's msgpack serializer (`serializer="msgpack"`), uncompressed, framed as
    /// kvdb-py frames it (see [`Codec::kvdb_json`]).
    pub const fn kvdb_msgpack() -> Self {
        Self::new(crate::KvdbMsgPack::new())
    }
}

#[cfg(feature = "kvdb")]
#[cfg_attr(docsrs, doc(cfg(feature = "kvdb")))]
impl<C> Codec<crate::KvdbJson, C> {
    /// Maps the Python classes in `classes` onto Rust types, for reading and writing
    /// (see [`crate::kvdb::Classes`]).
    #[must_use]
    pub const fn classes(mut self, classes: &'static crate::kvdb::Classes) -> Self {
        self.format = self.format.classes(classes);
        self
    }
}

#[cfg(feature = "kvdb")]
#[cfg_attr(docsrs, doc(cfg(feature = "kvdb")))]
impl<C> Codec<crate::KvdbMsgPack, C> {
    /// Maps the Python classes in `classes` onto Rust types, for reading and writing
    /// (see [`crate::kvdb::Classes`]).
    #[must_use]
    pub const fn classes(mut self, classes: &'static crate::kvdb::Classes) -> Self {
        self.format = self.format.classes(classes);
        self
    }
}

impl<F, C> Codec<F, C> {
    /// The same codec with `compression` in place of the current one.
    pub fn compress<C2: Compression>(self, compression: C2) -> Codec<F, C2> {
        Codec {
            format: self.format,
            compression,
            compress_above: self.compress_above,
            limits: self.limits,
            checksum: self.checksum,
            accept_unheadered: self.accept_unheadered,
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

    /// Values whose serialized form is smaller than `bytes` are stored uncompressed (the
    /// header says so, and every reader handles it). Compressing a 60-byte value costs time
    /// and usually makes it bigger.
    #[must_use]
    pub const fn compress_above(mut self, bytes: usize) -> Self {
        self.compress_above = bytes;
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

    /// Adds a CRC-32C of the stored payload to values whose compression does not check
    /// itself (uncompressed and lz4; zstd, gzip and zlib carry their own checksums). The
    /// header grows from 2 to 9 bytes on those values; a flipped byte is then always an
    /// [`ErrorKind::Checksum`] error instead of a possibly wrong value.
    #[must_use]
    pub const fn checksum(mut self) -> Self {
        self.checksum = true;
        self
    }

    /// Also reads bytes that carry no satchel header (for example plain JSON written by
    /// another program) as this codec's format, uncompressed. Bytes that start with the
    /// header's magic byte are always read as headered.
    #[must_use]
    pub const fn accept_unheadered(mut self) -> Self {
        self.accept_unheadered = true;
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

    /// The decoding limits.
    pub const fn decode_limits(&self) -> &Limits {
        &self.limits
    }

    /// The threshold set by [`Codec::compress_above`].
    pub const fn compress_threshold(&self) -> usize {
        self.compress_above
    }

    /// True if [`Codec::checksum`] is on.
    pub const fn has_checksum(&self) -> bool {
        self.checksum
    }

    /// True if [`Codec::accept_unheadered`] is on.
    pub const fn accepts_unheadered(&self) -> bool {
        self.accept_unheadered
    }
}

/// Buffers kept per thread between calls, so steady-state encoding and decoding of
/// compressed values allocates only the result.
mod scratch {
    use std::cell::Cell;

    /// Larger buffers are dropped after use rather than kept alive by an idle thread.
    const RETAIN: usize = 4 << 20;

    thread_local! {
        pub(super) static ENCODE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
        pub(super) static DECODE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    }

    /// Runs `f` with the thread's buffer taken out of `slot` (so a nested call simply
    /// gets a fresh one), then puts it back, cleared.
    pub(super) fn with<R>(
        slot: &'static std::thread::LocalKey<Cell<Vec<u8>>>,
        f: impl FnOnce(&mut Vec<u8>) -> R,
    ) -> R {
        let mut buf = slot.with(Cell::take);
        buf.clear();
        let result = f(&mut buf);
        if buf.capacity() <= RETAIN {
            buf.clear();
            slot.with(|s| s.set(buf));
        }
        result
    }
}

impl<F: Format, C: Compression> Codec<F, C> {
    /// The pipeline this codec writes.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline {
            format: self.format.id(),
            compression: self.compression.id(),
        }
    }

    fn header(&self, compression: CompressionId, self_checked: bool) -> Header {
        let mut header = Header::new(self.format.id(), compression);
        if self.checksum && !self_checked {
            header.flags = Flags::CHECKSUM;
        }
        header
    }

    /// Encodes `value` into a new buffer: header, then the (possibly compressed) payload.
    ///
    /// # Errors
    /// [`ErrorKind::Encode`] if the format cannot represent the value,
    /// [`ErrorKind::Compress`] if compression fails.
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
    pub fn encode_into<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        #[cfg(feature = "kvdb")]
        if satchel_kvdb::is_kvdb_format(self.format.id()) {
            return satchel_kvdb::encode_into(&self.format, &self.compression, value, out);
        }
        let start = out.len();
        let result = self.encode_unchecked(value, out, start);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    #[inline]
    fn encode_unchecked<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<(), Error> {
        let header = if self.compression.id() == CompressionId::NONE {
            let header = self.header(CompressionId::NONE, false);
            header.write(out);
            self.format.serialize_into(value, out)?;
            header
        } else {
            scratch::with(&scratch::ENCODE, |raw| {
                self.format.serialize_into(value, raw)?;
                let header = if raw.len() < self.compress_above {
                    let header = self.header(CompressionId::NONE, false);
                    header.write(out);
                    out.extend_from_slice(raw);
                    header
                } else {
                    let header =
                        self.header(self.compression.id(), self.compression.self_checked());
                    header.write(out);
                    self.compression.compress(raw, out)?;
                    header
                };
                Ok::<_, Error>(header)
            })?
        };
        if header.flags.contains(Flags::CHECKSUM) {
            Header::patch_checksum(out, start);
        }
        Ok(())
    }

    /// Decodes a value written by this codec's pipeline (or by the same format stored
    /// uncompressed, as [`Codec::compress_above`] does).
    ///
    /// # Errors
    /// - [`ErrorKind::Header`]: no valid header (see [`Codec::accept_unheadered`]);
    /// - [`ErrorKind::Mismatch`]: written by another pipeline, named in the message (use
    ///   [`decode_any`](crate::decode_any) to follow the header instead);
    /// - [`ErrorKind::Checksum`], [`ErrorKind::Decompress`]: the bytes are corrupt;
    /// - [`ErrorKind::LimitExceeded`]: over [`Codec::max_decoded_len`] or
    ///   [`Codec::max_depth`];
    /// - [`ErrorKind::Decode`]: the payload is not a `T`.
    pub fn decode<T: DeserializeOwned>(&self, bytes: &[u8]) -> Result<T, Error> {
        #[cfg(feature = "kvdb")]
        if satchel_kvdb::is_kvdb_format(self.format.id()) {
            return satchel_kvdb::decode(&self.format, bytes, &self.limits);
        }
        let (header, payload) = match Header::parse(bytes) {
            Ok(parsed) => parsed,
            Err(_) if self.accept_unheadered && bytes.first() != Some(&MAGIC) => {
                check_len(bytes.len(), self.limits.max_decoded_len, "unheadered")?;
                return self.format.deserialize(bytes, &self.limits);
            }
            Err(e) => return Err(e),
        };
        let written = header.pipeline;
        if written.format != self.format.id()
            || (written.compression != CompressionId::NONE
                && written.compression != self.compression.id())
        {
            return Err(Error::new(
                ErrorKind::Mismatch,
                format!(
                    "value was written as {written}, but this codec reads {}: \
                     decode it with decode_any or convert the stored data",
                    self.pipeline()
                ),
            ));
        }
        header.verify(payload)?;
        if written.compression == CompressionId::NONE {
            check_len(payload.len(), self.limits.max_decoded_len, "stored")?;
            self.format.deserialize(payload, &self.limits)
        } else {
            scratch::with(&scratch::DECODE, |raw| {
                self.compression
                    .decompress(payload, raw, self.limits.max_decoded_len)?;
                self.format.deserialize_mut(raw, &self.limits)
            })
        }
    }
}
