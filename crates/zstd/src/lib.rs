//! Zstandard compression for [satchel](https://docs.rs/satchel).
//!
//! Frames are written with their content size and content checksum, so a corrupted value
//! is detected when it is read. Decompression checks the declared size against the limit
//! before allocating, bounds the window it accepts, and never yields more than the limit.
//! Compression and decompression contexts are reused per thread.
//!
//! A trained [`ZstdDict`] makes small, alike values (session records, cache entries) much
//! smaller: `Zstd.dict(d)` compresses with it, and any `Zstd` decompresses with whichever
//! loaded dictionary a frame names (see [`dict`](ZstdDict) for the registry).
//!
//! ```
//! use satchel_core::Compression;
//! use satchel_zstd::Zstd;
//!
//! let mut packed = Vec::new();
//! Zstd.level(19).compress(&[7u8; 4096], &mut packed)?;
//! assert!(packed.len() < 64);
//! let mut out = Vec::new();
//! Zstd.decompress(&packed, &mut out, 1 << 20)?;
//! assert_eq!(out, [7u8; 4096]);
//! # Ok::<(), satchel_core::Error>(())
//! ```

use std::cell::RefCell;
use std::io::{self, Cursor};

use satchel_core::{
    Compression, CompressionId, Error, ErrorKind, Level, WithLevel, check_len, read_bounded,
};

mod dict;
#[cfg(feature = "train")]
mod train;
mod with_dict;

pub use dict::{MAX_DICT_LEN, MAX_LOADED, ZstdDict, frame_dict_id};
#[cfg(feature = "train")]
pub use train::{DEFAULT_DICT_SIZE, train};

/// Zstandard compression at a level (default 3), with or without a dictionary.
///
/// `Zstd` is also a constant of this type at the default level, so `.compress(Zstd)` and
/// `Zstd.level(19)` both read naturally. Decompression never needs to be told the
/// dictionary: it reads the id from the frame and takes that dictionary from the
/// registry ([`ZstdDict::get`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Zstd {
    level: i32,
    dict: Option<&'static ZstdDict>,
}

/// Zstandard at the default level 3.
#[allow(non_upper_case_globals)]
pub const Zstd: Zstd = Zstd::DEFAULT;

impl Zstd {
    /// Level 3, zstd's own default.
    pub const DEFAULT: Self = Self {
        level: 3,
        dict: None,
    };
    /// The lowest level zstd accepts (fastest).
    pub const MIN_LEVEL: i32 = -7;
    /// The highest level zstd accepts (smallest).
    pub const MAX_LEVEL: i32 = 22;

    /// This compression at `level`, clamped to `MIN_LEVEL..=MAX_LEVEL`.
    #[must_use]
    pub const fn level(self, level: i32) -> Self {
        let level = if level < Self::MIN_LEVEL {
            Self::MIN_LEVEL
        } else if level > Self::MAX_LEVEL {
            Self::MAX_LEVEL
        } else {
            level
        };
        Self {
            level,
            dict: self.dict,
        }
    }

    /// This compression, writing every frame with `dict` (digested once, shared by every
    /// codec using it). The level is kept.
    #[must_use]
    pub const fn dict(self, dict: &'static ZstdDict) -> Self {
        Self {
            level: self.level,
            dict: Some(dict),
        }
    }

    /// This compression without a dictionary.
    #[must_use]
    pub const fn without_dict(self) -> Self {
        Self {
            level: self.level,
            dict: None,
        }
    }

    /// The dictionary frames are written with, if any.
    pub const fn dict_in_use(&self) -> Option<&'static ZstdDict> {
        self.dict
    }
}

impl Default for Zstd {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl WithLevel for Zstd {
    fn with_level(self, level: Level) -> Self {
        match level {
            Level::Fastest => self.level(1),
            Level::Default => self.level(3),
            Level::Best => self.level(19),
            Level::Precise(n) => self.level(n),
            _ => self,
        }
    }
}

thread_local! {
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

pub(crate) fn new_compressor(level: i32) -> io::Result<zstd::bulk::Compressor<'static>> {
    let mut c = zstd::bulk::Compressor::new(level)?;
    c.include_checksum(true)?;
    c.include_contentsize(true)?;
    Ok(c)
}

pub(crate) fn compress_with(
    c: &mut zstd::bulk::Compressor<'static>,
    input: &[u8],
    out: &mut Vec<u8>,
) -> io::Result<usize> {
    out.reserve(zstd::zstd_safe::compress_bound(input.len()));
    let start = out.len() as u64;
    let mut tail = Cursor::new(out);
    tail.set_position(start);
    c.compress_to_buffer(input, &mut tail)
}

pub(crate) fn compress_error(e: io::Error) -> Error {
    Error::new(ErrorKind::Compress, "zstd compression failed").with_source(e)
}

pub(crate) fn corrupt(e: io::Error) -> Error {
    Error::new(
        ErrorKind::Decompress,
        "zstd data is corrupt or truncated (frame or checksum check failed)",
    )
    .with_source(e)
}

/// The largest window a streamed frame may ask the decoder to allocate: enough to cover
/// `limit` bytes, and at least 8 MiB (2^23, the window zstd's own levels 1..=19 use at
/// most), so any frame written at a standard level decodes; never more than that.
pub(crate) fn window_log_for(limit: usize) -> u32 {
    let needed = usize::BITS - limit.saturating_sub(1).leading_zeros();
    needed.clamp(23, 31)
}

impl Compression for Zstd {
    fn id(&self) -> CompressionId {
        CompressionId::ZSTD
    }

