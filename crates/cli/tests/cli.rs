//! The `satchel` binary, run as a user runs it.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use satchel::{Codec, DynCodec, sniff};
use satchel_store::Condition;
use serde_json::{Value, json};

mod common;
use common::*;

fn sample() -> Value {
    json!({
        "user": "ann",
        "items": [1, -2, 18446744073709551615u64, 2.5, null, true, "x"],
        "nested": {"empty": {}, "list": [], "text": "héllo \"quoted\""},
    })
}

const FORMATS: &[&str] = &["json", "msgpack", "bincode"];
const COMPRESSIONS: &[&str] = &["", "+zstd", "+zstd:19", "+lz4", "+gzip", "+gzip:9", "+zlib"];

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

#[test]
fn get_set_del_ls_inspect_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("kv.db").display());
    let url = url.as_str();

    let out = ok(&satchel(
        &[
            "set",
            "--store",
            url,
            "cart:ann",
            r#"{"items":[1,2]}"#,
            "--codec",
            "msgpack+zstd",
            "--ttl",
            "1h",
        ],
        b"",
    ));
    assert!(out.contains("set cart:ann (msgpack+zstd"), "{out}");
    ok(&satchel(
        &["set", "--store", url, "cart:bob", "--codec", "bincode+lz4"],
        br#"{"items":[3]}"#,
    ));
    let file = dir.path().join("v.json");
    std::fs::write(&file, br#""plain text""#).expect("write");
    ok(&satchel(
        &[
            "set",
            "--store",
            url,
            "note",
            "--file",
            file.to_str().expect("utf-8"),
        ],
        b"",
    ));

    let got: Value = serde_json::from_str(&ok(&satchel(&["get", "--store", url, "cart:ann"], b"")))
        .expect("json");
    assert_eq!(got, json!({"items": [1, 2]}));
    let got: Value = serde_json::from_str(&ok(&satchel(
        &["get", "--json", "--store", url, "cart:bob"],
        b"",
    )))
    .expect("json");
    assert_eq!(got["value"], json!({"items": [3]}));
    assert_eq!(got["pipeline"], "bincode+lz4");
    assert_eq!(got["ttl_ms"], Value::Null);

    let table = ok(&satchel(&["ls", "--store", url], b""));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(
        lines[0].starts_with("key") && lines[0].contains("pipeline"),
        "{table}"
    );
    assert!(
        lines[1].starts_with("cart:ann") && lines[1].contains("msgpack+zstd"),
        "{table}"
    );
    assert!(
        lines[2].starts_with("cart:bob") && lines[2].contains("bincode+lz4"),
        "{table}"
    );
    assert!(
        lines[3].starts_with("note") && lines[3].contains("json"),
        "{table}"
    );
    let listed: Value = serde_json::from_str(&ok(&satchel(
        &[
            "ls", "--json", "--store", url, "--prefix", "cart:", "--limit", "10",
        ],
        b"",
    )))
    .expect("json");
    let keys: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["key"].as_str().expect("key"))
        .collect();
    assert_eq!(keys, ["cart:ann", "cart:bob"]);
    assert!(listed[0]["ttl_ms"].as_u64().expect("ttl") > 0);

    let report: Value = serde_json::from_str(&ok(&satchel(
        &["inspect", "--json", "--store", url, "cart:ann"],
        b"",
    )))
    .expect("json");
    assert_eq!(report["pipeline"], "msgpack+zstd");
    assert_eq!(report["value"], json!({"items": [1, 2]}));
    assert!(report["version"].as_u64().is_some());

    // A negative number is a value, not an option.
    ok(&satchel(&["set", "--store", url, "n", "-5"], b""));
    assert_eq!(
        ok(&satchel(&["get", "--store", url, "n"], b"")).trim(),
        "-5"
    );

    ok(&satchel(&["del", "--store", url, "cart:ann"], b""));
    let err = fails(&satchel(&["get", "--store", url, "cart:ann"], b""), 6);
    assert!(err.contains("cart:ann"), "{err}");
    fails(&satchel(&["del", "--store", url, "cart:ann"], b""), 6);
    fails(&satchel(&["inspect", "--store", url, "cart:ann"], b""), 6);
    let err = fails(
        &satchel(&["set", "--store", url, "k", "1", "--ttl", "soon"], b""),
        2,
    );
    assert!(err.contains("bad TTL"), "{err}");
}

