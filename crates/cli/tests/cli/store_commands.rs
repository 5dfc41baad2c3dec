//! `get`, `set`, `del`, `ls`, `inspect` on SQLite and on the service stores.

#[allow(unused_imports)]
use super::*;

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

/// `del --prefix` deletes every key under the prefix and nothing beside it, says how
/// many, can be run again, and refuses the empty prefix (the whole store) as bad usage.
#[test]
fn del_prefix_deletes_every_key_under_it_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("kv.db").display());
    let url = url.as_str();
    for key in ["cache:a", "cache:b", "cache:c", "cachet", "other"] {
        ok(&satchel(&["set", "--store", url, key, "1"], b""));
    }
    let out = ok(&satchel(
        &["del", "--store", url, "--prefix", "cache:"],
        b"",
    ));
    assert_eq!(out.trim(), "deleted 3 keys under cache:");
    let listed = ok(&satchel(&["ls", "--store", url], b""));
    assert!(
        listed.contains("cachet") && listed.contains("other") && !listed.contains("cache:"),
        "{listed}"
    );
    let again: Value = serde_json::from_str(&ok(&satchel(
        &["del", "--json", "--store", url, "--prefix", "cache:"],
        b"",
    )))
    .expect("json");
    assert_eq!(again, json!({"prefix": "cache:", "deleted": 0}));
    let err = fails(&satchel(&["del", "--store", url, "--prefix", ""], b""), 2);
    assert!(err.contains("non-empty prefix"), "{err}");
    fails(
        &satchel(&["del", "--store", url, "other", "--prefix", "x"], b""),
        2,
    );
    ok(&satchel(&["get", "--store", url, "other"], b""));
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
