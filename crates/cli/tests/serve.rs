//! `satchel serve` as an operator sees it (issue 15): the banner says how each service is
//! protected, and the log on stderr has a line for each refused call, without the token.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use common::*;
use serde_json::{Value, json};

/// The server process, killed (our own child, by its handle) if the test ends early.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const TOKEN: &str = "tok-e7c1-never-logged";

/// Starts `satchel serve --json` over memory:// with `extra`; answers the process and its
/// banner.
fn serve(extra: &[&str]) -> (Reap, Value) {
    serve_store("memory://", extra)
}

/// Starts `satchel serve --json` over `store` with `extra`.
fn serve_store(store: &str, extra: &[&str]) -> (Reap, Value) {
    let mut args = vec![
        "serve",
        "--store",
        store,
        "--listen",
        "127.0.0.1:0",
        "--json",
    ];
    args.extend_from_slice(extra);
    let child = Command::new(BIN)
        .args(&args)
        .env_remove("SATCHEL_STORE")
        .env_remove("SATCHEL_TOKEN")
        .env_remove("RUST_LOG")
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
    (server, serde_json::from_str(&first).expect("one JSON line"))
}

/// Stops the server with SIGTERM and answers what it logged.
fn stop(mut server: Reap) -> String {
    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = server.0.wait().expect("serve ends");
    assert!(status.success(), "graceful stop exits 0: {status:?}");
    let mut log = String::new();
    server
        .0
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("log");
    log
}

#[test]
fn regression_a_refused_call_is_logged_without_the_token() {
    let (server, banner) = serve(&["--token", TOKEN, "--log-format", "json"]);
    let addr = banner["listening"].as_str().expect("address").to_string();
    // Every service says how it is protected; with a token, nothing else is open.
    assert_eq!(
        banner["protection"],
        json!({
            "satchel.store.v1.Store": "bearer token",
            "coherence.NamedCacheService": "bearer token",
            "grpc.health.v1.Health": "no authentication",
        }),
        "{banner}"
    );
    let url = format!("grpc://{addr}");
    let out = satchel(&["get", "--store", &url, "k"], b"");
    assert!(
        !out.status.success(),
        "a call without the token was answered"
    );
    let log = stop(server);
    let refused: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == json!("call refused"))
        .collect();
    assert!(
        refused.iter().any(|l| {
            l["fields"]["code"] == json!("Unauthenticated")
                && l["fields"]["method"] == json!("/satchel.store.v1.Store/Get")
        }),
        "no log line for the refused call:\n{log}"
    );
    assert!(!log.contains(TOKEN), "the token was logged:\n{log}");
}

#[test]
fn the_banner_says_when_the_operator_opened_the_coherence_endpoint() {
    let (server, banner) = serve(&["--token", TOKEN, "--coherence-without-auth"]);
    assert_eq!(
        banner["protection"]["coherence.NamedCacheService"],
        json!("NO AUTHENTICATION (allowed by the operator)"),
        "{banner}"
    );
    assert_eq!(
        banner["protection"]["satchel.store.v1.Store"],
        json!("bearer token"),
        "{banner}"
    );
    let log = stop(server);
    assert!(log.contains("WITHOUT authentication"), "{log}");
    assert!(!log.contains(TOKEN), "the token was logged:\n{log}");
}

/// `--coherence-class` declares the application's classes: a Coherence client's value of a
/// declared class is stored, one of any other class is refused as a Coherence server
/// refuses it, "Could not deserialize" (the default, checked by the client's own
/// `test_unary_error` in scripts/coherence-peer.sh).
#[test]
fn coherence_classes_are_declared_on_the_command_line() {
    use satchel_coherence::proto::{
        PutRequest, named_cache_service_client::NamedCacheServiceClient,
    };
    let (server, banner) = serve(&[
        "--coherence-class",
        "test.Person",
        "--coherence-class",
        "shop.*",
    ]);
    let addr = banner["listening"].as_str().expect("address").to_string();
    let put = |json: &str| PutRequest {
        cache: "people".into(),
        format: "json".into(),
        key: b"\x15\"k\"".to_vec(),
        value: [&b"\x15"[..], json.as_bytes()].concat(),
        ..Default::default()
    };
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .expect("an address")
            .connect()
            .await
            .expect("the endpoint answers");
        let mut client = NamedCacheServiceClient::new(channel);
        for stored in [
            r#"{"@class": "test.Person", "name": "ann"}"#,
            r#"{"@class": "shop.Basket", "lines": [{"@class": "shop.Line"}]}"#,
            r#"{"@class": "math.BigInt", "value": "18446744073709551616"}"#,
        ] {
            client.put(put(stored)).await.expect(stored);
        }
        for refused in [
            r#"{"@class": "com.foo.Bar"}"#,
            r#"{"@class": "test.Persons"}"#,
        ] {
            let status = client.put(put(refused)).await.expect_err(refused);
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
            assert!(
                status.message().contains("Could not deserialize"),
                "{status:?}"
            );
        }
    });
    stop(server);
}

/// The keys of the rows in a SQLite file's `satchel_kv` table, expired or not (read by
/// Python's sqlite3, as another program would).
fn rows(db: &std::path::Path) -> Vec<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); \
             print(' '.join(sorted(k for (k,) in c.execute('SELECT key FROM satchel_kv'))))",
        ])
        .arg(db)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// Writes `brief` (expiring in 100 ms) and `kept` through the server at `addr`.
fn write_brief_and_kept(addr: &str) {
    let url = format!("grpc://{addr}");
    for args in [
        &["set", "--store", &url, "--ttl", "100ms", "brief", "1"][..],
        &["set", "--store", &url, "kept", "2"][..],
    ] {
        let out = satchel(args, b"");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn serve_deletes_the_expired_rows_of_a_sql_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("purge.db");
    let (server, banner) = serve_store(
        &format!("sqlite://{}", db.display()),
        &["--purge-every", "200ms"],
    );
    write_brief_and_kept(banner["listening"].as_str().expect("address"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while rows(&db) != ["kept"] {
        assert!(
            std::time::Instant::now() < deadline,
            "the expired row is still there after 10 s: {:?}",
            rows(&db)
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let log = stop(server);
    assert!(log.contains("deleted expired values"), "{log}");
}

#[test]
fn serve_keeps_expired_rows_with_purging_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("kept.db");
    let (server, banner) = serve_store(
        &format!("sqlite://{}", db.display()),
        &["--purge-every", "off"],
    );
    write_brief_and_kept(banner["listening"].as_str().expect("address"));
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert_eq!(rows(&db), ["brief", "kept"]);
    let out = satchel(
        &[
            "get",
            "--store",
            &format!("grpc://{}", banner["listening"].as_str().unwrap()),
            "brief",
        ],
        b"",
    );
    assert!(!out.status.success(), "an expired value was read");
    stop(server);
    let bad = satchel(&["serve", "--purge-every", "soon"], b"");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("bad interval `soon`"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
