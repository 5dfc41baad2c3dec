//! Faults against the real servers: the server drops our connections in the middle of a
//! run of writes (Redis `CLIENT KILL`, PostgreSQL `pg_terminate_backend`, MariaDB `KILL`).
//! The client may report errors while it lasts (they must be `Unavailable`/`Timeout`, and
//! say so), recovers by itself, and every acknowledged write is readable afterwards.
//! Bounded: 300 writes, talking to 127.0.0.1 only.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use satchel_store::{Condition, Prefixed, Store};
use satchel_testkit::store::{service_url, unique_prefix};

const WRITES: u32 = 300;

async fn writes_survive_dropped_connections(url: &str, kill: fn()) {
    let store = satchel_store::open(url).await.expect("open");
    let prefix = unique_prefix(&format!("{}-fault", store.backend()));
    let s = Arc::new(Prefixed::new(store, prefix));
    let mut acknowledged = Vec::new();
    let mut transient = 0;
    for i in 0..WRITES {
        if i == WRITES / 3 || i == 2 * WRITES / 3 {
            kill();
        }
        let key = format!("k{i}");
        let value = i.to_le_bytes();
        // The caller's retry policy: a few attempts on transient errors.
        for attempt in 0..20 {
            match s.set(&key, &value, None, Condition::Always).await {
                Ok(_) => {
                    acknowledged.push(i);
                    break;
                }
                Err(e) => {
                    assert!(e.is_transient(), "{url}: write {i}: not transient: {e:?}");
                    transient += 1;
                    assert!(attempt < 19, "{url}: no recovery after 20 attempts: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    assert_eq!(
        acknowledged.len() as u32,
        WRITES,
        "{url}: every write eventually acknowledged"
    );
    for i in &acknowledged {
        let key = format!("k{i}");
        let entry = s
            .get(&key)
            .await
            .expect("read back")
            .expect("acknowledged write lost");
        assert_eq!(entry.value, i.to_le_bytes(), "{url}: {key}");
        s.delete(&key).await.expect("cleanup");
    }
    eprintln!("{url}: {WRITES} writes, {transient} transient errors while connections were killed");
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("client tool runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_client_kill() {
    let Some(url) = service_url("SATCHEL_TEST_REDIS_URL", "redis_client_kill") else {
        return;
    };
    writes_survive_dropped_connections(&url, || {
        run(Command::new("redis-cli").args([
            "-h",
            "127.0.0.1",
            "-p",
            "6379",
            "CLIENT",
            "KILL",
            "TYPE",
            "normal",
            "SKIPME",
            "yes",
        ]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_terminate_backend() {
    let Some(url) = service_url("SATCHEL_TEST_POSTGRES_URL", "postgres_terminate_backend") else {
        return;
    };
    writes_survive_dropped_connections(&url, || {
        run(Command::new("psql").args([
            "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qtAc",
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = 'test' AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
        ]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_kill_connections() {
    let Some(url) = service_url("SATCHEL_TEST_MYSQL_URL", "mariadb_kill_connections") else {
        return;
    };
    writes_survive_dropped_connections(&url, || {
        // The ids of every other connection to `test`, then KILL each.
        let out = Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-u", "root", "-N", "-e",
                "SELECT id FROM information_schema.processlist WHERE db = 'test' AND id <> CONNECTION_ID()"])
            .output()
            .expect("mariadb client runs");
        for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = Command::new("mariadb")
                .args(["-h", "127.0.0.1", "-u", "root", "-e", &format!("KILL {id}")])
                .output();
        }
    })
    .await;
}
