//! `encode` and `decode`: every spec, files, foreign bincode, corrupt values, usage errors.

#[allow(unused_imports)]
use super::*;

#[test]
fn encode_decode_round_trip_for_every_spec() {
    let input = serde_json::to_vec(&sample()).expect("json");
    for format in FORMATS {
        for compression in COMPRESSIONS {
            let spec = format!("{format}{compression}");
            let out = satchel(&["encode", "--codec", &spec], &input);
            ok(&out);
            let encoded = out.stdout;
            assert_eq!(encoded[0], 0xC1, "{spec}: satchel header");
            let header = sniff(&encoded).expect("header");
            assert_eq!(
                header.pipeline.to_string(),
                spec.split(':').next().expect("name"),
                "{spec}"
            );
            let decoded = ok(&satchel(&["decode"], &encoded));
            let back: Value = serde_json::from_str(&decoded).expect("decode prints JSON");
            assert_eq!(back, sample(), "{spec}");
        }
    }
}

#[test]
fn encode_and_decode_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.json");
    let packed = dir.path().join("out.bin");
    let unpacked = dir.path().join("back.json");
    std::fs::write(&input, serde_json::to_vec_pretty(&sample()).expect("json")).expect("write");
    let p = |p: &Path| p.to_str().expect("utf-8 path").to_string();
    ok(&satchel(
        &[
            "encode",
            "-c",
            "msgpack+zstd",
            &p(&input),
            "-o",
            &p(&packed),
        ],
        b"",
    ));
    ok(&satchel(&["decode", &p(&packed), "-o", &p(&unpacked)], b""));
    let back: Value =
        serde_json::from_slice(&std::fs::read(&unpacked).expect("read")).expect("json");
    assert_eq!(back, sample());

    let out = ok(&satchel(&["inspect", &p(&packed)], b""));
    for line in [
        "pipeline     msgpack+zstd",
        "level        unknown",
        "header       2 bytes",
    ] {
        assert!(out.contains(line), "missing `{line}` in:\n{out}");
    }
    let report: Value =
        serde_json::from_str(&ok(&satchel(&["inspect", "--json", &p(&packed)], b"")))
            .expect("json");
    assert_eq!(report["pipeline"], "msgpack+zstd");
    assert_eq!(report["checksum"], false);
    assert_eq!(report["level"], "unknown");
    assert_eq!(
        report["stored_bytes"].as_u64(),
        Some(std::fs::metadata(&packed).expect("size").len())
    );
    assert!(report["decoded_bytes"].as_u64().expect("decoded") > 0);
    assert_eq!(report["value"], sample());
}

#[test]
fn bincode_from_other_programs_is_explained() {
    // A bincode value written with its own Rust type, not through the CLI.
    let bytes = Codec::bincode().encode(&(7u32, "x")).expect("encode");
    let err = fails(&satchel(&["decode"], &bytes), 5);
    assert!(err.contains("decoding stage"), "{err}");
    assert!(err.contains("need their Rust type"), "{err}");
}

#[test]
fn corrupt_values_name_the_stage() {
    let good = satchel(&["encode", "--codec", "json+zstd"], b"[1,2,3,4,5,6,7,8]").stdout;
    let mut flipped = good.clone();
    let last = flipped.len() - 2;
    flipped[last] ^= 0x55;
    let err = fails(&satchel(&["decode"], &flipped), 5);
    assert!(err.contains("decompression stage"), "{err}");
    let err = fails(&satchel(&["decode"], b"{\"plain\": 1}"), 5);
    assert!(err.contains("header stage"), "{err}");
    assert!(err.contains("plain JSON"), "{err}");
    // msgpack header over bytes that are not msgpack.
    let err = fails(&satchel(&["decode"], &[0xC1, 0x20, 0xC1]), 5);
    assert!(err.contains("decoding stage"), "{err}");
    // A checksummed value with a flipped payload bit.
    let mut checked = DynCodec::from_spec("json")
        .expect("spec")
        .checksum()
        .expect("a json codec has a header")
        .encode(&json!([1, 2, 3]))
        .expect("encode");
    let last = checked.len() - 1;
    checked[last - 1] ^= 1;
    let err = fails(&satchel(&["decode"], &checked), 5);
    assert!(err.contains("checksum stage"), "{err}");
}

#[test]
fn usage_errors_are_clear() {
    let err = fails(&satchel(&["encode", "--codec", "xml+zstd"], b"{}"), 2);
    assert!(
        err.contains("valid formats: json, msgpack, bincode"),
        "{err}"
    );
    let err = fails(&satchel(&["encode", "--codec", "json+brotli"], b"{}"), 2);
    assert!(err.contains("zstd"), "lists valid compressions: {err}");

    let err = fails(
        &satchel(&["encode", "--codec", "json", "/no/such/file.json"], b""),
        3,
    );
    assert!(
        err.contains("/no/such/file.json") && err.contains("no such file"),
        "{err}"
    );
    let err = fails(&satchel(&["advise", "/no/such/sample.json"], b""), 3);
    assert!(err.contains("/no/such/sample.json"), "{err}");
    let err = fails(&satchel(&["encode", "--codec", "json"], b"{not json"), 3);
    assert!(err.contains("stdin is not valid JSON"), "{err}");

    let err = fails(
        &satchel(
            &["get", "--store", "redis://:hunter2@127.0.0.1:1", "k"],
            b"",
        ),
        4,
    );
    assert!(
        err.contains("redis://:***@127.0.0.1:1"),
        "names the store: {err}"
    );
    assert!(!err.contains("hunter2"), "password redacted: {err}");
    assert!(
        err.to_lowercase().contains("refused") || err.contains("reach"),
        "cause: {err}"
    );

    let err = fails(&satchel(&["ls", "--store", "nosql://x"], b""), 2);
    assert!(err.contains("sqlite://"), "lists known schemes: {err}");
}
