//! What sealing costs: a json+zstd round trip (encode + decode) of the ~750-byte session
//! record, next to the same round trip sealed (ChaCha20-Poly1305, bound to a store key).
//! Target (issue 17): sealing adds at most 10 %.
//!
//! `scripts/bench.sh` runs this with the others (`--only seal` alone); the medians go into
//! `BENCHMARKS.md`, the sizes into `target/satchel-bench-seal-sizes.json`.
#![allow(clippy::print_stdout)] // the sizes line, read by whoever runs it

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use satchel::seal::KeyRing;
use satchel::{Codec, Zstd};
use satchel_testkit::payloads::{self, Session};

/// A store key shaped like a hashed session key (`h_` + 43 base64url characters).
const KEY: &str = "session:h_q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c";

fn seal(c: &mut Criterion) {
    let value = payloads::session_750();
    let json_len = payloads::json_bytes(&value).len() as u64;
    let plain = Codec::json().compress(Zstd);
    let sealed = plain.seal(Arc::new(KeyRing::generate(1).expect("random key")));
    let bytes = sealed.encode_keyed(&value, KEY).expect("seals");
    assert_eq!(
        sealed.decode_keyed::<Session>(&bytes, KEY).expect("opens"),
        value
    );
    let plain_len = plain.encode(&value).expect("encodes").len();
    println!(
        "seal/750B sizes: json {json_len}, json+zstd {plain_len}, json+zstd+seal {}",
        bytes.len()
    );
    // The sizes, for scripts/bench_report.py.
    let sizes = serde_json::json!({
        "json": json_len,
        "json+zstd": plain_len,
        "json+zstd+seal": bytes.len(),
    });
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/satchel-bench-seal-sizes.json"
    );
    std::fs::write(path, sizes.to_string()).ok();

    // Paired rounds: the plain and the sealed round trip measured one after the other,
    // ROUNDS times, so the report takes the median of per-round ratios (this machine's
    // speed drifts by more than the 10% being measured between two benchmarks run a few
    // seconds apart; within a round the two see the same machine).
    let mut group = c.benchmark_group("seal/750B");
    group.throughput(Throughput::Bytes(json_len));
    for round in 0..ROUNDS {
        let id = format!("round-trip-r{round}");
        group.bench_function(BenchmarkId::new("json+zstd", &id), |b| {
            b.iter(|| {
                let bytes = plain.encode(black_box(&value)).expect("encodes");
                plain.decode::<Session>(&bytes).expect("decodes")
            })
        });
        group.bench_function(BenchmarkId::new("json+zstd+seal", &id), |b| {
            b.iter(|| {
                let bytes = sealed.encode_keyed(black_box(&value), KEY).expect("seals");
                sealed.decode_keyed::<Session>(&bytes, KEY).expect("opens")
            })
        });
    }
    // The cipher alone, on the compressed payload and the associated data a sealed value
    // has (its header, then the store key): a nonce, seal and open, to say how much of
    // sealing's cost is ChaCha20-Poly1305 as the key ring runs it.
    let ring = KeyRing::generate(1).expect("random key");
    let plain_bytes = plain.encode(&value).expect("encodes");
    let payload = plain_bytes[2..].to_vec(); // after the compact 2-byte header
    let sealed_header = bytes.len() - payload.len() - satchel::SEAL_TAG_LEN;
    let aad = [&bytes[..sealed_header], KEY.as_bytes()].concat();
    group.bench_function(BenchmarkId::new("cipher", "seal-open"), |b| {
        b.iter(|| {
            let info = satchel::Seal::begin(&ring).expect("nonce");
            let mut buf = payload.clone();
            satchel::Seal::seal(&ring, &info, &aad, &mut buf, 0).expect("seals");
            let n = satchel::Seal::open(&ring, &info, &aad, &mut buf).expect("opens");
            black_box(n)
        })
    });
    group.bench_function(BenchmarkId::new("cipher", "copy"), |b| {
        b.iter(|| black_box(payload.clone()))
    });
    group.finish();
}

/// How many paired rounds of plain and sealed round trips are measured.
const ROUNDS: usize = 7;

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(600))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = seal
}
criterion_main!(benches);
