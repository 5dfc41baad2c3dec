//! Bytes the real kvdb-py 0.0.2 stored in Redis (tests/data/kvdb-py-0.0.2.txt) read back
//! as typed values; Rust's own values round-trip; hostile values give clear errors.

mod common;

use common::*;
use satchel::{AnyHeader, Codec, ErrorKind, Gzip, Limits, Lz4, Zlib, Zstd, decode_any_in};
use satchel_kvdb::{Classes, KvdbAny, Packing, Serializer, inspect, sniff};

/// What a reader that shares a Redis with kvdb-py calls: satchel's header and kvdb-py's
/// framing, both recognised.
fn decode_any<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, satchel::Error> {
    decode_any_in(bytes, &Limits::default(), &(AnyHeader, KvdbAny::new()))
}

#[test]
fn plain_decode_any_reads_satchel_headers_only() {
    let bytes = Codec::kvdb_json().encode(&vec![1, 2]).unwrap();
    let err = satchel::decode_any::<Vec<u8>>(&bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Header, "{err}");
    assert_eq!(decode_any::<Vec<u8>>(&bytes).unwrap(), [1, 2]);
    // Neither framing: the error names both.
    let err = decode_any::<Vec<u8>>(b"[1, 2]").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Header);
    assert!(err.to_string().contains("satchel header"), "{err}");
    assert!(err.to_string().contains("kvdb-py"), "{err}");
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// (pipeline, sample, bytes) for every captured value.
fn golden() -> Vec<(String, String, Vec<u8>)> {
    include_str!("data/kvdb-py-0.0.2.txt")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (key, hex) = line.split_once(' ').expect("key and hex");
            let (pipeline, sample) = key.split_once(':').expect("pipeline:sample");
            (pipeline.to_string(), sample.to_string(), unhex(hex))
        })
        .collect()
}

#[test]
fn kvdb_py_values_read_as_typed_values() {
    let values = golden();
    assert!(values.len() >= 40, "{} golden values", values.len());
    for (pipeline, sample, bytes) in &values {
        if pipeline.starts_with("json") {
            check_sample!(Codec::kvdb_json().classes(&CLASSES), sample, bytes);
        } else {
            check_sample!(Codec::kvdb_msgpack().classes(&CLASSES), sample, bytes);
        }
    }
}

#[test]
fn kvdb_py_values_are_sniffed() {
    for (pipeline, sample, bytes) in golden() {
        if ["str", "int", "raw_bytes"].contains(&sample.as_str()) {
            assert!(sniff(&bytes).is_none(), "{pipeline}:{sample} is raw");
            continue;
        }
        let detected = inspect(&bytes, &Default::default())
            .unwrap()
            .unwrap_or_else(|| panic!("{pipeline}:{sample} not recognised"));
        let (serializer, compression) = pipeline.split_once('-').unwrap();
        assert_eq!(
            detected.to_string(),
            match compression {
                "none" => format!("kvdb-{serializer}"),
                c => format!("kvdb-{serializer}+{c}"),
            },
            "{pipeline}:{sample}"
        );
        let quick = sniff(&bytes).unwrap();
        assert_eq!(quick.compression, detected.compression);
        if quick.compression == Packing::None {
            assert_eq!(quick.serializer, detected.serializer);
        }
        // decode_any follows kvdb values with no class in them.
        if !["model", "dataclass"].contains(&sample.as_str()) {
            decode_any::<serde_json::Value>(&bytes).unwrap();
        }
    }
}

#[test]
fn decode_any_refuses_classes_it_was_not_given() {
    let (_, _, bytes) = golden()
        .into_iter()
        .find(|(p, s, _)| p == "json-zstd" && s == "model")
        .unwrap();
    let err = decode_any::<serde_json::Value>(&bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("`kvdb_models.User`"), "{err}");
    assert!(err.to_string().contains("not registered"), "{err}");
    // Migrating as data keeps the name.
    static KEEP: std::sync::LazyLock<Classes> =
        std::sync::LazyLock::new(|| Classes::new().keep_unregistered());
    let value: serde_json::Value =
        satchel_kvdb::decode_any_with(&bytes, &Default::default(), &KEEP).unwrap();
    assert_eq!(value["__class__"], "kvdb_models.User");
    assert_eq!(value["name"], "ann");
}

