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

/// Issue 15's measure of trust: 20 clients increment one counter by compare-and-set through
/// `satchel serve` while the server is SIGKILLed and restarted twice; afterwards the
/// counter holds exactly the acknowledged increments, none lost and none doubled.
///
/// Each increment has an id and the value is the set of ids applied, so a call whose
/// outcome the client could not learn (the server died mid-call: the write may or may not
/// have been applied) is settled by reading the value again: if the id is there it was
/// applied; if not, the same id is tried again, which cannot apply it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cas_counter_across_two_server_kills_counts_exactly_the_acknowledged() {
    use satchel::Codec;
    use satchel_store::{Condition, Store};
    use std::collections::BTreeSet;

    const CLIENTS: u32 = 20;
    const EACH: u32 = 15;
    let binary = satchel_binary();
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("cas.db");
    let log = dir.path().join("serve.log");
    let (server, addr) = start_satchel(&binary, &db, "127.0.0.1:0".parse().unwrap(), &log);
    let url = format!("grpc://{addr}?timeout=3s");
    let key = format!("{}counter", unique_prefix("grpc-cas"));
    let codec = Codec::json();
    let started = Instant::now();
    let deadline = started + std::time::Duration::from_secs(150);

    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (url, key) = (url.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let store = satchel_store::open(&url).await.expect("open");
            let (mut acked, mut failed_calls) = (Vec::new(), 0u32);
            for n in 0..EACH {
                let id = client * 1000 + n;
                loop {
                    assert!(Instant::now() < deadline, "client {client}: out of time");
                    let entry = match store.get(&key).await {
                        Ok(e) => e,
                        Err(_) => {
                            failed_calls += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let (mut ids, condition) = match &entry {
                        Some(e) => (
                            codec.decode::<BTreeSet<u32>>(&e.value).expect("a set"),
                            Condition::IfVersion(e.version),
                        ),
                        None => (BTreeSet::new(), Condition::IfAbsent),
                    };
                    if ids.contains(&id) {
                        acked.push(id); // applied by a call whose answer was lost
                        break;
                    }
                    ids.insert(id);
                    let bytes = codec.encode(&ids).expect("encodes");
                    match store.set(&key, &bytes, None, condition).await {
                        Ok(_) => {
                            acked.push(id);
                            break;
                        }
                        Err(e) if e.is_conflict() => {}
                        // Unknown outcome: the next round reads it back.
                        Err(_) => {
                            failed_calls += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        }
                    }
                }
            }
            (acked, failed_calls)
        }));
    }

    // Two kills, each followed by a restart on the same port, while the clients run.
    let mut server = Some(server);
    for round in 0..2 {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        server.take().expect("running").kill();
        tokio::time::sleep(DOWN_FOR).await;
        let (restarted, _) = start_satchel(&binary, &db, addr, &log);
        server = Some(restarted);
        eprintln!("cas: kill {} done at {:?}", round + 1, started.elapsed());
    }

    let (mut acked, mut failed_calls) = (BTreeSet::new(), 0);
    for task in tasks {
        let (ids, failed) = task.await.expect("client task");
        failed_calls += failed;
        for id in ids {
            assert!(acked.insert(id), "id {id} acknowledged twice");
        }
    }
    assert!(
        failed_calls > 0,
        "no call failed: were the kills really during the run?"
    );
    assert_eq!(acked.len(), (CLIENTS * EACH) as usize);
    let store = satchel_store::open(&url).await.expect("open");
    let stored: BTreeSet<u32> = codec
        .decode(&store.get(&key).await.expect("get").expect("present").value)
        .expect("a set");
    assert_eq!(
        stored, acked,
        "the counter is not exactly the acknowledged increments"
    );
    drop(server);
    eprintln!(
        "cas: {} increments across two kills ({failed_calls} failed calls) in {:?}",
        acked.len(),
        started.elapsed()
    );
}
