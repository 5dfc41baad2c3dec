//! Sessions (`satchel-session`) on every store: memory and SQLite always, PostgreSQL,
//! MariaDB and Redis when their `SATCHEL_TEST_*_URL` is set (see `stores.rs`).
//!
//! The session suite (`satchel_testkit::session`) is instantiated per backend with
//! `session_suite!`, one named test per behaviour: `sqlite::unknown_ids_are_never_adopted`.

use std::sync::Arc;
use std::time::Duration;

use satchel::Codec;
use satchel_session::{KeepAliveStatus, SessionConfig, SessionManager, SessionOptions, Sessions};
use satchel_store::{Condition, DynStore, MemoryStore, Store, StoreErrorKind};
use satchel_testkit::session_suite;
use satchel_testkit::store::unique_prefix;
use satchel_testkit::suite::Served;

async fn backend(url: &str) -> DynStore {
    satchel_store::open(url).await.expect("store opens")
}

fn sqlite_url(tag: &str) -> String {
    let path = std::env::temp_dir().join(format!("{}.db", unique_prefix(tag).replace(':', "-")));
    format!("sqlite://{}", path.display())
}

/// The same suite through `GrpcStore` (`grpc://`), talking to an in-process server on an
/// ephemeral loopback port that serves `backing`.
async fn over_grpc(backing: DynStore) -> Served<dyn satchel_store::StoreObject> {
    let server = satchel_testkit::grpc::serve(backing).await;
    Served {
        store: backend(&server.url).await,
        server,
    }
}

