//! [`Framing`]: what goes around a format's output, and [`Headered`], satchel's own header.
//!
//! A codec is a format, a compression and a framing. The framing decides how the
//! serialized (and possibly compressed) bytes are marked so a reader knows how to read
//! them: satchel's [`Header`] ([`Headered`], the default), or the marks other programs put
//! on their values (kvdb-py's `_kvdbenc_` prefix in `satchel-kvdb`, the Coherence clients'
//! `0x15` byte in `satchel-coherence`). The generic encode and decode paths only call the
//! framing; nothing in them knows which interop crates are compiled in.
//!
//! [`ReadAny`] is the other half: a framing that can read a value without being told in
//! advance which pipeline wrote it, so `decode_any` takes the set of framings it should
//! recognise instead of sniffing every interop marker always.

use std::fmt::Debug;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{
    Compression, CompressionId, Error, ErrorKind, Flags, Format, FormatId, Header, Limits, MAGIC,
    Pipeline, check_len,
};

/// A format that has an id in the satchel header: every format [`Headered`] can frame.
///
/// Formats that only exist inside another program's framing (kvdb-py's serializers) are
/// [`Format`]s without it, so they cannot be put behind a satchel header by mistake.
pub trait HeaderFormat: Format {
    /// The id written in the header.
    fn id(&self) -> FormatId;
}

/// How a codec marks the bytes it writes, and reads them back.
///
/// `F` is the format and `C` the compression of the codec using it; a framing implements
/// this for the formats and compressions it can frame, so a codec that pairs it with
/// anything else does not compile. Settings that only one framing can honour (satchel's
/// [`Headered::checksum`], …) live on that framing's type, for the same reason.
pub trait Framing<F, C>: Debug + Send + Sync {
    /// Serializes `value` with `format`, compresses it with `compression` as this framing
    /// does, and appends the framed bytes to `out`. On error `out` is left as it was.
    ///
    /// # Errors
    /// [`ErrorKind::Encode`] from the format, [`ErrorKind::Compress`] from the
    /// compression, [`ErrorKind::Unsupported`] for a compression this framing cannot carry.
    fn encode_into<T: Serialize + ?Sized>(
        &self,
        format: &F,
        compression: &C,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error>;

    /// Reads a value this framing wrote with `format` and `compression`, within `limits`.
    ///
    /// # Errors
    /// [`ErrorKind::Header`] when the bytes are not framed this way, and whatever the
    /// compression and the format report.
    fn decode<T: DeserializeOwned>(
        &self,
        format: &F,
        compression: &C,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<T, Error>;

    /// Whether this framing binds the values it writes to the store key they are kept
    /// under ([`Framing::encode_keyed_into`]): true for a sealed framing, whose store key
    /// is part of what the seal authenticates. Callers skip working out the key when false.
    fn binds_key(&self) -> bool {
        false
    }

    /// [`Framing::encode_into`] for a value kept under store key `key`. The default
    /// ignores the key; a sealed framing authenticates it, so the value only opens under
    /// the same key.
    ///
    /// # Errors
    /// As [`Framing::encode_into`].
    fn encode_keyed_into<T: Serialize + ?Sized>(
        &self,
        format: &F,
        compression: &C,
        value: &T,
        key: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let _ = key;
        self.encode_into(format, compression, value, out)
    }

    /// [`Framing::decode`] for a value read from store key `key`. The default ignores the
    /// key.
    ///
    /// # Errors
    /// As [`Framing::decode`].
    fn decode_keyed<T: DeserializeOwned>(
        &self,
        format: &F,
        compression: &C,
        bytes: &[u8],
        key: &str,
        limits: &Limits,
    ) -> Result<T, Error> {
        let _ = key;
        self.decode(format, compression, bytes, limits)
    }
}

/// A framing that recognises its own values and reads them whatever pipeline wrote them.
///
/// A tuple of these tries each in turn: `decode_any_in(bytes, limits, (AnyHeader,
/// KvdbAny::new(&CLASSES)))` reads satchel values and kvdb-py values, and nothing else.
pub trait ReadAny {
    /// What this framing reads, for messages (`satchel header`, `kvdb-py`, …).
    fn describe(&self) -> String;

    /// True if `bytes` carry this framing's mark.
    fn recognises(&self, bytes: &[u8]) -> bool;

    /// Decodes bytes this framing [recognises](ReadAny::recognises), following what they
    /// say about the pipeline that wrote them.
    ///
    /// # Errors
    /// As the framing's own decode; [`ErrorKind::Unsupported`] when the pipeline named is
    /// not compiled in.
    fn decode_any<T: DeserializeOwned>(&self, bytes: &[u8], limits: &Limits) -> Result<T, Error>;
}

impl<R: ReadAny + ?Sized> ReadAny for &R {
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn recognises(&self, bytes: &[u8]) -> bool {
        (**self).recognises(bytes)
    }
    fn decode_any<T: DeserializeOwned>(&self, bytes: &[u8], limits: &Limits) -> Result<T, Error> {
        (**self).decode_any(bytes, limits)
    }
}

macro_rules! read_any_tuple {
    ($($name:ident)+) => {
        impl<$($name: ReadAny),+> ReadAny for ($($name,)+) {
            fn describe(&self) -> String {
                #[allow(non_snake_case)]
                let ($($name,)+) = self;
                [$($name.describe()),+].join(", ")
            }
            fn recognises(&self, bytes: &[u8]) -> bool {
                #[allow(non_snake_case)]
                let ($($name,)+) = self;
                false $(|| $name.recognises(bytes))+
            }
            fn decode_any<T: DeserializeOwned>(&self, bytes: &[u8], limits: &Limits) -> Result<T, Error> {
                #[allow(non_snake_case)]
                let ($($name,)+) = self;
                $(if $name.recognises(bytes) {
                    return $name.decode_any(bytes, limits);
                })+
                Err(unrecognised(bytes, &self.describe()))
            }
        }
    };
}

read_any_tuple!(A B);
read_any_tuple!(A B C);
read_any_tuple!(A B C D);

/// The error for bytes that none of the framings `what` recognises.
pub fn unrecognised(bytes: &[u8], what: &str) -> Error {
    let first = match bytes.first() {
        Some(b) => format!("first byte {b:#04x}"),
        None => "empty input".to_string(),
    };
    Error::new(
        ErrorKind::Header,
        format!("not a value any of these framings recognises ({what}): {first}"),
    )
}

/// satchel's own framing: the [`Header`] naming format and compression, then the payload.
///
/// The default framing of every codec. Its settings exist only here, so a codec with
/// another framing cannot be asked for them:
///
/// - [`compress_above`](Headered::compress_above): values whose serialized form is smaller
///   are stored uncompressed (the header says so);
/// - [`checksum`](Headered::checksum): a CRC-32C of the payload where the compression
///   does not check itself;
/// - [`accept_unheadered`](Headered::accept_unheadered): bytes with no header are read as
///   the codec's format, uncompressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Headered {
    /// Values whose serialized form is smaller than this many bytes are stored
    /// uncompressed.
    pub compress_above: usize,
    /// Whether values whose compression does not check itself carry a CRC-32C.
    pub checksum: bool,
    /// Whether bytes with no header are read as the codec's format.
    pub accept_unheadered: bool,
}

/// Buffers kept per thread between calls, so steady-state encoding and decoding of
/// compressed values allocates only the result.
pub(crate) mod scratch {
    use std::cell::Cell;