/// 1,000 json values (every 100th with a TTL) and two corrupt ones.
fn fill(url: &str) -> Vec<(String, Value)> {
    block_on(async {
        let store = satchel_store::open(url).await.expect("open");
        let codec = Codec::json();
        let mut keys = Vec::new();
        for i in 0..1000 {
            let key = format!("user:{i:04}");
            let value = json!({"id": i, "name": format!("user {i}"), "tags": ["a", "b"]});
            let ttl = (i % 100 == 0).then(|| std::time::Duration::from_secs(3600));
            store
                .set(
                    &key,
                    &codec.encode(&value).expect("encode"),
                    ttl,
                    Condition::Always,
                )
                .await
                .expect("set");
            keys.push((key, value));
        }
        store
            .set(
                "bad:header",
                b"not a satchel value",
                None,
                Condition::Always,
            )
            .await
            .expect("set");
        store
            .set(
                "bad:zstd",
                &[0xC1, 0x11, 1, 2, 3, 4],
                None,
                Condition::Always,
            )
            .await
            .expect("set");
        keys
    })
}

/// How many of `keys` are stored as `pipeline`.
fn count_in(url: &str, keys: &[(String, Value)], pipeline: &str) -> usize {
    block_on(async {
        let store = satchel_store::open(url).await.expect("open");
        let mut n = 0;
        for (key, _) in keys {
            let entry = store.get(key).await.expect("get").expect("present");
            if sniff(&entry.value).expect("header").pipeline.to_string() == pipeline {
                n += 1;
            }
        }
        n
    })
}

