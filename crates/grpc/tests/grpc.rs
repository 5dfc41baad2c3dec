//! The gRPC server and client beyond the store conformance suite (which runs over gRPC in
//! `tests/tests/stores.rs` and `sessions.rs`): TLS and mutual TLS, tokens, deadlines,
//! restarts, bad input, session calls, health and graceful shutdown. Everything talks to
//! 127.0.0.1 on ephemeral ports and stops by itself.

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

// ---------------------------------------------------------------------------------------
// TLS

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn new_ca(name: &str) -> (String, Issuer<'static, KeyPair>) {
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

fn leaf(issuer: &Issuer<'static, KeyPair>, names: &[&str]) -> (String, String) {
    let mut params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// CA 1 signs the server's certificate (for `localhost` and 127.0.0.1) and a client
/// certificate; CA 2, which the server does not trust, signs another client certificate.
fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let (ca1, issuer1) = new_ca("satchel test CA 1");
    let (ca2, issuer2) = new_ca("satchel test CA 2");
    let (server_cert, server_key) = leaf(&issuer1, &["localhost", "127.0.0.1"]);
    let (client_cert, client_key) = leaf(&issuer1, &["client.test"]);
    let (rogue_cert, rogue_key) = leaf(&issuer2, &["rogue.test"]);
    for (name, pem) in [
        ("ca1.pem", ca1),
        ("ca2.pem", ca2),
        ("server.pem", server_cert),
        ("server.key", server_key),
        ("client.pem", client_cert),
        ("client.key", client_key),
        ("rogue.pem", rogue_cert),
        ("rogue.key", rogue_key),
    ] {
        std::fs::write(dir.path().join(name), pem).unwrap();
    }
    Pki { dir }
}

fn server_tls(pki: &Pki, mutual: bool) -> ServerTls {
    let tls = ServerTls::from_files(pki.path("server.pem"), pki.path("server.key")).unwrap();
    if mutual {
        tls.with_client_ca_file(pki.path("ca1.pem")).unwrap()
    } else {
        tls
    }
}

async fn write_read(store: &GrpcStore) -> Result<()> {
    store.set("tls-k", b"v", None, Condition::Always).await?;
    assert_eq!(store.get("tls-k").await?.unwrap().value, b"v");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_server_is_reached_with_its_ca_and_only_over_tls() {
    let pki = pki();
    let server = serve_with(
        Arc::new(MemoryStore::new()),
        ServerConfig::new(any_port()).with_tls(server_tls(&pki, false)),
    )
    .await;
    let tls = client_config(&server).with_tls(ClientTls::new(pki.path("ca1.pem")));
    write_read(&GrpcStore::connect(tls).await.unwrap())
        .await
        .unwrap();

    // The same through a URL.
    let url = format!(
        "grpcs://{}?ca={}&timeout=5s",
        server.addr,
        pki.path("ca1.pem").display()
    );
    write_read(&GrpcStore::open(&url).await.unwrap())
        .await
        .unwrap();

    // A CA that did not sign the server's certificate: refused.
    let wrong = client_config(&server).with_tls(ClientTls::new(pki.path("ca2.pem")));
    assert_refused(GrpcStore::connect(wrong).await).await;

    // Plain text to a TLS port: refused.
    assert_refused(GrpcStore::connect(client_config(&server)).await).await;
    server.stop().await;
}

/// A refused TLS handshake shows up at connect, or at the first call for a lazily
/// established connection: either way as `Unavailable`, never as success.
async fn assert_refused(connected: Result<GrpcStore>) {
    match connected {
        Err(e) => assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{e}"),
        Ok(store) => {
            let e = write_read(&store).await.unwrap_err();
            assert!(
                matches!(
                    e.kind(),
                    StoreErrorKind::Unavailable | StoreErrorKind::Backend
                ),
                "{e:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_refuses_clients_without_a_certificate_from_its_ca() {
    let pki = pki();
    let server = serve_with(
        Arc::new(MemoryStore::new()),
        ServerConfig::new(any_port()).with_tls(server_tls(&pki, true)),
    )
    .await;
    let ca = || ClientTls::new(pki.path("ca1.pem"));

    let good = client_config(&server)
        .with_tls(ca().with_identity(pki.path("client.pem"), pki.path("client.key")));
    write_read(&GrpcStore::connect(good).await.unwrap())
        .await
        .unwrap();

    let no_cert = client_config(&server).with_tls(ca());
    assert_refused(GrpcStore::connect(no_cert).await).await;

    let rogue = client_config(&server)
        .with_tls(ca().with_identity(pki.path("rogue.pem"), pki.path("rogue.key")));
    assert_refused(GrpcStore::connect(rogue).await).await;

    // The environment's way: TLS on when all three SATCHEL_TLS_* are set. (Checked
    // through the URL form here so the test does not change the process environment.)
    let url = format!(
        "grpcs://{}?ca={}&cert={}&key={}",
        server.addr,
        pki.path("ca1.pem").display(),
        pki.path("client.pem").display(),
        pki.path("client.key").display()
    );
    write_read(&GrpcStore::open(&url).await.unwrap())
        .await
        .unwrap();

    // A missing certificate file is named.
    let missing = client_config(&server).with_tls(ClientTls::new(pki.path("nope.pem")));
    let e = GrpcStore::connect(missing).await.unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::InvalidInput);
    assert!(e.to_string().contains("nope.pem"), "{e}");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Tokens

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_when_configured_and_never_echoed() {
    let server = serve_with(
        Arc::new(MemoryStore::new()),
        ServerConfig::new(any_port()).with_token("open-sesame"),
    )
    .await;
    let anonymous = GrpcStore::connect(client_config(&server)).await.unwrap();
    let e = anonymous.get("k").await.unwrap_err();
    assert!(e.to_string().contains("token"), "{e}");
    let wrong = GrpcStore::connect(client_config(&server).with_token("guess"))
        .await
        .unwrap();
    let e = wrong.get("k").await.unwrap_err();
    assert!(!format!("{e} {e:?}").contains("open-sesame"), "{e:?}");

    let good = GrpcStore::connect(client_config(&server).with_token("open-sesame"))
        .await
        .unwrap();
    good.set("k", b"v", None, Condition::Always).await.unwrap();
    assert!(!format!("{good:?}").contains("open-sesame"));

    // The URL form: grpc://:token@host:port.
    let by_url = GrpcStore::open(&format!("grpc://:open-sesame@{}", server.addr))
        .await
        .unwrap();
    assert_eq!(by_url.get("k").await.unwrap().unwrap().value, b"v");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Deadlines

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_makes_the_client_deadline_fire_and_keeps_serving() {
    let server = serve(slow(Duration::from_secs(3))).await;
    let store =
        GrpcStore::connect(client_config(&server).with_request_timeout(Duration::from_millis(300)))
            .await
            .unwrap();
    let started = std::time::Instant::now();
    let e = store.get("k").await.unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Timeout, "{e}");
    assert_eq!(e.key(), Some("k"));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the deadline did not fire"
    );
    // Writes are not slow: the server still answers.
    store.set("k", b"v", None, Condition::Always).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_caps_request_time_and_honours_the_clients_deadline() {
    // The server gives up after 200 ms whatever the client allows.
    let server = serve_with(
        slow(Duration::from_secs(3)),
        ServerConfig::new(any_port()).with_max_request_time(Duration::from_millis(200)),
    )
    .await;
    let store = GrpcStore::connect(client_config(&server)).await.unwrap();
    let e = store.get("k").await.unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Timeout, "{e}");

    // A raw client's grpc-timeout header is honoured by the server itself.
    let mut raw = raw_client(&server).await;
    let mut request = tonic::Request::new(proto::GetRequest { key: "k".into() });
    request.set_timeout(Duration::from_millis(100));
    let status = raw.get(request).await.unwrap_err();
    assert!(
        matches!(
            status.code(),
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled
        ),
        "{status:?}"
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Restarts

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_is_reconnected_and_acknowledged_writes_survive() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("restart.db").display());
    let server = serve(satchel_store::open(&url).await.unwrap()).await;
    let addr = server.addr;
    let store =
        GrpcStore::connect(client_config(&server).with_request_timeout(Duration::from_secs(2)))
            .await
            .unwrap();

    let mut acknowledged = Vec::new();
    for i in 0..40 {
        let key = format!("k{i}");
        store
            .set(&key, key.as_bytes(), None, Condition::Always)
            .await
            .unwrap();
        acknowledged.push(key);
    }
    // A crash: the server task is aborted with its connections.
    server.kill().await;
    let e = store.get("k0").await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");

    // A new process would open the same file: so does the new server, on the same port.
    let server = serve_on(
        satchel_store::open(&url).await.unwrap(),
        ServerConfig::new(addr),
        addr,
    )
    .await;
    // The client reconnects by itself; give it a few attempts.
    let mut ok = false;
    for _ in 0..50 {
        if store.get("k0").await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the client did not reconnect");
    for key in &acknowledged {
        let entry = store
            .get(key)
            .await
            .unwrap()
            .expect("acknowledged write lost");
        assert_eq!(entry.value, key.as_bytes());
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_named() {
    let e = GrpcStore::connect(
        GrpcConfig::new("127.0.0.1:1").with_connect_timeout(Duration::from_secs(2)),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Unavailable);
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
    assert!(std::error::Error::source(&e).is_some());
}

// ---------------------------------------------------------------------------------------
// Bad input

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_statuses_and_the_server_keeps_serving() {
    let server = serve_with(
        Arc::new(MemoryStore::new()),
        ServerConfig::new(any_port())
            .with_max_message_size(64 << 10)
            .with_header_check(true),
    )
    .await;
    let mut raw = raw_client(&server).await;
    let good = satchel::Codec::json().encode(&"hello").unwrap();
    let set = |key: &str, value: Vec<u8>| {
        tonic::Request::new(proto::SetRequest {
            key: key.into(),
            value,
            ttl_ms: None,
            condition: None,
        })
    };

    // Larger than the limit.
    let status = raw
        .set(set("big", vec![0xC1; 100 << 10]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}");

    // Not pipeline output, with the header check on.
    let status = raw
        .set(set("bad", b"{\"plain\": \"json\"}".to_vec()))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("`bad`"), "{status:?}");

    // An empty key.
    let status = raw.set(set("", good.clone())).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let status = raw
        .get(proto::GetRequest { key: String::new() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");

    // A zero ttl.
    let mut zero = set("z", good.clone()).into_inner();
    zero.ttl_ms = Some(0);
    let status = raw.set(zero).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");

    // Still serving.
    raw.set(set("fine", good.clone())).await.unwrap();
    let got = raw
        .get(proto::GetRequest { key: "fine".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.entry.unwrap().value, good);

    // Through GrpcStore: the same limits are store errors of the right kind.
    let store = GrpcStore::connect(client_config(&server)).await.unwrap();
    let e = store
        .set("big", &vec![0xC1; 100 << 10], None, Condition::Always)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::InvalidInput, "{e}");
    let e = store
        .set("bad", b"plain", None, Condition::Always)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::InvalidInput, "{e}");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Sessions

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_created_extended_closed_and_expire_unless_extended() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let store = GrpcStore::connect(client_config(&server)).await.unwrap();
    let ttl = Duration::from_millis(600);

    let (id, entry) = store.create_session(b"cart=1", ttl).await.unwrap();
    assert_eq!(entry.value, b"cart=1");
    let opened = store.open_session(&id, None).await.unwrap();
    assert_eq!(opened.version, entry.version);

    // Extended every 200 ms, it outlives its ttl.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        store.extend_session(&id, ttl).await.unwrap();
    }
    let opened = store.open_session(&id, Some(ttl)).await.unwrap();

    // A close with a stale version loses; the current one wins.
    let e = store
        .close_session(
            &id,
            Some((b"stale", Version::new(opened.version.get() - 1))),
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Conflict, "{e}");
    let saved = store
        .close_session(&id, Some((b"cart=2", opened.version)), false)
        .await
        .unwrap()
        .unwrap();
    assert!(saved > opened.version);
    assert_eq!(
        store.open_session(&id, None).await.unwrap().value,
        b"cart=2"
    );

    // Left alone, it expires and stays expired.
    tokio::time::sleep(ttl + Duration::from_millis(300)).await;
    let e = store.open_session(&id, Some(ttl)).await.unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::NotFound, "{e}");
    let e = store.extend_session(&id, ttl).await.unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::NotFound, "{e}");

    // Destroyed sessions are gone.
    let (id, _) = store.create_session(b"x", ttl).await.unwrap();
    store.close_session(&id, None, true).await.unwrap();
    assert!(
        store
            .open_session(&id, None)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // A crafted id never reaches the store.
    let mut raw = raw_client(&server).await;
    let status = raw
        .open_session(proto::OpenSessionRequest {
            id: "../../etc/passwd".into(),
            ttl_ms: None,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Health and shutdown

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_serving() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    for service in ["", "satchel.store.v1.Store"] {
        let status = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(
            status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service:?}"
        );
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_lets_requests_in_flight_finish() {
    let server = serve(slow(Duration::from_millis(500))).await;
    let store = GrpcStore::connect(client_config(&server)).await.unwrap();
    store.set("k", b"v", None, Condition::Always).await.unwrap();
    let in_flight = tokio::spawn({
        let store = store.clone();
        async move { store.get("k").await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop().await;
    let entry = in_flight
        .await
        .unwrap()
        .expect("in-flight request finished");
    assert_eq!(entry.unwrap().value, b"v");
    // And then it is gone.
    let e = store.get("k").await.unwrap_err();
    assert!(e.is_transient(), "{e:?}");
}
