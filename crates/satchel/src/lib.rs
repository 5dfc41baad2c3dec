//! Typed values to compact, self-describing bytes.
//!
//! A [`Format`] turns values into bytes, a [`Compression`] turns bytes into fewer bytes,
//! and a [`Codec`] is one format plus an optional compression behind a [`Framing`]: by
//! default the two-byte [`Header`] that names both ([`Headered`]), so changing the codec
//! never strands old data: [`decode_any`] follows whatever header it finds. Other
//! programs' framings (kvdb-py's, the Coherence clients') are framings too, in their own
//! crates, read alongside satchel's with [`decode_any_in`].
//!
//! ```
//! # #[cfg(all(feature = "json", feature = "zstd"))] {
//! use satchel::{Codec, Zstd, decode_any};
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Cart { user: String, items: Vec<u32> }
//!
//! let codec = Codec::json().compress(Zstd);
//! let cart = Cart { user: "ann".into(), items: vec![7, 9] };
//! let bytes = codec.encode(&cart)?;
//! assert_eq!(codec.decode::<Cart>(&bytes)?, cart);
//! assert_eq!(decode_any::<Cart>(&bytes)?, cart);
//! assert_eq!(satchel::sniff(&bytes)?.pipeline.to_string(), "json+zstd");
//! # }
//! # Ok::<(), satchel::Error>(())
//! ```
//!
//! # Backends and features
//!
//! Each backend is its own crate, compiled in by a cargo feature of this facade:
//!
//! | feature | gives | crate |
//! | --- | --- | --- |
//! | `json` (default) | [`Json`], [`Codec::json`] | `satchel-json` (serde_json) |
//! | `simd-json` | simd-json decoding of large JSON documents | `satchel-json` |
//! | `msgpack` | `MsgPack`, `Codec::msgpack` | `satchel-msgpack` (rmp-serde) |
//! | `bincode` | `Bincode`, `Codec::bincode` | `satchel-bincode` (bincode 2) |
//! | `zstd` | `Zstd`, `ZstdDict` (trained dictionaries) | `satchel-zstd` |
//! | `train` | `train`: dictionaries from sample values (zstd's trainer) | `satchel-zstd` |
//! | `lz4` | `Lz4` | `satchel-lz4` (lz4_flex) |
//! | `gzip`, `zlib` | `Gzip`, `Zlib` | `satchel-flate` (flate2) |
//! | `kvdb` | `Codec::kvdb_json`, `Codec::kvdb_msgpack`, `kvdb::KvdbAny`: the values kvdb-py keeps in Redis | `satchel-kvdb` |
//! | `coherence` | `Codec::coherence`, `coherence::CoherenceFrame`: the values Coherence clients keep | `satchel-coherence` |
//! | `seal` | `seal::KeyRing`, `Codec::seal`, `+seal` specs: values sealed after compression, bound to their store key | `satchel-seal` (ring) |
//! | `typetag` | re-exports `typetag`, for `Box<dyn Trait>` values | |
//! | `full` | all of the above | |
//!
//! Header ids exist whatever the features, so a build without `zstd` reading a zstd value
//! says "enable cargo feature `zstd`" instead of failing obscurely.
//!
//! # Untrusted bytes
//!
//! Decoding never panics on bad input and is bounded by [`Limits`]: decompression stops at
//! `max_decoded_len` (64 MiB by default) and checks declared sizes before allocating;
//! nesting is limited to `max_depth` (128). Nothing is ever constructed that the caller did
//! not name as the target type. Corruption is caught by zstd's, gzip's and zlib's own
//! checksums, and by [`Codec::checksum`] (CRC-32C) for uncompressed and lz4 values.
//!
//! # Type tags
//!
//! [`Tagged`] wraps a value with a tag its type declares ([`Tag`]), so reading a `User` as
//! an `Order` fails naming both. Trait objects (`Box<dyn Trait>`) work through `typetag` in
//! all three formats; bincode cannot decode types that need `deserialize_any`
//! (`serde_json::Value`, `#[serde(tag)]`, `untagged`, `flatten`) and says so.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod any;
mod codec;
mod interop;

