//! Regression tests for issue 15's server items, each named after what broke: sessions
//! revived or created by `CloseSession`, connections and requests the server never let go
//! of, the server's HTTP/2 limits. Everything talks to 127.0.0.1 on ephemeral ports, opens
//! at most a few connections and is bounded in time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use satchel_grpc::ServerConfig;
use satchel_grpc::proto::{self, store_client::StoreClient};
use satchel_store::{MemoryStore, Store, StoreObject};
use satchel_testkit::grpc::{TestServer, serve_with};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

fn config() -> ServerConfig {
    ServerConfig::new("127.0.0.1:0".parse().unwrap())
}

async fn raw_client(server: &TestServer) -> StoreClient<tonic::transport::Channel> {
    StoreClient::connect(format!("http://{}", server.addr))
        .await
        .unwrap()
}

/// A well-formed session id that `CreateSession` never returned.
const CHOSEN_ID: &str = "AAAAAAAAAAAAAAAAAAAAAA";

/// Where the server keeps session `id` (under the default session prefix).
fn stored(id: &str) -> String {
    let id = satchel_store::SessionId::parse(id).expect("a session id");
    format!("session:{}", id.stored_key())
}

fn close_with_value(id: &str) -> proto::CloseSessionRequest {
    proto::CloseSessionRequest {
        id: id.to_string(),
        value: Some(b"planted".to_vec()),
        if_version: None,
        ttl_ms: Some(60_000),
        destroy: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_close_session_without_if_version_never_creates_or_revives_a_session() {
    let store = Arc::new(MemoryStore::new());
    let server = serve_with(store.clone() as Arc<dyn StoreObject>, config()).await;
    let mut client = raw_client(&server).await;

    // An id the caller picked: refused, nothing written.
    let e = client
        .close_session(close_with_value(CHOSEN_ID))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound, "{e:?}");
    assert!(
        store.get(&stored(CHOSEN_ID)).await.unwrap().is_none(),
        "CloseSession created a session under a caller-chosen id"
    );

    // A destroyed session stays destroyed.
    let created = client
        .create_session(proto::CreateSessionRequest {
            value: b"cart=1".to_vec(),
            ttl_ms: 60_000,
        })
        .await
        .unwrap()
        .into_inner();
    let id = created.id.clone();
    client
        .close_session(proto::CloseSessionRequest {
            id: id.clone(),
            value: None,
            if_version: None,
            ttl_ms: None,
            destroy: true,
        })
        .await
        .unwrap();
    let e = client
        .close_session(close_with_value(&id))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound, "{e:?}");
    assert!(store.get(&stored(&id)).await.unwrap().is_none());

    // An expired session stays expired.
    let short = client
        .create_session(proto::CreateSessionRequest {
            value: b"cart=1".to_vec(),
            ttl_ms: 100,
        })
        .await
        .unwrap()
        .into_inner();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let e = client
        .close_session(close_with_value(&short.id))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::NotFound, "{e:?}");
    assert!(store.get(&stored(&short.id)).await.unwrap().is_none());

    // A live one is saved, at the version the server read.
    let live = client
        .create_session(proto::CreateSessionRequest {
            value: b"cart=1".to_vec(),
            ttl_ms: 60_000,
        })
        .await
        .unwrap()
        .into_inner();
    let saved = client
        .close_session(close_with_value(&live.id))
        .await
        .unwrap()
        .into_inner();
    let version = saved.version.expect("a version for the saved value");
    let before = live.entry.expect("the created entry").version;
    assert!(version > before, "{version} vs {before}");
    let entry = store.get(&stored(&live.id)).await.unwrap().unwrap();
    assert_eq!(entry.value, b"planted");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_silent_tcp_connection_is_closed_by_the_server() {
    let server = serve_with(
        Arc::new(MemoryStore::new()),
        config().with_idle_timeout(Duration::from_millis(300)),
    )
    .await;
    // Connects and says nothing, not even the HTTP/2 preface.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match silent.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {} // the server's SETTINGS, then GOAWAY
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "a silent connection was still open after {:?}",
        started.elapsed()
    );
    server.stop().await;
}

