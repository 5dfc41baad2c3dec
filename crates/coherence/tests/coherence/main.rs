//! The Coherence endpoint (`coherence.NamedCacheService`, v0): every call through the
//! generated tonic client against the in-process server, then the real Python
//! `coherence-client` end to end (`tests/py/coherence_e2e.py`) against SQLite, Redis (when
//! `SATCHEL_TEST_REDIS_URL` is set) and TLS, with what it wrote read back through satchel's
//! own store API. Everything talks to 127.0.0.1 on ephemeral ports.
//!
//! One file per job: `calls.rs`, `consistency.rs`, `refusals.rs`, `events.rs`,
//! `events_elsewhere.rs` (changes made by other clients), `indexes.rs` (indexes and query
//! plans),
//! `python_client.rs`, `access.rs`, `query.rs` (filters, listeners, hostile queries),
//! `query_processors.rs`, `query_aggregators.rs`. This file holds what they share: the
//! server and client helpers, `expect_code`, the Python runner, what its runs leave in the
//! store (`check_readback`) and the test PKI.

mod access;
mod calls;
mod consistency;
mod events;
mod events_elsewhere;
mod indexes;
mod python_client;
mod query;
mod query_aggregators;
mod query_processors;
mod refusals;

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use satchel_coherence::proto::{
    self as cp, map_listener_request::RequestType, map_listener_response::ResponseType,
    named_cache_service_client::NamedCacheServiceClient,
};
use satchel_coherence::{BigInt, Classed, CoherenceClass, from_slice, to_vec};
use satchel_coherence::{Coherence, KnownClasses, cache_prefix, parse_store_key, store_key};
use satchel_grpc::{Protection, ServerConfig};
use satchel_store::{MemoryStore, Scan, Store, StoreObject};
use satchel_testkit::grpc::TestServer;
use serde::{Deserialize, Serialize};
use tonic::Code;
use tonic::transport::Channel;

type Client = NamedCacheServiceClient<Channel>;

/// A satchel server over `store` with the Coherence endpoint mounted, as `satchel serve
/// --coherence-class 'test.*'` runs it (the tests' classes are `test.Person`, …, as a
/// Coherence test server has them).
async fn serve(store: Arc<dyn StoreObject>) -> TestServer {
    serve_with(store, ServerConfig::new("127.0.0.1:0".parse().unwrap())).await
}

/// [`serve`] with `config` (its address replaced by an ephemeral loopback port).
async fn serve_with(store: Arc<dyn StoreObject>, config: ServerConfig) -> TestServer {
    serve_knowing(store, config, KnownClasses::coherence().with("test.*")).await
}

/// [`serve_with`], the endpoint knowing `classes`.
async fn serve_knowing(
    store: Arc<dyn StoreObject>,
    config: ServerConfig,
    classes: KnownClasses,
) -> TestServer {
    let coherence = Coherence::new().with_known_classes(classes);
    satchel_testkit::grpc::serve_with(store, config.with_extension(coherence)).await
}

async fn connect(addr: impl std::fmt::Display) -> Client {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    NamedCacheServiceClient::new(channel)
}

async fn client(server: &TestServer) -> Client {
    connect(server.addr).await
}

/// A value as the Python client serializes it.
fn j<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
    to_vec(v).unwrap()
}

const CACHE: &str = "c";

fn get(key: &str) -> cp::GetRequest {
    cp::GetRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j(key),
        ..Default::default()
    }
}

fn put<T: Serialize + ?Sized>(key: &str, value: &T, ttl: i64) -> cp::PutRequest {
    cp::PutRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j(key),
        value: j(value),
        ttl,
        ..Default::default()
    }
}

async fn get_value(c: &mut Client, key: &str) -> Option<serde_json::Value> {
    let r = c.get(get(key)).await.unwrap().into_inner();
    r.present.then(|| from_slice(&r.value).unwrap())
}

