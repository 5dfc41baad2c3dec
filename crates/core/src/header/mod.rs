//! The self-describing header in front of every encoded value.
//!
//! ```text
//! compact (2 bytes):   C1  FC                    F = format id (1..=14), C = compression id (0..=14)
//! extended (5+ bytes): C1  FF  format  compression  flags  [crc32c LE, 4 bytes, if flags & CHECKSUM]
//!                      [key id u32 LE, nonce 12 bytes, if flags & SEALED]
//! ```
//!
//! `0xC1` is never the first byte of UTF-8 text (it is an overlong-encoding lead byte) and is
//! the one byte MessagePack leaves unused, so headered bytes are never mistaken for plain JSON,
//! plain text or raw MessagePack. The extended form is written only when it is needed: a flag
//! is set, or an id does not fit in four bits.

use std::fmt;

use crate::{Error, ErrorKind, SealInfo};

mod ids;

pub use ids::{COMPRESSIONS, CompressionId, FORMATS, FormatId};

/// The first byte of every satchel value.
pub const MAGIC: u8 = 0xC1;

/// The second byte that announces an extended header.
const EXTENDED: u8 = 0xFF;

/// The most bytes a header can take (extended form of a sealed value: 5 + key id + nonce).
pub const MAX_HEADER_LEN: usize = 21;

/// Flag bits of the extended header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Flags(u8);

impl Flags {
    /// No flags: the compact header is used.
    pub const EMPTY: Self = Self(0);
    /// A CRC-32C of the payload follows the flags byte, little-endian.
    pub const CHECKSUM: Self = Self(1);
    /// The payload is sealed (authenticated encryption, `satchel-seal`): the key's id
    /// (u32 little-endian) and the 12-byte nonce follow the flags byte, and the payload
    /// ends with a 16-byte tag. Never set together with [`Flags::CHECKSUM`]: the tag
    /// already checks every byte.
    pub const SEALED: Self = Self(2);
    /// Every flag this version understands; others are refused as "written by a newer satchel".
    pub const KNOWN: Self = Self(3);

    /// The raw bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// Builds flags from raw bits, `None` if a bit is unknown to this version.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        if bits & !Self::KNOWN.0 == 0 {
            Some(Self(bits))
        } else {
            None
        }
    }

    /// True if every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The union of both sets of flags.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// The pipeline that wrote a value: format and compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pipeline {
    /// The serialization format.
    pub format: FormatId,
    /// The compression ([`CompressionId::NONE`] if stored as is).
    pub compression: CompressionId,
}

impl fmt::Display for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.compression == CompressionId::NONE {
            write!(f, "{}", self.format)
        } else {
            write!(f, "{}+{}", self.format, self.compression)
        }
    }
}

/// A parsed header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Header {
    /// Format and compression of the payload.
    pub pipeline: Pipeline,
    /// Flags of the extended header ([`Flags::EMPTY`] for the compact one).
    pub flags: Flags,
    /// CRC-32C of the payload, present when [`Flags::CHECKSUM`] is set.
    pub checksum: Option<u32>,
    /// Key id and nonce of a sealed payload, present when [`Flags::SEALED`] is set.
    pub seal: Option<SealInfo>,
}

impl Header {
    /// A header for `format` + `compression` without flags.
    pub const fn new(format: FormatId, compression: CompressionId) -> Self {
        Self {
            pipeline: Pipeline {
                format,
                compression,
            },
            flags: Flags::EMPTY,
            checksum: None,
            seal: None,
        }
    }

    /// The format id.
    pub const fn format(&self) -> FormatId {
        self.pipeline.format
    }

    /// The compression id.
    pub const fn compression(&self) -> CompressionId {
        self.pipeline.compression
    }

    fn is_compact(&self) -> bool {
        self.flags.bits() == 0
            && (1..=14).contains(&self.pipeline.format.0)
            && self.pipeline.compression.0 <= 14
    }

    /// How many bytes [`Header::write`] produces for this header.
    pub fn encoded_len(&self) -> usize {
        if self.is_compact() {
            2
        } else {
            extended_len(self.flags)
        }
    }

    /// Appends the header to `out`. With [`Flags::CHECKSUM`] the checksum field is written
    /// from `self.checksum` (zero if `None`; patch it with [`Header::patch_checksum`]).
    pub fn write(&self, out: &mut Vec<u8>) {
        let Pipeline {
            format,
            compression,
        } = self.pipeline;
        if self.is_compact() {
            out.extend_from_slice(&[MAGIC, (format.0 << 4) | compression.0]);
        } else {
            out.extend_from_slice(&[MAGIC, EXTENDED, format.0, compression.0, self.flags.0]);
            if self.flags.contains(Flags::CHECKSUM) {
                out.extend_from_slice(&self.checksum.unwrap_or(0).to_le_bytes());
            }
            if self.flags.contains(Flags::SEALED) {
                let seal = self.seal.unwrap_or_default();
                out.extend_from_slice(&seal.key_id.to_le_bytes());
                out.extend_from_slice(&seal.nonce);
            }
        }
    }

