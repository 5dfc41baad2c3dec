//! Store throughput and latency at concurrency 1 and 50, next to the raw redis-rs client
//! in the same run, and the same stores behind a satchel gRPC server. `scripts/bench.sh` runs it, then `redis-benchmark` and `pgbench` with
//! the same value size and concurrency, and writes the ratios into `BENCHMARKS.md`.
//!
//! Not a criterion benchmark: criterion measures one call at a time, and these figures
//! are operations per second across many concurrent tasks. Each measurement runs for a
//! fixed time, three times; the median run is reported with its p50 and p99 latency.
//!
//! Arguments: `--smoke` (tiny durations, for CI), `--out FILE` (JSON lines; default
//! `$SATCHEL_STORE_BENCH_JSON`, else `target/satchel-store-bench.json`). Backends come
//! from `SATCHEL_BENCH_*_URL` (defaults: the local services; `off` skips one).
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use satchel::{Codec, Zstd};
use satchel_store::{CodecExt, CodecStore, DynStore, Prefixed};
use satchel_testkit::payloads::{self, Session};

const KEYS: usize = 1000;

struct Settings {
    duration: Duration,
    runs: usize,
    out: String,
}

#[derive(Default)]
struct Stats {
    ops_per_sec: f64,
    p50_us: f64,
    p99_us: f64,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

/// Runs `op` from `concurrency` tasks for `duration`; returns ops/s and latencies.
async fn measure<F, Fut>(concurrency: usize, duration: Duration, op: F) -> Stats
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let op = op.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(4096);
            let mut i = t * 7919;
            while Instant::now() < deadline {
                let t0 = Instant::now();
                op(t, i % KEYS).await;
                lat.push(t0.elapsed().as_nanos() as u64);
                i += 1;
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("bench task"));
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    Stats {
        ops_per_sec: all.len() as f64 / elapsed,
        p50_us: percentile(&all, 0.50),
        p99_us: percentile(&all, 0.99),
    }
}

async fn median_of<F, Fut>(settings: &Settings, concurrency: usize, op: F) -> Stats
where
    F: Fn(usize, usize) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let mut runs = Vec::new();
    for _ in 0..settings.runs {
        runs.push(measure(concurrency, settings.duration, op.clone()).await);
    }
    runs.sort_by(|a, b| a.ops_per_sec.total_cmp(&b.ops_per_sec));
    runs.swap_remove(runs.len() / 2)
}

fn emit(out: &mut Vec<String>, fields: serde_json::Value, s: &Stats) {
    let mut v = fields;
    v["ops_per_sec"] = s.ops_per_sec.into();
    v["p50_us"] = s.p50_us.into();
    v["p99_us"] = s.p99_us.into();
    println!("{v}");
    out.push(v.to_string());
}

type Typed = CodecStore<Prefixed<DynStore>, satchel::Json, Zstd>;

