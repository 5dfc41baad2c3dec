//! Health, and graceful shutdown with requests in flight.

#[allow(unused_imports)]
use super::*;

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