pub use any::{
    AnyCompression, AnyFormat, AnyFraming, AnyHeader, COMPRESSION_NAMES, DynCodec, FORMAT_NAMES,
    KVDB_FORMAT_NAMES, decode_any, decode_any_in, decode_any_with, dict_id,
};
pub use codec::{Codec, ValueCodec};
pub use satchel_core::{
    Compression, CompressionId, Error, ErrorKind, Flags, Format, FormatId, Framing, Header,
    HeaderFormat, Headered, Identity, Level, Limits, Pipeline, ReadAny, Report, SEAL_NONCE_LEN,
    SEAL_TAG_LEN, Seal, SealInfo, Sealed, Tag, Tagged, WithLevel, sniff,
};

#[cfg(feature = "json")]
#[cfg_attr(docsrs, doc(cfg(feature = "json")))]
pub use satchel_json::Json;

/// The `satchel-coherence` crate without its gRPC endpoint: the Coherence clients' values (`0x15` + JSON with `@class` tags), [`CoherenceJson`](coherence::CoherenceJson),
/// [`CoherenceFrame`](coherence::CoherenceFrame), `Classed`, `from_slice`, …; see
/// `Codec::coherence()`.
#[cfg(feature = "coherence")]
#[cfg_attr(docsrs, doc(cfg(feature = "coherence")))]
pub use satchel_coherence as coherence;

#[cfg(feature = "msgpack")]
#[cfg_attr(docsrs, doc(cfg(feature = "msgpack")))]
pub use satchel_msgpack::MsgPack;

#[cfg(feature = "bincode")]
#[cfg_attr(docsrs, doc(cfg(feature = "bincode")))]
pub use satchel_bincode::Bincode;

#[cfg(feature = "zstd")]
#[cfg_attr(docsrs, doc(cfg(feature = "zstd")))]
pub use satchel_zstd::{MAX_DICT_LEN, Zstd, ZstdDict};

/// Trains a zstd dictionary on sample values (zstd's trainer): see
/// [`satchel_zstd::train`].
#[cfg(feature = "train")]
#[cfg_attr(docsrs, doc(cfg(feature = "train")))]
pub use satchel_zstd::{DEFAULT_DICT_SIZE, train};

#[cfg(feature = "lz4")]
#[cfg_attr(docsrs, doc(cfg(feature = "lz4")))]
pub use satchel_lz4::Lz4;

#[cfg(feature = "gzip")]
#[cfg_attr(docsrs, doc(cfg(feature = "gzip")))]
pub use satchel_flate::Gzip;

#[cfg(feature = "zlib")]
#[cfg_attr(docsrs, doc(cfg(feature = "zlib")))]
pub use satchel_flate::Zlib;

#[cfg(feature = "typetag")]
#[cfg_attr(docsrs, doc(cfg(feature = "typetag")))]
pub use typetag;

/// kvdb-py interop (crate `satchel-kvdb`): its serializers [`KvdbJson`](satchel_kvdb::KvdbJson)
/// and [`KvdbMsgPack`](satchel_kvdb::KvdbMsgPack), its framing [`KvdbFrame`](satchel_kvdb::KvdbFrame),
/// [`KvdbAny`](satchel_kvdb::KvdbAny) for `decode_any_in`, [`Classes`](satchel_kvdb::Classes),
/// the tagged Python types and sniffing; see `Codec::kvdb_json()`.
#[cfg(feature = "kvdb")]
#[cfg_attr(docsrs, doc(cfg(feature = "kvdb")))]
pub use satchel_kvdb as kvdb;

/// Sealed values (crate `satchel-seal`): [`KeyRing`](satchel_seal::KeyRing), its loaders
/// and the environment variables they read; see [`Codec::seal`] and the `+seal` specs.
#[cfg(feature = "seal")]
#[cfg_attr(docsrs, doc(cfg(feature = "seal")))]
pub use satchel_seal as seal;

/// The core crate, for writing backends of your own.
pub use satchel_core as core;
