//! The processes a fault test starts, and only those: found, started on a free port,
//! SIGKILLed by their own handle.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};

/// Says `skipped:` (past the output capture) and returns `false` when `program` cannot be
/// run, unless `SATCHEL_REQUIRE_SERVICES=1`, which makes it a failure.
pub(crate) fn have_program(program: &str, test: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var("SATCHEL_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "{test}: `{program}` is not installed, and SATCHEL_REQUIRE_SERVICES=1 requires it"
        );
        let _ = std::io::stderr()
            .write_all(format!("skipped: {test} (`{program}` is not installed)\n").as_bytes());
    }
    found
}

/// A loopback port that was free a moment ago.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A process this test started. Dropping it (also while a test panics) SIGKILLs it by its
/// own handle and reaps it; nothing else is ever signalled.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) what: String,
}

impl Server {
    /// SIGKILL, the honest crash: nothing flushed, no goodbye to the clients.
    pub(crate) fn kill(mut self) {
        self.child
            .kill()
            .unwrap_or_else(|e| panic!("kill {}: {e}", self.what));
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
