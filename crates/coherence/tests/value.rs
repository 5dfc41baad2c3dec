//! Coherence JSON against golden bytes captured from the Python client's own serializer
//! (`coherence-client` 2.0.4; see `tests/data/values/capture.py`).

use std::path::PathBuf;

use satchel_coherence::is_coherence_json;
use satchel_coherence::{
    BigInt, Classed, CoherenceClass, CoherenceFrame, CoherenceJson, Entries, class_of, from_slice,
    to_vec,
};
use satchel_core::{ErrorKind, Format, Framing, Identity, Limits, ReadAny};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

fn golden(name: &str) -> Vec<u8> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "data", "values"]
        .iter()
        .collect::<PathBuf>()
        .join(format!("{name}.bin"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[track_caller]
fn check<T>(name: &str, value: &T)
where
    T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let want = golden(name);
    let got = to_vec(value).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&want),
        "{name}: bytes differ from the Python client's"
    );
    assert!(is_coherence_json(&want), "{name}: sniff");
    let back: T = from_slice(&want).unwrap();
    assert_eq!(&back, value, "{name}: reading the Python bytes");
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Address {
    city: String,
    zip: String,
}
impl CoherenceClass for Address {
    const CLASS: &'static str = "test.Address";
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Person {
    name: String,
    age: BigInt,
    tags: Vec<String>,
    address: Option<Classed<Address>>,
}
impl CoherenceClass for Person {
    const CLASS: &'static str = "test.Person";
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Wallet {
    owner: String,
    balances: Entries<String, i64>,
}
impl CoherenceClass for Wallet {
    const CLASS: &'static str = "test.Wallet";
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Meta {
    age: u32,
    score: f64,
}
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct User {
    name: String,
    roles: Vec<String>,
    meta: Meta,
}
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Users {
    users: Vec<User>,
}

#[test]
fn scalars_match_the_python_client() {
    check("str", &"hello".to_string());
    check("str_unicode", &"h\u{e9}llo \u{2603} \u{1F600}".to_string());
    check(
        "str_escapes",
        &"quote\" back\\ nl\n tab\t ctl\u{1}".to_string(),
    );
    check("str_empty", &String::new());
    check("int", &42i64);
    check("int_neg", &-7i32);
    check("int_zero", &0u8);
    check("int_i64_max", &i64::MAX);
    check("int_i64_min", &i64::MIN);
    check("int_big", &BigInt(1 << 64));
    check("int_big_neg", &BigInt(-(1 << 70)));
    check("float", &3.25f64);
    check("float_third", &(1.0f64 / 3.0));
    check("float_whole", &2.0f64);
    check("float_exp", &1e300f64);
    check("float_small", &5e-324f64);
    check("bool_true", &true);
    check("bool_false", &false);
    check("none", &Option::<u32>::None);
    check("list_empty", &Vec::<u32>::new());
    check("set", &vec![7u8]);
}

#[test]
fn containers_match_the_python_client() {
    check("list", &json!([1, "two", 3.0, null, true]));
    check("dict", &json!({"a": 1, "b": [1, 2], "c": {"d": null}}));
    check("dict_empty", &json!({}));
    check("dict_int_keys", &json!({"1": "one", "2": "two"}));
    check(
        "nested",
        &Users {
            users: vec![User {
                name: "ann".into(),
                roles: vec!["admin".into()],
                meta: Meta {
                    age: 30,
                    score: 9.5,
                },
            }],
        },
    );
}

#[test]
fn classed_objects_match_the_python_client() {
    check(
        "class",
        &Classed(Person {
            name: "ann".into(),
            age: BigInt(30),
            tags: vec!["a".into(), "b".into()],
            address: None,
        }),
    );
    check(
        "class_nested",
        &Classed(Person {
            name: "bob".into(),
            age: BigInt(41),
            tags: vec![],
            address: Some(Classed(Address {
                city: "Paris".into(),
                zip: "75001".into(),
            })),
        }),
    );
    check(
        "class_big_int",
        &Classed(Person {
            name: "big".into(),
            age: BigInt(1 << 65),
            tags: vec![],
            address: None,
        }),
    );
    check(
        "class_dict_attr",
        &Classed(Wallet {
            owner: "cid".into(),
            balances: Entries(vec![("eur".into(), 10), ("usd".into(), 5)]),
        }),
    );
}

#[test]
fn classed_objects_read_as_plain_structs_and_values() {
    // A struct without Classed ignores `@class`, like any unknown field.
    #[derive(Deserialize)]
    struct Loose {
        name: String,
    }
    let loose: Loose = from_slice(&golden("class")).unwrap();
    assert_eq!(loose.name, "ann");

    let v: Value = from_slice(&golden("class_nested")).unwrap();
    assert_eq!(class_of(&v), Some("test.Person"));
    assert_eq!(class_of(&v["address"]), Some("test.Address"));

    // A class mismatch names both classes.
    let err = from_slice::<Classed<Address>>(&golden("class")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
    assert!(
        format!("{err:?}")
            .contains("expected an object of class `test.Address`, found `test.Person`"),
        "{err:?}"
    );
}

#[test]
fn every_golden_file_decodes_or_fails_clearly() {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "data", "values"]
        .iter()
        .collect();
    let manifest: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    assert!(manifest.len() >= 30);
    for entry in manifest {
        let name = entry["name"].as_str().unwrap();
        let bytes = golden(name);
        assert_eq!(hex(&bytes), entry["bytes_hex"].as_str().unwrap(), "{name}");
        assert!(is_coherence_json(&bytes), "{name}");
        let decoded = from_slice::<Value>(&bytes);
        if name == "float_nan" || name == "float_inf" {
            let err = decoded.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode);
            assert!(err.to_string().contains("NaN or Infinity"), "{err}");
        } else {
            let v = decoded.unwrap_or_else(|e| panic!("{name}: {e:?}"));
            // What Python's json module would read (text after the marker) is the same value.
            let text: Value = serde_json::from_str(entry["text"].as_str().unwrap()).unwrap();
            assert_eq!(v, text, "{name}");
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn floats_are_written_as_python_repr() {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "tests",
        "data",
        "values",
        "floats.txt",
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(path).unwrap();
    let mut n = 0;
    for line in text.lines() {
        let (bits, want) = line.split_once(' ').unwrap();
        let v = f64::from_bits(u64::from_str_radix(bits, 16).unwrap());
        let got = to_vec(&v).unwrap();
        assert_eq!(&got[1..], want.as_bytes(), "{v:e}");
        let back: f64 = from_slice(&got).unwrap();
        assert_eq!(back.to_bits(), v.to_bits(), "{want}");
        n += 1;
    }
    assert!(n > 900, "{n} floats checked");
}

#[test]
fn escapes_like_ensure_ascii() {
    assert_eq!(to_vec("\u{7f}").unwrap(), b"\x15\"\\u007f\"");
    assert_eq!(to_vec("\u{2028}").unwrap(), b"\x15\"\\u2028\"");
    assert_eq!(to_vec("a/b").unwrap(), b"\x15\"a/b\"");
    // Raw UTF-8 (as other clients may send) reads too.
    assert_eq!(
        from_slice::<String>("\x15\"h\u{e9}\"".as_bytes()).unwrap(),
        "h\u{e9}"
    );
}

#[test]
fn format_and_frame_and_limits() {
    let f = CoherenceJson::new();
    assert_eq!(f.name(), "coherence-json");

    // The format writes the JSON only, appending; the frame puts the marker in front.
    let mut out = b"xy".to_vec();
    f.serialize_into(&[1, 2], &mut out).unwrap();
    assert_eq!(out, b"xy[1, 2]");
    let mut out = b"xy".to_vec();
    CoherenceFrame
        .encode_into(&f, &Identity, &[1, 2], &mut out)
        .unwrap();
    assert_eq!(out, b"xy\x15[1, 2]");

    // A failed write leaves the buffer as it was, marker included.
    let mut bad = std::collections::BTreeMap::new();
    bad.insert(vec![1u8], 1);
    for framed in [false, true] {
        let mut out = b"xy".to_vec();
        let err = if framed {
            CoherenceFrame.encode_into(&f, &Identity, &bad, &mut out)
        } else {
            f.serialize_into(&bad, &mut out)
        }
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Encode);
        assert_eq!(out, b"xy");
    }

    // Depth limit, through the frame and through the format alone.
    let deep = format!("\x15{}{}", "[".repeat(20), "]".repeat(20));
    let limits = Limits::default().max_depth(10);
    let decode = |bytes: &[u8], limits: &Limits| {
        CoherenceFrame.decode::<Value>(&f, &Identity, bytes, limits)
    };
    assert_eq!(
        decode(deep.as_bytes(), &limits).unwrap_err().kind(),
        ErrorKind::LimitExceeded
    );
    assert!(decode(deep.as_bytes(), &Limits::default()).is_ok());
    let mut owned = deep.as_bytes()[1..].to_vec();
    assert_eq!(
        f.deserialize_mut::<Value>(&mut owned, &limits)
            .unwrap_err()
            .kind(),
        ErrorKind::LimitExceeded
    );

    // Missing marker and empty input are the frame's errors; trailing bytes and
    // truncation the format's.
    for bad in [&b"42"[..], b"", b"\xC1\x1042"] {
        let err = decode(bad, &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Header, "{bad:?}");
    }
    for bad in [&b"\x1542 43"[..], b"\x15[1, 2"] {
        let err = decode(bad, &Limits::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{bad:?}");
    }
    let err = decode(b"{}", &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("0x15"), "{err}");

    // As a ReadAny it recognises marked values only.
    assert!(CoherenceFrame.recognises(b"\x15[1]"));
    assert!(!CoherenceFrame.recognises(b"[1]"));
    assert_eq!(
        CoherenceFrame
            .decode_any::<Vec<u8>>(b"\x15[1]", &Limits::default())
            .unwrap(),
        [1]
    );
}

#[test]
fn sniff() {
    for yes in [
        &b"\x15\"a\""[..],
        b"\x15 42",
        b"\x15-1",
        b"\x15null",
        b"\x15true",
        b"\x15false",
        b"\x15[]",
        b"\x15{}",
        b"\x15NaN",
    ] {
        assert!(is_coherence_json(yes), "{yes:?}");
    }
    for no in [
        &b""[..],
        b"\x15",
        b"\x15   ",
        b"\x15x",
        b"\x15\x15",
        b"{}",
        b"\xC1\x10{}",
        b"\x16{}",
    ] {
        assert!(!is_coherence_json(no), "{no:?}");
    }
}

#[test]
fn big_int_and_entries_forms() {
    // Python's plain range is -(2**63)-1 ..= 2**63-1.
    assert_eq!(
        to_vec(&BigInt(i128::from(i64::MIN) - 1)).unwrap(),
        b"\x15-9223372036854775809"
    );
    assert_eq!(
        to_vec(&BigInt(i128::from(i64::MIN) - 2)).unwrap(),
        b"\x15{\"@class\": \"math.BigInt\", \"value\": \"-9223372036854775810\"}"
    );
    assert_eq!(
        from_slice::<BigInt>(b"\x1518446744073709551615").unwrap(),
        BigInt(u64::MAX.into())
    );
    assert!(from_slice::<BigInt>(b"\x15{\"@class\": \"math.BigDec\", \"value\": \"1\"}").is_err());
    assert!(
        from_slice::<BigInt>(b"\x15{\"@class\": \"math.BigInt\", \"value\": \"1.5\"}").is_err()
    );

    let plain: Entries<String, u8> = from_slice(b"\x15{\"a\": 1, \"b\": 2}").unwrap();
    assert_eq!(plain.0, [("a".to_string(), 1), ("b".to_string(), 2)]);
    let java: Entries<String, u8> = from_slice(
        b"\x15{\"@class\": \"java.util.HashMap\", \"entries\": [{\"key\": \"k\", \"value\": 1}]}",
    )
    .unwrap();
    assert_eq!(java.0, [("k".to_string(), 1)]);
    let nested: Entries<Value, Value> =
        from_slice(b"\x15{\"entries\": [{\"key\": [1], \"value\": {\"x\": null}}]}").unwrap();
    assert_eq!(nested.0[0].0, json!([1]));
}

#[test]
fn classed_requires_its_class() {
    let err = from_slice::<Classed<Address>>(b"\x15{\"city\": \"x\", \"zip\": \"y\"}").unwrap_err();
    assert!(format!("{err:?}").contains("without `@class`"), "{err:?}");
    let err = from_slice::<Classed<Address>>(b"\x15{\"@class\": 1}").unwrap_err();
    assert!(format!("{err:?}").contains("not a string"), "{err:?}");
    let err = from_slice::<Classed<Address>>(b"\x15[1]").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode);
}
