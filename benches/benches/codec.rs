//! Every pipeline on three session-like payloads, next to the same work done by hand with
//! the raw crates; the two JSON decoders side by side; the cost of `.checksum()`.
//!
//! `scripts/bench.sh` runs this and writes the medians into `BENCHMARKS.md`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use satchel::{Codec, DynCodec, Format, Limits};
use satchel_benches::{
    raw_compress, raw_decompress, raw_deserialize, raw_serialize, raw_zstd_compress_checksummed,
};
use satchel_testkit::payloads::{self, Session};

const FORMATS: [&str; 3] = ["json", "msgpack", "bincode"];
const COMPRESSIONS: [&str; 5] = ["none", "zstd", "lz4", "gzip", "zlib"];

fn payload_set() -> Vec<(&'static str, Session)> {
    vec![
        ("300B", payloads::session_small()),
        ("16KB", payloads::session_medium()),
        ("1MB", payloads::session_large()),
    ]
}

fn spec(format: &str, compression: &str) -> String {
    if compression == "none" {
        format.to_string()
    } else {
        format!("{format}+{compression}")
    }
}

fn pipelines(c: &mut Criterion) {
    let mut sizes = serde_json::Map::new();
    for (size, value) in payload_set() {
        let json_len = payloads::json_bytes(&value).len() as u64;
        for format in FORMATS {
            for compression in COMPRESSIONS {
                let spec = spec(format, compression);
                let codec: DynCodec = spec.parse().expect("compiled in");
                let encoded = codec.encode(&value).expect("encodes");
                let raw = raw_compress(compression, raw_serialize(format, &value));
                sizes.insert(
                    format!("{size}/{spec}"),
                    serde_json::json!({"satchel": encoded.len(), "raw": raw.len(), "json": json_len}),
                );
                // Same input, same output: the comparison is like for like.
                assert_eq!(
                    raw_deserialize::<Session>(format, &raw_decompress(compression, &raw)),
                    codec.decode::<Session>(&encoded).expect("decodes")
                );

                // Paired rounds: satchel and raw one right after the other, ROUNDS times;
                // the report takes the median of the rounds' ratios, so a burst of load on
                // this shared machine spoils one round rather than the comparison.
                let checked = raw_zstd_compress_checksummed(&raw_serialize(format, &value));
                let mut group = c.benchmark_group(format!("encode/{size}"));
                group.throughput(Throughput::Bytes(json_len));
                for round in 0..ROUNDS {
                    let id = |side: &str| BenchmarkId::new(&spec, format!("{side}-r{round}"));
                    group.bench_function(id("satchel"), |b| {
                        b.iter(|| codec.encode(black_box(&value)).expect("encodes"))
                    });
                    group.bench_function(id("raw"), |b| {
                        b.iter(|| {
                            raw_compress(compression, raw_serialize(format, black_box(&value)))
                        })
                    });
                    // zstd by hand with the content checksum satchel writes: what it costs.
                    if compression == "zstd" {
                        group.bench_function(id("raw-checksum"), |b| {
                            b.iter(|| {
                                raw_zstd_compress_checksummed(&raw_serialize(
                                    format,
                                    black_box(&value),
                                ))
                            })
                        });
                    }
                }
                group.finish();

                let mut group = c.benchmark_group(format!("decode/{size}"));
                group.throughput(Throughput::Bytes(json_len));
                for round in 0..ROUNDS {
                    let id = |side: &str| BenchmarkId::new(&spec, format!("{side}-r{round}"));
                    group.bench_function(id("satchel"), |b| {
                        b.iter(|| {
                            codec
                                .decode::<Session>(black_box(&encoded))
                                .expect("decodes")
                        })
                    });
                    group.bench_function(id("raw"), |b| {
                        b.iter(|| {
                            raw_deserialize::<Session>(
                                format,
                                &raw_decompress(compression, black_box(&raw)),
                            )
                        })
                    });
                    if compression == "zstd" {
                        group.bench_function(id("raw-checksum"), |b| {
                            b.iter(|| {
                                raw_deserialize::<Session>(
                                    format,
                                    &raw_decompress(compression, black_box(&checked)),
                                )
                            })
                        });
                    }
                }
                group.finish();
            }
        }
    }
    // Encoded sizes, for scripts/bench_report.py.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/satchel-bench-sizes.json"
    );
    std::fs::write(path, serde_json::Value::Object(sizes).to_string()).expect("sizes written");
}

