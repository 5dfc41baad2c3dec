//! Run-time pipelines: [`AnyFormat`], [`AnyCompression`], [`AnyFraming`], [`DynCodec`],
//! and reading whatever wrote a value: [`decode_any`], [`decode_any_in`], [`AnyHeader`].

use std::fmt;
use std::str::FromStr;

use serde::de::DeserializeOwned;

use satchel_core::{
    COMPRESSIONS, Compression, CompressionId, Error, ErrorKind, FORMATS, Format, FormatId, Framing,
    Headered, Identity, Level, Limits, MAGIC, Pipeline, ReadAny, WithLevel, sniff,
};

use crate::Codec;

mod compression;
mod dict;
mod dyn_codec;
mod format;
mod framing;
mod read;

pub use compression::AnyCompression;
pub use dict::dict_id;
pub use dyn_codec::DynCodec;
pub use format::{AnyFormat, COMPRESSION_NAMES, FORMAT_NAMES, KVDB_FORMAT_NAMES};
pub use framing::AnyFraming;
pub use read::{AnyHeader, decode_any, decode_any_in, decode_any_with};

use format::not_compiled;
use framing::Inner;
#[cfg(feature = "seal")]
use framing::Keys;
/// What `parse_spec` takes for `+seal`: the ring, or nothing when `seal` is off.
#[cfg(feature = "seal")]
type SpecKeys = Keys;
#[cfg(not(feature = "seal"))]
type SpecKeys = ();
