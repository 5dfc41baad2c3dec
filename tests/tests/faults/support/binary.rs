//! The `satchel` binary (built by a nested `cargo build` when missing) and its `serve`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::process::Server;

/// The `satchel` binary of this build: next to this test's directory
/// (`target/debug/satchel`), built with `cargo build -p satchel-cli` if missing (a binary
/// of another package is not built for this package's tests).
pub(crate) fn satchel_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    // target/debug/deps/faults-… → target/debug/satchel
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test runs from target/<profile>/deps");
    let binary = dir.join(format!("satchel{}", std::env::consts::EXE_SUFFIX));
    if !binary.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the workspace root");
        eprintln!(
            "{} is missing: cargo build -p satchel-cli",
            binary.display()
        );
        let status = Command::new(cargo)
            .args(["build", "-p", "satchel-cli"])
            .current_dir(workspace)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo build -p satchel-cli failed");
    }
    assert!(binary.exists(), "{} not found", binary.display());
    binary
}

/// Starts `satchel --json serve` on `listen` over the SQLite file `db`, and waits for the
/// line saying where it listens. Restarting on a port just freed is retried for a while.
pub(crate) fn start_satchel(
    binary: &Path,
    db: &Path,
    listen: SocketAddr,
    log: &Path,
) -> (Server, SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut child = Command::new(binary)
            .args(["--json", "serve", "--store"])
            .arg(format!("sqlite://{}", db.display()))
            .arg("--listen")
            .arg(listen.to_string())
            .env_remove("SATCHEL_TOKEN")
            .env_remove("SATCHEL_STORE")
            .env_remove("SATCHEL_LISTEN")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).expect("log file"))
            .spawn()
            .expect("satchel serve starts");
        let stdout = child.stdout.take().expect("stdout");
        let server = Server {
            child,
            what: format!("satchel serve on {listen}"),
        };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("satchel serve printed nothing within 30 s");
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) {
            let addr = json["listening"]
                .as_str()
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("satchel serve printed {line}"));
            return (server, addr);
        }
        // No line: it exited (the port may still be held a moment); try again.
        let stderr = std::fs::read_to_string(log).unwrap_or_default();
        drop(server);
        assert!(
            Instant::now() < deadline,
            "satchel serve did not start on {listen} within 30 s: {stderr}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