fn decode_with<T: serde::de::DeserializeOwned>(
    c: &mut Criterion,
    name: &str,
    bytes: &[u8],
    _: std::marker::PhantomData<T>,
) {
    let serde = satchel::Json::new().serde_only();
    let simd = satchel::Json::new().simd_above(0);
    let limits = Limits::default();
    let mut group = c.benchmark_group(format!("json_decoders/{name}"));
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("serde_json", |b| {
        b.iter(|| {
            serde
                .deserialize::<T>(black_box(bytes), &limits)
                .expect("decodes")
        })
    });
    group.bench_function("simd-json", |b| {
        b.iter(|| {
            simd.deserialize::<T>(black_box(bytes), &limits)
                .expect("decodes")
        })
    });
    group.finish();
}

fn json_decoders(c: &mut Criterion) {
    use std::marker::PhantomData;
    decode_with(
        c,
        "4KB",
        &payloads::json_bytes(&payloads::session_4kb()),
        PhantomData::<Session>,
    );
    for (size, value) in payload_set() {
        decode_with(
            c,
            size,
            &payloads::json_bytes(&value),
            PhantomData::<Session>,
        );
    }
    decode_with(
        c,
        "numbers-1MB",
        &payloads::json_bytes(&payloads::numbers_1mb()),
        PhantomData::<Vec<Vec<f64>>>,
    );
    decode_with(
        c,
        "strings-1MB",
        &payloads::json_bytes(&payloads::strings_1mb()),
        PhantomData::<Vec<String>>,
    );
}

fn checksum(c: &mut Criterion) {
    for (size, value) in payload_set() {
        let json_len = payloads::json_bytes(&value).len() as u64;
        let plain = Codec::json();
        bench_checksum(c, size, "json", json_len, &value, plain, plain.checksum());
        let plain = Codec::json().compress(satchel::Lz4);
        bench_checksum(
            c,
            size,
            "json+lz4",
            json_len,
            &value,
            plain,
            plain.checksum(),
        );
    }
}

fn bench_checksum<F: satchel::HeaderFormat, C: satchel::Compression>(
    c: &mut Criterion,
    size: &str,
    name: &str,
    json_len: u64,
    value: &Session,
    plain: Codec<F, C>,
    summed: Codec<F, C>,
) {
    let mut group = c.benchmark_group(format!("checksum/{size}"));
    group.throughput(Throughput::Bytes(json_len));
    let bytes = plain.encode(value).expect("encodes");
    let summed_bytes = summed.encode(value).expect("encodes");
    group.bench_function(BenchmarkId::new(name, "round-trip"), |b| {
        b.iter(|| {
            let bytes = plain.encode(black_box(value)).expect("encodes");
            plain.decode::<Session>(&bytes).expect("decodes")
        })
    });
    group.bench_function(
        BenchmarkId::new(format!("{name}.checksum"), "round-trip"),
        |b| {
            b.iter(|| {
                let bytes = summed.encode(black_box(value)).expect("encodes");
                summed.decode::<Session>(&bytes).expect("decodes")
            })
        },
    );
    assert!(summed_bytes.len() == bytes.len() + 7);
    group.finish();
}

/// Paired rounds of satchel and raw per pipeline case (see `pipelines`).
const ROUNDS: usize = 3;

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_millis(400))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = pipelines, json_decoders, checksum
}
criterion_main!(benches);
