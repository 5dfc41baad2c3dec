//! Constructors for the codecs other programs' values need: kvdb-py's (feature `kvdb`) and
//! the Coherence clients' (feature `coherence`). The framings themselves live in their
//! own crates; this file only names them on [`Codec`].

#[cfg(any(feature = "kvdb", feature = "coherence"))]
use {crate::Codec, satchel_core::Identity};

#[cfg(feature = "kvdb")]
#[cfg_attr(docsrs, doc(cfg(feature = "kvdb")))]
impl Codec<crate::kvdb::KvdbJson, Identity, crate::kvdb::KvdbFrame> {
    /// kvdb-py's type-tagged JSON (`serializer="json"`), uncompressed, in kvdb-py's
    /// framing: no satchel header; see [`crate::kvdb`].
    ///
    /// Its values carry kvdb-py's `_kvdbenc_` prefix instead of a header, and plain
    /// strings, bytes and numbers are stored raw. The compression is applied after the
    /// prefix (`lz4` meaning the LZ4 frame format, as kvdb-py's). The header's settings
    /// (`compress_above`, `checksum`, `accept_unheadered`) do not exist on this codec.
    /// Reading accepts any compression, as kvdb-py falls back between them too.
    ///
    /// Asking a kvdb codec for a header setting does not compile:
    ///
    /// ```compile_fail
    /// let codec = satchel::Codec::kvdb_json().checksum();
    /// ```
    ///
    /// nor does putting a kvdb serializer behind satchel's header:
    ///
    /// ```compile_fail
    /// let codec = satchel::Codec::new(satchel::kvdb::KvdbJson::new());
    /// ```
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
        Self::framed(crate::kvdb::KvdbJson::new(), crate::kvdb::KvdbFrame)
    }
}

#[cfg(feature = "kvdb")]
#[cfg_attr(docsrs, doc(cfg(feature = "kvdb")))]
impl Codec<crate::kvdb::KvdbMsgPack, Identity, crate::kvdb::KvdbFrame> {
    /// kvdb-py's msgpack serializer (`serializer="msgpack"`), uncompressed, in kvdb-py's
    /// framing (see [`Codec::kvdb_json`]).
    pub const fn kvdb_msgpack() -> Self {
        Self::framed(crate::kvdb::KvdbMsgPack::new(), crate::kvdb::KvdbFrame)
    }
}

#[cfg(feature = "kvdb")]
#[cfg_attr(docsrs, doc(cfg(feature = "kvdb")))]
impl<C> Codec<crate::kvdb::KvdbJson, C, crate::kvdb::KvdbFrame> {
    /// Maps the Python classes in `classes` onto Rust types, for reading and writing
    /// (see [`crate::kvdb::Classes`]).
    #[must_use]
    pub fn classes(self, classes: &'static crate::kvdb::Classes) -> Self {
        let format = self.format().classes(classes);
        self.with_format(format)
    }
}

#[cfg(feature = "kvdb")]
#[cfg_attr(docsrs, doc(cfg(feature = "kvdb")))]
impl<C> Codec<crate::kvdb::KvdbMsgPack, C, crate::kvdb::KvdbFrame> {
    /// Maps the Python classes in `classes` onto Rust types, for reading and writing
    /// (see [`crate::kvdb::Classes`]).
    #[must_use]
    pub fn classes(self, classes: &'static crate::kvdb::Classes) -> Self {
        let format = self.format().classes(classes);
        self.with_format(format)
    }
}

#[cfg(feature = "coherence")]
#[cfg_attr(docsrs, doc(cfg(feature = "coherence")))]
impl Codec<crate::coherence::CoherenceJson, Identity, crate::coherence::CoherenceFrame> {
    /// The Coherence clients' values: `0x15`, then JSON as the Python client writes it (see
    /// [`crate::coherence`]). No compression and no header: the clients read neither, so
    /// `.compress(..)` leaves a codec that does not encode.
    ///
    /// ```
    /// use satchel::Codec;
    ///
    /// let codec = Codec::coherence();
    /// assert_eq!(codec.encode(&[1, 2])?, b"\x15[1, 2]");
    /// assert_eq!(codec.decode::<Vec<u8>>(b"\x15[1, 2]")?, [1, 2]);
    /// # Ok::<(), satchel::Error>(())
    /// ```
    pub const fn coherence() -> Self {
        Self::framed(
            crate::coherence::CoherenceJson::new(),
            crate::coherence::CoherenceFrame,
        )
    }
}
