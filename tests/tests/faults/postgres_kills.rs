//! 2. PostgreSQL backends terminated in the middle of statements.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use satchel_sql::{SqlConfig, SqlStore};
use satchel_store::{Condition, Store};
use satchel_testkit::store::{service_url, unique_prefix};
use sqlx::Connection;

use crate::support::retry::{Errors, assert_all_readable, write_until_acked};
use crate::{PG_TABLE, RECOVER_WITHIN};

/// `url` with `application_name` set, so the test terminates its own store's backends
/// and no one else's.
fn with_application_name(url: &str, name: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}application_name={name}")
}

/// Terminates up to `at_most` backends of `application_name` waiting on a lock `holder`
/// holds: they are inside a statement. Returns how many.
///
/// `pg_stat_activity` is read once, as a snapshot, but `pg_blocking_pids` is evaluated row
/// by row as the statement runs: without the limit, a backend that was idle in the
/// snapshot and that the store's retry of a just-killed statement blocked on the lock by
/// the time its row was reached was killed by the same statement (CI saw a retried
/// unconditional set fail that way).
async fn terminate_blocked(
    killer: &mut sqlx::PgConnection,
    application_name: &str,
    holder: i32,
    at_most: i64,
) -> usize {
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM ( \
           SELECT pid FROM pg_stat_activity \
           WHERE application_name = $1 AND $2 = ANY(pg_blocking_pids(pid)) \
           LIMIT $3) AS blocked",
    )
    .bind(application_name)
    .bind(holder)
    .bind(at_most)
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
        if terminate_blocked(killer, application_name, holder_pid, 1).await > 0 {
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
            let n = terminate_blocked(&mut killer, application_name, holder_pid, i64::MAX).await;
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