#[cfg(unix)]
#[test]
fn convert_survives_interruption_and_rerun() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("convert.db").display());
    let url = url.as_str();
    let keys = fill(url);
    let expiry_before = block_on(async {
        let store = satchel_store::open(url).await.expect("open");
        store
            .get("user:0100")
            .await
            .expect("get")
            .expect("present")
            .expires_at
    })
    .expect("has a ttl");

    // First run, throttled so it is still running when interrupted: SIGINT as soon as
    // it reports progress.
    let mut child = Command::new(BIN)
        .args([
            "convert",
            "--store",
            url,
            "--to",
            "msgpack+zstd",
            "--rate",
            "200",
        ])
        .env_remove("SATCHEL_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start convert");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("stderr line");
        let progress = line.starts_with("convert: ");
        seen.push(line);
        if progress {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|l| l.starts_with("convert: ")),
        "{seen:?}"
    );
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let rest: Vec<String> = lines.map(|l| l.expect("line")).collect();
    let out = child.wait_with_output().expect("convert ends");
    let first = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(130),
        "stdout: {first}\nstderr: {rest:?}"
    );
    assert!(
        rest.iter()
            .any(|l| l.contains("run the same command again")),
        "{rest:?}"
    );
    let converted_first = count_in(url, &keys, "msgpack+zstd");
    assert!(
        converted_first > 0 && converted_first < keys.len(),
        "interrupted half way: {converted_first} converted"
    );
    assert!(
        first.contains(&format!("{converted_first} converted to msgpack+zstd")),
        "the counts match the store: {first}"
    );

    // Second run: finishes, skipping what the first one did, listing the corrupt values.
    let out = satchel(
        &["convert", "--json", "--store", url, "--to", "msgpack+zstd"],
        b"",
    );
    fails(&out, 7);
    let summary: Value = serde_json::from_slice(&out.stdout).expect("json summary");
    assert_eq!(summary["keys"], 1002);
    assert_eq!(summary["skipped"], converted_first);
    assert_eq!(summary["converted"], 1000 - converted_first);
    assert_eq!(summary["interrupted"], false);
    let failed: Vec<&str> = summary["failed"]
        .as_array()
        .expect("failed")
        .iter()
        .map(|f| f["key"].as_str().expect("key"))
        .collect();
    assert_eq!(failed, ["bad:header", "bad:zstd"]);
    assert!(
        summary["failed"][0]["error"]
            .as_str()
            .expect("why")
            .contains("header stage"),
        "{summary}"
    );
    assert!(
        summary["failed"][1]["error"]
            .as_str()
            .expect("why")
            .contains("decompression stage"),
        "{summary}"
    );

    // Every value readable through the new pipeline, none lost; corrupt ones untouched;
    // TTLs kept.
    let codec: DynCodec = "msgpack+zstd".parse().expect("spec");
    block_on(async {
        let store = satchel_store::open(url).await.expect("open");
        for (key, value) in &keys {
            let entry = store.get(key).await.expect("get").expect("not lost");
            assert_eq!(
                &codec.decode::<Value>(&entry.value).expect(key),
                value,
                "{key}"
            );
        }
        let bad = store.get("bad:header").await.expect("get").expect("kept");
        assert_eq!(bad.value, b"not a satchel value");
        let bad = store.get("bad:zstd").await.expect("get").expect("kept");
        assert_eq!(bad.value, [0xC1, 0x11, 1, 2, 3, 4]);
        let kept = store.get("user:0100").await.expect("get").expect("present");
        let after = kept.expires_at.expect("ttl kept");
        let drift = after
            .duration_since(expiry_before)
            .unwrap_or_else(|e| e.duration());
        assert!(drift.as_secs() < 60, "expiry moved by {drift:?}");
        assert!(
            store
                .get("user:0001")
                .await
                .expect("get")
                .expect("present")
                .expires_at
                .is_none()
        );
    });

    // A third run has nothing left to do but the corrupt values.
    let out = satchel(&["convert", "--store", url, "--to", "msgpack+zstd"], b"");
    let err = fails(&out, 7);
    assert!(err.contains("2 value(s) could not be converted"), "{err}");
    assert!(stdout(&out).contains("0 converted"), "{}", stdout(&out));
}

#[test]
fn advise_prints_every_pipeline_and_plots_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sample = dir.path().join("sample.json");
    let rows: Vec<Value> = (0..200)
        .map(|i| json!({"id": i, "email": format!("user{i}@example.com"), "active": i % 3 == 0, "score": f64::from(i) / 7.0}))
        .collect();
    std::fs::write(&sample, serde_json::to_vec_pretty(&rows).expect("json")).expect("write");
    let svg_path = dir.path().join("plot.svg");
    let sample = sample.to_str().expect("utf-8");
    let svg_arg = svg_path.to_str().expect("utf-8");

    let out = ok(&satchel(
        &["advise", sample, "--runs", "1", "--plot", svg_arg],
        b"",
    ));
    let mut expected = Vec::new();
    for format in FORMATS {
        for compression in ["", "+zstd", "+lz4", "+gzip", "+zlib", "+zstd:19", "+gzip:9"] {
            expected.push(format!("{format}{compression}"));
        }
    }
    let table_names: Vec<&str> = out
        .lines()
        .skip(2)
        .take_while(|l| !l.is_empty())
        .map(|l| l.split_whitespace().next().expect("name"))
        .collect();
    for name in &expected {
        assert!(
            table_names.contains(&name.as_str()),
            "{name} missing from:\n{out}"
        );
    }
    for pick in ["smallest: ", "fastest:  ", "balanced: "] {
        let line = out.lines().find(|l| l.starts_with(pick)).expect(pick);
        let name = line[pick.len()..].split_whitespace().next().expect("name");
        assert!(table_names.contains(&name), "{line}");
    }

    let svg = std::fs::read_to_string(&svg_path).expect("svg written");
    check_well_formed(&svg);
    assert!(
        svg.trim_start()
            .starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\"")
    );
    assert_eq!(
        svg.matches("<circle").count(),
        table_names.len(),
        "one point per pipeline"
    );
    for name in &table_names {
        assert!(svg.contains(&format!(">{name}</text>")), "{name} labelled");
    }

    let report: Value = serde_json::from_str(&ok(&satchel(
        &["advise", "--json", "--runs", "1", sample],
        b"",
    )))
    .expect("json");
    assert_eq!(
        report["pipelines"].as_array().expect("list").len(),
        table_names.len()
    );
}

