//! Regression tests for issue 15's Coherence items, each named after what broke: values
//! nested deeper than satchel's limit were stored, values that fit a put but not a get
//! reply were stored and could never be read, a streaming reply to a client that stopped
//! reading held its entries past the request deadline. 127.0.0.1 only, bounded in time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use satchel_coherence::proto::{self as cp, named_cache_service_client::NamedCacheServiceClient};
use satchel_coherence::{Coherence, CoherenceService, to_vec};
use satchel_grpc::ServerConfig;
use satchel_store::{MemoryStore, StoreObject};
use satchel_testkit::grpc::{TestServer, serve_with};
use tokio_stream::StreamExt;
use tonic::Code;
use tonic::transport::Channel;

const CACHE: &str = "c";

async fn client(server: &TestServer) -> NamedCacheServiceClient<Channel> {
    let channel = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    NamedCacheServiceClient::new(channel).max_decoding_message_size(64 << 20)
}

fn put_raw(key: &str, value: Vec<u8>) -> cp::PutRequest {
    cp::PutRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: to_vec(key).unwrap(),
        value,
        ..Default::default()
    }
}

fn nested(levels: usize) -> Vec<u8> {
    let mut v = vec![0x15];
    v.extend(std::iter::repeat_n(b'[', levels));
    v.extend(std::iter::repeat_n(b']', levels));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_values_nested_deeper_than_128_levels_are_refused() {
    let store: Arc<dyn StoreObject> = Arc::new(MemoryStore::new());
    let server = serve_with(
        store.clone(),
        ServerConfig::new("127.0.0.1:0".parse().unwrap()).with_extension(Coherence::new()),
    )
    .await;
    let mut c = client(&server).await;
    c.put(put_raw("ok", nested(128))).await.unwrap();
    for levels in [129, 1_000_000] {
        let e = c.put(put_raw("deep", nested(levels))).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{levels}: {e:?}");
        assert!(e.message().contains("128"), "{}", e.message());
    }
    // A key too.
    let mut deep_key = put_raw("k", to_vec(&1).unwrap());
    deep_key.key = nested(200);
    let e = c.put(deep_key).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert_eq!(store.scan("coherence:", 10).await.unwrap().len(), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_value_whose_get_reply_would_not_fit_is_refused_at_put() {
    let limit = 64 * 1024;
    let store: Arc<dyn StoreObject> = Arc::new(MemoryStore::new());
    let server = serve_with(
        store.clone(),
        ServerConfig::new("127.0.0.1:0".parse().unwrap())
            .with_max_message_size(limit)
            .with_extension(Coherence::new()),
    )
    .await;
    let mut c = client(&server).await;
    // A value that fits the put request (with its small key) but not a reply with
    // framing: just under the limit.
    let string = "x".repeat(limit - 40);
    let value = to_vec(&string).unwrap();
    assert!(value.len() < limit);
    let e = c.put(put_raw("big", value)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    assert!(
        e.message().contains("never be read back"),
        "{}",
        e.message()
    );
    assert!(store.scan("coherence:", 10).await.unwrap().is_empty());
    // Comfortably under the limit: stored and read back.
    let value = to_vec(&"x".repeat(limit / 2)).unwrap();
    c.put(put_raw("fine", value.clone())).await.unwrap();
    let got = c
        .get(cp::GetRequest {
            cache: CACHE.into(),
            format: "json".into(),
            key: to_vec("fine").unwrap(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.value, value);
    server.stop().await;
}

/// Serves only the Coherence service, with a short stream time limit, from a tonic server
/// of our own (so the limit is the service's, not the request timeout's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_a_stream_the_client_stops_reading_ends_at_the_deadline() {
    let store: Arc<dyn StoreObject> = Arc::new(MemoryStore::new());
    let service =
        CoherenceService::new(store.clone()).with_max_stream_time(Duration::from_millis(500));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service.clone().into_server())
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = stopped.await;
                },
            ),
    );
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut c = NamedCacheServiceClient::new(channel);
    // 200 entries of 64 KiB: far more than the HTTP/2 window holds.
    let big = to_vec(&"v".repeat(64 * 1024)).unwrap();
    for i in 0..200 {
        c.put(put_raw(&format!("k{i}"), big.clone())).await.unwrap();
    }
    let mut stream = c
        .values(cp::ValuesRequest {
            cache: CACHE.into(),
            format: "json".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.expect("a first value").unwrap();
    assert_eq!(first, big);
    // The client stops reading, past the deadline.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    let mut read = 1;
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("the stream moves")
        {
            Some(Ok(_)) => read += 1,
            Some(Err(e)) => break Some(e),
            None => break None,
        }
    };
    let e = ended.expect("the stream ends with an error, not as if complete");
    assert_eq!(e.code(), Code::DeadlineExceeded, "{e:?}");
    assert!(read < 200, "all {read} values were sent after the deadline");
    assert!(started.elapsed() < Duration::from_secs(5));
    let _ = stop.send(());
    served.await.unwrap().unwrap();
}
