//! The store conformance suite (`satchel_testkit::store`), run against every adapter:
//! memory and SQLite always; PostgreSQL, MariaDB, Redis and a Redis Cluster from
//! `SATCHEL_TEST_*_URL`
//! (`.ci/run` sets them and `SATCHEL_REQUIRE_SERVICES=1`, so a service that cannot be
//! reached fails the run; a plain `cargo test` says which tests it skipped).
//!
//! Every behaviour of the suite is its own test per backend (`store_suite!`):
//! `cargo test --test stores -- --list` shows `sqlite_file::set_if_absent_refuses_live_value`
//! and its siblings.

use std::sync::Arc;

use satchel_store::{DynStore, MemoryStore, StoreErrorKind};
use satchel_testkit::store_suite;
use satchel_testkit::suite::Served;

fn sqlite_file(tag: &str) -> String {
    let name = satchel_testkit::store::unique_prefix(tag).replace(':', "-");
    format!(
        "sqlite://{}",
        std::env::temp_dir().join(format!("{name}.db")).display()
    )
}

async fn open(url: &str) -> DynStore {
    satchel_store::open(url).await.unwrap()
}

/// `GrpcStore` (`grpc://`) against an in-process server on an ephemeral loopback port,
/// serving `backing`.
async fn over_grpc(backing: DynStore) -> Served<dyn satchel_store::StoreObject> {
    let server = satchel_testkit::grpc::serve(backing).await;
    Served {
        store: open(&server.url).await,
        server,
    }
}

store_suite!(memory, async || Arc::new(MemoryStore::new()));
store_suite!(open_memory, async || open("memory://").await);
store_suite!(sqlite_file, async || open(&sqlite_file("conf")).await);
store_suite!(sqlite_memory, async || open("sqlite::memory:").await);
store_suite!(grpc_sqlite, async || over_grpc(
    open(&sqlite_file("g-conf")).await
)
.await);
store_suite!(grpc_redis, env "SATCHEL_TEST_REDIS_URL", async |url: String| {
    over_grpc(open(&url).await).await
});
store_suite!(postgres, env "SATCHEL_TEST_POSTGRES_URL", async |url: String| open(&url).await);
store_suite!(mariadb, env "SATCHEL_TEST_MYSQL_URL", async |url: String| open(&url).await);
store_suite!(redis, env "SATCHEL_TEST_REDIS_URL", async |url: String| open(&url).await);
// A 3-primary Redis Cluster (`redis-cluster://…?node=…`; `.ci/run` starts one with
// scripts/redis-cluster.sh): keys of one test spread over every slot and primary.
store_suite!(redis_cluster, env "SATCHEL_TEST_REDIS_CLUSTER_URL", async |url: String| {
    open(&url).await
});
// A primary + replica behind three sentinels (`redis-sentinel://…?sentinelServiceName=…`;
// `.ci/run` starts them with scripts/redis-sentinel.sh).
store_suite!(redis_sentinel, env "SATCHEL_TEST_REDIS_SENTINEL_URL", async |url: String| {
    open(&url).await
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_schemes_are_invalid_input_and_keep_passwords_out() {
    let err = satchel_store::open("ftp://user:pw@host/x")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
    let text = format!("{err} {err:?}");
    assert!(text.contains("known: memory://"), "{text}");
    assert!(!text.contains(":pw@"), "password leaked: {text}");
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

/// `satchel_store::open` (what `satchel serve --store` calls) with `changeFeed=notify`: the
/// store it opens has the change feed, and hears the writes of a store opened without it
/// on the same table. The trigger it put on the default table is taken off at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_change_feed_is_asked_for_in_the_url() {
    use satchel_store::{ChangeKind, Condition, KeyChange};
    const TEST: &str = "postgres_change_feed_is_asked_for_in_the_url";
    let Some(url) = satchel_testkit::store::service_url("SATCHEL_TEST_POSTGRES_URL", TEST) else {
        return;
    };
    let separator = if url.contains('?') { '&' } else { '?' };
    let watched = open(&format!("{url}{separator}changeFeed=notify")).await;
    let plain = open(&url).await;
    assert!(watched.capabilities().watch);
    assert!(!plain.capabilities().watch);
    let prefix = satchel_testkit::store::unique_prefix("pg-feed-url");
    let mut stream = watched
        .try_watch(&prefix)
        .expect("the opened store forwards watch")
        .await
        .expect("watch");
    let key = format!("{prefix}k");
    plain
        .set(&key, b"v", None, Condition::Always)
        .await
        .unwrap();
    assert!(plain.delete(&key).await.unwrap());
    let mut next = async || {
        tokio::time::timeout(std::time::Duration::from_secs(10), stream.next())
            .await
            .expect("a notice within 10 s")
            .expect("the feed is open")
    };
    assert_eq!(next().await, KeyChange::new(key.clone(), ChangeKind::Set));
    assert_eq!(next().await, KeyChange::new(key, ChangeKind::Deleted));

    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    for sql in [
        "DROP TRIGGER IF EXISTS \"satchel_kv_notify\" ON \"satchel_kv\"",
        "DROP FUNCTION IF EXISTS \"satchel_kv_notify\"()",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
}