/// Every tag closes in order, attributes are quoted, text has no stray `<` or `&`.
fn check_well_formed(svg: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        assert!(!text.contains('>'), "stray `>` in {text:?}");
        assert!(
            text.split('&')
                .skip(1)
                .all(|t| ["amp;", "lt;", "gt;", "quot;", "#"]
                    .iter()
                    .any(|e| t.starts_with(e))),
            "bad entity in {text:?}"
        );
        let close = rest[open..].find('>').expect("tag closes") + open;
        let tag = &rest[open + 1..close];
        assert_eq!(tag.matches('"').count() % 2, 0, "quotes balance in <{tag}>");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(name.trim()),
                "closing </{name}>"
            );
        } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
            let name = tag.split_whitespace().next().expect("tag name");
            stack.push(name.to_string());
        }
        rest = &rest[close + 1..];
    }
    assert!(rest.trim().is_empty(), "text after the root: {rest:?}");
    assert!(stack.is_empty(), "unclosed: {stack:?}");
}

/// A service URL from the environment, or `None` after saying the test is skipped (the
/// convention of `satchel_testkit::store::service_url`, without depending on the testkit):
/// `SATCHEL_REQUIRE_SERVICES=1` turns a missing URL into a failure.
fn service_url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("SATCHEL_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "{test}: {var} is not set, and SATCHEL_REQUIRE_SERVICES=1 requires it"
            );
            let _ = std::io::stderr()
                .write_all(format!("skipped: {test} ({var} not set)\n").as_bytes());
            None
        }
    }
}

