//! The full format × compression matrix through the facade.

use satchel::{Codec, CompressionId, DynCodec, ErrorKind, Format, decode_any, sniff};
use satchel_testkit::payloads::{self, Session};
use satchel_testkit::{Rich, compression_conformance, format_conformance};
use satchel_tests::all_pipelines;

#[test]
fn format_conformance_every_format() {
    format_conformance(&satchel::Json::new());
    format_conformance(&satchel::Json::new().simd_above(0));
    format_conformance(&satchel::MsgPack);
    format_conformance(&satchel::Bincode);
}

#[test]
fn compression_conformance_every_compression() {
    compression_conformance(&satchel::Identity);
    compression_conformance(&satchel::Zstd);
    compression_conformance(&satchel::Zstd.level(19));
    compression_conformance(&satchel::Lz4);
    compression_conformance(&satchel::Gzip);
    compression_conformance(&satchel::Zlib.level(1));
}

#[test]
fn every_pipeline_round_trips_rich_values() {
    let pipelines = all_pipelines();
    assert_eq!(pipelines.len(), 15);
    for codec in pipelines {
        for codec in [
            codec.clone(),
            codec.clone().checksum().expect("headered"),
            codec.compress_above(1 << 20).expect("headered"),
        ] {
            let rich = Rich::sample();
            let bytes = codec.encode(&rich).unwrap();
            assert_eq!(codec.decode::<Rich>(&bytes).unwrap(), rich, "{codec}");
            assert_eq!(decode_any::<Rich>(&bytes).unwrap(), rich, "{codec}");
            for session in [payloads::session_small(), payloads::session_medium()] {
                let bytes = codec.encode(&session).unwrap();
                assert_eq!(codec.decode::<Session>(&bytes).unwrap(), session, "{codec}");
            }
        }
    }
}

#[test]
fn header_names_the_pipeline() {
    for codec in all_pipelines() {
        let bytes = codec.encode(&Rich::sample()).unwrap();
        let header = sniff(&bytes).unwrap();
        assert_eq!(Some(header.pipeline), codec.pipeline(), "{codec}");
        assert_eq!(header.pipeline.to_string(), codec.to_string());
        assert_eq!(bytes[0], 0xC1);
        assert_eq!(header.checksum, None, "{codec}: no checksum unless asked");
    }
}

#[test]
fn small_values_stay_uncompressed_and_still_read() {
    let codec = Codec::json().compress(satchel::Zstd).compress_above(64);
    let small = codec.encode(&"tiny").unwrap();
    assert_eq!(small, b"\xC1\x10\"tiny\"");
    let large = codec.encode(&"x".repeat(500)).unwrap();
    assert_eq!(
        sniff(&large).unwrap().pipeline.compression,
        CompressionId::ZSTD
    );
    assert!(large.len() < 100);
    assert_eq!(codec.decode::<String>(&small).unwrap(), "tiny");
    assert_eq!(codec.decode::<String>(&large).unwrap(), "x".repeat(500));
}

#[test]
fn reading_another_pipeline_names_both() {
    let bytes = Codec::msgpack()
        .compress(satchel::Lz4)
        .encode(&1u8)
        .unwrap();
    let err = Codec::json()
        .compress(satchel::Zstd)
        .decode::<u8>(&bytes)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Mismatch);
    let text = err.to_string();
    assert!(
        text.contains("msgpack+lz4") && text.contains("json+zstd"),
        "{text}"
    );

    let bytes = Codec::json().compress(satchel::Gzip).encode(&1u8).unwrap();
    let err = Codec::json().decode::<u8>(&bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Mismatch, "{err}");
}