    fn name(&self) -> &'static str {
        "zstd"
    }

    fn level_in_use(&self) -> Option<i32> {
        Some(self.level)
    }

    fn self_checked(&self) -> bool {
        true
    }

    fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        if let Some(dict) = self.dict {
            return with_dict::compress(dict, self.level, input, out);
        }
        COMPRESSOR
            .with(|cell| match cell.try_borrow_mut() {
                Ok(mut slot) => {
                    match slot.as_mut() {
                        Some((level, c)) if *level == self.level => {}
                        Some((level, c)) => {
                            c.set_compression_level(self.level)?;
                            *level = self.level;
                        }
                        None => *slot = Some((self.level, new_compressor(self.level)?)),
                    }
                    let (_, c) = slot.as_mut().expect("compressor was just set");
                    compress_with(c, input, out)
                }
                Err(_) => compress_with(&mut new_compressor(self.level)?, input, out),
            })
            .map(drop)
            .map_err(compress_error)
    }

    fn decompress(&self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
        if input.is_empty() {
            return Err(Error::new(
                ErrorKind::Decompress,
                "zstd data is empty: the value was truncated",
            ));
        }
        // The frame names its dictionary: find it (or say which one is missing) before
        // decoding anything.
        if let Some(id) = frame_dict_id(input) {
            let dict = match self.dict {
                Some(d) if d.id() == id => d,
                _ => ZstdDict::get(id).ok_or_else(|| dict::missing(id))?,
            };
            return with_dict::decompress(dict, input, out, limit);
        }
        match zstd::bulk::Decompressor::upper_bound(input) {
            // Every frame declares its size: check it, then decode in one pass into
            // exactly that much room (zstd refuses to write past it).
            Some(declared) => {
                check_len(declared, limit, "zstd")?;
                out.reserve_exact(declared);
                let start = out.len() as u64;
                let mut run = |d: &mut zstd::bulk::Decompressor<'static>| {
                    let mut tail = Cursor::new(&mut *out);
                    tail.set_position(start);
                    d.decompress_to_buffer(input, &mut tail)
                };
                DECOMPRESSOR
                    .with(|cell| match cell.try_borrow_mut() {
                        Ok(mut slot) => {
                            if slot.is_none() {
                                *slot = Some(zstd::bulk::Decompressor::new()?);
                            }
                            run(slot.as_mut().expect("decompressor was just set"))
                        }
                        Err(_) => run(&mut zstd::bulk::Decompressor::new()?),
                    })
                    .map(drop)
                    .map_err(corrupt)
            }
            // No declared size (e.g. written by a streaming encoder): stream with a bounded
            // window and stop one byte past the limit.
            None => {
                let mut decoder =
                    zstd::stream::read::Decoder::with_buffer(input).map_err(corrupt)?;
                decoder
                    .window_log_max(window_log_for(limit))
                    .map_err(corrupt)?;
                read_bounded(decoder, out, limit, input.len().saturating_mul(4), "zstd")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_after_existing_bytes() {
        let mut out = b"head".to_vec();
        Zstd.compress(b"hello hello hello hello", &mut out).unwrap();
        assert_eq!(&out[..4], b"head");
        let mut back = b"x".to_vec();
        Zstd.decompress(&out[4..], &mut back, 100).unwrap();
        assert_eq!(back, b"xhello hello hello hello");
    }

    #[test]
    fn declared_size_over_limit_is_refused_before_decoding() {
        let mut packed = Vec::new();
        Zstd.compress(&[0u8; 10_000], &mut packed).unwrap();
        let mut out = Vec::new();
        let err = Zstd.decompress(&packed, &mut out, 9_999).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded);
        assert_eq!(out.capacity(), 0, "nothing allocated for a refused value");
    }

    #[test]
    fn streamed_frame_without_size_is_bounded() {
        let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        encoder.include_contentsize(false).unwrap();
        std::io::Write::write_all(&mut encoder, &[1u8; 50_000]).unwrap();
        let packed = encoder.finish().unwrap();
        assert!(zstd::bulk::Decompressor::upper_bound(&packed).is_none());
        let mut out = Vec::new();
        Zstd.decompress(&packed, &mut out, 50_000).unwrap();
        assert_eq!(out.len(), 50_000);
        let err = Zstd
            .decompress(&packed, &mut Vec::new(), 49_999)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    }

    #[test]
    fn flipped_byte_is_detected() {
        let mut packed = Vec::new();
        Zstd.compress(b"ann ann ann ann ann ann ann", &mut packed)
            .unwrap();
        for i in 0..packed.len() {
            let mut bad = packed.clone();
            bad[i] ^= 0x01;
            let mut out = Vec::new();
            if let Ok(()) = Zstd.decompress(&bad, &mut out, 1 << 20) {
                assert_eq!(
                    out, b"ann ann ann ann ann ann ann",
                    "byte {i} flipped silently"
                );
            }
        }
    }

    #[test]
    fn window_log_covers_limit() {
        assert_eq!(window_log_for(64 << 20), 26);
        assert_eq!(window_log_for((64 << 20) + 1), 27);
        assert_eq!(window_log_for(1), 23);
    }
}
