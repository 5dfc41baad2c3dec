//! [`AnyCompression`]: every compression compiled in, or none, chosen at run time.

#[allow(unused_imports)]
use super::*;

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
        match CompressionId::from_name(name) {
            Some(id) => Self::from_id(id),
            None => Err(Error::new(
                ErrorKind::Spec,
                format!(
                    "unknown compression `{name}`; valid compressions: {}",
                    COMPRESSION_NAMES.join(", ")
                ),
            )),
        }
    }

    /// The id of the zstd dictionary this compression writes with, if any.
    pub fn dict_id(&self) -> Option<u32> {
        match self {
            #[cfg(feature = "zstd")]
            Self::Zstd(z) => z.dict_in_use().map(crate::ZstdDict::id),
            _ => None,
        }
    }

    /// The level this compression uses by default, if it has levels.
    pub(super) fn default_level(&self) -> Option<i32> {
        Self::from_id(self.id()).ok().and_then(|d| d.level_in_use())
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
    fn level_in_use(&self) -> Option<i32> {
        dispatch!(self, c => c.level_in_use())
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
