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

/// Established TCP connections from this process's sockets to `port` on 127.0.0.1, from
/// /proc/net/tcp (state 01). Counts both ends that are ours only on the client side: the
/// server's accepted sockets have `port` as their local port, not their remote one.
fn connections_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 3 && fields[3] == "01" && fields[2].ends_with(&format!(":{port:04X}"))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_are_spread_over_the_configured_connections_and_each_reconnects() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let port = server.addr.port();
    let store = GrpcStore::connect(client_config(&server).with_connections(3))
        .await
        .unwrap();
    assert!(format!("{store:?}").contains("connections: 3"), "{store:?}");
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .set(&format!("k{i}"), b"v", None, Condition::Always)
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(connections_to(port), 3, "one socket a connection");

    // The server restarts on the same port: every connection comes back by itself.
    let addr = server.addr;
    server.stop().await;
    assert!(store.get("k0").await.is_err());
    let server = satchel_testkit::grpc::serve_on(
        Arc::new(MemoryStore::new()),
        ServerConfig::new(addr),
        addr,
    )
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut answered = 0;
    while answered < 6 {
        assert!(std::time::Instant::now() < deadline, "no reconnection");
        match store.get("k0").await {
            Ok(found) => {
                assert!(found.is_none(), "a new, empty store");
                answered += 1;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert_eq!(connections_to(port), 3);
    server.stop().await;
}
