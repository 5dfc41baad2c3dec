//! Sessions (`satchel-session`) on every store: memory and SQLite always, PostgreSQL,
//! MariaDB and Redis when their `SATCHEL_TEST_*_URL` is set (see `stores.rs`).

use std::sync::Arc;
use std::time::Duration;

use satchel::{Codec, DynCodec};
use satchel_session::{
    KeepAliveStatus, SessionConfig, SessionId, SessionManager, SessionOptions, Sessions,
};
use satchel_store::{Condition, MemoryStore, Store, StoreErrorKind, StoreObject};
use satchel_testkit::store::{service_url, unique_prefix};

fn config(tag: &str) -> SessionConfig {
    SessionConfig::default().key_prefix(unique_prefix(tag))
}

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
struct Cart {
    items: Vec<(String, u32)>,
    note: Option<String>,
}

/// Everything a session does, on one store.
async fn session_suite(store: Arc<dyn StoreObject>) {
    let name = store.backend();
    for spec in ["json", "msgpack+zstd", "bincode+lz4"] {
        let codec: DynCodec = spec.parse().unwrap();
        let sessions = Sessions::new(store.clone(), codec, config(&format!("{name}-{spec}")));

        // Dict-like typed access; the id comes with the first save.
        let mut s = sessions.create();
        assert!(s.id().is_none());
        let cart = Cart {
            items: vec![("lamp".into(), 2)],
            note: None,
        };
        s.insert("cart", &cart).unwrap();
        s.insert("visits", &3u64).unwrap();
        s.insert("name", "ann").unwrap();
        assert!(s.contains("cart") && s.len() == 3);
        assert_eq!(s.keys().collect::<Vec<_>>(), ["cart", "name", "visits"]);
        assert!(s.was_changed());
        s.save().await.unwrap();
        assert!(!s.was_changed());
        let id = s.id().expect("id after save").to_string();
        assert!(SessionId::parse(&id).is_some());

        let mut again = sessions.connect(&id).await.unwrap();
        assert_eq!(
            again.get::<Cart>("cart").unwrap(),
            Some(cart.clone()),
            "{name} {spec}"
        );
        assert_eq!(again.get::<u64>("visits").unwrap(), Some(3));
        assert_eq!(again.get::<String>("name").unwrap().as_deref(), Some("ann"));
        assert_eq!(again.get::<u64>("missing").unwrap(), None);
        let err = again.get::<u64>("name").unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Codec, "{name} {spec}");

        // revert goes back to the last loaded/saved state.
        again.remove("visits");
        again.insert("name", "bob").unwrap();
        assert!(again.was_changed());
        again.revert();
        assert!(!again.was_changed());
        assert_eq!(again.get::<String>("name").unwrap().as_deref(), Some("ann"));

        // Two handles saving at once: exactly one wins, the other gets a conflict.
        let mut a = sessions.connect(&id).await.unwrap();
        let mut b = sessions.connect(&id).await.unwrap();
        a.insert("visits", &4u64).unwrap();
        b.insert("visits", &5u64).unwrap();
        let (ra, rb) = tokio::join!(a.save(), b.save());
        assert!(ra.is_ok() != rb.is_ok(), "{name} {spec}: {ra:?} {rb:?}");
        let loser = if ra.is_err() { ra } else { rb };
        assert_eq!(loser.unwrap_err().kind(), StoreErrorKind::Conflict);
        // The opt-in merge keeps both sides' changes, key by key.
        let mut c = sessions.connect(&id).await.unwrap();
        let mut d = sessions.connect(&id).await.unwrap();
        c.insert("theme", "dark").unwrap();
        d.remove("name");
        c.save().await.unwrap();
        d.save_merging().await.unwrap();
        let merged = sessions.connect(&id).await.unwrap();
        assert_eq!(
            merged.get::<String>("theme").unwrap().as_deref(),
            Some("dark")
        );
        assert!(
            !merged.contains("name"),
            "{name} {spec}: merge lost a removal"
        );

        // cycle_id: new id, same data, old id gone.
        let mut m = merged;
        m.cycle_id().await.unwrap();
        let new_id = m.id().unwrap().to_string();
        assert_ne!(new_id, id);
        assert!(sessions.connect(&id).await.unwrap_err().is_not_found());
        let cycled = sessions.connect(&new_id).await.unwrap();
        assert_eq!(
            cycled.get::<String>("theme").unwrap().as_deref(),
            Some("dark")
        );

        // Unknown, malformed and deleted ids: never adopted.
        let unknown = SessionId::generate().unwrap().to_string();
        assert!(sessions.connect(&unknown).await.unwrap_err().is_not_found());
        assert!(
            sessions
                .connect("../../etc/passwd")
                .await
                .unwrap_err()
                .is_not_found()
        );
        let mut fresh = sessions.connect_or_create(Some(&unknown)).await.unwrap();
        fresh.insert("x", &1).unwrap();
        fresh.save().await.unwrap();
        assert_ne!(
            fresh.id().unwrap().as_str(),
            unknown,
            "{name}: session fixation"
        );
        assert!(sessions.connect(&unknown).await.unwrap_err().is_not_found());
        assert!(fresh.delete().await.unwrap());
        assert!(cycled.delete().await.unwrap());
    }

    // Idle and absolute expiry.
    let codec = Codec::json();
    let idle = Sessions::new(
        store.clone(),
        codec,
        config(&format!("{name}-idle")).idle_timeout(Duration::from_millis(300)),
    );
    let mut s = idle.create();
    s.insert("k", &1).unwrap();
    s.save().await.unwrap();
    let id = s.id().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        idle.connect(&id).await.unwrap_err().is_not_found(),
        "{name}: idle expiry"
    );
    let err = s.save().await.unwrap_err();
    assert!(
        err.is_not_found(),
        "{name}: saving an expired session must not revive it: {err}"
    );

    let absolute = Sessions::new(
        store.clone(),
        codec,
        config(&format!("{name}-abs"))
            .idle_timeout(Duration::from_secs(60))
            .absolute_timeout(Some(Duration::from_millis(500))),
    );
    let mut s = absolute.create();
    s.insert("k", &1).unwrap();
    s.save().await.unwrap();
    let id = s.id().unwrap().to_string();
    assert!(absolute.connect(&id).await.is_ok());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        absolute.connect(&id).await.unwrap_err().is_not_found(),
        "{name}: absolute expiry"
    );

    // A record that does not decode: an error naming the session, bytes left in place.
    let prefix = unique_prefix(&format!("{name}-corrupt"));
    let corrupt = Sessions::new(
        store.clone(),
        codec,
        SessionConfig::default().key_prefix(prefix.clone()),
    );
    let bad_id = SessionId::generate().unwrap();
    let key = format!("{prefix}{bad_id}");
    store
        .set(&key, b"\xC1\x10{not json", None, Condition::Always)
        .await
        .unwrap();
    let err = corrupt.connect(bad_id.as_str()).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{name}: {err}");
    assert!(err.to_string().contains(&bad_id.as_str()[..4]), "{err}");
    assert_eq!(
        store.get(&key).await.unwrap().unwrap().value,
        b"\xC1\x10{not json"
    );
    let purging = Sessions::new(
        store.clone(),
        codec,
        SessionConfig::default()
            .key_prefix(prefix)
            .purge_corrupt(true),
    );
    assert!(
        purging
            .connect(bad_id.as_str())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store.get(&key).await.unwrap().is_none(),
        "{name}: opt-in purge"
    );

    // Owners: list and delete every session of a user, consistent through cycle and delete.
    let owned = Sessions::new(store.clone(), codec, config(&format!("{name}-owner")));
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut s = owned.create();
        s.set_owner(Some("u1"));
        s.insert("i", &i).unwrap();
        s.save().await.unwrap();
        ids.push(s);
    }
    let mut other = owned.create();
    other.set_owner(Some("u2"));
    other.insert("i", &9).unwrap();
    other.save().await.unwrap();
    assert_eq!(owned.sessions_of("u1").await.unwrap().len(), 3, "{name}");
    let mut first = ids.remove(0);
    let before = first.id().unwrap().clone();
    first.cycle_id().await.unwrap();
    let listed = owned.sessions_of("u1").await.unwrap();
    assert_eq!(listed.len(), 3, "{name}: cycle keeps the owner's count");
    assert!(!listed.contains(&before) && listed.contains(first.id().unwrap()));
    ids.remove(0).delete().await.unwrap();
    assert_eq!(owned.sessions_of("u1").await.unwrap().len(), 2, "{name}");
    assert_eq!(owned.delete_owner("u1").await.unwrap(), 2, "{name}");
    assert!(owned.sessions_of("u1").await.unwrap().is_empty());
    assert!(
        owned
            .connect(first.id().unwrap().as_str())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        owned.sessions_of("u2").await.unwrap().len(),
        1,
        "{name}: other owners kept"
    );
    other.delete().await.unwrap();
}

