//! The session calls: created, extended, closed, and expiring unless extended.

#[allow(unused_imports)]
use super::*;

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
