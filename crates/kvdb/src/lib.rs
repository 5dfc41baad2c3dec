#![doc = include_str!("../README.md")]
//!
//! # In this crate
//!
//! The serializers are satchel [`Format`](satchel_core::Format)s: [`KvdbJson`] (kvdb-py's
//! type-tagged JSON) and [`KvdbMsgPack`] (the [`KvdbSerializer`]s). The framing kvdb-py
//! puts around them (raw strings and numbers, the [`PREFIX`], the compression) is
//! [`KvdbFrame`], a satchel [`Framing`](satchel_core::Framing): the facade's
//! `Codec::kvdb_json()` is `Codec<KvdbJson, Identity, KvdbFrame>`. [`KvdbAny`] reads any
//! kvdb value in `decode_any_in`; [`sniff`], [`inspect`] and [`decode_any_with`] recognise
//! kvdb values by their prefix.
//! [`Classes`] maps Python class names onto Rust types; [`DateTime`], [`Bytes`] and
//! [`Set`] stand for the Python values kvdb-py tags.

mod classes;
mod frame;
mod json;
mod msgpack;
mod raw;
mod types;

pub use classes::Classes;
pub use frame::{
    Detected, KvdbAny, KvdbFrame, KvdbSerializer, PREFIX, Packing, Serializer, decode,
    decode_any_with, encode_into, inspect, sniff,
};
pub use json::KvdbJson;
pub use msgpack::{KvdbMsgPack, PYDANTIC_EXT};
pub use types::{Bytes, DateTime, Set};
