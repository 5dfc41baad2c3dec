//! Restarts, unreachable servers and bad requests: named errors, and the server keeps
//! serving.

#[allow(unused_imports)]
use super::*;

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
