//! Oracle Coherence interop: the values its gRPC clients keep, and the Coherence gRPC
//! cache protocol, v0 (`coherence.NamedCacheService`), served over a satchel store, so
//! Coherence clients (Python `coherence-client`, …) can use `satchel serve` as their cache.
//!
//! - [`value`] (re-exported here): [`CoherenceJson`], the `0x15`-prefixed JSON the clients
//!   write, [`CoherenceFrame`], its framing, and helpers for Coherence's shapes
//!   ([`Classed`], [`BigInt`], [`Entries`], [`to_vec`], [`from_slice`], …). Always built;
//!   the `satchel` facade re-exports this crate without its default features as
//!   `satchel::coherence`.
//! - [`store_key`], [`cache_prefix`] and [`parse_store_key`] say where an entry lives in the
//!   store (`coherence:<scope>:<cache>:<key JSON>`), so satchel's own tools can read what
//!   Coherence clients wrote: the values are `0x15` + JSON, [`CoherenceJson`]. Always built.
//!
//! With the default feature `endpoint` (satchel-grpc's server, tonic, prost, tokio):
//!
//! - [`Coherence`] is the endpoint as an [`Extension`](satchel_grpc::Extension) of the
//!   satchel gRPC server: `ServerConfig::with_extension(Coherence::new())` serves it next to
//!   `satchel.store.v1.Store`, on the same port and over the same store (`satchel serve`
//!   does, unless `--no-coherence`).
//! - [`CoherenceService`] implements the service, for a tonic server of your own.
//! - [`proto`] holds the generated messages, the server trait and a client stub (for tests
//!   and tools; it takes any tonic channel).
//!
//! ```
//! # #[cfg(feature = "endpoint")] {
//! use satchel_coherence::Coherence;
//! use satchel_grpc::ServerConfig;
//!
//! let config = ServerConfig::new("127.0.0.1:1408".parse().unwrap())
//!     .with_extension(Coherence::new().with_max_entries(50_000));
//! assert!(format!("{config:?}").contains("coherence"));
//! # }
//! ```
//!
//! Coherence clients cannot send satchel's bearer token (their one credential is a TLS client
//! certificate), so the endpoint is mounted with
//! [`Mount::add_open_service`](satchel_grpc::Mount::add_open_service): when the server has a
//! token, it requires the client certificate under mutual TLS, or else the token, and is
//! open only if the operator allows it (`ServerConfig::allow_open_service`). TLS, the request
//! time limit and the message size limit are the server's and apply. The satchel header check does not apply (Coherence
//! values have no satchel header).
//!
//! | file | what |
//! | --- | --- |
//! | `value/` | [`CoherenceJson`], [`CoherenceFrame`] (`mod.rs`), the Python-style formatter (`python.rs`), [`Classed`], [`BigInt`], [`Entries`] (`shapes.rs`) |
//! | `extension.rs` | [`Coherence`], the server extension |
//! | `keys.rs` | the store key layout below |
//! | `service/` | [`CoherenceService`]: one file per kind of call (see its module docs) |
//! | `query/` | the Coherence query language over JSON values: extractors, filters, entry processors, aggregators (one file each) |
//! | `proto/coherence/*.proto` | v0, compiled by `build.rs` (protox, no `protoc`) |
//! | `proto/coherence/v1/` | v1, reference only: not compiled, not packaged |
//! | `tests/value.rs`, `tests/data/values/` | the values against bytes the Python client wrote |
//! | `tests/coherence/`, `tests/py/` | every call through tonic, and the real Python client end to end (one file per job) |
//!
//! The newer protocol, v1 (`coherence.proxy.v1.ProxyService`), is deliberately not served:
//! tonic answers `UNIMPLEMENTED` for it, which is what makes the clients fall back to v0.
//! The repository's `docs/coherence-protocol.md` has the call-by-call mapping.
//!
//! # Store keys
//!
//! Every entry is one store key, `(scope, cache, key bytes)` encoded reversibly, holding
//! the value's bytes exactly as the client sent them:
//!
//! ```text
//! coherence:<scope>:<cache>:<key>
//! ```
//!
//! - `scope` and `cache` are written as they are, except `%`, `:` and control characters
//!   (below U+0020, and U+007F), which become `%XX` (upper-case hex of the byte). So the
//!   first two unescaped `:` after `coherence:` end them, and the prefix of one cache is
//!   never the prefix of another (`a:` vs `ab:`).
//! - `key` is the key's JSON text, the bytes after the `0x15` marker, when the key is `0x15`
//!   followed by UTF-8 without control characters that does not start with `#` (every key
//!   the endpoint accepts from the Python client: its JSON is ASCII on one line).
//!   Otherwise it is `#` followed by the lower-case hex of all the key's bytes, marker
//!   included (for instance a key whose JSON spans several lines). JSON text never starts
//!   with `#`, so the two forms cannot be confused.
//!
//! Store limits on key length apply to the whole key (MySQL/MariaDB: 255 characters).
//!
//! ```
//! use satchel_coherence::{cache_prefix, parse_store_key, store_key};
//! assert_eq!(store_key("", "carts", b"\x15\"ann\""), "coherence::carts:\"ann\"");
//! assert_eq!(store_key("a:b", "50%", b"\x1542"), "coherence:a%3Ab:50%25:42");
//! assert_eq!(store_key("", "c", b"\x15[1,\n2]"), "coherence::c:#155b312c0a325d");
//! assert_eq!(cache_prefix("", "carts"), "coherence::carts:");
//! assert_eq!(
//!     parse_store_key("coherence:a%3Ab:50%25:42"),
//!     Some(("a:b".to_string(), "50%".to_string(), b"\x1542".to_vec()))
//! );
//! ```

#[cfg(feature = "endpoint")]
mod classes;
#[cfg(feature = "endpoint")]
mod extension;
mod keys;
#[cfg(feature = "endpoint")]
mod query;
#[cfg(feature = "endpoint")]
mod service;
pub mod value;

#[cfg(feature = "endpoint")]
pub use classes::KnownClasses;
#[cfg(feature = "endpoint")]
pub use extension::Coherence;
pub use keys::{KEY_PREFIX, cache_prefix, key_from_suffix, parse_store_key, store_key};
#[cfg(feature = "endpoint")]
pub use service::CoherenceService;
pub use value::{
    BIG_DEC_CLASS, BIG_INT_CLASS, BigInt, CLASS_FIELD, COHERENCE_FORMAT_NAME, Classed,
    CoherenceClass, CoherenceFrame, CoherenceJson, Entries, MAGIC, class_of, from_slice,
    is_coherence_json, to_vec,
};

/// The messages and service stubs generated from `proto/coherence/messages.proto` and
/// `services.proto` (package `coherence`, wire-identical to the Coherence clients' own).
#[cfg(feature = "endpoint")]
#[allow(
    missing_docs,
    unreachable_pub,
    non_camel_case_types,
    rustdoc::invalid_html_tags,
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    clippy::all,
    clippy::pedantic
)]
pub mod proto {
    tonic::include_proto!("coherence");

    // tonic-prost-build 0.14 names the `BoolValue` / `Int32Value` replies, which prost maps
    // to Rust primitives, `super::bool` / `super::i32`: these make those paths resolve.
    #[doc(hidden)]
    pub type bool = ::core::primitive::bool;
    #[doc(hidden)]
    pub type i32 = ::core::primitive::i32;
}
