//! Listing over gRPC: the server's scan cap bounds a page, never a listing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use satchel_grpc::proto::{self, store_client::StoreClient};
use satchel_grpc::{GrpcConfig, GrpcStore, ServerConfig};
use satchel_store::{Condition, Cursor, MemoryStore, Scan, Store, StoreObject};
use satchel_testkit::grpc::serve_with;

/// 0.2's server answered every scan with at most its cap (10,000 keys) and said nothing.
/// With a cap of 100 and 250 keys: a paging client lists all 250 (pages of at most 100),
/// and a request without a page token that the cap would cut short fails with
/// FAILED_PRECONDITION instead of returning 100 keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_grpc_listing_never_truncates_silently() {
    let backing = Arc::new(MemoryStore::new());
    for i in 0..250 {
        backing
            .set(&format!("k{i:03}"), b"x", None, Condition::Always)
            .await
            .unwrap();
    }
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = serve_with(backing, ServerConfig::new(any).with_scan_cap(100)).await;
    let store = GrpcStore::connect(
        GrpcConfig::new(server.addr.to_string()).with_request_timeout(Duration::from_secs(5)),
    )
    .await
    .unwrap();

    let mut keys = store.scan("k", usize::MAX).await.unwrap();
    keys.sort();
    assert_eq!(keys.len(), 250, "scan pages past the cap");
    assert_eq!(keys[249], "k249");

    let mut cursor: Option<Cursor> = None;
    let mut paged = Vec::new();
    loop {
        let page = store.scan_page("k", cursor.as_ref(), 1000).await.unwrap();
        assert!(
            page.keys.len() <= 100,
            "a page is bounded by the server's cap"
        );
        paged.extend(page.keys);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, keys, "pages in the store's order, each key once");
    let object: &dyn StoreObject = &store;
    assert_eq!(object.scan("k1", 1000).await.unwrap().len(), 100);

    // A client from before paging: an explicit limit within the cap is answered, one the
    // cap would cut short is an error.
    let mut raw = StoreClient::connect(format!("http://{}", server.addr))
        .await
        .unwrap();
    let small = raw
        .scan(proto::ScanRequest {
            prefix: "k".into(),
            limit: 20,
            page_token: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(small.keys.len(), 20);
    assert!(!small.paged && small.next_page_token.is_none());
    for limit in [0, 5000] {
        let status = raw
            .scan(proto::ScanRequest {
                prefix: "k".into(),
                limit,
                page_token: None,
            })
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
        assert!(status.message().contains("page_token"), "{status:?}");
    }
    // Within the cap, everything fits: no error.
    let few = raw
        .scan(proto::ScanRequest {
            prefix: "k24".into(),
            limit: 0,
            page_token: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(few.keys.len(), 10);
    drop(store);
    server.stop().await;
}