    /// Fills in the checksum of a header with [`Flags::CHECKSUM`] written at `start` of
    /// `out`, computed over everything after the header.
    pub fn patch_checksum(out: &mut [u8], start: usize) {
        let payload_at = start + 9;
        let crc = crc32c::crc32c(&out[payload_at..]);
        out[start + 5..payload_at].copy_from_slice(&crc.to_le_bytes());
    }

    /// Parses the header at the start of `bytes`, returning it and the payload after it.
    ///
    /// # Errors
    /// [`ErrorKind::Header`] if the magic byte is missing, the header is truncated, an id is
    /// reserved (format 0 or 0xFF, compression 0xFF), or a flag is unknown to this version.
    pub fn parse(bytes: &[u8]) -> Result<(Self, &[u8]), Error> {
        let Some((&first, rest)) = bytes.split_first() else {
            return Err(Error::new(
                ErrorKind::Header,
                "empty input: no satchel header (expected 0xC1 as the first byte)",
            ));
        };
        if first != MAGIC {
            return Err(Error::new(
                ErrorKind::Header,
                format!(
                    "no satchel header: first byte is {first:#04x}, expected 0xC1 \
                     (if these are plain bytes from another program, use accept_unheadered)"
                ),
            ));
        }
        let Some((&ids, rest)) = rest.split_first() else {
            return Err(truncated(bytes.len()));
        };
        let header = if ids != EXTENDED {
            Self::new(FormatId(ids >> 4), CompressionId(ids & 0x0F))
        } else {
            let [format, compression, flags, ref rest @ ..] = *rest else {
                return Err(truncated(bytes.len()));
            };
            let flags = Flags::from_bits(flags).ok_or_else(|| {
                Error::new(
                    ErrorKind::Header,
                    format!(
                        "header has unknown flags {flags:#04x}: written by a newer satchel? \
                         upgrade to read it"
                    ),
                )
            })?;
            if flags.contains(Flags::SEALED.union(Flags::CHECKSUM)) {
                return Err(Error::new(
                    ErrorKind::Header,
                    "header says both sealed and checksummed, which satchel never writes: \
                     the bytes are corrupt",
                ));
            }
            let checksum = if flags.contains(Flags::CHECKSUM) {
                let [a, b, c, d, ..] = *rest else {
                    return Err(truncated(bytes.len()));
                };
                Some(u32::from_le_bytes([a, b, c, d]))
            } else {
                None
            };
            let seal = if flags.contains(Flags::SEALED) {
                let Some((id, nonce)) = rest.split_first_chunk::<4>() else {
                    return Err(truncated(bytes.len()));
                };
                let Some((nonce, _)) = nonce.split_first_chunk::<12>() else {
                    return Err(truncated(bytes.len()));
                };
                Some(SealInfo {
                    key_id: u32::from_le_bytes(*id),
                    nonce: *nonce,
                })
            } else {
                None
            };
            let mut h = Self::new(FormatId(format), CompressionId(compression));
            h.flags = flags;
            h.checksum = checksum;
            h.seal = seal;
            h
        };
        let format = header.pipeline.format.0;
        if format == 0 || format == 0xFF || (ids != EXTENDED && format == 0x0F) {
            return Err(Error::new(
                ErrorKind::Header,
                format!("header names reserved format id {format:#x}: the bytes are corrupt"),
            ));
        }
        if header.pipeline.compression.0 == 0xFF || (ids != EXTENDED && ids & 0x0F == 0x0F) {
            return Err(Error::new(
                ErrorKind::Header,
                "header names reserved compression id 0xF: the bytes are corrupt",
            ));
        }
        let len = if ids == EXTENDED {
            extended_len(header.flags)
        } else {
            2
        };
        Ok((header, &bytes[len..]))
    }

    /// Checks the payload against the header's checksum, if it has one.
    ///
    /// # Errors
    /// [`ErrorKind::Checksum`] if the payload does not match.
    pub fn verify(&self, payload: &[u8]) -> Result<(), Error> {
        match self.checksum {
            Some(expected) => {
                let actual = crc32c::crc32c(payload);
                if actual == expected {
                    Ok(())
                } else {
                    Err(Error::new(
                        ErrorKind::Checksum,
                        format!(
                            "checksum mismatch ({} value: stored crc32c {expected:#010x}, \
                             computed {actual:#010x}): the bytes were corrupted in storage \
                             or transit",
                            self.pipeline
                        ),
                    ))
                }
            }
            None => Ok(()),
        }
    }
}

