//! Small things that broke once (issue 15, "Trust"), each named after what broke.

use std::sync::Arc;
use std::time::Duration;

use satchel::Codec;
use satchel_session::{SessionConfig, SessionManager, SessionOptions, Sessions};
use satchel_store::{MemoryStore, StoreErrorKind};

/// `Session::open` outside a tokio runtime panicked (in `tokio::spawn`); it is an error.
#[test]
fn regression_open_outside_a_runtime_panics() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sessions = Sessions::new(
        Arc::new(MemoryStore::new()),
        Codec::json(),
        SessionConfig::default(),
    );
    let mut s = runtime.block_on(async {
        let mut s = sessions.create();
        s.insert("k", &1).unwrap();
        s.save().await.unwrap();
        s
    });
    let id = s.id().unwrap().to_string();
    let err = s.open().unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("tokio runtime"), "{err}");
    assert!(
        !err.to_string().contains(&id),
        "the error carries the full id: {err}"
    );
    assert!(s.keep_alive_status().is_none());
    // Inside a runtime it opens.
    runtime.block_on(async { s.open().unwrap() });
}

/// `SessionManager::get_session` held its lock across the connect to a store, so one
/// unreachable store blocked every other name. A server that accepts and never answers
/// stands in for a store that hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_get_session_holds_its_lock_across_a_connect() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            held.push(conn);
        }
    });
    let manager = Arc::new(SessionManager::new());
    let slow = {
        let manager = manager.clone();
        tokio::spawn(async move {
            let options = SessionOptions::new(format!("redis://127.0.0.1:{port}"));
            manager.get_session("slow", &options).await.map(drop)
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !slow.is_finished(),
        "the silent server answered: the test proves nothing"
    );
    let fast = tokio::time::timeout(
        Duration::from_secs(2),
        manager.get_session("fast", &SessionOptions::new("memory://")),
    )
    .await
    .expect("get_session for one store waited on another store's connect");
    fast.unwrap();
    slow.abort();
    hold.abort();
}
