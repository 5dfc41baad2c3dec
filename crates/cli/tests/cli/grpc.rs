//! `serve`, then the store commands through `grpc://`.

#[allow(unused_imports)]
use super::*;

/// Kills the child (by its PID) if a test fails before stopping it.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_then_set_get_inspect_ls_del_through_grpc() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("served.db").display());
    let child = Command::new(BIN)
        .args(["serve", "--store", &db, "--listen", "127.0.0.1:0", "--json"])
        .env_remove("SATCHEL_STORE")
        .env_remove("SATCHEL_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut server = Reap(child);
    let mut lines = BufReader::new(server.0.stdout.take().expect("stdout")).lines();
    let first = lines
        .next()
        .expect("serve prints where it listens")
        .expect("line");
    let info: Value = serde_json::from_str(&first).expect("one JSON line");
    let addr = info["listening"].as_str().expect("address").to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{info}");
    assert_eq!(info["store"], json!(db));
    // The Coherence endpoint is mounted unless --no-coherence.
    assert_eq!(info["coherence"], json!(true), "{info}");
    assert_eq!(
        info["services"],
        json!([
            "satchel.store.v1.Store",
            "coherence.NamedCacheService",
            "grpc.health.v1.Health"
        ]),
        "{info}"
    );
    let url = format!("grpc://{addr}");

    let value = json!({"user": "ann", "cart": [1, 2, 3]});
    ok(&satchel(
        &[
            "set",
            "--store",
            &url,
            "--codec",
            "json+zstd",
            "cart:1",
            &value.to_string(),
        ],
        b"",
    ));
    let got: Value = serde_json::from_str(&ok(&satchel(&["get", "--store", &url, "cart:1"], b"")))
        .expect("get prints JSON");
    assert_eq!(got, value);
    let inspected = ok(&satchel(
        &["inspect", "--store", &url, "cart:1", "--json"],
        b"",
    ));
    let inspected: Value = serde_json::from_str(&inspected).expect("inspect --json");
    assert_eq!(inspected["pipeline"], json!("json+zstd"), "{inspected}");
    assert_eq!(inspected["value"], value, "{inspected}");
    let listed = ok(&satchel(&["ls", "--store", &url], b""));
    assert!(listed.contains("cart:1"), "{listed}");
    ok(&satchel(&["del", "--store", &url, "cart:1"], b""));
    fails(&satchel(&["get", "--store", &url, "cart:1"], b""), 6);

    // What was written went into the SQLite file: readable with the server stopped.
    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = server.0.wait().expect("serve ends");
    assert!(status.success(), "graceful stop exits 0: {status:?}");
    // Issue 18: a stopped server closed its pool, checkpointing SQLite's write-ahead log:
    // none is left beside the database (0.1 left one, and it grew to 2 GB).
    let wal = dir.path().join("served.db-wal");
    let left = std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert_eq!(left, 0, "satchel serve left a {left}-byte WAL behind");
    ok(&satchel(
        &["set", "--store", &db, "--codec", "json", "after", "1"],
        b"",
    ));

    // A port in use is a clear usage error.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").to_string();
    let err = fails(
        &satchel(&["serve", "--store", "memory://", "--listen", &port], b""),
        2,
    );
    assert!(err.contains(&port), "{err}");
}
