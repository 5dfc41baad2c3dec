//! Deadlines: a slow backend, the server's request-time cap and the client's deadline.

#[allow(unused_imports)]
use super::*;

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
