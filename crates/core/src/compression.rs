//! The [`Compression`] trait, the [`Identity`] pass-through and portable [`Level`] hints.

use std::fmt::Debug;

use crate::{CompressionId, Error, ErrorKind};

/// A portable compression level hint, mapped by each backend onto its own scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Level {
    /// The fastest setting the backend has.
    Fastest,
    /// The backend's usual default.
    Default,
    /// The smallest output the backend can make, however slow.
    Best,
    /// A backend-specific number (zstd: -7..=22, gzip/zlib: 0..=9; lz4 ignores it).
    Precise(i32),
}

/// A byte-to-byte compression, object-safe so `Box<dyn Compression>` and
/// `&'static dyn Compression` work (the boundary where a pipeline is chosen at run time).
///
/// Both methods append to a caller-owned buffer. `decompress` must never produce more than
/// `limit` bytes and must check any size the stream declares before allocating for it.
pub trait Compression: Debug + Send + Sync {
    /// The id written in the header.
    fn id(&self) -> CompressionId;

    /// The name used in pipeline specs and messages (`zstd`, `lz4`, …).
    fn name(&self) -> &'static str;

    /// The backend-specific level in use, if the backend has levels (shown in specs as
    /// `zstd:19`). A getter with its own name: `level` is each backend's setter
    /// (`Zstd.level(19)`) and the codec's (`Codec::level(Level::Best)`).
    fn level_in_use(&self) -> Option<i32> {
        None
    }

    /// True if the compressed stream carries its own checksum (zstd, gzip, zlib), so a
    /// corrupted value is caught without satchel's optional CRC-32C.
    fn self_checked(&self) -> bool {
        false
    }

    /// Compresses `input`, appending to `out`.
    ///
    /// # Errors
    /// [`ErrorKind::Compress`] if the backend fails (input too large for its format, …).
    fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error>;

    /// Decompresses `input`, appending at most `limit` bytes to `out`.
    ///
    /// # Errors
    /// [`ErrorKind::Decompress`] for corrupt or truncated input,
    /// [`ErrorKind::LimitExceeded`] if the output would exceed `limit`.
    fn decompress(&self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Error>;
}

impl<C: Compression + ?Sized> Compression for &C {
    fn id(&self) -> CompressionId {
        (**self).id()
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn level_in_use(&self) -> Option<i32> {
        (**self).level_in_use()
    }
    fn self_checked(&self) -> bool {
        (**self).self_checked()
    }
    fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        (**self).compress(input, out)
    }
    fn decompress(&self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
        (**self).decompress(input, out, limit)
    }
}

impl<C: Compression + ?Sized> Compression for Box<C> {
    fn id(&self) -> CompressionId {
        (**self).id()
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn level_in_use(&self) -> Option<i32> {
        (**self).level_in_use()
    }
    fn self_checked(&self) -> bool {
        (**self).self_checked()
    }
    fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        (**self).compress(input, out)
    }
    fn decompress(&self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
        (**self).decompress(input, out, limit)
    }
}

/// Compressions whose level can be set from a portable [`Level`].
pub trait WithLevel: Sized {
    /// This compression at `level`.
    #[must_use]
    fn with_level(self, level: Level) -> Self;
}

/// No compression: the payload is stored as the format wrote it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Identity;

impl Compression for Identity {
    fn id(&self) -> CompressionId {
        CompressionId::NONE
    }
    fn name(&self) -> &'static str {
        "none"
    }
    fn compress(&self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        out.extend_from_slice(input);
        Ok(())
    }
    fn decompress(&self, input: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
        check_len(input.len(), limit, "stored")?;
        out.extend_from_slice(input);
        Ok(())
    }
}

impl WithLevel for Identity {
    fn with_level(self, _: Level) -> Self {
        self
    }
}

/// The error for output that would exceed the decoded-size limit.
pub fn limit_error(what: &str, len: u64, limit: usize) -> Error {
    Error::new(
        ErrorKind::LimitExceeded,
        format!(
            "{what} value would decode to {len} bytes, over the limit of {limit} bytes \
             (raise max_decoded_len if the value is legitimate)"
        ),
    )
}

/// Checks a size against the decoded-size limit.
///
/// # Errors
/// [`ErrorKind::LimitExceeded`] if `len > limit`.
pub fn check_len(len: usize, limit: usize, what: &str) -> Result<(), Error> {
    if len > limit {
        Err(limit_error(what, len as u64, limit))
    } else {
        Ok(())
    }
}

/// Reads a decompressing `reader` to its end, appending to `out`, without ever producing
/// or reserving more than `limit` bytes (plus one, to detect the overflow).
///
/// `hint` (a size the stream declares, if any) sizes the first reservation, capped at the
/// limit, so honest streams decode into one exact allocation. Further growth doubles but
/// stops at the limit (capacity never exceeds it; a one-byte probe detects overflow), and
/// is planned so that a stream that lies costs at most 1.5 × the limit at the moment of
/// the last copy.
///
/// # Errors
/// [`ErrorKind::LimitExceeded`] past the limit (`out` is restored), and
/// [`ErrorKind::Decompress`] for a read error (the backend's error kept as the source).
pub fn read_bounded<R: std::io::Read>(
    mut reader: R,
    out: &mut Vec<u8>,
    limit: usize,
    hint: usize,
    what: &str,
) -> Result<(), Error> {
    const MIN_STEP: usize = 16 * 1024;
    let start = out.len();
    let corrupt = |e: std::io::Error| {
        Error::new(
            ErrorKind::Decompress,
            format!("{what} data is corrupt or truncated (stream or checksum check failed)"),
        )
        .with_source(e)
    };
    const CHUNK: usize = 256 * 1024;
    // Capacity (beyond `start`) is kept either at most half the limit or exactly the
    // limit, so the one reallocation that can copy a large buffer goes from at most
    // limit / 2 to limit: 1.5 × the limit at worst, however the stream lies.
    let half = limit / 2;
    out.reserve_exact(if hint > half {
        limit
    } else {
        hint.max(MIN_STEP).min(limit)
    });
    loop {
        let produced = out.len() - start;
        if produced == limit {
            // Full: one more byte means over the limit. Probe without growing the buffer.
            let mut probe = [0u8; 1];
            loop {
                match reader.read(&mut probe) {
                    Ok(0) => return Ok(()),
                    Ok(_) => {
                        out.truncate(start);
                        return Err(limit_error(what, limit as u64 + 1, limit));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        out.truncate(start);
                        return Err(corrupt(e));
                    }
                }
            }
        }
        if out.len() == out.capacity() {
            let target = if produced >= half {
                limit
            } else {
                (produced * 2).max(MIN_STEP).min(half).max(produced + 1)
            };
            out.reserve_exact(target - produced);
        }
        // Zero (and so touch) only the next chunk, not the whole reservation.
        let filled = out.len();
        out.resize(out.capacity().min(start + limit).min(filled + CHUNK), 0);
        match reader.read(&mut out[filled..]) {
            Ok(0) => {
                out.truncate(filled);
                return Ok(());
            }
            Ok(n) => out.truncate(filled + n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => out.truncate(filled),
            Err(e) => {
                out.truncate(start);
                return Err(corrupt(e));
            }
        }
    }
}
