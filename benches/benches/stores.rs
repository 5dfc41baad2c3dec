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

type Typed = CodecStore<Prefixed<DynStore>, satchel::Codec<satchel::Json, Zstd>>;

async fn bench_store(
    settings: &Settings,
    out: &mut Vec<String>,
    backend: &str,
    url: &str,
    value: &Arc<Session>,
    with_sessions: bool,
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
        // Read-modify-write with compare-and-set (retried on conflict): each task on keys
        // of its own stride, so c = 50 measures throughput more than contention.
        let (t, k) = (typed.clone(), keys.clone());
        let update = median_of(settings, concurrency, move |_, i| {
            let (t, k) = (t.clone(), k.clone());
            async move {
                let _: Session = t
                    .update(&k[i], None, |v: Option<Session>| v.expect("prefilled"))
                    .await
                    .expect("update");
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": "satchel json+zstd", "op": "update", "c": concurrency, "bytes": encoded}),
            &update,
        );
    }
    if !with_sessions {
        for k in keys.iter() {
            let _ = typed.delete(k).await;
        }
        return;
    }
    // Sessions: load + modify + save, one session per task, next to the bare CodecStore
    // get + set of the same record on the same store.
    let sessions = satchel_session::Sessions::new(
        typed.store().inner().clone(),
        Codec::json().compress(Zstd),
        satchel_session::SessionConfig::default()
            .with_key_prefix(format!("satchel-bench-session:{}:", std::process::id())),
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
    let prefix = format!("satchel-bench-raw:{}:{bytes}:", std::process::id());
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("{prefix}{i}")).collect());
    // Every key exists before anything is measured (a short run sets only a few).
    let mut c = conn.clone();
    for k in keys.iter() {
        let () = redis::cmd("SET")
            .arg(k)
            .arg(&value[..])
            .query_async(&mut c)
            .await
            .expect("prefill");
    }
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

/// A tower-sessions record holding `value` under one key, as an axum handler would.
fn tower_data(value: &Session) -> std::collections::HashMap<String, serde_json::Value> {
    std::collections::HashMap::from([(
        "record".to_string(),
        serde_json::to_value(value).expect("a JSON value"),
    )])
}

/// Bytes Redis keeps for `key` (`MEMORY USAGE`).
async fn memory_usage(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> u64 {
    redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(key)
        .arg("SAMPLES")
        .arg(0)
        .query_async(conn)
        .await
        .expect("MEMORY USAGE")
}

/// satchel-tower (json+zstd and msgpack+zstd over satchel's Redis store) next to
/// tower-sessions-redis-store (fred, MessagePack, plain SET/GET), both through their
/// `SessionStore` implementations, on the same Redis, same records: save and load ops/s
/// at c = 1 and 50, and the bytes Redis keeps per session.
async fn bench_tower(settings: &Settings, out: &mut Vec<String>, url: &str, value: &Session) {
    use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
    const SESSIONS: usize = 200;
    let expiry = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let data = tower_data(value);
    let raw = match redis::Client::open(url) {
        Ok(c) => c.get_multiplexed_async_connection().await,
        Err(e) => return println!("skipped tower-sessions: {e}"),
    };
    let Ok(mut raw) = raw else {
        return println!("skipped tower-sessions: Redis unreachable");
    };

    // Theirs.
    let config = match Config::from_url(url) {
        Ok(c) => c,
        Err(e) => return println!("skipped tower-sessions: {e}"),
    };
    let pool = Pool::new(config, None, None, None, 6).expect("fred pool");
    pool.init().await.expect("fred connects");
    let theirs = Arc::new(tower_sessions_redis_store::RedisStore::new(pool.clone()));
    let mut their_ids = Vec::new();
    for _ in 0..SESSIONS {
        use tower_sessions_core_014::SessionStore as _;
        let mut record = tower_sessions_core_014::session::Record {
            id: tower_sessions_core_014::session::Id::default(),
            data: data.clone(),
            expiry_date: expiry,
        };
        theirs.create(&mut record).await.expect("create");
        their_ids.push(record.id);
    }
    let their_bytes = memory_usage(&mut raw, &their_ids[0].to_string()).await;
    let their_ids = Arc::new(their_ids);
    for concurrency in [1, 50] {
        let (st, ids, d) = (theirs.clone(), their_ids.clone(), data.clone());
        let save = median_of(settings, concurrency, move |_, i| {
            let (st, ids, d) = (st.clone(), ids.clone(), d.clone());
            async move {
                use tower_sessions_core_014::SessionStore as _;
                let record = tower_sessions_core_014::session::Record {
                    id: ids[i % SESSIONS],
                    data: d,
                    expiry_date: expiry,
                };
                st.save(&record).await.expect("save");
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": "redis", "client": "tower-sessions-redis-store", "op": "session save", "c": concurrency, "bytes": their_bytes}),
            &save,
        );
        let (st, ids) = (theirs.clone(), their_ids.clone());
        let load = median_of(settings, concurrency, move |_, i| {
            let (st, ids) = (st.clone(), ids.clone());
            async move {
                use tower_sessions_core_014::SessionStore as _;
                assert!(st.load(&ids[i % SESSIONS]).await.expect("load").is_some());
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": "redis", "client": "tower-sessions-redis-store", "op": "session load", "c": concurrency, "bytes": their_bytes}),
            &load,
        );
    }
    let keys: Vec<String> = their_ids.iter().map(ToString::to_string).collect();
    let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query_async(&mut raw).await;
    let _ = pool.quit().await;

    // Ours, per codec.
    for spec in ["json+zstd", "msgpack+zstd"] {
        let store = match satchel_store::open(url).await {
            Ok(s) => s,
            Err(e) => return println!("skipped satchel-tower: {}", satchel::Report(&e)),
        };
        let prefix = format!("satchel-bench-tower:{}:", std::process::id());
        let ours = Arc::new(
            satchel_tower::SatchelSessionStore::new(
                store,
                spec.parse::<satchel::DynCodec>().expect("spec"),
            )
            .with_key_prefix(prefix),
        );
        let mut ids = Vec::new();
        for _ in 0..SESSIONS {
            use tower_sessions_core::SessionStore as _;
            let mut record = tower_sessions_core::session::Record {
                id: tower_sessions_core::session::Id::default(),
                data: data.clone(),
                expiry_date: expiry,
            };
            ours.create(&mut record).await.expect("create");
            ids.push(record.id);
        }
        let our_bytes = memory_usage(&mut raw, &ours.key(&ids[0])).await;
        let ids = Arc::new(ids);
        let client = format!("satchel-tower {spec}");
        for concurrency in [1, 50] {
            let (st, ids2, d) = (ours.clone(), ids.clone(), data.clone());
            let save = median_of(settings, concurrency, move |_, i| {
                let (st, ids, d) = (st.clone(), ids2.clone(), d.clone());
                async move {
                    use tower_sessions_core::SessionStore as _;
                    let record = tower_sessions_core::session::Record {
                        id: ids[i % SESSIONS],
                        data: d,
                        expiry_date: expiry,
                    };
                    st.save(&record).await.expect("save");
                }
            })
            .await;
            emit(
                out,
                serde_json::json!({"backend": "redis", "client": client, "op": "session save", "c": concurrency, "bytes": our_bytes}),
                &save,
            );
            let (st, ids2) = (ours.clone(), ids.clone());
            let load = median_of(settings, concurrency, move |_, i| {
                let (st, ids) = (st.clone(), ids2.clone());
                async move {
                    use tower_sessions_core::SessionStore as _;
                    assert!(st.load(&ids[i % SESSIONS]).await.expect("load").is_some());
                }
            })
            .await;
            emit(
                out,
                serde_json::json!({"backend": "redis", "client": client, "op": "session load", "c": concurrency, "bytes": our_bytes}),
                &load,
            );
        }
        for id in ids.iter() {
            use tower_sessions_core::SessionStore as _;
            let _ = ours.delete(id).await;
        }
    }
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
            bench_store(&settings, &mut out, backend, &url, &value, true).await;
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
        bench_store(&settings, &mut out, backend, &server.url, &value, true).await;
        server.stop().await;
    }
    // The ~16 KB record on the two stores with server-side references (redis-benchmark,
    // pgbench) and on the raw client: get/set/update only.
    let large = Arc::new(payloads::session_medium());
    let large_encoded = Codec::json()
        .compress(Zstd)
        .encode(&*large)
        .expect("encodes")
        .len();
    for (backend, var, default) in [
        ("redis", "SATCHEL_BENCH_REDIS_URL", "redis://127.0.0.1:6379"),
        (
            "postgres",
            "SATCHEL_BENCH_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/test",
        ),
    ] {
        if let Some(url) = url(var, default) {
            bench_store(&settings, &mut out, backend, &url, &large, false).await;
        }
    }
    if let Some(redis) = url("SATCHEL_BENCH_REDIS_URL", "redis://127.0.0.1:6379") {
        bench_raw_redis(&settings, &mut out, &redis, large_encoded).await;
        bench_raw_redis(&settings, &mut out, &redis, encoded).await;
        bench_tower(&settings, &mut out, &redis, &value).await;
    }
    let _ = std::fs::remove_file(&sqlite);
    std::fs::write(&settings.out, out.join("\n") + "\n").expect("results written");
    println!("wrote {}", settings.out);
}