    /// Larger buffers are dropped after use rather than kept alive by an idle thread.
    const RETAIN: usize = 4 << 20;

    thread_local! {
        pub(crate) static ENCODE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
        pub(crate) static DECODE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
        pub(crate) static OPEN: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
    }

    /// Runs `f` with the thread's buffer taken out of `slot` (so a nested call simply
    /// gets a fresh one), then puts it back, cleared.
    pub(crate) fn with<R>(
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

impl Headered {
    /// The plain header: no threshold, no checksum, headered bytes only.
    pub const fn new() -> Self {
        Self {
            compress_above: 0,
            checksum: false,
            accept_unheadered: false,
        }
    }

    /// Sets [`Headered::compress_above`].
    #[must_use]
    pub const fn compress_above(mut self, bytes: usize) -> Self {
        self.compress_above = bytes;
        self
    }

    /// Turns on [`Headered::checksum`].
    #[must_use]
    pub const fn checksum(mut self) -> Self {
        self.checksum = true;
        self
    }

    /// Turns on [`Headered::accept_unheadered`].
    #[must_use]
    pub const fn accept_unheadered(mut self) -> Self {
        self.accept_unheadered = true;
        self
    }

    pub(crate) fn header(
        &self,
        format: FormatId,
        compression: CompressionId,
        self_checked: bool,
    ) -> Header {
        let mut header = Header::new(format, compression);
        if self.checksum && !self_checked {
            header.flags = Flags::CHECKSUM;
        }
        header
    }

    /// [`Framing::encode_into`] for a format whose header id is `id`: what run-time
    /// dispatch (`satchel::DynCodec`) calls once it knows the id.
    ///
    /// # Errors
    /// As [`Framing::encode_into`].
    pub fn encode_with<F, C, T>(
        &self,
        id: FormatId,
        format: &F,
        compression: &C,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error>
    where
        F: Format + ?Sized,
        C: Compression + ?Sized,
        T: Serialize + ?Sized,
    {
        let start = out.len();
        let result = self.encode_unchecked(id, format, compression, value, out, start);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    #[inline]
    fn encode_unchecked<F, C, T>(
        &self,
        id: FormatId,
        format: &F,
        compression: &C,
        value: &T,
        out: &mut Vec<u8>,
        start: usize,
    ) -> Result<(), Error>
    where
        F: Format + ?Sized,
        C: Compression + ?Sized,
        T: Serialize + ?Sized,
    {
        let header = if compression.id() == CompressionId::NONE {
            let header = self.header(id, CompressionId::NONE, false);
            header.write(out);
            format.serialize_into(value, out)?;
            header
        } else {
            scratch::with(&scratch::ENCODE, |raw| {
                format.serialize_into(value, raw)?;
                let header = if raw.len() < self.compress_above {
                    let header = self.header(id, CompressionId::NONE, false);
                    header.write(out);
                    out.extend_from_slice(raw);
                    header
                } else {
                    let header = self.header(id, compression.id(), compression.self_checked());
                    header.write(out);
                    compression.compress(raw, out)?;
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

    /// [`Framing::decode`] for a format whose header id is `id`.
    ///
    /// # Errors
    /// - [`ErrorKind::Header`]: no valid header (see [`Headered::accept_unheadered`]);
    /// - [`ErrorKind::Mismatch`]: written by another pipeline, named in the message;
    /// - [`ErrorKind::Checksum`], [`ErrorKind::Decompress`]: the bytes are corrupt;
    /// - [`ErrorKind::LimitExceeded`]: over a limit;
    /// - [`ErrorKind::Decode`]: the payload is not a `T`.
    pub fn decode_with<F, C, T>(
        &self,
        id: FormatId,
        format: &F,
        compression: &C,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<T, Error>
    where
        F: Format + ?Sized,
        C: Compression + ?Sized,
        T: DeserializeOwned,
    {
        let (header, payload) = match Header::parse(bytes) {
            Ok(parsed) => parsed,
            Err(_) if self.accept_unheadered && bytes.first() != Some(&MAGIC) => {
                check_len(bytes.len(), limits.max_decoded_len, "unheadered")?;
                return format.deserialize(bytes, limits);
            }
            Err(e) => return Err(e),
        };
        check_pipeline(&header, id, compression.id())?;
        if let Some(seal) = header.seal {
            return Err(Error::new(
                ErrorKind::Mismatch,
                format!(
                    "value is sealed (key id {}), and this codec does not open sealed \
                     values: read it with a sealed codec (`{}+seal`) holding its key ring",
                    seal.key_id, header.pipeline
                ),
            ));
        }
        header.verify(payload)?;
        decode_payload(format, compression, &header, payload, limits)
    }
}

/// Refuses a value whose header names another pipeline than `id` + `compression` (or the
/// same format stored uncompressed).
pub(crate) fn check_pipeline(
    header: &Header,
    id: FormatId,
    compression: CompressionId,
) -> Result<(), Error> {
    let written = header.pipeline;
    if written.format != id
        || (written.compression != CompressionId::NONE && written.compression != compression)
    {
        let reads = Pipeline {
            format: id,
            compression,
        };
        return Err(Error::new(
            ErrorKind::Mismatch,
            format!(
                "value was written as {written}, but this codec reads {reads}: \
                 decode it with decode_any or convert the stored data"
            ),
        ));
    }
    Ok(())
}

/// Decompresses (if the header says so) and deserializes a checked payload.
#[inline]
pub(crate) fn decode_payload<F, C, T>(
    format: &F,
    compression: &C,
    header: &Header,
    payload: &[u8],
    limits: &Limits,
) -> Result<T, Error>
where
    F: Format + ?Sized,
    C: Compression + ?Sized,
    T: DeserializeOwned,
{
    if header.pipeline.compression == CompressionId::NONE {
        check_len(payload.len(), limits.max_decoded_len, "stored")?;
        format.deserialize(payload, limits)
    } else {
        scratch::with(&scratch::DECODE, |raw| {
            compression.decompress(payload, raw, limits.max_decoded_len)?;
            format.deserialize_mut(raw, limits)
        })
    }
}

impl<F: HeaderFormat, C: Compression> Framing<F, C> for Headered {
    #[inline]
    fn encode_into<T: Serialize + ?Sized>(
        &self,
        format: &F,
        compression: &C,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.encode_with(format.id(), format, compression, value, out)
    }

    #[inline]
    fn decode<T: DeserializeOwned>(
        &self,
        format: &F,
        compression: &C,
        bytes: &[u8],
        limits: &Limits,
    ) -> Result<T, Error> {
        self.decode_with(format.id(), format, compression, bytes, limits)
    }
}