/// With a 1 s idle timeout, an open session is still there after 5 s; 2 s after close it
/// is gone; a session deleted while open is not revived.
async fn keep_alive_suite(store: Arc<dyn StoreObject>) {
    let name = store.backend();
    let sessions = Sessions::new(
        store,
        Codec::json(),
        config(&format!("{name}-alive")).idle_timeout(Duration::from_secs(1)),
    );
    let mut s = sessions.create();
    s.insert("k", &1).unwrap();
    s.save().await.unwrap();
    let id = s.id().unwrap().to_string();
    {
        let open = s.scope().unwrap();
        assert_eq!(open.keep_alive_status(), Some(KeepAliveStatus::Running));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            sessions.connect(&id).await.is_ok(),
            "{name}: open session expired"
        );
    }
    assert_eq!(s.keep_alive_status(), None, "scope closed it");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        sessions.connect(&id).await.unwrap_err().is_not_found(),
        "{name}: closed session lived on"
    );

    let mut s = sessions.create();
    s.insert("k", &1).unwrap();
    s.save().await.unwrap();
    s.open().unwrap();
    let id = s.id().unwrap().to_string();
    assert!(sessions.delete(&id).await.unwrap());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        s.keep_alive_status(),
        Some(KeepAliveStatus::Expired),
        "{name}"
    );
    assert!(
        sessions.connect(&id).await.unwrap_err().is_not_found(),
        "{name}: revived"
    );
}