/// The length of an extended header with `flags`.
fn extended_len(flags: Flags) -> usize {
    let mut len = 5;
    if flags.contains(Flags::CHECKSUM) {
        len += 4;
    }
    if flags.contains(Flags::SEALED) {
        len += 16;
    }
    len
}

fn truncated(len: usize) -> Error {
    Error::new(
        ErrorKind::Header,
        format!("satchel header is truncated ({len} bytes in all)"),
    )
}

/// Reads the header of `bytes` without decoding the payload.
///
/// # Errors
/// As [`Header::parse`].
pub fn sniff(bytes: &[u8]) -> Result<Header, Error> {
    Header::parse(bytes).map(|(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_header_is_two_bytes() {
        let h = Header::new(FormatId::MSGPACK, CompressionId::ZSTD);
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out, [0xC1, 0x21]);
        out.extend_from_slice(b"payload");
        let (parsed, payload) = Header::parse(&out).unwrap();
        assert_eq!(parsed, h);
        assert_eq!(payload, b"payload");
    }

    #[test]
    fn extended_header_carries_checksum() {
        let mut h = Header::new(FormatId::JSON, CompressionId::LZ4);
        h.flags = Flags::CHECKSUM;
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out.len(), h.encoded_len());
        out.extend_from_slice(b"{\"a\":1}");
        Header::patch_checksum(&mut out, 0);
        let (parsed, payload) = Header::parse(&out).unwrap();
        assert_eq!(parsed.checksum, Some(crc32c::crc32c(payload)));
        parsed.verify(payload).unwrap();
        let mut bad = out.clone();
        *bad.last_mut().unwrap() ^= 1;
        let (parsed, payload) = Header::parse(&bad).unwrap();
        assert_eq!(
            parsed.verify(payload).unwrap_err().kind(),
            ErrorKind::Checksum
        );
    }

    /// Found by the `header` fuzz target: an extended header that did not need to be
    /// extended (no flags, small ids) parses, and is written back in the compact form
    /// with the same meaning.
    #[test]
    fn regression_fuzz_header_needless_extended_form() {
        let data = [193, 255, 1, 0, 0, 0, 12, 65, 248, 123, 34, 110];
        let (h, payload) = Header::parse(&data).unwrap();
        assert_eq!(h, Header::new(FormatId::JSON, CompressionId::NONE));
        assert_eq!(payload, &data[5..]);
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out, [0xC1, 0x10]);
        assert_eq!(Header::parse(&out).unwrap().0, h);
    }

    #[test]
    fn sealed_header_carries_key_id_and_nonce() {
        let mut h = Header::new(FormatId::JSON, CompressionId::ZSTD);
        h.flags = Flags::SEALED;
        h.seal = Some(SealInfo {
            key_id: 0x0102_0304,
            nonce: [9; 12],
        });
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out.len(), MAX_HEADER_LEN);
        assert_eq!(h.encoded_len(), MAX_HEADER_LEN);
        assert_eq!(out[..9], [0xC1, 0xFF, 1, 1, 2, 4, 3, 2, 1]);
        out.extend_from_slice(b"sealed");
        let (parsed, payload) = Header::parse(&out).unwrap();
        assert_eq!(parsed, h);
        assert_eq!(payload, b"sealed");
    }

    #[test]
    fn large_ids_use_extended_form() {
        let h = Header::new(FormatId::new(200), CompressionId::new(20));
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out, [0xC1, 0xFF, 200, 20, 0]);
        assert_eq!(Header::parse(&out).unwrap().0, h);
    }

    #[test]
    fn bad_headers_are_typed_errors() {
        for bad in [
            &[][..],
            b"{\"a\":1}",
            &[0xC1],
            &[0xC1, 0x01],
            &[0xC1, 0x1F],
            &[0xC1, 0xFF, 1, 0],
            &[0xC1, 0xFF, 1, 0, 0x80],
            &[0xC1, 0xFF, 1, 1, 2, 7, 0, 0, 0, 1, 2, 3],
            &[
                0xC1, 0xFF, 1, 1, 3, 7, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 0, 0, 0,
            ],
            &[0xC1, 0xFF, 1, 0, 1, 0, 0],
            &[0xC1, 0xFF, 0, 0, 0],
            &[0xC1, 0xF1],
        ] {
            let err = sniff(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Header, "{bad:?}: {err}");
        }
    }

    #[test]
    fn names_survive_without_features() {
        assert_eq!(
            Pipeline {
                format: FormatId::MSGPACK,
                compression: CompressionId::ZSTD
            }
            .to_string(),
            "msgpack+zstd"
        );
        assert_eq!(FormatId::new(9).to_string(), "format#9");
    }
}
