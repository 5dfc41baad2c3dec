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
//! from `SATCHEL_BENCH_*_URL` (defaults: the local services; `off` skips one);
//! `SATCHEL_BENCH_ONLY` picks parts of the run and `SATCHEL_BENCH_SQL_POOL` sizes the SQL
//! pools, for targeted experiments (`scripts/bench.sh` sets neither).
//!
//! One file per job: `harness.rs` (the measuring loop), `stores.rs`, `raw_redis.rs` (the
//! raw redis-rs references and satchel's raw-bytes Redis store, single and cluster),
//! `tower_store.rs`, `grpc_echo.rs` (bare tonic, the gRPC rows' reference); this file reads the settings and runs them.
#![allow(clippy::print_stdout)]

mod grpc_echo;
mod harness;
mod raw_redis;
mod stores;
mod tower_store;

use grpc_echo::*;
use harness::*;
use raw_redis::*;
use stores::*;
use tower_store::*;

use std::sync::Arc;
use std::time::{Duration, Instant};

use satchel::{Codec, Zstd};
use satchel_store::{CodecExt, CodecStore, DynStore, Prefixed};
use satchel_testkit::payloads::{self, Session};

fn url(var: &str, default: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if v == "off" => None,
        Ok(v) if !v.is_empty() => Some(v),
        _ => Some(default.to_string()),
    }
}

/// Whether the part `name` of the run is wanted: every part unless `SATCHEL_BENCH_ONLY`
/// lists some (comma-separated: a backend name for its typed figures — `memory`, `sqlite`,
/// `postgres`, `mysql`, `redis` —, `grpc`, `large`, `pg-bytes`, `pg-feed`, `redis-refs`, `tower`,
/// `cluster`), for a targeted measurement that does not rerun everything.
fn only(name: &str) -> bool {
    match std::env::var("SATCHEL_BENCH_ONLY") {
        Ok(list) if !list.is_empty() => list.split(',').any(|part| part.trim() == name),
        _ => true,
    }
}

/// The SQL pools' size: one connection per task at c = 50 (pgbench's `-c 50`) unless
/// `SATCHEL_BENCH_SQL_POOL` says otherwise.
pub(crate) fn sql_pool() -> u32 {
    std::env::var("SATCHEL_BENCH_SQL_POOL")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

/// `redis://host:port` of every node a `redis-cluster://host:port?node=host:port&…` URL
/// names, for the raw cluster client.
fn cluster_nodes(url: &str) -> Vec<String> {
    let rest = url.trim_start_matches("redis-cluster://");
    let (first, query) = rest.split_once('?').unwrap_or((rest, ""));
    std::iter::once(first)
        .chain(query.split('&').filter_map(|p| p.strip_prefix("node=")))
        .map(|node| format!("redis://{node}"))
        .collect()
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
        if let Some(url) = url.filter(|_| only(backend)) {
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
        let Some(backing) = backing.filter(|_| only("grpc")) else {
            continue;
        };
        let store = match satchel_store::open(&backing).await {
            Ok(s) => s,
            Err(e) => {
                println!("skipped {backend}: {}", satchel::Report(&e));
                continue;
            }
        };
        let server = satchel_testkit::grpc::serve(store).await;
        bench_store(&settings, &mut out, backend, &server.url, &value, true).await;
        if backend == "grpc/memory" {
            // The same values as bytes (no codec), next to the bare tonic echo below.
            match satchel_grpc::GrpcStore::open(&server.url).await {
                Ok(s) => {
                    bench_store_bytes(&settings, &mut out, backend, Arc::new(s), encoded).await
                }
                Err(e) => println!(
                    "skipped satchel bytes on {backend}: {}",
                    satchel::Report(&e)
                ),
            }
        }
        server.stop().await;
    }
    // The transport's own limit: bare tonic, the same messages and value size.
    if only("grpc") {
        bench_grpc_echo(&settings, &mut out, encoded).await;
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
        if let Some(url) = url(var, default).filter(|_| only("large")) {
            bench_store(&settings, &mut out, backend, &url, &large, false).await;
        }
    }
    // PostgreSQL moving the stored bytes with no codec, 50 connections: what pgbench does.
    if let Some(pg) = url(
        "SATCHEL_BENCH_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    )
    .filter(|_| only("pg-bytes"))
    {
        match satchel_sql::SqlStore::with_config(
            satchel_sql::SqlConfig::new(pg).with_max_connections(sql_pool()),
        )
        .await
        {
            Ok(s) => bench_store_bytes(&settings, &mut out, "postgres", Arc::new(s), encoded).await,
            Err(e) => println!("skipped satchel bytes on postgres: {}", satchel::Report(&e)),
        }
    }
    // The same, on a table with the change feed's trigger and one subscriber draining the
    // notices (what `satchel serve --store 'postgres://…?changeFeed=notify'` has): what the
    // feed costs every write.
    if let Some(pg) = url(
        "SATCHEL_BENCH_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    )
    .filter(|_| only("pg-feed"))
    {
        bench_pg_feed(&settings, &mut out, &pg, encoded).await;
    }
    if let Some(redis) = url("SATCHEL_BENCH_REDIS_URL", "redis://127.0.0.1:6379") {
        let target = RawTarget::Single(&redis);
        if only("redis-refs") {
            bench_raw_redis(&settings, &mut out, &target, large_encoded).await;
            bench_raw_redis(&settings, &mut out, &target, encoded).await;
            bench_redis_bytes(&settings, &mut out, "redis", &redis, encoded).await;
            bench_raw_redis_codec(&settings, &mut out, &target, &value, encoded).await;
        }
        if only("tower") {
            bench_tower(&settings, &mut out, &redis, &value).await;
        }
    }
    // A 3-primary Redis Cluster, when `SATCHEL_BENCH_REDIS_CLUSTER_URL` names one
    // (`scripts/bench.sh` starts one with scripts/redis-cluster.sh): the typed store, the
    // raw-bytes store and both raw references, as on the single Redis.
    if let Ok(cluster) = std::env::var("SATCHEL_BENCH_REDIS_CLUSTER_URL")
        && !cluster.is_empty()
        && cluster != "off"
        && only("cluster")
    {
        let nodes = cluster_nodes(&cluster);
        let target = RawTarget::Cluster(&nodes);
        bench_store(
            &settings,
            &mut out,
            "redis-cluster",
            &cluster,
            &value,
            false,
        )
        .await;
        bench_redis_bytes(&settings, &mut out, "redis-cluster", &cluster, encoded).await;
        bench_raw_redis(&settings, &mut out, &target, encoded).await;
        bench_raw_redis_codec(&settings, &mut out, &target, &value, encoded).await;
    }
    let _ = std::fs::remove_file(&sqlite);
    std::fs::write(&settings.out, out.join("\n") + "\n").expect("results written");
    println!("wrote {}", settings.out);
}
