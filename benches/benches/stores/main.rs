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
//!
//! One file per job: `harness.rs` (the measuring loop), `stores.rs`, `raw_redis.rs`,
//! `tower_store.rs`; this file reads the settings and runs them.
#![allow(clippy::print_stdout)]

mod harness;
mod raw_redis;
mod stores;
mod tower_store;

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
