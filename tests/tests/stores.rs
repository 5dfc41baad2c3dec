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
    let err = satchel_store::open("ftp://user:pw@host/x").await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
    let text = format!("{err} {err:?}");
    assert!(text.contains("known: memory://"), "{text}");
    assert!(!text.contains(":pw@"), "password leaked: {text}");
}
