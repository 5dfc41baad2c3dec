//! Core of [satchel](https://docs.rs/satchel): the pieces every codec backend shares.
//!
//! A [`Format`] turns values into bytes (serde's data model on one side, bytes on the other),
//! a [`Compression`] turns bytes into fewer bytes, and a [`Header`] of two bytes in front of
//! every value names both, so a value always says how to read it. [`Limits`] bound what
//! decoding untrusted bytes may cost, and [`Error`] is the one error type of this layer.
//!
//! Most users want the `satchel` facade, which composes these into `Codec::json().compress(Zstd)`;
//! this crate is for writing a backend of your own.

mod compression;
pub mod depth;
mod error;
mod format;
mod framing;
mod header;
mod limits;
mod seal;
mod tagged;

pub use compression::{
    Compression, Identity, Level, WithLevel, check_len, limit_error, read_bounded,
};
pub use error::{Error, ErrorKind, Report};
pub use format::Format;
pub use framing::{Framing, HeaderFormat, Headered, ReadAny, unrecognised};
pub use header::{
    COMPRESSIONS, CompressionId, FORMATS, Flags, FormatId, Header, MAGIC, MAX_HEADER_LEN, Pipeline,
    sniff,
};
pub use limits::Limits;
pub use seal::{SEAL_NONCE_LEN, SEAL_TAG_LEN, Seal, SealInfo, Sealed};
pub use tagged::{Tag, Tagged};
