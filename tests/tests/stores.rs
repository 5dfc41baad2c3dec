//! The store conformance suite (`satchel_testkit::store`), run against every adapter:
//! memory and SQLite always; PostgreSQL, MariaDB and Redis from `SATCHEL_TEST_*_URL`
//! (`.ci/run` sets them and `SATCHEL_REQUIRE_SERVICES=1`, so a service that cannot be
//! reached fails the run; a plain `cargo test` says which tests it skipped).

use std::sync::Arc;

use satchel_store::{MemoryStore, StoreErrorKind};
use satchel_testkit::store::{no_lost_update, store_conformance};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_conformance() {
    store_conformance(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_no_lost_update() {
    no_lost_update(Arc::new(MemoryStore::new()), 16, 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_memory_and_unknown_schemes() {
    let store = satchel_store::open("memory://").await.unwrap();
    store_conformance(store).await;
    let err = satchel_store::open("ftp://user:pw@host/x")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
    let text = format!("{err} {err:?}");
    assert!(text.contains("known: memory://"), "{text}");
    assert!(!text.contains(":pw@"), "password leaked: {text}");
}

fn sqlite_file(tag: &str) -> String {
    let name = satchel_testkit::store::unique_prefix(tag).replace(':', "-");
    format!(
        "sqlite://{}",
        std::env::temp_dir().join(format!("{name}.db")).display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_file_conformance() {
    let store = satchel_store::open(&sqlite_file("conf")).await.unwrap();
    store_conformance(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_memory_conformance() {
    let store = satchel_store::open("sqlite::memory:").await.unwrap();
    store_conformance(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_no_lost_update() {
    let store = satchel_store::open(&sqlite_file("race")).await.unwrap();
    no_lost_update(store, 16, 200).await;
}

// Over gRPC: `GrpcStore` (`grpc://`) against an in-process server on an ephemeral
// loopback port, backed by SQLite and by Redis.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grpc_sqlite_conformance() {
    let backing = satchel_store::open(&sqlite_file("g-conf")).await.unwrap();
    let server = satchel_testkit::grpc::serve(backing).await;
    store_conformance(satchel_store::open(&server.url).await.unwrap()).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grpc_sqlite_no_lost_update() {
    let backing = satchel_store::open(&sqlite_file("g-race")).await.unwrap();
    let server = satchel_testkit::grpc::serve(backing).await;
    no_lost_update(satchel_store::open(&server.url).await.unwrap(), 16, 200).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grpc_redis_conformance() {
    if let Some(url) =
        satchel_testkit::store::service_url("SATCHEL_TEST_REDIS_URL", "grpc_redis_conformance")
    {
        let server = satchel_testkit::grpc::serve(satchel_store::open(&url).await.unwrap()).await;
        let client = satchel_store::open(&server.url).await.unwrap();
        store_conformance(client.clone()).await;
        no_lost_update(client, 16, 200).await;
        server.stop().await;
    }
}

macro_rules! service_tests {
    ($($conformance:ident, $race:ident, $var:literal;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $conformance() {
            if let Some(url) = satchel_testkit::store::service_url($var, stringify!($conformance)) {
                store_conformance(satchel_store::open(&url).await.unwrap()).await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $race() {
            if let Some(url) = satchel_testkit::store::service_url($var, stringify!($race)) {
                no_lost_update(satchel_store::open(&url).await.unwrap(), 16, 200).await;
            }
        }
    )*};
}

service_tests! {
    postgres_conformance, postgres_no_lost_update, "SATCHEL_TEST_POSTGRES_URL";
    mariadb_conformance, mariadb_no_lost_update, "SATCHEL_TEST_MYSQL_URL";
    redis_conformance, redis_no_lost_update, "SATCHEL_TEST_REDIS_URL";
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_servers_are_unavailable_and_keep_passwords_out() {
    for url in [
        "postgres://app:hunter2secret@127.0.0.1:1/test",
        "mysql://app:hunter2secret@127.0.0.1:1/test",
        "redis://:hunter2secret@127.0.0.1:1/",
    ] {
        let err = satchel_store::open(url).await.unwrap_err();
        assert!(err.is_transient(), "{url}: {err:?}");
        let text = format!("{err} {err:?} {}", satchel::Report(&err));
        assert!(!text.contains("hunter2secret"), "password leaked: {text}");
    }
}