async fn size(c: &mut Client, cache: &str) -> i32 {
    c.size(cp::SizeRequest {
        cache: cache.into(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
}

async fn drain<T>(mut s: tonic::Streaming<T>) -> Vec<T> {
    let mut out = Vec::new();
    while let Some(item) = s.message().await.unwrap() {
        out.push(item);
    }
    out
}

fn none() -> Vec<u8> {
    Vec::new()
}

async fn expect_code<T: std::fmt::Debug>(
    what: &str,
    r: Result<tonic::Response<T>, tonic::Status>,
    code: Code,
    mention: &str,
) {
    let status = r.expect_err(what);
    assert_eq!(status.code(), code, "{what}: {status:?}");
    assert!(
        status
            .message()
            .to_lowercase()
            .contains(&mention.to_lowercase()),
        "{what}: {:?} does not mention {mention:?}",
        status.message()
    );
}

// ---------------------------------------------------------------------------------------
// The real Python client

/// Skips the test (or fails it under `SATCHEL_REQUIRE_SERVICES=1`).
fn skip(test: &str, reason: &str) {
    assert!(
        std::env::var("SATCHEL_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "{test}: {reason}, and SATCHEL_REQUIRE_SERVICES=1 requires it (build it with \
         `scripts/py-venv.sh coherence`)"
    );
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("skipped: {test} ({reason})\n").as_bytes(),
    );
}

fn python(test: &str) -> Option<PathBuf> {
    // Built on first use (scripts/py-venv.sh coherence), or SATCHEL_COHERENCE_PYTHON.
    match satchel_testkit::python::venv("coherence", "SATCHEL_COHERENCE_PYTHON") {
        Ok(p) => Some(p),
        Err(e) => {
            skip(test, &e);
            None
        }
    }
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// Runs `coherence_e2e.py` against `addr` with `env`; answers its output, panicking unless
/// it exits 0 within 180 s.
async fn run_e2e(python: PathBuf, addr: String, env: Vec<(String, String)>) -> String {
    run_script(python, "coherence_e2e.py", addr, env).await
}

/// Runs `tests/py/<script>` against `addr` with `env`, killing it (our own child, by its
/// PID) after 180 s; answers its output, panicking unless it exits 0.
async fn run_script(
    python: PathBuf,
    script: &'static str,
    addr: String,
    env: Vec<(String, String)>,
) -> String {
    let (status, out, err) = run_script_status(python, script, addr, env).await;
    match status {
        Some(s) if s.success() => {
            // Shown with --nocapture.
            eprintln!("{out}");
            out
        }
        Some(s) => panic!("{script} failed ({s}):\n{out}\n{err}"),
        None => panic!("{script} did not finish in 180 s:\n{out}\n{err}"),
    }
}

/// [`run_script`], answering how it ended (`None`: killed after 180 s), its stdout and its
/// stderr.
async fn run_script_status(
    python: PathBuf,
    script: &'static str,
    addr: String,
    env: Vec<(String, String)>,
) -> (Option<std::process::ExitStatus>, String, String) {
    tokio::task::spawn_blocking(move || {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/py")
            .join(script);
        let mut child = Command::new(&python)
            .arg(&script)
            .env("COHERENCE_SERVER_ADDRESS", &addr)
            .env("COHERENCE_CLIENT_REQUEST_TIMEOUT", "10")
            .env("SATCHEL_E2E_TIMEOUT", "170")
            // No __pycache__ left in the source tree.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            // Only what this run sets: nothing from the caller's environment.
            .env_remove("COHERENCE_TLS_CERTS_PATH")
            .env_remove("COHERENCE_TLS_CLIENT_CERT")
            .env_remove("COHERENCE_TLS_CLIENT_KEY")
            .env_remove("SATCHEL_E2E_SKIP_BAD_INPUT")
            .env_remove("SATCHEL_E2E_PAGING_ENTRIES")
            .envs(env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python runs");
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + Duration::from_secs(180);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                // Our own child, by its PID.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        (status, out.join().unwrap(), err.join().unwrap())
    })
    .await
    .unwrap()
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Person {
    name: String,
    age: u32,
    tags: Vec<String>,
}

impl CoherenceClass for Person {
    const CLASS: &'static str = "test.Person";
}

/// Reads what the script left in its readback cache through satchel's own store API, and
/// checks every byte and every decoded value.
async fn check_readback(store: &dyn StoreObject, output: &str) {
    let line = output
        .lines()
        .find_map(|l| l.strip_prefix("READBACK "))
        .unwrap_or_else(|| panic!("no READBACK line in:\n{output}"));
    let readback: serde_json::Value = serde_json::from_str(line).unwrap();
    let cache = readback["cache"].as_str().unwrap();
    let scope = readback["scope"].as_str().unwrap();
    let hex = |s: &serde_json::Value| -> Vec<u8> {
        let s = s.as_str().unwrap();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let entries = readback["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 10);
    let mut wanted_keys = BTreeSet::new();
    for e in entries {
        let name = e["key"].as_str().unwrap();
        let key = hex(&e["key_hex"]);
        let value = hex(&e["value_hex"]);
        let at = store_key(scope, cache, &key);
        let entry = store
            .get(&at)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: nothing under {at:?}"));
        assert_eq!(entry.value, value, "{name}: bytes as the client sent them");
        assert_eq!(from_slice::<String>(&key).unwrap(), name);
        let v = &entry.value;
        match name {
            "str" => assert_eq!(from_slice::<String>(v).unwrap(), "hello"),
            "str_unicode" => assert_eq!(from_slice::<String>(v).unwrap(), "h\u{e9}llo \u{2603}"),
            "int" => assert_eq!(from_slice::<i64>(v).unwrap(), 42),
            "int_big" => assert_eq!(from_slice::<BigInt>(v).unwrap(), BigInt(1 << 64)),
            "float" => assert_eq!(from_slice::<f64>(v).unwrap(), 3.25),
            "bool" => assert!(from_slice::<bool>(v).unwrap()),
            "none" => assert_eq!(from_slice::<Option<i32>>(v).unwrap(), None),
            "list" => assert_eq!(
                from_slice::<serde_json::Value>(v).unwrap(),
                serde_json::json!([1, "two", 3.0, null, true])
            ),
            "dict" => assert_eq!(
                from_slice::<serde_json::Value>(v).unwrap(),
                serde_json::json!({"a": 1, "b": [1, 2]})
            ),
            "person" => assert_eq!(
                from_slice::<Classed<Person>>(v).unwrap().into_inner(),
                Person {
                    name: "ann".into(),
                    age: 30,
                    tags: vec!["a".into(), "b".into()],
                }
            ),
            other => panic!("unexpected readback entry {other}"),
        }
        wanted_keys.insert(key);
    }
    // The store keys of the cache give back exactly the keys the client sent.
    let prefix = cache_prefix(scope, cache);
    let listed: BTreeSet<Vec<u8>> = store
        .scan(&prefix, 1000)
        .await
        .unwrap()
        .iter()
        .map(|k| {
            let (s, c, key) = parse_store_key(k).unwrap();
            assert_eq!((s.as_str(), c.as_str()), (scope, cache));
            key
        })
        .collect();
    assert_eq!(listed, wanted_keys);
}

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate it signed.
fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let dir = tempfile::tempdir().unwrap();
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "satchel coherence test CA");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca = params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(params, ca_key);
    let leaf = |names: &[&str]| {
        let mut p = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(&["localhost", "127.0.0.1"]);
    let (client_cert, client_key) = leaf(&["client.test"]);
    for (name, pem) in [
        ("ca.pem", ca.pem()),
        ("server.pem", server_cert),
        ("server.key", server_key),
        ("client.pem", client_cert),
        ("client.key", client_key),
    ] {
        std::fs::write(dir.path().join(name), pem).unwrap();
    }
    Pki { dir }
}
