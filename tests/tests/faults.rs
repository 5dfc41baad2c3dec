//! Faults against real servers, beyond the dropped connections of `store_faults.rs`:
//!
//! - a Redis this test starts itself (own port, own temp dir, `--appendonly yes
//!   --appendfsync always`), SIGKILLed and restarted during a run of writes;
//! - PostgreSQL backends terminated *inside* a statement (blocked on a row lock held by
//!   the test), and terminated at random under concurrent compare-and-set increments;
//! - the real `satchel serve` binary over an SQLite file, SIGKILLed and restarted on the
//!   same port;
//! - network stalls and cuts, through a TCP proxy in front of Redis, PostgreSQL and an
//!   in-process gRPC server.
//!
//! For each: while the fault lasts the client reports errors that are transient
//! (`Unavailable`/`Timeout`), name the backend and come back within a bound; it recovers by
//! itself afterwards; and every acknowledged write is readable afterwards (also through a
//! fresh connection, and in the stall tests directly, not through the proxy).
//!
//! Bounded in time, 127.0.0.1 only. The test stops only the processes it started (by their
//! `Child` handle, also when it panics) and removes its temp dirs. The shared services
//! (`SATCHEL_TEST_{REDIS,POSTGRES}_URL`) are never restarted; tests needing them say
//! `skipped:` when their variable is unset. The gRPC test runs the `satchel` binary next
//! to this test's (`target/debug/satchel`), building it with `cargo build -p satchel-cli`
//! if it is missing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use satchel_grpc::{GrpcConfig, GrpcStore};
use satchel_redis::{RedisConfig, RedisStore};
use satchel_sql::{SqlConfig, SqlStore};
use satchel_store::{Condition, MemoryStore, Store, StoreError, StoreErrorKind, Version};
use satchel_testkit::store::{service_url, unique_prefix};
use sqlx::Connection;

#[path = "support/proxy.rs"]
mod proxy;

use proxy::Proxy;

