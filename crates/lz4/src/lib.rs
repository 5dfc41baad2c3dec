//! LZ4 compression for [satchel](https://docs.rs/satchel), through lz4_flex's block format.
//!
//! The payload is a 4-byte little-endian decoded length followed by one LZ4 block. Unlike
//! `lz4_flex::decompress_size_prepended`, which allocates whatever the prefix claims, the
//! length is checked against the limit and against what the compressed bytes could
//! possibly expand to before anything is allocated.
//!
//! LZ4 blocks carry no checksum: turn on `Codec::checksum()` in the facade when values
//! must be protected against corruption.
//!
//! ```
//! use satchel_core::Compression;
//! use satchel_lz4::Lz4;
//!
//! let mut packed = Vec::new();
//! Lz4.compress(&[7u8; 4096], &mut packed)?;
//! let mut out = Vec::new();
//! Lz4.decompress(&packed, &mut out, 1 << 20)?;
//! assert_eq!(out, [7u8; 4096]);
//! # Ok::<(), satchel_core::Error>(())
//! ```

use satchel_core::{Compression, CompressionId, Error, ErrorKind, Level, WithLevel, check_len};

/// LZ4 block compression (lz4_flex). It has no levels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Lz4;

/// The most an LZ4 block can expand: a match sequence costs at least one input byte per
/// 255 output bytes, plus a fixed tail.
const MAX_RATIO: usize = 255;

impl WithLevel for Lz4 {
    fn with_level(self, _: Level) -> Self {
        self
    }
}

impl Compression for Lz4 {
    fn id(&self) -> CompressionId {
        CompressionId::LZ4
    }

    fn name(&self) -> &'static str {
        "lz4"
    }

    fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let len = u32::try_from(input.len()).map_err(|_| {
            Error::new(
                ErrorKind::Compress,
                format!(
                    "lz4 takes at most 4 GiB; the value is {} bytes",
                    input.len()
                ),
            )
        })?;
        out.extend_from_slice(&len.to_le_bytes());
        let start = out.len();
        out.resize(
            start + lz4_flex::block::get_maximum_output_size(input.len()),
            0,
        );
        match lz4_flex::block::compress_into(input, &mut out[start..]) {
            Ok(n) => {
                out.truncate(start + n);
                Ok(())
            }
            Err(e) => {
                out.truncate(start - 4);
                Err(Error::new(ErrorKind::Compress, "lz4 compression failed").with_source(e))
            }
        }
    }

    fn decompress(&self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
        let Some((prefix, block)) = input.split_first_chunk::<4>() else {
            return Err(Error::new(
                ErrorKind::Decompress,
                format!(
                    "lz4 data is truncated: {} bytes, less than its 4-byte length",
                    input.len()
                ),
            ));
        };
        let declared = u32::from_le_bytes(*prefix) as usize;
        check_len(declared, limit, "lz4")?;
        let possible = block.len().saturating_mul(MAX_RATIO).saturating_add(16);
        if declared > possible {
            return Err(Error::new(
                ErrorKind::Decompress,
                format!(
                    "lz4 data is corrupt: it declares {declared} bytes, more than its {} \
                     compressed bytes can hold",
                    block.len()
                ),
            ));
        }
        let start = out.len();
        out.resize(start + declared, 0);
        match lz4_flex::block::decompress_into(block, &mut out[start..]) {
            Ok(n) if n == declared => Ok(()),
            Ok(n) => {
                out.truncate(start);
                Err(Error::new(
                    ErrorKind::Decompress,
                    format!("lz4 data is corrupt: it declares {declared} bytes but holds {n}"),
                ))
            }
            Err(e) => {
                out.truncate(start);
                Err(
                    Error::new(ErrorKind::Decompress, "lz4 data is corrupt or truncated")
                        .with_source(e),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_declared_length_is_refused_without_allocating() {
        // Six bytes claiming 2 GB: lz4_flex's own size-prefixed API would allocate it.
        let hostile = [0x00, 0x00, 0x00, 0x80, 0x10, 0x00];
        let mut out = Vec::new();
        let err = Lz4.decompress(&hostile, &mut out, usize::MAX).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decompress);
        assert_eq!(out.capacity(), 0);
        let err = Lz4.decompress(&hostile, &mut out, 1 << 20).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    }

    #[test]
    fn round_trip_appends() {
        let mut packed = b"h".to_vec();
        Lz4.compress(b"abcabcabcabcabcabc", &mut packed).unwrap();
        let mut out = b"x".to_vec();
        Lz4.decompress(&packed[1..], &mut out, 18).unwrap();
        assert_eq!(out, b"xabcabcabcabcabcabc");
        let err = Lz4
            .decompress(&packed[1..], &mut Vec::new(), 17)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    }
}
