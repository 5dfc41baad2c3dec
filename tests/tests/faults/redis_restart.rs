//! 1. Redis with an append-only file, SIGKILLed and restarted.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use satchel_testkit::store::unique_prefix;

use crate::DOWN_FOR;
use crate::support::process::{Server, free_port, have_program};
use crate::support::retry::{assert_all_readable, writes_across_a_crash};

/// Starts `redis-server` on `port`, persisting into `dir` with an fsync per write, and
/// waits until it answers `PING` (after loading its append-only file).
fn start_redis(dir: &Path, port: u16) -> Server {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args([
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .args(["--daemonize", "no", "--logfile", "redis.log"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server starts");
    let server = Server {
        child,
        what: format!("redis-server on port {port}"),
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !redis_ping(addr) {
        let log = std::fs::read_to_string(dir.join("redis.log")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "redis-server on {addr} did not answer PING within 10 s; its log:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

/// Whether a Redis server answers `PING` with `+PONG` on `addr` (not `-LOADING`).
fn redis_ping(addr: SocketAddr) -> bool {
    let Ok(mut conn) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_millis(500)));
    let mut reply = [0u8; 5];
    conn.write_all(b"PING\r\n").is_ok() && conn.read_exact(&mut reply).is_ok() && &reply == b"+PONG"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_with_appendonly_killed_and_restarted() {
    const TEST: &str = "redis_with_appendonly_killed_and_restarted";
    if !have_program("redis-server", TEST) {
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("a temp dir");
    let port = free_port();
    let server = start_redis(dir.path(), port);
    let url = format!("redis://127.0.0.1:{port}");
    let label = format!("own redis-server (appendfsync always) on {port}");
    let store = satchel_store::open(&url).await.expect("open");
    let prefix = unique_prefix("redis-aof");
    let dir_path = dir.path().to_path_buf();
    let (acked, errors, server) = writes_across_a_crash(&*store, &prefix, &label, move || {
        server.kill();
        std::thread::spawn(move || {
            std::thread::sleep(DOWN_FOR);
            start_redis(&dir_path, port)
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

    // Everything was fsynced before it was acknowledged: a second crash, right after the
    // last write, loses nothing either.
    server.kill();
    let server = start_redis(dir.path(), port);
    let fresh = satchel_store::open(&url).await.expect("a fresh connection");
    assert_all_readable(&*fresh, &acked, &format!("{label}, after a second crash")).await;
    drop(server);
    eprintln!("{label}: done in {:?}", started.elapsed());
}
