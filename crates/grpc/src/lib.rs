//! satchel stores over gRPC.
//!
//! - [`Server`] exposes any store (`Arc<dyn StoreObject>`: SQLite, PostgreSQL, MySQL,
//!   Redis, memory) as the `satchel.store.v1.Store` service (see `proto/` in this crate),
//!   with the standard health service (`grpc.health.v1.Health`), bearer-token auth, TLS and mutual TLS, a message
//!   size limit, per-request deadlines and graceful shutdown.
//! - [`GrpcStore`] is a client that implements the `Store` trait, so typed `CodecStore`s,
//!   sessions and `satchel_store::open("grpc://host:port")` work over the network
//!   unchanged. Values cross the wire as opaque bytes: the codec pipeline runs in the
//!   client.
//!
//! - [`coherence`]: the same server also answers Oracle Coherence's gRPC cache protocol
//!   (`coherence.NamedCacheService`, v0), so Coherence clients (Python, JavaScript, Go) keep
//!   their caches in any satchel store; on by default, `ServerConfig::with_coherence(false)`
//!   turns it off.
//!
//! Status codes map to store error kinds both ways: `ABORTED` ↔ conflict,
//! `DEADLINE_EXCEEDED` ↔ timeout, `UNAVAILABLE` ↔ unavailable, `DATA_LOSS` ↔ corrupt,
//! `INVALID_ARGUMENT` ↔ invalid input, `NOT_FOUND` ↔ not found. A backend's own failure
//! reaches the client as `INTERNAL` with no details: those stay in the server's log.
//!
//! The `.proto` files are compiled by `protox` in the build script: no `protoc` needed.

mod client;
pub mod coherence;
mod config;
mod error;
mod server;
mod status;

pub use client::GrpcStore;
pub use config::{ClientTls, GrpcConfig};
pub use error::{ServeError, ServeErrorKind};
pub use server::{BoundServer, Server, ServerConfig, ServerTls, shutdown_signal};

/// The messages and service stubs generated from `proto/satchel/store/v1/store.proto`,
/// for clients and tools that speak the protocol directly.
#[allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
pub mod proto {
    tonic::include_proto!("satchel.store.v1");
}
