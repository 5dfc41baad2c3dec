//! gzip and zlib compression for [satchel](https://docs.rs/satchel), through flate2.
//!
//! Both formats carry a checksum (CRC-32 for gzip, Adler-32 for zlib), checked on every
//! read. Decompression stops one byte past the limit, and bytes after the end of the
//! stream are refused rather than silently ignored.
//!
//! ```
//! use satchel_core::Compression;
//! use satchel_flate::{Gzip, Zlib};
//!
//! for c in [&Gzip.level(9) as &dyn Compression, &Zlib] {
//!     let mut packed = Vec::new();
//!     c.compress(&[7u8; 4096], &mut packed)?;
//!     let mut out = Vec::new();
//!     c.decompress(&packed, &mut out, 1 << 20)?;
//!     assert_eq!(out, [7u8; 4096]);
//! }
//! # Ok::<(), satchel_core::Error>(())
//! ```

use std::io::Write;

use satchel_core::{Compression, CompressionId, Error, ErrorKind, Level, WithLevel, read_bounded};

macro_rules! flate_compression {
    ($(#[$doc:meta])* $name:ident, $id:expr, $label:literal, $encoder:ident, $decoder:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name {
            level: u32,
        }

        #[doc = concat!($label, " at the default level 6.")]
        #[allow(non_upper_case_globals)]
        pub const $name: $name = $name::DEFAULT;

        impl $name {
            /// Level 6, zlib's own default.
            pub const DEFAULT: Self = Self { level: 6 };

            /// This compression at `level`, clamped to 0 (stored) ..= 9 (smallest).
            #[must_use]
            pub const fn level(self, level: u32) -> Self {
                Self { level: if level > 9 { 9 } else { level } }
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::DEFAULT
            }
        }

        impl WithLevel for $name {
            fn with_level(self, level: Level) -> Self {
                match level {
                    Level::Fastest => self.level(1),
                    Level::Default => self.level(6),
                    Level::Best => self.level(9),
                    Level::Precise(n) => self.level(n.clamp(0, 9) as u32),
                    _ => self,
                }
            }
        }

        impl Compression for $name {
            fn id(&self) -> CompressionId {
                $id
            }

            fn name(&self) -> &'static str {
                $label
            }

            fn level_in_use(&self) -> Option<i32> {
                Some(self.level as i32)
            }

            fn self_checked(&self) -> bool {
                true
            }

            fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
                let mut encoder =
                    flate2::write::$encoder::new(out, flate2::Compression::new(self.level));
                encoder
                    .write_all(input)
                    .and_then(|()| encoder.try_finish())
                    .map_err(|e| {
                        Error::new(ErrorKind::Compress, concat!($label, " compression failed"))
                            .with_source(e)
                    })
            }

            fn decompress(
                &self,
                input: &[u8],
                out: &mut Vec<u8>,
                limit: usize,
            ) -> Result<(), Error> {
                let mut decoder = flate2::bufread::$decoder::new(input);
                read_bounded(&mut decoder, out, limit, size_hint_of(self.id(), input), $label)?;
                let rest = decoder.into_inner().len();
                if rest != 0 {
                    return Err(Error::new(
                        ErrorKind::Decompress,
                        format!(concat!($label, " data has {} unexpected bytes after its end"), rest),
                    ));
                }
                Ok(())
            }
        }
    };
}

flate_compression!(
    /// gzip (RFC 1952) at a level (default 6). `Gzip` is also a constant at the default level.
    Gzip, CompressionId::GZIP, "gzip", GzEncoder, GzDecoder
);
flate_compression!(
    /// zlib (RFC 1950) at a level (default 6). `Zlib` is also a constant at the default level.
    Zlib, CompressionId::ZLIB, "zlib", ZlibEncoder, ZlibDecoder
);

/// What the stream says about its decoded size, used only as a capacity hint.
fn size_hint_of(id: CompressionId, input: &[u8]) -> usize {
    if id == CompressionId::GZIP {
        // ISIZE: the decoded length modulo 2^32, in the last four bytes.
        if let Some(isize) = input.last_chunk::<4>() {
            return u32::from_le_bytes(*isize) as usize;
        }
    }
    input.len().saturating_mul(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bomb_stops_at_limit() {
        let mut packed = Vec::new();
        Gzip.level(9)
            .compress(&vec![0u8; 8 << 20], &mut packed)
            .unwrap();
        assert!(packed.len() < 16 * 1024);
        let mut out = Vec::new();
        let err = Gzip.decompress(&packed, &mut out, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded);
        assert!(out.capacity() <= 1 << 20, "capacity {}", out.capacity());
    }

    #[test]
    fn trailing_bytes_are_refused() {
        for c in [&Gzip as &dyn Compression, &Zlib] {
            let mut packed = Vec::new();
            c.compress(b"hello", &mut packed).unwrap();
            packed.push(0);
            let err = c.decompress(&packed, &mut Vec::new(), 100).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decompress, "{c:?}");
        }
    }

    #[test]
    fn flipped_byte_is_detected() {
        for c in [&Gzip as &dyn Compression, &Zlib] {
            let mut packed = Vec::new();
            c.compress(b"ann ann ann ann", &mut packed).unwrap();
            for i in 0..packed.len() {
                let mut bad = packed.clone();
                bad[i] ^= 0x01;
                let mut out = Vec::new();
                if c.decompress(&bad, &mut out, 1 << 20).is_ok() {
                    assert_eq!(out, b"ann ann ann ann", "{c:?}: byte {i} flipped silently");
                }
            }
        }
    }
}
