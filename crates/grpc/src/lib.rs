//! satchel stores over gRPC: a client that is a store, and a server for any store.
//!
//! Two features, so a program builds only the side it uses (both are on by default):
//!
//! - **`client`**: [`GrpcStore`] implements the `Store` trait, so typed `CodecStore`s,
//!   sessions and `satchel_store::open("grpc://host:port")` work over the network
//!   unchanged; [`GrpcConfig`] and [`ClientTls`] say how it connects. Values cross the wire
//!   as opaque bytes: the codec pipeline runs in the client. This side compiles the client
//!   stub and tonic's channel only: no server, no health service, no router. (`satchel-store`'s
//!   `grpc` feature asks for this side alone.)
//! - **`server`**: [`Server`] exposes any store (`Arc<dyn StoreObject>`: SQLite,
//!   PostgreSQL, MySQL, Redis, memory) as the `satchel.store.v1.Store` service (see
//!   `proto/` in this crate), with the standard health service (`grpc.health.v1.Health`),
//!   bearer-token auth, TLS and mutual TLS, a message size limit, per-request deadlines
//!   and graceful shutdown ([`ServerConfig`], [`ServerTls`], [`ServeError`]). An
//!   [`Extension`] adds more gRPC services to the same server, over the same store, with
//!   the same transport, token and limits ([`Mount`]); `satchel-coherence` serves Oracle
//!   Coherence's cache protocol (`coherence.NamedCacheService`) this way, so this crate
//!   knows nothing of Coherence.
//!
//! Status codes map to store error kinds both ways: `ABORTED` ↔ conflict,
//! `DEADLINE_EXCEEDED` ↔ timeout, `UNAVAILABLE` ↔ unavailable, `DATA_LOSS` ↔ corrupt,
//! `INVALID_ARGUMENT` ↔ invalid input, `NOT_FOUND` ↔ not found. A backend's own failure
//! reaches the client as `INTERNAL` with no details: those stay in the server's log
//! ([`to_status`] is the server's half, for extensions too).
//!
//! The `.proto` file is compiled by `protox` in the build script (no `protoc` needed),
//! with the stubs of the enabled sides only.
//!
//! | file | what |
//! | --- | --- |
//! | `client/` | [`GrpcStore`]: connecting (`mod.rs`), the store calls (`store.rs`), the session calls (`sessions.rs`) (`client`) |
//! | `config.rs` | [`GrpcConfig`], [`ClientTls`], `grpc://` URLs and `SATCHEL_*` variables (`client`) |
//! | `server/` | [`Server`], [`BoundServer`], [`ServerConfig`], [`Extension`], the store service, the token check (`server`) |
//! | `error.rs` | [`ServeError`] (`server`) |
//! | `status.rs` | store errors ↔ gRPC statuses (both) |

// The overview above names both sides; with one side off, the other's links cannot resolve.
#![cfg_attr(
    not(all(feature = "client", feature = "server")),
    allow(rustdoc::broken_intra_doc_links)
)]

#[cfg(feature = "client")]
mod client;
pub mod codec;
#[cfg(feature = "client")]
mod config;
#[cfg(feature = "server")]
mod error;
#[cfg(feature = "server")]
mod server;
#[cfg(any(feature = "client", feature = "server"))]
mod status;

#[cfg(feature = "client")]
pub use client::GrpcStore;
#[cfg(feature = "client")]
pub use config::{ClientTls, GrpcConfig};
#[cfg(feature = "server")]
pub use error::{ServeError, ServeErrorKind};
#[cfg(feature = "server")]
pub use server::{
    BoundServer, Extension, Mount, Protection, Server, ServerConfig, ServerTls, ServiceInfo,
    shutdown_signal,
};
#[cfg(feature = "server")]
pub use status::to_status;

/// The messages generated from `proto/satchel/store/v1/store.proto`, with the client stub
/// (`store_client`, feature `client`) and the server trait (`store_server`, feature
/// `server`), for clients and tools that speak the protocol directly.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("satchel.store.v1");
}