session_suite!(memory, async || Arc::new(MemoryStore::new()));
session_suite!(sqlite, async || backend(&sqlite_url("sessions")).await);
session_suite!(grpc_sqlite, async || over_grpc(
    backend(&sqlite_url("g-sessions")).await
)
.await);
session_suite!(grpc_redis, env "SATCHEL_TEST_REDIS_URL", async |url: String| {
    over_grpc(backend(&url).await).await
});
session_suite!(postgres, env "SATCHEL_TEST_POSTGRES_URL", async |url: String| backend(&url).await);
session_suite!(mariadb, env "SATCHEL_TEST_MYSQL_URL", async |url: String| backend(&url).await);
session_suite!(redis, env "SATCHEL_TEST_REDIS_URL", async |url: String| backend(&url).await);
// A 3-primary Redis Cluster: sessions keep the generic owner index there.
session_suite!(redis_cluster, env "SATCHEL_TEST_REDIS_CLUSTER_URL", async |url: String| {
    backend(&url).await
});
session_suite!(redis_sentinel, env "SATCHEL_TEST_REDIS_SENTINEL_URL", async |url: String| {
    backend(&url).await
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_sessions_share_one_store_per_url() {
    let manager = SessionManager::new();
    let a = manager
        .get_session("web", &SessionOptions::new("memory://"))
        .await
        .unwrap();
    let b = manager
        .get_session("api", &SessionOptions::new("memory://"))
        .await
        .unwrap();
    let again = manager
        .get_session("web", &SessionOptions::new("memory://"))
        .await
        .unwrap();
    assert!(Arc::ptr_eq(a.store(), b.store()), "same URL, one pool");
    assert!(Arc::ptr_eq(a.store(), again.store()));
    assert_eq!(a.config().key_prefix, "session:web:");
    assert_eq!(b.config().key_prefix, "session:api:");
    // A session saved through one handle is found through the same name later.
    let mut s = a.create();
    s.insert("k", &1).unwrap();
    s.save().await.unwrap();
    let found = again.connect(s.id().unwrap().as_str()).await.unwrap();
    assert_eq!(found.get::<i32>("k").unwrap(), Some(1));
    // …but not under another name's prefix.
    assert!(
        b.connect(s.id().unwrap().as_str())
            .await
            .unwrap_err()
            .is_not_found()
    );

    let o = SessionOptions::from_url(
        "sqlite://x.db?mode=rwc&codec=bincode+lz4&idle_timeout=60&absolute_timeout=3600&prefix=s:",
    )
    .unwrap();
    assert_eq!(o.url, "sqlite://x.db?mode=rwc");
    assert_eq!(o.codec.to_string(), "bincode+lz4");
    assert_eq!(
        (o.idle_timeout, o.absolute_timeout),
        (Duration::from_secs(60), Some(Duration::from_secs(3600)))
    );
    assert_eq!(o.key_prefix.as_deref(), Some("s:"));
    let o = SessionOptions::from_url("memory://?key_prefix=k:").unwrap();
    assert_eq!(o.key_prefix.as_deref(), Some("k:"));
    let err = SessionOptions::from_url("memory://?codec=xml").unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
    assert!(err.to_string().contains("valid formats"), "{err}");
    let o: SessionOptions =
        serde_json::from_str(r#"{"url":"redis://h","codec":"json+zstd","idle_timeout_secs":5}"#)
            .unwrap();
    assert_eq!(o.codec.to_string(), "json+zstd");
    assert_eq!(o.idle_timeout, Duration::from_secs(5), "0.1 name, seconds");
    let o: SessionOptions = serde_json::from_str(
        r#"{"url":"redis://h","idle_timeout":7,"absolute_timeout":70,"key_prefix":"p:"}"#,
    )
    .unwrap();
    assert_eq!(
        (o.idle_timeout, o.absolute_timeout, o.key_prefix.as_deref()),
        (
            Duration::from_secs(7),
            Some(Duration::from_secs(70)),
            Some("p:")
        )
    );
    assert!(
        serde_json::from_str::<SessionOptions>(r#"{"url":"x","idle_timeout":"5m"}"#).is_err(),
        "whole seconds only"
    );
}

/// A store whose `touch` fails with `Unavailable` while a switch is on, to drive the
/// keep-alive through transient and persistent failures.
#[derive(Debug)]
struct Flaky {
    inner: MemoryStore,
    failing: std::sync::atomic::AtomicBool,
}

impl Store for Flaky {
    fn get<'a>(
        &'a self,
        key: &'a str,
    ) -> satchel_store::BoxFuture<'a, satchel_store::Result<Option<satchel_store::Entry>>> {
        self.inner.get(key)
    }
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
    ) -> satchel_store::BoxFuture<'a, satchel_store::Result<satchel_store::Version>> {
        self.inner.set(key, value, ttl, condition)
    }
    fn delete<'a>(
        &'a self,
        key: &'a str,
    ) -> satchel_store::BoxFuture<'a, satchel_store::Result<bool>> {
        self.inner.delete(key)
    }
    fn delete_if<'a>(
        &'a self,
        key: &'a str,
        version: satchel_store::Version,
    ) -> satchel_store::BoxFuture<'a, satchel_store::Result<bool>> {
        self.inner.delete_if(key, version)
    }
    fn touch<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> satchel_store::BoxFuture<'a, satchel_store::Result<bool>> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Box::pin(std::future::ready(Err(satchel_store::StoreError::new(
                StoreErrorKind::Unavailable,
                "connection refused (test)",
            ))));
        }
        self.inner.touch(key, ttl)
    }
    fn backend(&self) -> &'static str {
        "flaky"
    }
}

satchel_store::store_object!(Flaky);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_survives_a_transient_error_and_reports_a_persistent_one() {
    use std::sync::atomic::Ordering;
    let store = Arc::new(Flaky {
        inner: MemoryStore::new(),
        failing: Default::default(),
    });
    let sessions = Sessions::new(
        store.clone(),
        Codec::json(),
        SessionConfig::default()
            .with_idle_timeout(Duration::from_millis(900))
            .with_extend_interval(Some(Duration::from_millis(100))),
    );
    let mut s = sessions.create();
    s.insert("k", &1).unwrap();
    s.save().await.unwrap();
    s.open().unwrap();
    let id = s.id().unwrap().to_string();

    // One failed extension (shorter than three intervals) is ridden out.
    store.failing.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(150)).await;
    store.failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(s.keep_alive_status(), Some(KeepAliveStatus::Running));
    assert!(
        sessions.connect(&id).await.is_ok(),
        "extension resumed after the blip"
    );

    // Failures that persist stop the extension and are reported.
    store.failing.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(600)).await;
    match s.keep_alive_status() {
        Some(KeepAliveStatus::Failed { kind, message }) => {
            assert_eq!(kind, StoreErrorKind::Unavailable);
            assert!(message.contains("connection refused"), "{message}");
        }
        other => panic!("expected a reported failure, got {other:?}"),
    }
}