async fn backend(url: &str) -> Arc<dyn StoreObject> {
    satchel_store::open(url).await.expect("store opens")
}

fn sqlite_url(tag: &str) -> String {
    let path = std::env::temp_dir().join(format!("{}.db", unique_prefix(tag).replace(':', "-")));
    format!("sqlite://{}", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_memory() {
    session_suite(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_memory() {
    keep_alive_suite(Arc::new(MemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_sqlite() {
    session_suite(backend(&sqlite_url("sessions")).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_sqlite() {
    keep_alive_suite(backend(&sqlite_url("alive")).await).await;
}

// Over gRPC: the same suites through `GrpcStore` (`grpc://`), talking to an in-process
// server on an ephemeral loopback port, backed by SQLite and by Redis.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_grpc_sqlite() {
    let server = satchel_testkit::grpc::serve(backend(&sqlite_url("g-sessions")).await).await;
    session_suite(backend(&server.url).await).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_grpc_sqlite() {
    let server = satchel_testkit::grpc::serve(backend(&sqlite_url("g-alive")).await).await;
    keep_alive_suite(backend(&server.url).await).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_grpc_redis() {
    if let Some(url) = service_url("SATCHEL_TEST_REDIS_URL", "sessions_grpc_redis") {
        let server = satchel_testkit::grpc::serve(backend(&url).await).await;
        session_suite(backend(&server.url).await).await;
        keep_alive_suite(backend(&server.url).await).await;
        server.stop().await;
    }
}

macro_rules! service_tests {
    ($($test:ident, $alive:ident, $var:literal;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            if let Some(url) = service_url($var, stringify!($test)) {
                session_suite(backend(&url).await).await;
            }
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $alive() {
            if let Some(url) = service_url($var, stringify!($alive)) {
                keep_alive_suite(backend(&url).await).await;
            }
        }
    )*};
}

service_tests! {
    sessions_postgres, keep_alive_postgres, "SATCHEL_TEST_POSTGRES_URL";
    sessions_mariadb, keep_alive_mariadb, "SATCHEL_TEST_MYSQL_URL";
    sessions_redis, keep_alive_redis, "SATCHEL_TEST_REDIS_URL";
}

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
        (o.idle_timeout_secs, o.absolute_timeout_secs),
        (60, Some(3600))
    );
    assert_eq!(o.prefix.as_deref(), Some("s:"));
    let err = SessionOptions::from_url("memory://?codec=xml").unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
    assert!(err.to_string().contains("valid formats"), "{err}");
    let o: SessionOptions =
        serde_json::from_str(r#"{"url":"redis://h","codec":"json+zstd","idle_timeout_secs":5}"#)
            .unwrap();
    assert_eq!(o.codec.to_string(), "json+zstd");
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
            .idle_timeout(Duration::from_millis(900))
            .extend_interval(Some(Duration::from_millis(100))),
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
