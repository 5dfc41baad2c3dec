//! Issue 15, "Ids at rest", for the server's own session calls: the store behind
//! `satchel serve` kept each session under `{session_prefix}{id}`, so a dump of it, or
//! `satchel ls`, yielded ids usable as sessions. Now sessions are kept under the hash of
//! their id (`SessionId::stored_key`), sessions an older server wrote are moved on first
//! use, and nothing the server says or logs holds an id.
//!
//! Its own test binary: it installs a global `tracing` subscriber (the server runs on
//! threads of its own) to read everything the server logs.

use std::io;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use satchel_grpc::ServerConfig;
use satchel_grpc::proto::{self, store_client::StoreClient};
use satchel_store::{Condition, MemoryStore, SessionId, Store, StoreObject};
use satchel_testkit::grpc::serve_with;
use satchel_testkit::store::{service_url, unique_prefix};
use tonic::transport::Channel;

/// Everything `tracing` writes in this binary.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
        logs
    })
}

/// Every key under `prefix` in `store`, with its value.
async fn dump(store: &dyn StoreObject, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    for key in store.scan(prefix, 1000).await.unwrap() {
        if let Some(e) = store.get(&key).await.unwrap() {
            all.push((key, e.value));
        }
    }
    all
}

fn assert_not_held(id: &str, what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(!text.contains(id), "{what} holds the session id: {text}");
}

fn close(id: &str, value: Option<&[u8]>, if_version: Option<u64>) -> proto::CloseSessionRequest {
    proto::CloseSessionRequest {
        id: id.to_string(),
        value: value.map(<[u8]>::to_vec),
        if_version,
        ttl_ms: Some(60_000),
        destroy: false,
    }
}

async fn create(client: &mut StoreClient<Channel>, value: &[u8]) -> proto::CreateSessionResponse {
    client
        .create_session(proto::CreateSessionRequest {
            value: value.to_vec(),
            ttl_ms: 60_000,
        })
        .await
        .unwrap()
        .into_inner()
}

