//! The gRPC server and client beyond the store conformance suite (which runs over gRPC in
//! `tests/tests/stores.rs` and `sessions.rs`): TLS and mutual TLS, tokens, deadlines,
//! restarts, bad input, session calls, health and graceful shutdown. Everything talks to
//! 127.0.0.1 on ephemeral ports and stops by itself.
//!
//! One file per job: `access.rs` (TLS, tokens), `deadlines.rs`, `failures.rs` (restarts,
//! bad input), `sessions.rs`, `lifecycle.rs` (health, shutdown); the helpers they share (and
//! `Slow`, a slow backend) here.

mod access;
mod deadlines;
mod failures;
mod lifecycle;
mod sessions;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use satchel_grpc::proto::{self, store_client::StoreClient};
use satchel_grpc::{ClientTls, GrpcConfig, GrpcStore, ServerConfig, ServerTls};
use satchel_store::{
    BoxFuture, Condition, Entry, MemoryStore, PurgeExpired, Result, Scan, Store, StoreErrorKind,
    StoreObject, Version,
};
use satchel_testkit::grpc::{TestServer, serve, serve_on, serve_with};

fn any_port() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn client_config(server: &TestServer) -> GrpcConfig {
    GrpcConfig::new(server.addr.to_string())
        .with_request_timeout(Duration::from_secs(5))
        .with_connect_timeout(Duration::from_secs(2))
}

async fn raw_client(server: &TestServer) -> StoreClient<tonic::transport::Channel> {
    StoreClient::connect(format!("http://{}", server.addr))
        .await
        .unwrap()
}

/// A store whose reads take `delay`: a slow backend.
#[derive(Debug)]
struct Slow {
    inner: MemoryStore,
    delay: Duration,
}

impl Store for Slow {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            self.inner.get(key).await
        })
    }
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
    ) -> BoxFuture<'a, Result<Version>> {
        self.inner.set(key, value, ttl, condition)
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        self.inner.delete(key)
    }
    fn delete_if<'a>(&'a self, key: &'a str, version: Version) -> BoxFuture<'a, Result<bool>> {
        self.inner.delete_if(key, version)
    }
    fn touch<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        self.inner.touch(key, ttl)
    }
    fn backend(&self) -> &'static str {
        "slow"
    }
    fn capabilities(&self) -> satchel_store::Capabilities {
        self.inner.capabilities()
    }
}

satchel_store::store_object!(Slow: scan, purge_expired);

impl Scan for Slow {
    fn scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a satchel_store::Cursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<satchel_store::Page>> {
        self.inner.scan_page(prefix, cursor, limit)
    }
}

impl PurgeExpired for Slow {
    fn purge_expired(&self) -> BoxFuture<'_, Result<u64>> {
        self.inner.purge_expired()
    }
}

fn slow(delay: Duration) -> Arc<dyn StoreObject> {
    Arc::new(Slow {
        inner: MemoryStore::new(),
        delay,
    })
}
