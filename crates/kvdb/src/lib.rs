#![doc = include_str!("../README.md")]
//!
//! # In this crate
//!
//! The serializers are satchel [`Format`](satchel_core::Format)s: [`KvdbJson`] (kvdb-py's
//! type-tagged JSON) and [`KvdbMsgPack`]. The framing kvdb-py puts around them (raw
//! strings and numbers, the [`PREFIX`], the compression) is [`encode_into`] and
//! [`decode`]; the `satchel` facade applies it whenever a codec's format is one of these
//! (see [`is_kvdb_format`]), since kvdb values carry no satchel header. [`sniff`],
//! [`inspect`] and [`decode_any_with`] recognise kvdb values by their prefix.
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
    Detected, PREFIX, Packing, Serializer, decode, decode_any_with, encode_into, inspect,
    is_kvdb_format, sniff,
};
pub use json::{KVDB_JSON, KvdbJson};
pub use msgpack::{KVDB_MSGPACK, KvdbMsgPack, PYDANTIC_EXT};
pub use types::{Bytes, DateTime, Set};