/// Writes per restart run.
const WRITES: u32 = 300;
/// How long a killed server stays down before it is restarted.
const DOWN_FOR: Duration = Duration::from_secs(2);
/// The longest one failing call may take to report its error while a server is down.
const ERROR_WITHIN: Duration = Duration::from_secs(10);
/// The longest the caller's retries of one operation may take (outage included).
const RECOVER_WITHIN: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// Says `skipped:` (past the output capture) and returns `false` when `program` cannot be
/// run, unless `SATCHEL_REQUIRE_SERVICES=1`, which makes it a failure.
fn have_program(program: &str, test: &str) -> bool {
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
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A process this test started. Dropping it (also while a test panics) SIGKILLs it by its
/// own handle and reaps it; nothing else is ever signalled.
struct Server {
    child: Child,
    what: String,
}

impl Server {
    /// SIGKILL, the honest crash: nothing flushed, no goodbye to the clients.
    fn kill(mut self) {
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

/// The errors a caller saw while a fault lasted, each checked as it came.
#[derive(Default)]
struct Errors {
    count: usize,
    slowest: Duration,
    /// The first few distinct messages, for the log.
    samples: Vec<String>,
}

impl Errors {
    /// Checks one error of a call that took `took`: transient, naming the backend, within
    /// the bound.
    fn saw(&mut self, e: &StoreError, took: Duration, context: &str) {
        assert!(
            e.is_transient(),
            "{context}: not a transient error: {e} ({e:?})"
        );
        assert!(
            e.backend().is_some() && !e.message().is_empty(),
            "{context}: the error names no backend or says nothing: {e:?}"
        );
        assert!(
            took <= ERROR_WITHIN,
            "{context}: the error took {took:?} to come (over {ERROR_WITHIN:?}): {e}"
        );
        self.count += 1;
        self.slowest = self.slowest.max(took);
        let text = format!("[{}] {e}", e.kind());
        if self.samples.len() < 4 && !self.samples.contains(&text) {
            self.samples.push(text);
        }
    }

    fn report(&self, label: &str) {
        eprintln!(
            "{label}: {} transient errors, slowest {:?}; e.g. {:#?}",
            self.count, self.slowest, self.samples
        );
    }
}

/// The caller's retry policy for an unconditional write: try again on transient errors
/// (each one checked) until acknowledged.
async fn write_until_acked<S: Store + ?Sized>(
    s: &S,
    key: &str,
    value: &[u8],
    errors: &mut Errors,
    label: &str,
) -> Version {
    let started = Instant::now();
    loop {
        let t = Instant::now();
        match s.set(key, value, None, Condition::Always).await {
            Ok(v) => return v,
            Err(e) => {
                errors.saw(&e, t.elapsed(), &format!("{label}: set {key}"));
                assert!(
                    started.elapsed() < RECOVER_WITHIN,
                    "{label}: set {key} still failing after {RECOVER_WITHIN:?}: no recovery: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Reads `key` with the same retry policy.
async fn read_until_answered<S: Store + ?Sized>(
    s: &S,
    key: &str,
    errors: &mut Errors,
    label: &str,
) -> Option<satchel_store::Entry> {
    let started = Instant::now();
    loop {
        let t = Instant::now();
        match s.get(key).await {
            Ok(entry) => return entry,
            Err(e) => {
                errors.saw(&e, t.elapsed(), &format!("{label}: get {key}"));
                assert!(
                    started.elapsed() < RECOVER_WITHIN,
                    "{label}: get {key} still failing after {RECOVER_WITHIN:?}: no recovery: {e}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Asserts that every key of `acked` reads back as its value through `s`.
async fn assert_all_readable<S: Store + ?Sized>(s: &S, acked: &[(String, Vec<u8>)], label: &str) {
    let mut errors = Errors::default();
    for (key, value) in acked {
        let entry = read_until_answered(s, key, &mut errors, label)
            .await
            .unwrap_or_else(|| panic!("{label}: acknowledged write of `{key}` lost"));
        assert_eq!(&entry.value, value, "{label}: `{key}` reads another value");
    }
    assert_eq!(
        errors.count, 0,
        "{label}: reads failed after recovery: {:?}",
        errors.samples
    );
}

/// A run of `WRITES` unconditional writes (with the caller's retries), calling `crash` once
/// a third of the way through; `crash` kills the server and returns a thread that restarts
/// it. Also checks across the crash that versions keep growing and an old version stays
/// stale. Returns the acknowledged writes, the errors seen and the restarted server.
async fn writes_across_a_crash<S: Store + ?Sized>(
    s: &S,
    prefix: &str,
    label: &str,
    crash: impl FnOnce() -> std::thread::JoinHandle<Server>,
) -> (Vec<(String, Vec<u8>)>, Errors, Server) {
    let mut errors = Errors::default();
    let mut acked = Vec::new();
    let cas = format!("{prefix}cas");
    let mut crash = Some(crash);
    let mut restart = None;
    let mut stale = None;
    let started = Instant::now();
    for i in 0..WRITES {
        if i == WRITES / 3 {
            // Two versions of one key before the crash: the older must stay stale after.
            let v1 = write_until_acked(s, &cas, b"one", &mut errors, label).await;
            let v2 = s
                .set(&cas, b"two", None, Condition::IfVersion(v1))
                .await
                .unwrap_or_else(|e| panic!("{label}: compare-and-set before the crash: {e}"));
            assert!(v2 > v1, "{label}: {v2} after {v1}");
            stale = Some((v1, v2));
            restart = Some(crash.take().expect("one crash")());
        }
        let key = format!("{prefix}k{i}");
        let value = format!("value {i}").into_bytes();
        write_until_acked(s, &key, &value, &mut errors, label).await;
        acked.push((key, value));
    }
    let server = restart
        .expect("the crash happened")
        .join()
        .expect("the server restarted");
    eprintln!(
        "{label}: {WRITES} writes acknowledged in {:?} across a crash",
        started.elapsed()
    );

    // Versions survive the crash: the old one is refused, the last one accepted, and the
    // new version is above both.
    let (v1, v2) = stale.expect("versions taken before the crash");
    let entry = read_until_answered(s, &cas, &mut errors, label)
        .await
        .unwrap_or_else(|| panic!("{label}: `{cas}` lost in the crash"));
    assert_eq!(
        (entry.value.as_slice(), entry.version),
        (&b"two"[..], v2),
        "{label}: `{cas}` after the crash"
    );
    let err = s
        .set(&cas, b"stale", None, Condition::IfVersion(v1))
        .await
        .expect_err("a compare-and-set with a version from before the last write");
    assert_eq!(
        err.kind(),
        StoreErrorKind::Conflict,
        "{label}: stale version after the crash: {err}"
    );
    let v3 = s
        .set(&cas, b"three", None, Condition::IfVersion(v2))
        .await
        .unwrap_or_else(|e| panic!("{label}: compare-and-set after the crash: {e}"));
    assert!(
        v3 > v2,
        "{label}: version {v3} after the crash, {v2} before"
    );
    acked.push((cas, b"three".to_vec()));
    (acked, errors, server)
}

// ---------------------------------------------------------------------------------------
// 1. Redis with an append-only file, SIGKILLed and restarted
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// 2. PostgreSQL backends terminated in the middle of statements
// ---------------------------------------------------------------------------------------

/// The table of these tests (not the shared `satchel_kv`, so the row locks they take
/// touch nothing else).
const PG_TABLE: &str = "satchel_faults";

/// `url` with `application_name` set, so the test terminates its own store's backends
/// and no one else's.
fn with_application_name(url: &str, name: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={name}")
}

/// Terminates every backend of `application_name` waiting on a lock `holder` holds: they
/// are inside a statement. Returns how many.
async fn terminate_blocked(
    killer: &mut sqlx::PgConnection,
    application_name: &str,
    holder: i32,
) -> usize {
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = $1 AND $2 = ANY(pg_blocking_pids(pid))",
    )
    .bind(application_name)
    .bind(holder)
    .fetch_all(killer)
    .await
    .expect("terminate blocked backends");
    killed.into_iter().filter(|k| *k).count()
}

/// Locks `key`'s row from `holder` (in a transaction), then starts `write`, terminates the
/// backend running it once it waits on the lock, and releases the lock. Returns what
/// `write` answered.
async fn kill_inside_statement<T: Send + 'static>(
    holder: &mut sqlx::PgConnection,
    killer: &mut sqlx::PgConnection,
    application_name: &str,
    key: &str,
    write: impl FnOnce() -> tokio::task::JoinHandle<satchel_store::Result<T>>,
) -> (satchel_store::Result<T>, Duration) {
    let holder_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *holder)
        .await
        .expect("holder pid");
    let mut tx = holder.begin().await.expect("begin");
    sqlx::query(&format!(
        "SELECT 1 FROM {PG_TABLE} WHERE \"key\" = $1 FOR UPDATE"
    ))
    .bind(key)
    .execute(&mut *tx)
    .await
    .expect("lock the row");
    // The write starts now; it blocks inside its statement until the lock goes.
    let started = Instant::now();
    let write = write();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if terminate_blocked(killer, application_name, holder_pid).await > 0 {
            break;
        }
        if Instant::now() >= deadline {
            let seen: Vec<String> = sqlx::query_scalar(
                "SELECT format('%s (%s) %s, waiting on %s, blocked by %s: %s', pid, \
                 application_name, state, wait_event_type, pg_blocking_pids(pid), query) \
                 FROM pg_stat_activity \
                 WHERE application_name IN ($1, '') AND datname = current_database()",
            )
            .bind(application_name)
            .fetch_all(&mut *killer)
            .await
            .unwrap_or_default();
            panic!(
                "no backend of {application_name} blocked on the row lock of `{key}` (held by \
                 {holder_pid}) within 10 s; the backends: {seen:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Release the lock only a moment later, so a retry on a fresh connection blocks again
    // first (and then proceeds).
    tokio::time::sleep(Duration::from_millis(50)).await;
    tx.rollback().await.expect("release the lock");
    let answer = tokio::time::timeout(Duration::from_secs(10), write)
        .await
        .expect("the write answered within 10 s of its backend's death")
        .expect("write task");
    (answer, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backend_killed_inside_statements() {
    const TEST: &str = "postgres_backend_killed_inside_statements";
    let Some(base) = service_url("SATCHEL_TEST_POSTGRES_URL", TEST) else {
        return;
    };
    let started = Instant::now();
    let application_name = format!("satchel-faults-{}", std::process::id());
    let store = Arc::new(
        SqlStore::with_config(
            SqlConfig::new(with_application_name(&base, &application_name))
                .with_table(PG_TABLE)
                .with_max_connections(6)
                .with_acquire_timeout(Duration::from_secs(5)),
        )
        .await
        .expect("connect"),
    );
    let mut holder = sqlx::PgConnection::connect(&base)
        .await
        .expect("holder connection");
    let mut killer = sqlx::PgConnection::connect(&base)
        .await
        .expect("killer connection");
    let prefix = unique_prefix("pg-mid-statement");
    let label = "postgres";

    // (a) A compare-and-set whose backend dies while it waits inside its UPDATE: a clear
    // transient error, nothing applied (the transaction rolled back), and the next one
    // works.
    let key = format!("{prefix}cas");
    let v0 = store
        .set(&key, b"before", None, Condition::Always)
        .await
        .expect("seed");
    let write = || {
        let (store, key) = (store.clone(), key.clone());
        tokio::spawn(async move {
            store
                .set(&key, b"killed", None, Condition::IfVersion(v0))
                .await
        })
    };
    let (answer, took) =
        kill_inside_statement(&mut holder, &mut killer, &application_name, &key, write).await;
    let err = answer.expect_err("a compare-and-set whose backend was terminated mid-statement");
    Errors::default().saw(&err, took, "postgres: compare-and-set killed mid-statement");
    eprintln!(
        "{label}: compare-and-set killed mid-statement: [{}] {err}",
        err.kind()
    );
    let entry = store.get(&key).await.expect("read").expect("still there");
    assert_eq!(
        (entry.value.as_slice(), entry.version),
        (&b"before"[..], v0),
        "{label}: the killed compare-and-set was applied (or the value changed)"
    );
    let v1 = store
        .set(&key, b"after", None, Condition::IfVersion(v0))
        .await
        .expect("the next compare-and-set works");
    assert!(v1 > v0);

    // (b) An unconditional set whose backend dies mid-statement is retried on a fresh
    // connection by the store itself: the caller sees it succeed.
    let write = || {
        let (store, key) = (store.clone(), key.clone());
        tokio::spawn(async move { store.set(&key, b"retried", None, Condition::Always).await })
    };
    let (answer, _) =
        kill_inside_statement(&mut holder, &mut killer, &application_name, &key, write).await;
    let v2 = answer.expect("an unconditional set is retried after its backend died");
    let entry = store.get(&key).await.expect("read").expect("written");
    assert_eq!(
        (entry.value.as_slice(), entry.version),
        (&b"retried"[..], v2)
    );
    assert!(v2 > v1);
    store.delete(&key).await.expect("cleanup");

    // (c) A storm: compare-and-set increments of one counter (each appending its own
    // operation id, so an interrupted one can be told applied or not) and unconditional
    // writes, while backends are terminated every few tens of milliseconds, half of the
    // time while they wait inside a statement on a row lock the killer holds.
    storm(&store, &base, &application_name, &prefix).await;
    drop(killer);
    drop(holder);
    eprintln!("{label}: done in {:?}", started.elapsed());
}

/// What the storm's increments saw.
#[derive(Default)]
struct IncrementStats {
    transient: AtomicUsize,
    conflicts: AtomicUsize,
    /// Failed with a transient error, then found applied on re-reading.
    ambiguous_applied: AtomicUsize,
    /// Failed with a transient error, then found not applied (and done again).
    ambiguous_not_applied: AtomicUsize,
}

/// One increment of the op-id counter under `key`: appends `op` by compare-and-set, with
/// the caller's retries. A transient failure leaves the outcome unknown: the next read
/// says whether `op` is in, so it is never applied twice nor lost.
async fn increment(s: &SqlStore, key: &str, op: u64, stats: &IncrementStats) {
    let started = Instant::now();
    let mut maybe_applied = false;
    loop {
        assert!(
            started.elapsed() < RECOVER_WITHIN,
            "postgres: increment {op} not done after {RECOVER_WITHIN:?}"
        );
        let t = Instant::now();
        let entry = match s.get(key).await {
            Ok(entry) => entry.expect("the counter exists"),
            Err(e) => {
                Errors::default().saw(&e, t.elapsed(), "postgres: read the counter");
                stats.transient.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let mut ops: Vec<u64> = serde_json::from_slice(&entry.value).expect("the counter");
        if maybe_applied {
            if ops.contains(&op) {
                stats.ambiguous_applied.fetch_add(1, Ordering::Relaxed);
                return;
            }
            stats.ambiguous_not_applied.fetch_add(1, Ordering::Relaxed);
            maybe_applied = false;
        }
        ops.push(op);
        let value = serde_json::to_vec(&ops).expect("json");
        let t = Instant::now();
        match s
            .set(key, &value, None, Condition::IfVersion(entry.version))
            .await
        {
            Ok(_) => return,
            Err(e) if e.is_conflict() => {
                stats.conflicts.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                Errors::default().saw(&e, t.elapsed(), "postgres: increment");
                stats.transient.fetch_add(1, Ordering::Relaxed);
                maybe_applied = true;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn storm(store: &Arc<SqlStore>, base: &str, application_name: &str, prefix: &str) {
    const TASKS: u64 = 4;
    const INCREMENTS: u64 = 25;
    const WRITERS: usize = 2;
    const WRITES_EACH: usize = 60;
    let label = "postgres storm";
    let counter = format!("{prefix}counter");
    store
        .set(&counter, b"[]", None, Condition::Always)
        .await
        .expect("seed the counter");

    let stop = Arc::new(AtomicBool::new(false));
    let killer = tokio::spawn({
        let (base, application_name, counter, stop) = (
            base.to_string(),
            application_name.to_string(),
            counter.clone(),
            stop.clone(),
        );
        async move { kill_repeatedly(&base, &application_name, &counter, &stop).await }
    });

    let stats = Arc::new(IncrementStats::default());
    let mut incrementers = Vec::new();
    for task in 0..TASKS {
        let (store, counter, stats) = (store.clone(), counter.clone(), stats.clone());
        incrementers.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for i in 0..INCREMENTS {
                let op = task * 1000 + i;
                increment(&store, &counter, op, &stats).await;
                acked.push(op);
            }
            acked
        }));
    }
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, prefix) = (store.clone(), prefix.to_string());
        writers.push(tokio::spawn(async move {
            let mut errors = Errors::default();
            let mut acked = Vec::new();
            for i in 0..WRITES_EACH {
                let key = format!("{prefix}w{w}-{i}");
                let value = format!("value {w} {i}").into_bytes();
                write_until_acked(&*store, &key, &value, &mut errors, label).await;
                acked.push((key, value));
            }
            (acked, errors)
        }));
    }
    let mut acked_ops = Vec::new();
    for h in incrementers {
        acked_ops.extend(h.await.expect("incrementer"));
    }
    let mut acked_writes = Vec::new();
    let mut write_errors = 0;
    for h in writers {
        let (acked, errors) = h.await.expect("writer");
        write_errors += errors.count;
        acked_writes.extend(acked);
    }
    stop.store(true, Ordering::Relaxed);
    let kills = killer.await.expect("killer");

    // Every acknowledged increment is in the counter exactly once, and nothing else is.
    let entry = store
        .get(&counter)
        .await
        .expect("read the counter")
        .expect("the counter");
    let mut applied: Vec<u64> = serde_json::from_slice(&entry.value).expect("the counter");
    let total = applied.len();
    applied.sort_unstable();
    applied.dedup();
    assert_eq!(
        applied.len(),
        total,
        "{label}: an increment was applied twice"
    );
    acked_ops.sort_unstable();
    assert_eq!(
        applied, acked_ops,
        "{label}: the counter holds other increments than the acknowledged ones"
    );
    assert_eq!(total as u64, TASKS * INCREMENTS, "{label}: counter");
    assert_all_readable(&**store, &acked_writes, label).await;
    eprintln!(
        "{label}: {} increments and {} writes acknowledged; {} backends terminated ({} inside \
         a statement); increments: {} transient errors ({} then found applied, {} not), {} \
         conflicts; writes: {} transient errors",
        acked_ops.len(),
        acked_writes.len(),
        kills.0,
        kills.1,
        stats.transient.load(Ordering::Relaxed),
        stats.ambiguous_applied.load(Ordering::Relaxed),
        stats.ambiguous_not_applied.load(Ordering::Relaxed),
        stats.conflicts.load(Ordering::Relaxed),
        write_errors,
    );
    assert!(
        kills.0 >= 5 && kills.1 >= 1,
        "{label}: too few backends terminated to prove anything ({} in all, {} inside a \
         statement)",
        kills.0,
        kills.1
    );
    for (key, _) in &acked_writes {
        store.delete(key).await.expect("cleanup");
    }
    store.delete(&counter).await.expect("cleanup");
}

/// Until `stop`: every 10–40 ms, terminate `application_name`'s backends; every other time
/// first lock `counter`'s row for 30 ms so that increments wait inside their UPDATE, then
/// terminate those. Returns (backends terminated, of which inside a statement).
async fn kill_repeatedly(
    base: &str,
    application_name: &str,
    counter: &str,
    stop: &AtomicBool,
) -> (usize, usize) {
    let mut holder = sqlx::PgConnection::connect(base).await.expect("holder");
    let mut killer = sqlx::PgConnection::connect(base).await.expect("killer");
    let holder_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut holder)
        .await
        .expect("holder pid");
    let (mut all, mut inside) = (0, 0);
    let mut round = 0u64;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        tokio::time::sleep(Duration::from_millis(10 + (round * 7) % 30)).await;
        if round.is_multiple_of(2) {
            let mut tx = holder.begin().await.expect("begin");
            sqlx::query(&format!(
                "SELECT 1 FROM {PG_TABLE} WHERE \"key\" = $1 FOR UPDATE"
            ))
            .bind(counter)
            .execute(&mut *tx)
            .await
            .expect("lock the counter");
            tokio::time::sleep(Duration::from_millis(30)).await;
            let n = terminate_blocked(&mut killer, application_name, holder_pid).await;
            tx.rollback().await.expect("release the counter");
            all += n;
            inside += n;
        } else {
            let (active, killed): (i64, i64) = sqlx::query_as(
                "SELECT count(*) FILTER (WHERE state = 'active'), \
                 count(*) FILTER (WHERE pg_terminate_backend(pid)) \
                 FROM pg_stat_activity WHERE application_name = $1",
            )
            .bind(application_name)
            .fetch_one(&mut killer)
            .await
            .expect("terminate backends");
            all += usize::try_from(killed).unwrap_or(0);
            inside += usize::try_from(active.min(killed)).unwrap_or(0);
        }
    }
    (all, inside)
}

// ---------------------------------------------------------------------------------------
// 3. The `satchel serve` binary, SIGKILLed and restarted
// ---------------------------------------------------------------------------------------

/// The `satchel` binary of this build: next to this test's directory
/// (`target/debug/satchel`), built with `cargo build -p satchel-cli` if missing (a binary
/// of another package is not built for this package's tests).
fn satchel_binary() -> PathBuf {
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
fn start_satchel(binary: &Path, db: &Path, listen: SocketAddr, log: &Path) -> (Server, SocketAddr) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_server_binary_killed_and_restarted() {
    let binary = satchel_binary();
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("f.db");
    let log = dir.path().join("serve.log");
    let (server, addr) = start_satchel(&binary, &db, "127.0.0.1:0".parse().unwrap(), &log);
    let url = format!("grpc://{addr}?timeout=5s");
    let label = format!("satchel serve (sqlite) on {addr}");
    let store = satchel_store::open(&url).await.expect("open");
    let prefix = unique_prefix("grpc-serve");
    let (binary2, db2, log2) = (binary.clone(), db.clone(), log.clone());
    let (acked, errors, server) = writes_across_a_crash(&*store, &prefix, &label, move || {
        server.kill();
        std::thread::spawn(move || {
            std::thread::sleep(DOWN_FOR);
            start_satchel(&binary2, &db2, addr, &log2).0
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

    // Killed once more right after the last write, the server leaves everything it
    // acknowledged in its SQLite file.
    server.kill();
    let file = satchel_store::open(&format!("sqlite://{}", db.display()))
        .await
        .expect("open the server's SQLite file");
    assert_all_readable(&*file, &acked, &format!("{label}, its file after a kill")).await;
    eprintln!("{label}: done in {:?}", started.elapsed());
}

// ---------------------------------------------------------------------------------------
// 4. Network stalls and cuts, through a TCP proxy
// ---------------------------------------------------------------------------------------

/// How long a stall lasts.
const STALL_FOR: Duration = Duration::from_millis(1500);

/// One call made while the network misbehaves: it must fail with a transient error within
/// `within` (a call that hangs is a failure of the client's timeouts).
async fn fails_in_time<T: std::fmt::Debug>(
    call: impl std::future::Future<Output = satchel_store::Result<T>>,
    within: Duration,
    errors: &mut Errors,
    context: &str,
) -> StoreError {
    let t = Instant::now();
    let answer = tokio::time::timeout(within + Duration::from_secs(5), call)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{context}: no answer after {:?}: the call hangs while the network stalls",
                within + Duration::from_secs(5)
            )
        });
    let took = t.elapsed();
    let err = answer.expect_err(&format!("{context}: succeeded through a stalled network"));
    errors.saw(&err, took, context);
    assert!(
        took <= within,
        "{context}: the error took {took:?}, over the {within:?} the timeouts allow: {err}"
    );
    err
}

/// The stall scenario against `through` (a client connected through `proxy`), checking
/// the results against `direct` (a client not going through it):
///
/// 1. writes; 2. stall: a write and a read in flight fail in time, transiently; 3. resume: writes recover; 4. cut every connection: writes
///    recover; 5. cut and stall together (connections reset, new ones held): two writes
///    fail in time; 6. resume: writes recover; 7. every acknowledged write is readable,
///    through the proxy and directly.
async fn stall_and_cut<S: Store + ?Sized, D: Store + ?Sized>(
    label: &str,
    through: &S,
    direct: &D,
    proxy: &Proxy,
    within: Duration,
) {
    let started = Instant::now();
    let prefix = unique_prefix(&format!("{}-stall", through.backend()));
    let mut errors = Errors::default();
    let mut acked = Vec::new();
    let mut maybe = Vec::new();
    let batch = |name: &str| {
        (0..10)
            .map(|i| {
                (
                    format!("{prefix}{name}{i}"),
                    format!("{name} {i}").into_bytes(),
                )
            })
            .collect::<Vec<_>>()
    };
    let batches = [batch("a"), batch("b"), batch("c"), batch("d")];

    // 1.
    for (key, value) in &batches[0] {
        write_until_acked(through, key, value, &mut errors, label).await;
        acked.push((key.clone(), value.clone()));
    }
    assert_eq!(errors.count, 0, "{label}: errors before any fault");

    // 2. The network stalls under connections in use.
    proxy.stall();
    let stalled_at = Instant::now();
    let key = format!("{prefix}stalled");
    let err = fails_in_time(
        through.set(&key, b"stalled", None, Condition::Always),
        within,
        &mut errors,
        &format!("{label}: set while stalled"),
    )
    .await;
    eprintln!("{label}: set while stalled: [{}] {err}", err.kind());
    maybe.push(key);
    let err = fails_in_time(
        through.get(&batches[0][0].0),
        within,
        &mut errors,
        &format!("{label}: get while stalled"),
    )
    .await;
    eprintln!("{label}: get while stalled: [{}] {err}", err.kind());
    tokio::time::sleep(STALL_FOR.saturating_sub(stalled_at.elapsed())).await;
    proxy.resume();
    // 3. Recovery after the stall.
    for (key, value) in &batches[1] {
        write_until_acked(through, key, value, &mut errors, label).await;
        acked.push((key.clone(), value.clone()));
    }

    // 4. Every connection reset at once.
    proxy.cut();
    for (key, value) in &batches[2] {
        write_until_acked(through, key, value, &mut errors, label).await;
        acked.push((key.clone(), value.clone()));
    }

    // 5. A partition: connections reset and new ones held.
    proxy.stall();
    proxy.cut();
    let stalled_at = Instant::now();
    // The first call may meet the reset; the second has to reconnect, and is held.
    for name in ["partitioned", "partitioned-again"] {
        let key = format!("{prefix}{name}");
        let err = fails_in_time(
            through.set(&key, b"partitioned", None, Condition::Always),
            within,
            &mut errors,
            &format!("{label}: set while partitioned"),
        )
        .await;
        eprintln!(
            "{label}: set `{name}` while partitioned: [{}] {err}",
            err.kind()
        );
        maybe.push(key);
    }
    tokio::time::sleep(STALL_FOR.saturating_sub(stalled_at.elapsed())).await;
    proxy.resume();

    // 6. Recovery after the partition.
    for (key, value) in &batches[3] {
        write_until_acked(through, key, value, &mut errors, label).await;
        acked.push((key.clone(), value.clone()));
    }

    // 7.
    assert_all_readable(through, &acked, label).await;
    assert_all_readable(direct, &acked, &format!("{label}, read directly")).await;
    let mut applied = Vec::new();
    for key in &maybe {
        if direct.get(key).await.expect("read directly").is_some() {
            applied.push(key.rsplit(':').next().unwrap_or(key).to_string());
        }
        direct.delete(key).await.expect("cleanup");
    }
    for (key, _) in &acked {
        direct.delete(key).await.expect("cleanup");
    }
    errors.report(label);
    eprintln!(
        "{label}: {} writes acknowledged, {} connections through the proxy, writes that \
         failed during a fault and were applied anyway: {applied:?}; done in {:?}",
        acked.len(),
        proxy.accepted(),
        started.elapsed()
    );
}

/// The address of a `scheme://[user@]host:port/…` URL.
fn url_addr(url: &str) -> SocketAddr {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port
        .parse()
        .unwrap_or_else(|_| panic!("{url}: a 127.0.0.1:port address is expected"))
}

/// `url` with its host and port replaced by `addr`.
fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let userinfo = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
    format!("{scheme}://{}{addr}{tail}", userinfo.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_through_a_stalling_network() {
    let Some(url) = service_url("SATCHEL_TEST_REDIS_URL", "redis_through_a_stalling_network")
    else {
        return;
    };
    let proxy = Proxy::start(url_addr(&url)).await;
    let timeout = Duration::from_millis(500);
    let through = RedisStore::with_config(
        RedisConfig::new(via(&url, proxy.addr()))
            .with_response_timeout(Some(timeout))
            .with_connection_timeout(Some(timeout))
            .with_reconnect_attempts(1),
    )
    .await
    .expect("connect through the proxy");
    let direct = RedisStore::connect(&url).await.expect("connect");
    stall_and_cut(
        "redis via proxy",
        &through,
        &direct,
        &proxy,
        Duration::from_secs(3),
    )
    .await;
}

/// PostgreSQL through the proxy: a stall under a connection in use (bounded by the
/// store's operation timeout: a statement whose reply never comes would otherwise wait
/// for TCP to give up), cuts, and a partition while it must open connections (bounded by
/// the pool's acquire timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_through_a_stalling_network() {
    let Some(url) = service_url(
        "SATCHEL_TEST_POSTGRES_URL",
        "postgres_through_a_stalling_network",
    ) else {
        return;
    };
    let proxy = Proxy::start(url_addr(&url)).await;
    let through = SqlStore::with_config(
        SqlConfig::new(via(&url, proxy.addr()))
            .with_table(PG_TABLE)
            .with_max_connections(2)
            .with_acquire_timeout(Duration::from_secs(1))
            .with_operation_timeout(Some(Duration::from_secs(2))),
    )
    .await
    .expect("connect through the proxy");
    let direct = SqlStore::with_config(SqlConfig::new(&url).with_table(PG_TABLE))
        .await
        .expect("connect");
    stall_and_cut(
        "postgres via proxy",
        &through,
        &direct,
        &proxy,
        Duration::from_secs(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_through_a_stalling_network() {
    let memory = Arc::new(MemoryStore::new());
    let server = satchel_testkit::grpc::serve(memory.clone()).await;
    let proxy = Proxy::start(server.addr).await;
    let timeout = Duration::from_millis(500);
    let through = GrpcStore::connect(
        GrpcConfig::new(proxy.addr().to_string())
            .with_request_timeout(timeout)
            .with_connect_timeout(timeout),
    )
    .await
    .expect("connect through the proxy");
    stall_and_cut(
        "grpc via proxy",
        &through,
        &*memory,
        &proxy,
        Duration::from_secs(3),
    )
    .await;
    server.stop().await;
}