async fn ids_are_not_stored(backing: Arc<dyn StoreObject>) {
    let name = backing.backend();
    let prefix = unique_prefix(&format!("{name}-grpc-at-rest"));
    let config = ServerConfig::new("127.0.0.1:0".parse().unwrap()).with_session_prefix(&prefix);
    let server = serve_with(backing.clone(), config).await;
    let mut client = StoreClient::connect(format!("http://{}", server.addr))
        .await
        .unwrap();

    // Created over gRPC: kept under the hash of its id, and nothing stored holds the id.
    let created = create(&mut client, b"cart=1").await;
    let id = SessionId::parse(&created.id).expect("an id of the usual shape");
    let stored = dump(&*backing, &prefix).await;
    assert_eq!(
        stored.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(),
        [format!("{prefix}{}", id.stored_key())],
        "{name}"
    );
    for (key, value) in &stored {
        assert_not_held(id.as_str(), &format!("{name}: stored key"), key.as_bytes());
        assert_not_held(id.as_str(), &format!("{name}: stored value"), value);
    }

    // Open, extend and close still work on it.
    let opened = client
        .open_session(proto::OpenSessionRequest {
            id: created.id.clone(),
            ttl_ms: Some(60_000),
        })
        .await
        .unwrap()
        .into_inner()
        .entry
        .unwrap();
    assert_eq!(opened.value, b"cart=1", "{name}");
    client
        .extend_session(proto::ExtendSessionRequest {
            id: created.id.clone(),
            ttl_ms: 60_000,
        })
        .await
        .unwrap();
    // A refused call names no id (and is logged with the fingerprint).
    let refused = client
        .close_session(close(&created.id, Some(b"stale"), Some(opened.version + 7)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Aborted, "{name}: {refused:?}");
    assert_not_held(id.as_str(), "a refusal", format!("{refused:?}").as_bytes());
    let saved = client
        .close_session(close(&created.id, Some(b"cart=2"), Some(opened.version)))
        .await
        .unwrap()
        .into_inner()
        .version
        .unwrap();
    let hashed = format!("{prefix}{}", id.stored_key());
    let entry = backing.get(&hashed).await.unwrap().unwrap();
    assert_eq!(
        (entry.value.as_slice(), entry.version.get()),
        (&b"cart=2"[..], saved)
    );
    client
        .close_session(proto::CloseSessionRequest {
            destroy: true,
            ..close(&created.id, None, None)
        })
        .await
        .unwrap();
    assert!(backing.get(&hashed).await.unwrap().is_none(), "{name}");
    let gone = client
        .open_session(proto::OpenSessionRequest {
            id: created.id.clone(),
            ttl_ms: None,
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound, "{name}");
    assert_not_held(id.as_str(), "NOT_FOUND", format!("{gone:?}").as_bytes());

    // Sessions an older server kept under their id are moved on first use: by OpenSession…
    for (unhashed, first_use) in [
        ("Q9Q9Q9Q9Q9Q9Q9Q9Q9Q9QQ", "open"),
        ("w_w_w_w_w_w_w_w_w_w_wA", "extend"),
    ] {
        let old_id = SessionId::parse(unhashed).unwrap();
        let (old, new) = (
            format!("{prefix}{unhashed}"),
            format!("{prefix}{}", old_id.stored_key()),
        );
        backing
            .set(
                &old,
                b"cart=old",
                Some(Duration::from_secs(60)),
                Condition::Always,
            )
            .await
            .unwrap();
        if first_use == "open" {
            let entry = client
                .open_session(proto::OpenSessionRequest {
                    id: unhashed.to_string(),
                    ttl_ms: None,
                })
                .await
                .unwrap()
                .into_inner()
                .entry
                .unwrap();
            assert_eq!(entry.value, b"cart=old", "{name}");
            assert!(entry.expires_at_ms.is_some(), "{name}: keeps its lifetime");
        } else {
            // …or by ExtendSession.
            client
                .extend_session(proto::ExtendSessionRequest {
                    id: unhashed.to_string(),
                    ttl_ms: 60_000,
                })
                .await
                .unwrap();
        }
        assert!(
            backing.get(&old).await.unwrap().is_none(),
            "{name}: {first_use} left the session under its id"
        );
        let moved = backing.get(&new).await.unwrap().expect("moved");
        assert_eq!(moved.value, b"cart=old", "{name}");
        assert!(moved.expires_at.is_some(), "{name}");
        // It goes on working from there.
        client
            .close_session(close(unhashed, Some(b"cart=new"), None))
            .await
            .unwrap();
        assert_eq!(
            backing.get(&new).await.unwrap().unwrap().value,
            b"cart=new",
            "{name}"
        );
        assert!(backing.get(&old).await.unwrap().is_none(), "{name}");
    }

    // Nothing logged holds an id, not even the old key of a moved session (the backend's
    // `satchel.store` span shows it as `[id {fingerprint}]`); the refusal is there by the
    // session's fingerprint.
    let logged = logs().0.lock().unwrap().clone();
    for secret in [
        created.id.as_str(),
        "Q9Q9Q9Q9Q9Q9Q9Q9Q9Q9QQ",
        "w_w_w_w_w_w_w_w_w_w_wA",
    ] {
        assert_not_held(secret, &format!("{name}: the log"), &logged);
    }
    assert!(
        String::from_utf8_lossy(&logged).contains(&id.fingerprint()),
        "{name}: the refused close is logged by the session's fingerprint"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_grpc_session_ids_are_not_stored() {
    logs();
    ids_are_not_stored(Arc::new(MemoryStore::new())).await;
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("at-rest.db").display());
    ids_are_not_stored(satchel_store::open(&sqlite).await.unwrap()).await;
    let test = "sessions_at_rest::regression_grpc_session_ids_are_not_stored";
    if let Some(url) = service_url("SATCHEL_TEST_REDIS_URL", test) {
        ids_are_not_stored(satchel_store::open(&url).await.unwrap()).await;
    }
}