macro_rules! round_trip_all {
    ($codec:expr) => {{
        let codec = $codec;
        for (name, bytes) in [
            ("dict", codec.encode(&dict()).unwrap()),
            ("model", codec.encode(&user()).unwrap()),
            ("datetime", codec.encode(&at()).unwrap()),
            ("bytes", codec.encode(&blob()).unwrap()),
            ("set", codec.encode(&tags()).unwrap()),
            ("dataclass", codec.encode(&Point { x: 1, y: -2 }).unwrap()),
            ("str", codec.encode("plain text").unwrap()),
            ("int", codec.encode(&42u32).unwrap()),
            (
                "raw_bytes",
                codec
                    .encode(&satchel_kvdb::Bytes(b"\x00\x01raw".to_vec()))
                    .unwrap(),
            ),
        ] {
            if name == "raw_bytes" {
                // A `Bytes` value at the top is tagged, not raw: it reads back as bytes.
                assert_eq!(
                    codec.decode::<satchel_kvdb::Bytes>(&bytes).unwrap().0,
                    b"\x00\x01raw"
                );
                continue;
            }
            check_sample!(codec, name, &bytes);
        }
    }};
}

#[test]
fn rust_values_round_trip_through_every_pipeline() {
    round_trip_all!(Codec::kvdb_json().classes(&CLASSES));
    round_trip_all!(Codec::kvdb_json().classes(&CLASSES).compress(Zstd));
    round_trip_all!(Codec::kvdb_json().classes(&CLASSES).compress(Lz4));
    round_trip_all!(Codec::kvdb_json().classes(&CLASSES).compress(Gzip));
    round_trip_all!(Codec::kvdb_json().classes(&CLASSES).compress(Zlib));
    round_trip_all!(Codec::kvdb_msgpack().classes(&CLASSES));
    round_trip_all!(Codec::kvdb_msgpack().classes(&CLASSES).compress(Zstd));
    round_trip_all!(Codec::kvdb_msgpack().classes(&CLASSES).compress(Lz4));
}

#[test]
fn layout_is_prefix_then_compressed_serializer_output() {
    let codec = Codec::kvdb_json().compress(Zstd);
    let bytes = codec.encode(&dict()).unwrap();
    assert!(bytes.starts_with(b"_kvdbenc_\x28\xB5\x2F\xFD"));
    let bytes = Codec::kvdb_json().compress(Lz4).encode(&dict()).unwrap();
    assert!(bytes.starts_with(b"_kvdbenc_\x04\x22\x4D\x18"), "LZ4 frame");
    let bytes = Codec::kvdb_json().encode(&vec![1, 2]).unwrap();
    assert_eq!(bytes, b"_kvdbenc_[1,2]");
    // Raw values, as kvdb-py's encoder stores them.
    assert_eq!(Codec::kvdb_json().encode(&42u8).unwrap(), b"42");
    assert_eq!(Codec::kvdb_json().encode(&0.5f64).unwrap(), b"0.5");
    assert_eq!(Codec::kvdb_json().encode(&1.0f64).unwrap(), b"1.0");
    assert_eq!(Codec::kvdb_json().encode(&true).unwrap(), b"True");
    assert_eq!(
        Codec::kvdb_json().compress(Zstd).encode("text").unwrap(),
        b"text"
    );
    assert!(Codec::kvdb_json().decode::<bool>(b"True").unwrap());
    // A registered class is tagged the way kvdb-py tags a pydantic model.
    let bytes = Codec::kvdb_json()
        .classes(&CLASSES)
        .encode(&user())
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes[9..]).unwrap();
    assert_eq!(json["__type__"], "pydantic");
    assert_eq!(json["__class__"], "kvdb_models.User");
    assert_eq!(json["value"]["last_seen"], WHEN, "plain inside a model");
    // Tagged wrapper types.
    let bytes = Codec::kvdb_json().encode(&at()).unwrap();
    assert_eq!(
        bytes,
        format!("_kvdbenc_{{\"at\":{{\"__type__\":\"datetime\",\"value\":\"{WHEN}\"}}}}")
            .as_bytes()
    );
    assert_eq!(sniff(&bytes).unwrap().serializer, Some(Serializer::Json));
}

#[test]
fn a_string_that_starts_with_the_prefix_is_serialized_not_misread() {
    let codec = Codec::kvdb_json();
    let tricky = "_kvdbenc_{\"__type__\":\"pickle\",\"value\":\"00\"}";
    let bytes = codec.encode(tricky).unwrap();
    assert_ne!(bytes, tricky.as_bytes());
    assert_eq!(codec.decode::<String>(&bytes).unwrap(), tricky);
    let raw = b"_kvdbenc_raw".to_vec();
    let bytes = codec.encode(&satchel_kvdb::Bytes(raw.clone())).unwrap();
    assert_eq!(codec.decode::<satchel_kvdb::Bytes>(&bytes).unwrap().0, raw);
}

// --- hostile values -------------------------------------------------------------------

