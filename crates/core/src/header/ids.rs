//! The ids a header names: [`FormatId`], [`CompressionId`], and the one table of their
//! names ([`FORMATS`], [`COMPRESSIONS`]).

use std::fmt;

/// Every format satchel knows, by header id and spec name: the one table both are read
/// from (names in specs, ids in headers, and the messages that name a missing feature).
pub const FORMATS: &[(FormatId, &str)] = &[
    (FormatId::JSON, "json"),
    (FormatId::MSGPACK, "msgpack"),
    (FormatId::BINCODE, "bincode"),
];

/// Every compression satchel knows, by header id and spec name (see [`FORMATS`]).
pub const COMPRESSIONS: &[(CompressionId, &str)] = &[
    (CompressionId::NONE, "none"),
    (CompressionId::ZSTD, "zstd"),
    (CompressionId::LZ4, "lz4"),
    (CompressionId::GZIP, "gzip"),
    (CompressionId::ZLIB, "zlib"),
];

/// Identifies a serialization format in the header.
///
/// An open newtype: the named constants are the formats satchel knows, and any other value
/// is kept as it is (and reported by number), so data written by a newer or custom build is
/// named, not mangled. The constants exist whatever features are enabled, so a build without
/// MessagePack can still say "this value is msgpack; enable feature `msgpack`".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FormatId(pub(super) u8);

impl FormatId {
    /// JSON (serde_json).
    pub const JSON: Self = Self(1);
    /// MessagePack, structs written as maps (rmp-serde).
    pub const MSGPACK: Self = Self(2);
    /// bincode 2, standard configuration.
    pub const BINCODE: Self = Self(3);
    /// First id free for formats defined outside satchel (up to 0xFE).
    pub const FIRST_CUSTOM: Self = Self(8);

    /// Wraps a raw id. 0 and 0xFF are reserved and rejected by
    /// [`Header::parse`](super::Header::parse).
    pub const fn new(id: u8) -> Self {
        Self(id)
    }

    /// The raw id as written in the header.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The spec name of a format satchel knows (`json`, `msgpack`, `bincode`), from
    /// [`FORMATS`].
    pub const fn name(self) -> Option<&'static str> {
        let mut i = 0;
        while i < FORMATS.len() {
            if FORMATS[i].0.0 == self.0 {
                return Some(FORMATS[i].1);
            }
            i += 1;
        }
        None
    }

    /// The format satchel knows by this spec name, from [`FORMATS`].
    pub fn from_name(name: &str) -> Option<Self> {
        FORMATS.iter().find(|(_, n)| *n == name).map(|(id, _)| *id)
    }

    /// The cargo feature of the `satchel` facade that compiles this format in.
    pub const fn feature(self) -> Option<&'static str> {
        self.name()
    }
}

impl fmt::Debug for FormatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "FormatId({n})"),
            None => write!(f, "FormatId({})", self.0),
        }
    }
}

impl fmt::Display for FormatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "format#{}", self.0),
        }
    }
}

/// Identifies a compression in the header; [`CompressionId::NONE`] means stored as is.
///
/// Open newtype, never feature-gated, like [`FormatId`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CompressionId(pub(super) u8);

impl CompressionId {
    /// Not compressed.
    pub const NONE: Self = Self(0);
    /// Zstandard frame (with its content checksum).
    pub const ZSTD: Self = Self(1);
    /// LZ4 block with a 4-byte little-endian decoded length in front.
    pub const LZ4: Self = Self(2);
    /// gzip member (RFC 1952, CRC-32 checked).
    pub const GZIP: Self = Self(3);
    /// zlib stream (RFC 1950, Adler-32 checked).
    pub const ZLIB: Self = Self(4);
    /// First id free for compressions defined outside satchel (up to 0xFE).
    pub const FIRST_CUSTOM: Self = Self(8);

    /// Wraps a raw id. 0xFF is reserved.
    pub const fn new(id: u8) -> Self {
        Self(id)
    }

    /// The raw id as written in the header.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The spec name of a compression satchel knows (`none`, `zstd`, `lz4`, `gzip`,
    /// `zlib`), from [`COMPRESSIONS`].
    pub const fn name(self) -> Option<&'static str> {
        let mut i = 0;
        while i < COMPRESSIONS.len() {
            if COMPRESSIONS[i].0.0 == self.0 {
                return Some(COMPRESSIONS[i].1);
            }
            i += 1;
        }
        None
    }

    /// The compression satchel knows by this spec name, from [`COMPRESSIONS`].
    pub fn from_name(name: &str) -> Option<Self> {
        COMPRESSIONS
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| *id)
    }

    /// The cargo feature of the `satchel` facade that compiles this compression in.
    pub const fn feature(self) -> Option<&'static str> {
        match self.0 {
            0 => None,
            _ => self.name(),
        }
    }
}

impl fmt::Debug for CompressionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "CompressionId({n})"),
            None => write!(f, "CompressionId({})", self.0),
        }
    }
}

impl fmt::Display for CompressionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "compression#{}", self.0),
        }
    }
}
