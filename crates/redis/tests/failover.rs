//! Failover behind Redis Sentinel: each test starts its own primary, replica and three
//! sentinels on loopback ports of its own (`scripts/redis-sentinel.sh`), kills the primary
//! while eight writers are writing, and checks that the store follows the primary the sentinels
//! promote, and what the acknowledged writes became. Bounded: at most 40 s a test; the
//! processes are stopped by their pid files however the test ends.
//!
//! Runs where `SATCHEL_TEST_REDIS_URL` is set (the same condition as every Redis test;
//! `redis-server` is the only program it needs).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use satchel_redis::{Condition, RedisConfig, RedisStore, Store};

mod support;

/// A primary (`base`), its replica (`base + 1`) and three sentinels, stopped on drop.
struct Topology {
    dir: tempfile::TempDir,
    base: u16,
    sentinels: String,
    url: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/redis-sentinel.sh")
}

impl Topology {
    fn start(base: u16, sentinel: u16) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let sentinels = format!("{} {} {}", sentinel, sentinel + 1, sentinel + 2);
        let out = Command::new("bash")
            .arg(script())
            .arg("start")
            .arg(dir.path().join("nodes"))
            .env("SATCHEL_SENTINEL_BASE", base.to_string())
            .env("SATCHEL_SENTINEL_PORTS", &sentinels)
            .output()
            .expect("bash runs");
        assert!(
            out.status.success(),
            "redis-sentinel.sh start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_string();
        Self {
            dir,
            base,
            sentinels,
            url,
        }
    }

    fn pid_file(&self, port: u16) -> PathBuf {
        self.dir.path().join(format!("nodes/{port}/redis.pid"))
    }