#[test]
fn store_commands_on_service_stores() {
    for (var, name) in [
        ("SATCHEL_TEST_POSTGRES_URL", "postgres"),
        ("SATCHEL_TEST_MYSQL_URL", "mysql"),
        ("SATCHEL_TEST_REDIS_URL", "redis"),
    ] {
        let Some(url) = service_url(var, &format!("cli store commands on {name}")) else {
            continue;
        };
        let url = url.as_str();
        // A prefix of our own: the servers are shared with other tests.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        let prefix = format!("satchel-cli-test-{}-{nanos}:", std::process::id());
        let key = |k: &str| format!("{prefix}{k}");
        let (a, b, c) = (key("a"), key("b"), key("c"));
        ok(&satchel(
            &["set", "--store", url, &a, r#"{"n":1}"#, "--ttl", "1h"],
            b"",
        ));
        ok(&satchel(
            &["set", "--store", url, &b, "[1,2]", "-c", "bincode+zstd"],
            b"",
        ));
        ok(&satchel(
            &["set", "--store", url, &c, r#""c""#, "-c", "msgpack+lz4"],
            b"",
        ));

        let listed: Value = serde_json::from_str(&ok(&satchel(
            &["ls", "--json", "--store", url, "--prefix", &prefix],
            b"",
        )))
        .expect("json");
        assert_eq!(
            listed.as_array().expect("array").len(),
            3,
            "{name}: {listed}"
        );

        let out = satchel(
            &[
                "convert",
                "--json",
                "--store",
                url,
                "--prefix",
                &prefix,
                "--to",
                "msgpack+lz4",
            ],
            b"",
        );
        let summary: Value = serde_json::from_str(&ok(&out)).expect("json");
        assert_eq!(summary["converted"], 2, "{name}: {summary}");
        assert_eq!(summary["skipped"], 1, "{name}: {summary}");

        for (k, want) in [(&a, json!({"n": 1})), (&b, json!([1, 2])), (&c, json!("c"))] {
            let got: Value =
                serde_json::from_str(&ok(&satchel(&["get", "--json", "--store", url, k], b"")))
                    .expect("json");
            assert_eq!(got["value"], want, "{name}: {k}");
            assert_eq!(got["pipeline"], "msgpack+lz4", "{name}: {k}");
        }
        let got: Value =
            serde_json::from_str(&ok(&satchel(&["get", "--json", "--store", url, &a], b"")))
                .expect("json");
        assert!(
            got["ttl_ms"].as_u64().is_some(),
            "{name}: TTL kept by convert"
        );

        for k in [&a, &b, &c] {
            ok(&satchel(&["del", "--store", url, k], b""));
        }
        fails(&satchel(&["get", "--store", url, &a], b""), 6);
    }
}

/// Kills the child (by its PID) if a test fails before stopping it.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_then_set_get_inspect_ls_del_through_grpc() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = format!("sqlite://{}", dir.path().join("served.db").display());
    let child = Command::new(BIN)
        .args(["serve", "--store", &db, "--listen", "127.0.0.1:0", "--json"])
        .env_remove("SATCHEL_STORE")
        .env_remove("SATCHEL_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut server = Reap(child);
    let mut lines = BufReader::new(server.0.stdout.take().expect("stdout")).lines();
    let first = lines
        .next()
        .expect("serve prints where it listens")
        .expect("line");
    let info: Value = serde_json::from_str(&first).expect("one JSON line");
    let addr = info["listening"].as_str().expect("address").to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{info}");
    assert_eq!(info["store"], json!(db));
    // The Coherence endpoint is mounted unless --no-coherence.
    assert_eq!(info["coherence"], json!(true), "{info}");
    assert_eq!(
        info["services"],
        json!([
            "satchel.store.v1.Store",
            "coherence.NamedCacheService",
            "grpc.health.v1.Health"
        ]),
        "{info}"
    );
    let url = format!("grpc://{addr}");

    let value = json!({"user": "ann", "cart": [1, 2, 3]});
    ok(&satchel(
        &[
            "set",
            "--store",
            &url,
            "--codec",
            "json+zstd",
            "cart:1",
            &value.to_string(),
        ],
        b"",
    ));
    let got: Value = serde_json::from_str(&ok(&satchel(&["get", "--store", &url, "cart:1"], b"")))
        .expect("get prints JSON");
    assert_eq!(got, value);
    let inspected = ok(&satchel(
        &["inspect", "--store", &url, "cart:1", "--json"],
        b"",
    ));
    let inspected: Value = serde_json::from_str(&inspected).expect("inspect --json");
    assert_eq!(inspected["pipeline"], json!("json+zstd"), "{inspected}");
    assert_eq!(inspected["value"], value, "{inspected}");
    let listed = ok(&satchel(&["ls", "--store", &url], b""));
    assert!(listed.contains("cart:1"), "{listed}");
    ok(&satchel(&["del", "--store", &url, "cart:1"], b""));
    fails(&satchel(&["get", "--store", &url, "cart:1"], b""), 6);

    // What was written went into the SQLite file: readable with the server stopped.
    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = server.0.wait().expect("serve ends");
    assert!(status.success(), "graceful stop exits 0: {status:?}");
    // Issue 18: a stopped server closed its pool, checkpointing SQLite's write-ahead log:
    // none is left beside the database (0.1 left one, and it grew to 2 GB).
    let wal = dir.path().join("served.db-wal");
    let left = std::fs::metadata(&wal).map_or(0, |m| m.len());
    assert_eq!(left, 0, "satchel serve left a {left}-byte WAL behind");
    ok(&satchel(
        &["set", "--store", &db, "--codec", "json", "after", "1"],
        b"",
    ));

    // A port in use is a clear usage error.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").to_string();
    let err = fails(
        &satchel(&["serve", "--store", "memory://", "--listen", &port], b""),
        2,
    );
    assert!(err.contains(&port), "{err}");
}

/// kvdb-py's and Coherence clients' values carry no satchel header: `ls`, `inspect` and
/// `get` recognise them, and `convert` migrates them to a satchel pipeline (Python class
/// names kept as data), leaving a hostile one untouched and listed.
#[test]
fn foreign_values_are_inspected_and_converted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("foreign.db").display());
    let kvdb_model: &[u8] = br#"_kvdbenc_{"__type__":"pydantic","__class__":"app.models.User","value":{"name":"ann","visits":3}}"#;
    let coherence = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../coherence/tests/data/values/dict.bin"),
    )
    .expect("golden Coherence value");
    // 80 MiB of zeros, zstd-compressed under the kvdb prefix: above the 64 MiB limit.
    let bomb = {
        let mut b = b"_kvdbenc_".to_vec();
        satchel::Compression::compress(&satchel::Zstd, &vec![0u8; 80 << 20], &mut b)
            .expect("compresses");
        b
    };
    block_on(async {
        let store = satchel_store::open(&url).await.expect("open");
        let kvdb = Codec::kvdb_json().compress(satchel::Zstd);
        let put = |key: &'static str, bytes: Vec<u8>| {
            let store = store.clone();
            async move {
                store
                    .set(key, &bytes, None, Condition::Always)
                    .await
                    .expect("set")
            }
        };
        put("kvdb:list", kvdb.encode(&vec![1, 2, 3]).expect("encodes")).await;
        put("kvdb:model", kvdb_model.to_vec()).await;
        put("coherence:dict", coherence.clone()).await;
        put("kvdb:bomb", bomb.clone()).await;
    });

    let listed = ok(&satchel(&["ls", "--store", &url], b""));
    assert!(listed.contains("kvdb-json+zstd"), "{listed}");
    assert!(listed.contains("coherence-json"), "{listed}");
    let inspected: Value = serde_json::from_str(&ok(&satchel(
        &["inspect", "--json", "--store", &url, "kvdb:model"],
        b"",
    )))
    .expect("json");
    assert_eq!(inspected["pipeline"], json!("kvdb-json"), "{inspected}");
    assert_eq!(inspected["value"]["__class__"], json!("app.models.User"));
    let got: Value =
        serde_json::from_str(&ok(&satchel(&["get", "--store", &url, "kvdb:list"], b"")))
            .expect("json");
    assert_eq!(got, json!([1, 2, 3]));

    let out = satchel(&["convert", "--store", &url, "--to", "json+zstd"], b"");
    let err = fails(&out, 7);
    let listed = format!("{}{err}", stdout(&out));
    assert!(listed.contains("kvdb:bomb"), "{listed}");
    assert!(!listed.contains("kvdb:list"), "{listed}");
    block_on(async {
        let store = satchel_store::open(&url).await.expect("open");
        let read = |key: &'static str| {
            let store = store.clone();
            async move { store.get(key).await.expect("get").expect("present").value }
        };
        let list = read("kvdb:list").await;
        assert_eq!(
            sniff(&list)
                .expect("now a satchel value")
                .pipeline
                .to_string(),
            "json+zstd"
        );
        assert_eq!(
            satchel::decode_any::<Vec<u32>>(&list).expect("reads"),
            [1, 2, 3]
        );
        let model: Value = satchel::decode_any(&read("kvdb:model").await).expect("reads");
        assert_eq!(model["__class__"], json!("app.models.User"), "{model}");
        assert_eq!(model["name"], json!("ann"), "{model}");
        let dict: Value = satchel::decode_any(&read("coherence:dict").await).expect("reads");
        let original: Value = satchel::Codec::coherence()
            .decode(&coherence)
            .expect("golden reads");
        assert_eq!(dict, original);
        assert_eq!(
            read("kvdb:bomb").await,
            bomb,
            "the hostile value was touched"
        );
    });
}