fn json_value(text: &str) -> Vec<u8> {
    [b"_kvdbenc_", text.as_bytes()].concat()
}

#[test]
fn regression_unknown_class_is_refused_naming_it() {
    let codec = Codec::kvdb_json().classes(&CLASSES);
    let bytes = json_value(
        r#"{"__type__":"pydantic","__class__":"subprocess.Popen","value":{"args":["sh","-c","id"]}}"#,
    );
    for err in [
        codec.decode::<serde_json::Value>(&bytes).unwrap_err(),
        codec.decode::<User>(&bytes).unwrap_err(),
        decode_any::<serde_json::Value>(&bytes).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
        assert!(err.to_string().contains("`subprocess.Popen`"), "{err}");
        assert!(err.to_string().contains("not registered"), "{err}");
    }
    // The same through msgpack's extension 2.
    let json = br#"{"args":["sh"],"__class__":"subprocess.Popen"}"#;
    let mut bytes = b"_kvdbenc_\xC7".to_vec();
    bytes.push(json.len() as u8);
    bytes.push(2);
    bytes.extend_from_slice(json);
    let err = Codec::kvdb_msgpack()
        .classes(&CLASSES)
        .decode::<serde_json::Value>(&bytes)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.to_string().contains("`subprocess.Popen`"), "{err}");
    // Other extension types are refused.
    let err = Codec::kvdb_msgpack()
        .decode::<serde_json::Value>(b"_kvdbenc_\xD4\x05\x00")
        .unwrap_err();
    assert!(err.to_string().contains("extension type 5"), "{err}");
}