#[test]
fn unheadered_bytes_read_only_when_asked() {
    let legacy = br#"{"name":"ann"}"#;
    let err = Codec::json()
        .decode::<serde_json::Value>(legacy)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Header);
    assert!(err.to_string().contains("accept_unheadered"), "{err}");
    let codec = Codec::json().compress(satchel::Zstd).accept_unheadered();
    let v: serde_json::Value = codec.decode(legacy).unwrap();
    assert_eq!(v["name"], "ann");
    // Headered values still go through the header.
    let bytes = codec.encode(&v).unwrap();
    assert_eq!(codec.decode::<serde_json::Value>(&bytes).unwrap(), v);
    // Plain MessagePack too.
    let raw = rmp_like_msgpack();
    let n: Vec<u8> = Codec::msgpack().accept_unheadered().decode(&raw).unwrap();
    assert_eq!(n, [1, 2]);
}

fn rmp_like_msgpack() -> Vec<u8> {
    vec![0x92, 0x01, 0x02]
}

/// The bug a Python session library showed here: a zstd frame without a checksum decoded
/// `ann` as `bnn` after one flipped bit. Every pipeline with `.checksum()`, and every
/// self-checked compression without it, must detect every single flipped bit.
#[test]
fn a_flipped_bit_is_never_decoded_into_a_wrong_value() {
    let value = payloads::session_small();
    for codec in all_pipelines() {
        let self_checked = satchel::Compression::self_checked(codec.compression());
        for codec in [codec.clone().checksum().expect("headered"), codec] {
            if !codec.framing().headered().is_some_and(|h| h.checksum) && !self_checked {
                continue;
            }
            let bytes = codec.encode(&value).unwrap();
            for i in 0..bytes.len() {
                for bit in [0x01u8, 0x80] {
                    let mut bad = bytes.clone();
                    bad[i] ^= bit;
                    if let Ok(decoded) = codec.decode::<Session>(&bad) {
                        assert_eq!(
                            decoded, value,
                            "{codec}: byte {i} bit {bit:#x} flipped silently"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn checksum_grows_header_only_where_needed() {
    let v = payloads::session_small();
    let plain = Codec::json().encode(&v).unwrap();
    let summed = Codec::json().checksum().encode(&v).unwrap();
    assert_eq!(summed.len(), plain.len() + 7);
    let zstd = Codec::json()
        .compress(satchel::Zstd)
        .checksum()
        .encode(&v)
        .unwrap();
    assert_eq!(sniff(&zstd).unwrap().checksum, None, "zstd checks itself");
    let lz4 = Codec::json()
        .compress(satchel::Lz4)
        .checksum()
        .encode(&v)
        .unwrap();
    assert!(sniff(&lz4).unwrap().checksum.is_some());
}

#[test]
fn encode_into_appends_and_restores_on_error() {
    let codec = Codec::json().compress(satchel::Lz4).checksum();
    let mut buf = b"keep".to_vec();
    codec.encode_into(&Rich::sample(), &mut buf).unwrap();
    assert_eq!(&buf[..4], b"keep");
    assert_eq!(codec.decode::<Rich>(&buf[4..]).unwrap(), Rich::sample());

    // A map with non-string keys cannot be JSON: the buffer is left as it was.
    let mut bad = std::collections::HashMap::new();
    bad.insert(vec![1u8], 1u8);
    let mut buf = b"keep".to_vec();
    let err = Codec::json().encode_into(&bad, &mut buf).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Encode);
    assert_eq!(buf, b"keep");
}

#[test]
fn decode_limits_apply_to_every_pipeline() {
    let v = payloads::session_medium();
    for codec in all_pipelines() {
        let bytes = codec.encode(&v).unwrap();
        let err = codec
            .clone()
            .max_decoded_len(1000)
            .decode::<Session>(&bytes)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{codec}: {err}");
    }
}

#[test]
fn spec_strings_parse_print_and_deserialize() {
    for (spec, shown) in [
        ("json", "json"),
        ("msgpack+zstd", "msgpack+zstd"),
        ("msgpack+zstd:3", "msgpack+zstd"),
        ("bincode+lz4", "bincode+lz4"),
        ("json+gzip:9", "json+gzip:9"),
        (" json+zlib:1 ", "json+zlib:1"),
        ("json+none", "json"),
    ] {
        let codec: DynCodec = spec.parse().unwrap();
        assert_eq!(codec.to_string(), shown);
        assert_eq!(shown.parse::<DynCodec>().unwrap(), codec);
    }
    #[derive(serde::Deserialize, Debug)]
    struct Config {
        codec: DynCodec,
    }
    let config: Config = serde_json::from_str(r#"{"codec":"msgpack+zstd:19"}"#).unwrap();
    assert_eq!(config.codec.to_string(), "msgpack+zstd:19");
    assert_eq!(
        serde_json::to_string(&config.codec).unwrap(),
        r#""msgpack+zstd:19""#
    );
    let err = serde_json::from_str::<Config>(r#"{"codec":"yaml"}"#).unwrap_err();
    assert!(
        err.to_string()
            .contains("valid formats: json, msgpack, bincode"),
        "{err}"
    );

    for (bad, kind, says) in [
        (
            "xml",
            ErrorKind::Spec,
            "valid formats: json, msgpack, bincode",
        ),
        (
            "json+brotli",
            ErrorKind::Spec,
            "valid compressions: none, zstd, lz4, gzip, zlib",
        ),
        ("json+zstd:max", ErrorKind::Spec, "not a whole number"),
        ("json+lz4:3", ErrorKind::Spec, "has no levels"),
        ("", ErrorKind::Spec, "unknown format ``"),
    ] {
        let err = bad.parse::<DynCodec>().unwrap_err();
        assert_eq!(err.kind(), kind, "{bad}");
        assert!(err.to_string().contains(says), "{bad}: {err}");
    }
}

#[test]
fn dyn_and_static_codecs_write_the_same_bytes() {
    let v = Rich::sample();
    let pairs: Vec<(Vec<u8>, &str)> = vec![
        (Codec::json().encode(&v).unwrap(), "json"),
        (
            Codec::msgpack().compress(satchel::Zstd).encode(&v).unwrap(),
            "msgpack+zstd",
        ),
        (
            Codec::bincode().compress(satchel::Lz4).encode(&v).unwrap(),
            "bincode+lz4",
        ),
        (
            Codec::json()
                .compress(satchel::Gzip.level(9))
                .encode(&v)
                .unwrap(),
            "json+gzip:9",
        ),
    ];
    for (bytes, spec) in pairs {
        let dynamic: DynCodec = spec.parse().unwrap();
        assert_eq!(dynamic.encode(&v).unwrap(), bytes, "{spec}");
    }
}

#[test]
fn custom_format_id_is_named_by_number() {
    let bytes = [0xC1, 0xFF, 200, 0, 0, b'x'];
    let err = decode_any::<u8>(&bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(err.to_string().contains("unknown format id 200"), "{err}");
}

#[test]
fn json_decoders_agree_on_the_corpus() {
    let serde = satchel::Json::new().serde_only();
    let simd = satchel::Json::new().simd_above(0);
    let limits = satchel::Limits::default();
    fn check<T>(serde: &satchel::Json, simd: &satchel::Json, value: &T, limits: &satchel::Limits)
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let mut bytes = Vec::new();
        serde.serialize_into(value, &mut bytes).unwrap();
        let a: T = serde.deserialize(&bytes, limits).unwrap();
        let b: T = simd.deserialize(&bytes, limits).unwrap();
        assert_eq!(a, b);
        assert_eq!(&a, value);
        let va: serde_json::Value = serde.deserialize(&bytes, limits).unwrap();
        match simd.deserialize::<serde_json::Value>(&bytes, limits) {
            Ok(vb) => assert_eq!(va, vb),
            // The one known difference: an integer beyond 64 bits read into a
            // `serde_json::Value`. serde_json rounds it to a float (lossy); simd-json refuses.
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Decode);
                assert!(has_wide_integer(&va), "simd-json refused {va}: {e:?}");
            }
        }
    }
    fn has_wide_integer(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Number(n) => n
                .as_f64()
                .is_some_and(|f| n.is_f64() && f.fract() == 0.0 && f.abs() >= 9.2e18),
            serde_json::Value::Array(a) => a.iter().any(has_wide_integer),
            serde_json::Value::Object(o) => o.values().any(has_wide_integer),
            _ => false,
        }
    }
    check(&serde, &simd, &Rich::sample(), &limits);
    check(&serde, &simd, &payloads::session_small(), &limits);
    check(&serde, &simd, &payloads::session_medium(), &limits);
    check(&serde, &simd, &payloads::session_large(), &limits);
    check(&serde, &simd, &payloads::numbers_1mb(), &limits);
    check(&serde, &simd, &payloads::strings_1mb(), &limits);
    check(
        &serde,
        &simd,
        &(u128::MAX, i128::MIN, u64::MAX, -0.0f64, 1e300f64),
        &limits,
    );
}

/// `decode_any_in` with the Coherence frame reads what Coherence clients write (no satchel
/// header: a 0x15 byte, then JSON), using bytes captured from the Python client; plain
/// `decode_any` (satchel's header only) refuses them.
#[test]
fn decode_any_in_reads_coherence_client_values() {
    use satchel::coherence::CoherenceFrame;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/coherence/tests/data/values");
    let read = |name: &str| std::fs::read(dir.join(name)).expect("golden file");
    let readers = (satchel::AnyHeader, CoherenceFrame);
    let limits = satchel::Limits::default();
    let any = |bytes: &[u8]| satchel::decode_any_in::<serde_json::Value>(bytes, &limits, &readers);
    let v = any(&read("dict.bin")).unwrap();
    assert!(v.is_object(), "{v}");
    assert_eq!(any(&read("str.bin")).unwrap(), "hello");
    let class = any(&read("class.bin")).unwrap();
    assert!(class.get("@class").is_some(), "{class}");
    let err = decode_any::<serde_json::Value>(&read("dict.bin")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Header, "{err}");
    // A truncated value is an error, not a panic.
    let mut cut = read("nested.bin");
    cut.truncate(cut.len() / 2);
    assert!(any(&cut).is_err());
}

/// 0.1 used format ids 0xE1/0xE2 as sentinels for kvdb-py's serializers: a user's own format
/// with one of those ids was framed the kvdb way whenever feature `kvdb` was on. Ids in the
/// custom range are the user's, whatever features the build has.
#[test]
fn regression_custom_format_ids_e1_e2_are_the_users() {
    use satchel::{Error, Format, FormatId, HeaderFormat, Limits};

    #[derive(Debug, Clone, Copy)]
    struct Mine(u8);
    impl Format for Mine {
        fn name(&self) -> &'static str {
            "mine"
        }
        fn serialize_into<T: serde::Serialize + ?Sized>(
            &self,
            value: &T,
            out: &mut Vec<u8>,
        ) -> Result<(), Error> {
            satchel::Json::new().serialize_into(value, out)
        }
        fn deserialize<T: serde::de::DeserializeOwned>(
            &self,
            bytes: &[u8],
            limits: &Limits,
        ) -> Result<T, Error> {
            satchel::Json::new().deserialize(bytes, limits)
        }
    }
    impl HeaderFormat for Mine {
        fn id(&self) -> FormatId {
            FormatId::new(self.0)
        }
    }
    for id in [0xE1, 0xE2] {
        let codec = Codec::new(Mine(id)).compress(satchel::Zstd);
        let bytes = codec.encode(&vec!["a"]).unwrap();
        assert_eq!(
            &bytes[..5],
            [0xC1, 0xFF, id, 1, 0],
            "a satchel header naming {id:#x}"
        );
        assert_eq!(codec.decode::<Vec<String>>(&bytes).unwrap(), ["a"]);
        // decode_any does not know the user's format: it says so, whatever the features.
        let err = decode_any::<Vec<String>>(&bytes).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        assert!(
            err.to_string().contains(&format!("unknown format id {id}")),
            "{err}"
        );
    }
}
