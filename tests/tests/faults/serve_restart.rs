//! 3. The `satchel serve` binary, SIGKILLed and restarted.

use std::time::Instant;

use satchel_testkit::store::unique_prefix;

use crate::DOWN_FOR;
use crate::support::binary::{satchel_binary, start_satchel};
use crate::support::retry::{assert_all_readable, writes_across_a_crash};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_server_binary_killed_and_restarted() {
    let binary = satchel_binary();
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("f.db");
    let log = dir.path().join("serve.log");
    let (server, addr) = start_satchel(&binary, &db, "127.0.0.1:0".parse().unwrap(), &log);
    let url = format!("grpc://{addr}?timeout=5s");
    let label = format!("satchel serve (sqlite) on {addr}");
    let store = satchel_store::open(&url).await.expect("open");
    let prefix = unique_prefix("grpc-serve");
    let (binary2, db2, log2) = (binary.clone(), db.clone(), log.clone());
    let (acked, errors, server) = writes_across_a_crash(&*store, &prefix, &label, move || {
        server.kill();
        std::thread::spawn(move || {
            std::thread::sleep(DOWN_FOR);
            start_satchel(&binary2, &db2, addr, &log2).0
        })
    })
    .await;
    errors.report(&label);
    assert!(
        errors.count > 0,
        "{label}: down for {DOWN_FOR:?} and no call failed: was it really killed?"
    );
    assert_all_readable(&*store, &acked, &label).await;
    let fresh = satchel_store::open(&url).await.expect("a fresh connection");
    assert_all_readable(&*fresh, &acked, &format!("{label}, fresh connection")).await;

    // Killed once more right after the last write, the server leaves everything it
    // acknowledged in its SQLite file.
    server.kill();
    let file = satchel_store::open(&format!("sqlite://{}", db.display()))
        .await
        .expect("open the server's SQLite file");
    assert_all_readable(&*file, &acked, &format!("{label}, its file after a kill")).await;
    eprintln!("{label}: done in {:?}", started.elapsed());
}