    /// Kills the primary with SIGKILL: a crash, nothing flushed or handed over.
    fn kill_primary(&self) {
        let pid = std::fs::read_to_string(self.pid_file(self.base)).expect("primary pid");
        let status = Command::new("kill")
            .args(["-9", pid.trim()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Starts the killed primary again, empty, as a replica of the promoted one (as an
    /// operator brings a lost node back).
    fn restart_old_primary(&self) {
        let d = self.dir.path().join(format!("nodes/{}", self.base));
        let status = Command::new("redis-server")
            .args(["--port", &self.base.to_string(), "--bind", "127.0.0.1"])
            .args(["--replicaof", "127.0.0.1", &(self.base + 1).to_string()])
            .arg("--dir")
            .arg(&d)
            .arg("--pidfile")
            .arg(self.pid_file(self.base))
            .arg("--logfile")
            .arg(d.join("redis.log"))
            .args(["--save", "", "--appendonly", "no", "--daemonize", "yes"])
            .status()
            .expect("redis-server runs");
        assert!(status.success());
    }

    /// Whether the server on `port` answers `ROLE` as a primary.
    fn is_primary(&self, port: u16) -> bool {
        Command::new("redis-cli")
            .args(["-p", &port.to_string(), "role"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).starts_with("master"))
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(self.dir.path().join("nodes"))
            .env("SATCHEL_SENTINEL_BASE", self.base.to_string())
            .env("SATCHEL_SENTINEL_PORTS", &self.sentinels)
            .status();
    }
}

/// What the writers saw: the keys whose writes were acknowledged (each with whether the
/// write began after the kill), the failed writes, and whether writes succeeded again
/// after the kill.
struct Run {
    acked: Vec<(String, bool)>,
    failed: usize,
    recovered: bool,
}

/// How many writers write at once: the failover happens under load, not between the
/// writes of one client.
const WRITERS: usize = 8;

/// `WRITERS` tasks write keys of their own (`w{n}-k{i}`), one write at a time each; a
/// supervisor kills the primary after 200 acknowledged writes in all, restarts it as a
/// replica of the promoted one once the promotion is seen, if `restart`, and the writers
/// stop 100 acknowledged writes each after the kill (or at 30 s).
async fn write_through_a_failover(topology: &Topology, store: &RedisStore, restart: bool) -> Run {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    let deadline = Instant::now() + Duration::from_secs(30);
    let acked_total = Arc::new(AtomicUsize::new(0));
    let after_total = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, acked_total, after_total, killed) = (
            store.clone(),
            acked_total.clone(),
            after_total.clone(),
            killed.clone(),
        );
        writers.push(tokio::spawn(async move {
            let (mut acked, mut failed, mut after) = (Vec::new(), 0, 0);
            let mut i = 0u64;
            while Instant::now() < deadline && after < 100 {
                let key = format!("w{w}-k{i}");
                i += 1;
                let began_after_kill = killed.load(Ordering::SeqCst);
                match store
                    .set(&key, b"acknowledged", None, Condition::Always)
                    .await
                {
                    Ok(_) => {
                        acked.push((key, began_after_kill));
                        acked_total.fetch_add(1, Ordering::SeqCst);
                        if began_after_kill {
                            after += 1;
                            after_total.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    Err(_) => {
                        failed += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            (acked, failed)
        }));
    }
    // The supervisor: kill, then (if asked) bring the old primary back as a replica.
    let mut restarted = false;
    while Instant::now() < deadline && after_total.load(Ordering::SeqCst) < 100 * WRITERS {
        if !killed.load(Ordering::SeqCst) && acked_total.load(Ordering::SeqCst) >= 200 {
            topology.kill_primary();
            killed.store(true, Ordering::SeqCst);
        }
        if restart
            && !restarted
            && killed.load(Ordering::SeqCst)
            && topology.is_primary(topology.base + 1)
        {
            topology.restart_old_primary();
            restarted = true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut acked, mut failed) = (Vec::new(), 0);
    for writer in writers {
        let (a, f) = writer.await.expect("writer");
        acked.extend(a);
        failed += f;
    }
    Run {
        acked,
        failed,
        recovered: after_total.load(Ordering::SeqCst) >= 100 * WRITERS,
    }
}

/// The acknowledged keys the store no longer finds: (lost in all, lost of those whose
/// write began after the kill).
async fn lost(store: &RedisStore, acked: &[(String, bool)]) -> (usize, usize) {
    let (mut lost, mut lost_after_kill) = (0, 0);
    for (key, after_kill) in acked {
        if store
            .get(key)
            .await
            .expect("read after the failover")
            .is_none()
        {
            lost += 1;
            if *after_kill {
                lost_after_kill += 1;
            }
        }
    }
    (lost, lost_after_kill)
}

fn config(url: &str) -> RedisConfig {
    RedisConfig::new(url)
        .with_response_timeout(Some(Duration::from_millis(1500)))
        .with_connection_timeout(Some(Duration::from_millis(500)))
        .with_reconnect_attempts(1)
}

/// Without waiting for replicas: the store follows the promoted replica by itself; what the
/// failover lost of the acknowledged writes is printed (Redis replicates asynchronously,
/// so some of the last writes before the kill may be gone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_follows_the_primary_the_sentinels_promote() {
    if support::test_url().is_none() {
        return;
    }
    let topology = Topology::start(7411, 26411);
    let store = RedisStore::with_config(config(&topology.url))
        .await
        .unwrap();
    let run = write_through_a_failover(&topology, &store, false).await;
    assert!(
        run.recovered,
        "no write succeeded after the failover ({} failed)",
        run.failed
    );
    assert!(topology.is_primary(7412), "the replica was promoted");
    let (lost, lost_after_kill) = lost(&store, &run.acked).await;
    eprintln!(
        "failover without WAIT, {WRITERS} writers: {} writes acknowledged, {} failed during the failover, {lost} acknowledged writes lost",
        run.acked.len(),
        run.failed
    );
    // What the dead primary had not passed on may be gone; a write that began after the
    // kill can only have been acknowledged by the promoted replica, and must be there.
    assert_eq!(
        lost_after_kill, 0,
        "{lost_after_kill} writes acknowledged after the kill were lost: the store wrote \
         somewhere other than the promoted primary"
    );
}

/// With `with_replica_acks(1, …)` every acknowledged write is on the replica before it is
/// acknowledged, so none is lost when the replica is promoted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_replica_acks_no_acknowledged_write_is_lost() {
    if support::test_url().is_none() {
        return;
    }
    let topology = Topology::start(7421, 26421);
    let store = RedisStore::with_config(
        config(&topology.url).with_replica_acks(1, Duration::from_millis(500)),
    )
    .await
    .unwrap();
    let run = write_through_a_failover(&topology, &store, true).await;
    assert!(
        run.recovered,
        "no write succeeded after the failover ({} failed)",
        run.failed
    );
    assert!(topology.is_primary(7422), "the replica was promoted");
    let (lost, _) = lost(&store, &run.acked).await;
    eprintln!(
        "failover with WAIT 1, {WRITERS} writers: {} writes acknowledged, {} failed or unacknowledged, {lost} lost",
        run.acked.len(),
        run.failed
    );
    assert_eq!(lost, 0, "an acknowledged write was lost");
}