#[test]
fn regression_tag_inside_user_data_is_checked_too() {
    let codec = Codec::kvdb_json().classes(&CLASSES);
    // kvdb-py passes a user dict with `__type__` through unchanged, then follows it on read.
    let bytes = json_value(
        r#"{"note":{"__type__":"dataclass","__class__":"os.system","value":{"cmd":"id"}}}"#,
    );
    let err = codec.decode::<serde_json::Value>(&bytes).unwrap_err();
    assert!(err.to_string().contains("`os.system`"), "{err}");
    let bytes = json_value(r#"{"note":{"__type__":"pickle","value":"80049503"}}"#);
    let err = codec.decode::<serde_json::Value>(&bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(err.to_string().contains("never unpickles"), "{err}");
    let bytes = json_value(r#"{"__type__":"whatever","value":1}"#);
    let err = codec.decode::<serde_json::Value>(&bytes).unwrap_err();
    assert!(err.to_string().contains("`whatever`"), "{err}");
    let bytes = json_value(r#"{"__type__":"bytes"}"#);
    let err = codec.decode::<serde_json::Value>(&bytes).unwrap_err();
    assert!(err.to_string().contains("no `value`"), "{err}");
    let bytes = json_value(r#"{"__type__":"bytes","value":"zz"}"#);
    assert!(codec.decode::<serde_json::Value>(&bytes).is_err());
}

#[test]
fn regression_registered_class_read_as_another_type_is_a_mismatch() {
    let bytes = Codec::kvdb_json()
        .classes(&CLASSES)
        .encode(&user())
        .unwrap();
    let err = Codec::kvdb_json()
        .classes(&CLASSES)
        .decode::<Point>(&bytes)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Mismatch, "{err}");
    assert!(err.to_string().contains("kvdb_models.User"), "{err}");
}

#[test]
fn regression_decompression_bombs_are_refused_at_the_limit() {
    let zeros = vec![0u8; 80 << 20];
    let mut zstd_bomb = b"_kvdbenc_".to_vec();
    satchel::Compression::compress(&Zstd, &zeros, &mut zstd_bomb).unwrap();
    // Without a declared size, as a streaming writer makes them.
    let mut streamed = b"_kvdbenc_".to_vec();
    let mut encoder = zstd::stream::write::Encoder::new(&mut streamed, 3).unwrap();
    encoder.include_contentsize(false).unwrap();
    std::io::Write::write_all(&mut encoder, &zeros).unwrap();
    encoder.finish().unwrap();
    let mut gzip_bomb = b"_kvdbenc_".to_vec();
    satchel::Compression::compress(&Gzip.level(9), &zeros, &mut gzip_bomb).unwrap();
    let lz4_bomb = Codec::kvdb_json()
        .compress(Lz4)
        .encode(&vec![0u8; 8 << 20])
        .unwrap();
    drop(zeros);
    let codec = Codec::kvdb_json().max_decoded_len(1 << 20);
    for (name, bomb) in [
        ("zstd", &zstd_bomb),
        ("zstd streamed", &streamed),
        ("gzip", &gzip_bomb),
        ("lz4", &lz4_bomb),
    ] {
        assert!(bomb.len() < 4 << 20, "{name}: {} bytes", bomb.len());
        let err = codec.decode::<serde_json::Value>(bomb).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{name}: {err}");
        let err = satchel_kvdb::decode_any_with::<serde_json::Value>(
            bomb,
            &satchel::Limits::new().max_decoded_len(1 << 20),
            &CLASSES,
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{name}: {err}");
    }
    // Uncompressed and raw values are held to the limit too.
    let big = json_value(&format!("\"{}\"", "a".repeat(2 << 20)));
    let err = codec.decode::<String>(&big).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    let err = codec.decode::<String>(&vec![b'a'; 2 << 20]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded);
}

#[test]
fn regression_truncated_and_deep_values_are_errors() {
    for (pipeline, sample, bytes) in golden() {
        if sniff(&bytes).is_none() {
            continue;
        }
        for cut in [bytes.len() - 1, bytes.len() / 2, 13] {
            let short = &bytes[..cut];
            let result = if pipeline.starts_with("json") {
                Codec::kvdb_json()
                    .classes(&CLASSES)
                    .decode::<serde_json::Value>(short)
            } else {
                Codec::kvdb_msgpack()
                    .classes(&CLASSES)
                    .decode::<serde_json::Value>(short)
            };
            assert!(
                result.is_err(),
                "{pipeline}:{sample} cut at {cut}: {result:?}"
            );
        }
    }
    let deep = json_value(&format!("{}{}", "[".repeat(100), "]".repeat(100)));
    let err = Codec::kvdb_json()
        .max_depth(50)
        .decode::<serde_json::Value>(&deep)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
    let deep = json_value(&format!("{}{}", "[".repeat(5000), "]".repeat(5000)));
    let err = Codec::kvdb_json()
        .decode::<serde_json::Value>(&deep)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
    let mut deep = b"_kvdbenc_".to_vec();
    deep.extend(std::iter::repeat_n(0x91u8, 5000));
    deep.push(0xC0);
    let err = Codec::kvdb_msgpack()
        .decode::<serde_json::Value>(&deep)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
}

#[test]
fn satchel_values_are_never_taken_for_kvdb_values() {
    let satchel = Codec::json().compress(Zstd).encode(&dict()).unwrap();
    assert!(sniff(&satchel).is_none());
    assert_eq!(decode_any::<Dict>(&satchel).unwrap(), dict());
    for first in 0..=255u8 {
        let bytes = [first, 0x10, b'1'];
        if sniff(&bytes).is_some() {
            panic!("{bytes:?} sniffed as kvdb");
        }
    }
    // A kvdb codec reading a satchel value reads it as a raw value (kvdb-py would too)
    // and fails to make a struct of it.
    assert!(Codec::kvdb_json().decode::<Dict>(&satchel).is_err());
}

#[test]
fn dyn_codec_specs_name_kvdb_pipelines() {
    for spec in [
        "kvdb-json",
        "kvdb-json+zstd",
        "kvdb-json+zstd:19",
        "kvdb-json+lz4",
        "kvdb-json+gzip",
        "kvdb-json+zlib",
        "kvdb-msgpack",
        "kvdb-msgpack+zstd",
    ] {
        let codec: satchel::DynCodec = spec.parse().unwrap();
        assert_eq!(codec.to_string(), spec);
        let bytes = codec.encode(&dict()).unwrap();
        assert!(bytes.starts_with(b"_kvdbenc_"), "{spec}");
        assert_eq!(codec.decode::<Dict>(&bytes).unwrap(), dict(), "{spec}");
        assert_eq!(decode_any::<Dict>(&bytes).unwrap(), dict(), "{spec}");
        let detected = inspect(&bytes, &Default::default()).unwrap().unwrap();
        assert_eq!(
            detected.to_string(),
            spec.split(':').next().unwrap(),
            "{spec}"
        );
    }
}

#[test]
fn header_settings_on_a_kvdb_dyn_codec_are_errors_not_ignored() {
    let codec: satchel::DynCodec = "kvdb-json+zstd".parse().unwrap();
    assert_eq!(
        codec.pipeline(),
        None,
        "a kvdb codec writes no satchel header"
    );
    for err in [
        codec.clone().checksum().unwrap_err(),
        codec.clone().compress_above(64).unwrap_err(),
        codec.clone().accept_unheadered().unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Spec, "{err}");
        assert!(err.to_string().contains("kvdb-json+zstd"), "{err}");
        assert!(err.to_string().contains("kvdb-py's framing"), "{err}");
    }
    let headered: satchel::DynCodec = "json+zstd".parse().unwrap();
    assert!(headered.checksum().is_ok());
}
