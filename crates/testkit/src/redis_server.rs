//! A `redis-server` of a test's own, on a free loopback port: for the tests that change the
//! server's settings (keyspace notifications) or drop its connections, so the shared server
//! (`SATCHEL_TEST_REDIS_URL`) is left as it is for every other test and benchmark.
//!
//! Also compiled into satchel-redis's tests by `#[path]` (they cannot depend on the
//! testkit): it uses the standard library only.

#![allow(unreachable_pub)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`, stopped (by its process id) when dropped.
#[derive(Debug)]
pub struct OwnRedis {
    child: Child,
    /// `redis://127.0.0.1:<port>`.
    pub url: String,
}

impl OwnRedis {
    /// Starts `redis-server` without persistence and with `notify-keyspace-events` empty
    /// (its default), plus `args`, and waits until it answers (at most 10 s).
    ///
    /// Returns `None` (after saying on stderr which test is skipped) when there is no
    /// `redis-server` to start, unless `SATCHEL_REQUIRE_SERVICES=1`.
    ///
    /// # Panics
    /// If `redis-server` is missing and `SATCHEL_REQUIRE_SERVICES=1`, or if it does not
    /// answer in time.
    pub fn start(test: &str, args: &[&str]) -> Option<Self> {
        // A port found free may be taken by another test's server before this one binds
        // it: the server that answers must be this one (its process id), or try again.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free loopback port")
                .port();
            let spawned = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(["--notify-keyspace-events", ""])
                .arg("--dir")
                .arg(std::env::temp_dir())
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let child = match spawned {
                Ok(child) => child,
                Err(e) => {
                    assert!(
                        std::env::var("SATCHEL_REQUIRE_SERVICES").as_deref() != Ok("1"),
                        "{test}: cannot start redis-server ({e}), and SATCHEL_REQUIRE_SERVICES=1"
                    );
                    let _ = std::io::stderr()
                        .write_all(format!("skipped: {test} (no redis-server: {e})\n").as_bytes());
                    return None;
                }
            };
            let mut server = Self {
                child,
                url: format!("redis://127.0.0.1:{port}"),
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Some(pid) = process_id(port) {
                    if pid == server.child.id() {
                        return Some(server);
                    }
                    break;
                }
                if matches!(server.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{test}: redis-server did not answer on port {port}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("{test}: could not start a redis-server of its own on a free port");
    }
}

/// The process id of the Redis server answering on `port` (`INFO server`).
fn process_id(port: u16) -> Option<u32> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    conn.write_all(b"INFO server\r\n").ok()?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 4096];
    while reply.len() < 64 << 10 {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&reply);
        if let Some(at) = text.find("process_id:") {
            let digits: String = text[at + 11..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if text[at + 11 + digits.len()..].starts_with('\r') {
                return digits.parse().ok();
            }
        }
    }
    None
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