async fn bench_store(
    settings: &Settings,
    out: &mut Vec<String>,
    backend: &str,
    url: &str,
    value: &Arc<Session>,
) {
    // The SQL pools get one connection per task at c = 50, as pgbench gets with -c 50.
    let opened = if backend == "postgres" || backend == "mysql" {
        satchel_sql::SqlStore::with_config(
            satchel_sql::SqlConfig::new(url).with_max_connections(50),
        )
        .await
        .map(|s| Arc::new(satchel_store::Instrumented::new(s)) as DynStore)
    } else {
        satchel_store::open(url).await
    };
    let store = match opened {
        Ok(s) => s,
        Err(e) => {
            println!("skipped {backend}: {}", satchel::Report(&e));
            return;
        }
    };
    let prefix = format!("satchel-bench:{}:", std::process::id());
    let typed: Arc<Typed> = Arc::new(
        Codec::json()
            .compress(Zstd)
            .wrap(Prefixed::new(store, prefix)),
    );
    let encoded = typed.codec().encode(&**value).expect("encodes").len();
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("k{i}")).collect());
    for k in keys.iter() {
        typed.set(k, &**value, None).await.expect("prefill");
    }
    for concurrency in [1, 50] {
        let (t, k, v) = (typed.clone(), keys.clone(), value.clone());
        let set = median_of(settings, concurrency, move |_, i| {
            let (t, k, v) = (t.clone(), k.clone(), v.clone());
            async move {
                t.set(&k[i], &*v, None).await.expect("set");
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": "satchel json+zstd", "op": "set", "c": concurrency, "bytes": encoded}),
            &set,
        );
        let (t, k) = (typed.clone(), keys.clone());
        let get = median_of(settings, concurrency, move |_, i| {
            let (t, k) = (t.clone(), k.clone());
            async move {
                let v: Option<Session> = t.get(&k[i]).await.expect("get");
                assert!(v.is_some());
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": "satchel json+zstd", "op": "get", "c": concurrency, "bytes": encoded}),
            &get,
        );
    }
    // Sessions: load + modify + save, one session per task, next to the bare CodecStore
    // get + set of the same record on the same store.
    let sessions = satchel_session::Sessions::new(
        typed.store().inner().clone(),
        Codec::json().compress(Zstd),
        satchel_session::SessionConfig::default()
            .key_prefix(format!("satchel-bench-session:{}:", std::process::id())),
    );
    let mut ids = Vec::new();
    for _ in 0..50 {
        let mut s = sessions.create();
        s.insert("record", &**value).expect("encodes");
        s.insert("n", &0u64).expect("encodes");
        s.save().await.expect("session saved");
        ids.push(s.id().expect("saved").to_string());
    }
    let ids = Arc::new(ids);
    for concurrency in [1, 50] {
        let (ss, ids2) = (sessions.clone(), ids.clone());
        let rt = median_of(settings, concurrency, move |t, _| {
            let (ss, ids) = (ss.clone(), ids2.clone());
            async move {
                let mut s = ss.connect(&ids[t]).await.expect("connect");
                let n: u64 = s.get("n").expect("decodes").unwrap_or(0);
                s.insert("n", &(n + 1)).expect("encodes");
                s.save().await.expect("save");
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": "satchel session", "op": "load+modify+save", "c": concurrency, "bytes": encoded}),
            &rt,
        );
        let (t, k, v) = (typed.clone(), keys.clone(), value.clone());
        let getset = median_of(settings, concurrency, move |task, _| {
            let (t, k, v) = (t.clone(), k.clone(), v.clone());
            async move {
                let got: Option<Session> = t.get(&k[task]).await.expect("get");
                assert!(got.is_some());
                t.set(&k[task], &*v, None).await.expect("set");
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": "satchel json+zstd", "op": "get+set", "c": concurrency, "bytes": encoded}),
            &getset,
        );
    }
    for id in ids.iter() {
        let _ = sessions.delete(id).await;
    }
    for k in keys.iter() {
        let _ = typed.delete(k).await;
    }
}

async fn bench_raw_redis(settings: &Settings, out: &mut Vec<String>, url: &str, bytes: usize) {
    let client = match redis::Client::open(url) {
        Ok(c) => c,
        Err(e) => return println!("skipped raw redis: {e}"),
    };
    let conn = match client.get_multiplexed_async_connection().await {
        Ok(c) => c,
        Err(e) => return println!("skipped raw redis: {e}"),
    };
    let value: Arc<Vec<u8>> = Arc::new(vec![b'x'; bytes]);
    let prefix = format!("satchel-bench-raw:{}:", std::process::id());
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("{prefix}{i}")).collect());
    for concurrency in [1, 50] {
        let (c, k, v) = (conn.clone(), keys.clone(), value.clone());
        let set = median_of(settings, concurrency, move |_, i| {
            let (mut c, k, v) = (c.clone(), k.clone(), v.clone());
            async move {
                let () = redis::cmd("SET")
                    .arg(&k[i])
                    .arg(&v[..])
                    .query_async(&mut c)
                    .await
                    .expect("SET");
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": "redis", "client": "raw redis-rs", "op": "set", "c": concurrency, "bytes": bytes}),
            &set,
        );
        let (c, k) = (conn.clone(), keys.clone());
        let get = median_of(settings, concurrency, move |_, i| {
            let (mut c, k) = (c.clone(), k.clone());
            async move {
                let v: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(&k[i])
                    .query_async(&mut c)
                    .await
                    .expect("GET");
                assert!(v.is_some());
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": "redis", "client": "raw redis-rs", "op": "get", "c": concurrency, "bytes": bytes}),
            &get,
        );
    }
    let mut c = conn.clone();
    let _: Result<(), _> = redis::cmd("DEL").arg(&keys[..]).query_async(&mut c).await;
}

fn url(var: &str, default: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if v == "off" => None,
        Ok(v) if !v.is_empty() => Some(v),
        _ => Some(default.to_string()),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; ignore what is not ours.
    let smoke = args.iter().any(|a| a == "--smoke" || a == "--test");
    let out_path = args
        .iter()
        .position(|a| a == "--out")
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var("SATCHEL_STORE_BENCH_JSON").ok())
        .unwrap_or_else(|| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../target/satchel-store-bench.json"
            )
            .to_string()
        });
    let settings = Settings {
        duration: if smoke {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(3)
        },
        runs: if smoke { 1 } else { 3 },
        out: out_path,
    };
    let value = Arc::new(payloads::session_750());
    let encoded = Codec::json()
        .compress(Zstd)
        .encode(&*value)
        .expect("encodes")
        .len();
    let sqlite = std::env::temp_dir().join(format!("satchel-bench-{}.db", std::process::id()));
    let backends = [
        ("memory", Some("memory://".to_string())),
        ("sqlite", Some(format!("sqlite://{}", sqlite.display()))),
        (
            "postgres",
            url(
                "SATCHEL_BENCH_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/test",
            ),
        ),
        (
            "mysql",
            url(
                "SATCHEL_BENCH_MYSQL_URL",
                "mysql://root@127.0.0.1:3306/test",
            ),
        ),
        (
            "redis",
            url("SATCHEL_BENCH_REDIS_URL", "redis://127.0.0.1:6379"),
        ),
    ];
    let mut out = Vec::new();
    for (backend, url) in backends {
        if let Some(url) = url {
            bench_store(&settings, &mut out, backend, &url, &value).await;
        }
    }
    // Through gRPC: an in-process server (its own runtime, on the same two cores) in front
    // of the memory store (the protocol's own cost) and of Redis (a real deployment's chain).
    let grpc_backends = [
        ("grpc/memory", Some("memory://".to_string())),
        (
            "grpc/redis",
            url("SATCHEL_BENCH_REDIS_URL", "redis://127.0.0.1:6379"),
        ),
    ];
    for (backend, backing) in grpc_backends {
        let Some(backing) = backing else { continue };
        let store = match satchel_store::open(&backing).await {
            Ok(s) => s,
            Err(e) => {
                println!("skipped {backend}: {}", satchel::Report(&e));
                continue;
            }
        };
        let server = satchel_testkit::grpc::serve(store).await;
        bench_store(&settings, &mut out, backend, &server.url, &value).await;
        server.stop().await;
    }
    if let Some(redis) = url("SATCHEL_BENCH_REDIS_URL", "redis://127.0.0.1:6379") {
        bench_raw_redis(&settings, &mut out, &redis, encoded).await;
    }
    let _ = std::fs::remove_file(&sqlite);
    std::fs::write(&settings.out, out.join("\n") + "\n").expect("results written");
    println!("wrote {}", settings.out);
}