/// The idle timer counts from the peer's last byte: a client calling every 100 ms keeps its
/// connection past many idle timeouts of 300 ms (the timer is moved when it fires early, not
/// on every read), and once it goes quiet the connection is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_in_use_outlives_the_idle_timeout_and_is_closed_once_quiet() {
    let server = serve_with(
        Arc::new(MemoryStore::new()),
        config().with_idle_timeout(Duration::from_millis(300)),
    )
    .await;
    // Driven at once (h2_connection waits 300 ms for the server's SETTINGS: an idle timeout).
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (send, connection) = h2::client::handshake(tcp).await.unwrap();
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut send = send.ready().await.unwrap();
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(1500) {
        let (reply, _) = send
            .send_request(get_request(server.addr), true)
            .expect("the connection is still open");
        let reply = tokio::time::timeout(Duration::from_secs(5), reply)
            .await
            .expect("an answer")
            .expect("the connection is still open");
        assert_eq!(reply.status(), 200);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Quiet now: the server closes it within a few idle timeouts (the keepalive pings the
    // server sends are not the peer's bytes).
    let closed = tokio::time::timeout(Duration::from_secs(10), driver).await;
    assert!(closed.is_ok(), "a quiet connection was not closed");
    server.stop().await;
}

/// An HTTP/2 connection to the server, driven in the background, and its request handle.
async fn h2_connection(
    server: &TestServer,
) -> (
    h2::client::SendRequest<bytes::Bytes>,
    tokio::task::JoinHandle<()>,
    usize,
) {
    let tcp = TcpStream::connect(server.addr).await.unwrap();
    let (send, mut connection) = h2::client::handshake(tcp).await.unwrap();
    // Let the server's SETTINGS arrive.
    let _ = tokio::time::timeout(Duration::from_millis(300), &mut connection).await;
    let max_streams = connection.max_concurrent_send_streams();
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    (send, driver, max_streams)
}

fn get_request(addr: std::net::SocketAddr) -> http::Request<()> {
    http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/satchel.store.v1.Store/Get"))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_request_with_no_body_does_not_hold_shutdown_up() {
    let server = serve_with(
        Arc::new(MemoryStore::new()),
        config().with_shutdown_grace(Duration::from_millis(500)),
    )
    .await;
    let (mut send, driver, _) = h2_connection(&server).await;
    send = send.ready().await.unwrap();
    // Headers without END_STREAM, and then never a body.
    let (_response, _body) = send.send_request(get_request(server.addr), false).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .expect("the server stopped");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "shutdown took {:?}",
        started.elapsed()
    );
    driver.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_concurrent_streams_per_connection_are_limited() {
    let server = serve_with(
        Arc::new(MemoryStore::new()),
        config().with_max_streams_per_connection(8),
    )
    .await;
    let (_send, driver, max_streams) = h2_connection(&server).await;
    assert_eq!(
        max_streams, 8,
        "the server's SETTINGS_MAX_CONCURRENT_STREAMS"
    );
    driver.abort();
    server.stop().await;
}

/// One gRPC message frame: not compressed, its length, its bytes.
fn grpc_frame(message: &[u8]) -> bytes::Bytes {
    let mut frame = vec![0u8];
    frame.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
    frame.extend_from_slice(message);
    frame.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_malformed_protobuf_is_invalid_argument_not_internal() {
    let server = serve_with(Arc::new(MemoryStore::new()), config()).await;
    let (mut send, driver, _) = h2_connection(&server).await;
    send = send.ready().await.unwrap();
    let (response, mut body) = send.send_request(get_request(server.addr), false).unwrap();
    // Field 1 (the key, bytes) claims 100 bytes; one follows.
    body.send_data(grpc_frame(&[0x0a, 100, b'x']), true)
        .unwrap();
    let response = tokio::time::timeout(Duration::from_secs(10), response)
        .await
        .expect("a reply")
        .unwrap();
    let mut status = response
        .headers()
        .get("grpc-status")
        .map(|v| v.to_str().unwrap().to_string());
    let mut message = response
        .headers()
        .get("grpc-message")
        .map(|v| v.to_str().unwrap().to_string());
    if status.is_none() {
        let mut reply = response.into_body();
        while let Some(chunk) = reply.data().await {
            chunk.unwrap();
        }
        let trailers = reply.trailers().await.unwrap().expect("trailers");
        status = trailers
            .get("grpc-status")
            .map(|v| v.to_str().unwrap().to_string());
        message = trailers
            .get("grpc-message")
            .map(|v| v.to_str().unwrap().to_string());
    }
    assert_eq!(
        status.as_deref(),
        Some("3"),
        "INVALID_ARGUMENT is 3 (INTERNAL is 13); message: {message:?}"
    );
    driver.abort();
    server.stop().await;
}
