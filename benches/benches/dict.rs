//! Trained dictionaries on the ~750-byte session record: json+zstd with and without a
//! dictionary, sizes against the record's JSON and encode + decode times.
//!
//! Two dictionaries: the committed 4 KiB test dictionary, and one trained here on 2,000
//! other records shaped like it the way `satchel train` trains one on a store of sessions
//! (its default size: `DEFAULT_DICT_SIZE`, 110 KiB, at most an eighth of the samples).
//! The sizes are printed once and written to `target/satchel-bench-dict-sizes.json`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use satchel::{Codec, Json, Zstd, ZstdDict};
use satchel_testkit::payloads::{self, Session};

fn dictionaries() -> Vec<(&'static str, &'static ZstdDict)> {
    let committed = ZstdDict::load(include_bytes!("../../crates/zstd/tests/data/sessions.dict"))
        .expect("the committed dictionary loads");
    let samples: Vec<Vec<u8>> = payloads::sessions_like_750(200_000, 2_000)
        .iter()
        .map(payloads::json_bytes)
        .collect();
    let total: usize = samples.iter().map(Vec::len).sum();
    let size = satchel::DEFAULT_DICT_SIZE.min(total / 8).max(256);
    let trained = ZstdDict::load(&satchel::train(&samples, size).expect("trains")).expect("loads");
    vec![("dict-4KiB", committed), ("dict-trained", trained)]
}

fn dict(c: &mut Criterion) {
    let value = payloads::session_750();
    let json_len = payloads::json_bytes(&value).len();
    let dicts = dictionaries();
    let mut codecs: Vec<(String, Codec<Json, Zstd>)> = Vec::new();
    for level in [3, 19] {
        codecs.push((
            format!("json+zstd:{level}"),
            Codec::json().compress(Zstd.level(level)),
        ));
        for &(name, d) in &dicts {
            codecs.push((
                format!("json+zstd:{level}+{name}"),
                Codec::json().compress(Zstd.level(level).dict(d)),
            ));
        }
    }
    let mut sizes = serde_json::Map::new();
    sizes.insert("json".into(), json_len.into());
    for (name, codec) in &codecs {
        let bytes = codec.encode(&value).expect("encodes");
        assert_eq!(codec.decode::<Session>(&bytes).expect("decodes"), value);
        let ratio = json_len as f64 / bytes.len() as f64;
        eprintln!(
            "{name}: {} bytes, {ratio:.2}x smaller than its {json_len} bytes of JSON",
            bytes.len()
        );
        sizes.insert(name.clone(), bytes.len().into());

        let mut group = c.benchmark_group("dict/750B");
        group.throughput(Throughput::Bytes(json_len as u64));
        group.bench_function(BenchmarkId::new(name, "encode"), |b| {
            b.iter(|| codec.encode(black_box(&value)).expect("encodes"))
        });
        group.bench_function(BenchmarkId::new(name, "decode"), |b| {
            b.iter(|| codec.decode::<Session>(black_box(&bytes)).expect("decodes"))
        });
        group.finish();
    }
    // Round trips in paired rounds: at each level, without a dictionary and with each one,
    // one right after the other, ROUNDS times; the report takes the median of the rounds'
    // ratios (this machine drifts by more than the 20% being checked between benchmarks
    // run seconds apart).
    let mut group = c.benchmark_group("dict/750B");
    group.throughput(Throughput::Bytes(json_len as u64));
    for level in [3, 19] {
        for round in 0..ROUNDS {
            for (name, codec) in codecs
                .iter()
                .filter(|(n, _)| n.starts_with(&format!("json+zstd:{level}")))
            {
                let id = BenchmarkId::new(name, format!("round-trip-r{round}"));
                group.bench_function(id, |b| {
                    b.iter(|| {
                        let bytes = codec.encode(black_box(&value)).expect("encodes");
                        codec.decode::<Session>(&bytes).expect("decodes")
                    })
                });
            }
        }
    }
    group.finish();
    // Sizes only (no timing) at every level, to show where the dictionary reaches 4×.
    let mut by_level = serde_json::Map::new();
    for level in 1..=19 {
        let mut row = serde_json::Map::new();
        let plain = Codec::json().compress(Zstd.level(level));
        row.insert(
            "none".into(),
            plain.encode(&value).expect("encodes").len().into(),
        );
        for &(name, d) in &dicts {
            let codec = Codec::json().compress(Zstd.level(level).dict(d));
            row.insert(
                name.into(),
                codec.encode(&value).expect("encodes").len().into(),
            );
        }
        by_level.insert(level.to_string(), row.into());
    }
    eprintln!(
        "sizes by level: {}",
        serde_json::Value::Object(by_level.clone())
    );
    sizes.insert("by_level".into(), by_level.into());
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/satchel-bench-dict-sizes.json"
    );
    std::fs::write(path, serde_json::Value::Object(sizes).to_string()).ok();
}

/// Paired rounds of round trips per level (see `dict`).
const ROUNDS: usize = 5;

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = dict
}
criterion_main!(benches);
