//! Failover behind Redis Sentinel: each test starts its own primary, replica and three
//! sentinels on loopback ports of its own (`scripts/redis-sentinel.sh`), kills the primary
//! while one writer is writing, and checks that the store follows the primary the sentinels
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

/// What one writer saw: the keys whose writes were acknowledged, the failed writes, and
/// whether writes succeeded again after the kill.
struct Run {
    acked: Vec<String>,
    failed: usize,
    recovered: bool,
}

/// Writes `k0`, `k1`, … one at a time; kills the primary after 200 acknowledged writes,
/// restarts it as a replica of the promoted one once the promotion is seen, if `restart`,
/// and stops 100 acknowledged writes after the first success that followed the kill (or
/// at 30 s).
async fn write_through_a_failover(topology: &Topology, store: &RedisStore, restart: bool) -> Run {
    let started = Instant::now();
    let (mut acked, mut failed) = (Vec::new(), 0);
    let (mut killed_at, mut restarted, mut after) = (None::<Instant>, false, 0);
    let mut i = 0u64;
    while started.elapsed() < Duration::from_secs(30) && after < 100 {
        let key = format!("k{i}");
        i += 1;
        match store
            .set(&key, b"acknowledged", None, Condition::Always)
            .await
        {
            Ok(_) => {
                acked.push(key);
                if killed_at.is_some() {
                    after += 1;
                }
            }
            Err(_) => {
                failed += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        if killed_at.is_none() && acked.len() == 200 {
            topology.kill_primary();
            killed_at = Some(Instant::now());
        }
        if restart
            && !restarted
            && killed_at.is_some()
            && i.is_multiple_of(10)
            && topology.is_primary(topology.base + 1)
        {
            topology.restart_old_primary();
            restarted = true;
        }
    }
    Run {
        acked,
        failed,
        recovered: after >= 100,
    }
}

/// How many acknowledged keys the store no longer finds.
async fn lost(store: &RedisStore, acked: &[String]) -> usize {
    let mut lost = 0;
    for key in acked {
        if store
            .get(key)
            .await
            .expect("read after the failover")
            .is_none()
        {
            lost += 1;
        }
    }
    lost
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
    let lost = lost(&store, &run.acked).await;
    eprintln!(
        "failover without WAIT: {} writes acknowledged, {} failed during the failover, {lost} acknowledged writes lost",
        run.acked.len(),
        run.failed
    );
    assert!(
        lost <= 200,
        "lost {lost}: more than was written before the kill"
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
    let lost = lost(&store, &run.acked).await;
    eprintln!(
        "failover with WAIT 1: {} writes acknowledged, {} failed or unacknowledged, {lost} lost",
        run.acked.len(),
        run.failed
    );
    assert_eq!(lost, 0, "an acknowledged write was lost");
}
