//! The README's kvdb-py promise, on the path a user takes: the real kvdb-py 0.0.2 writes
//! into a live Redis (`SATCHEL_TEST_REDIS_URL`), and `satchel ls`, `get`, `inspect` and
//! `convert --store redis://…` read and migrate those values through satchel's Redis store
//! (no raw client in between); a Rust service reads them typed through `CodecStore`. What
//! kvdb-py keeps unframed (str, int and bytes, as Redis strings) is listed and left alone.
//!
//! Needs the kvdb-py virtual environment (`scripts/py-venv.sh kvdb`, built on first use, or
//! the python named by `SATCHEL_KVDB_PYTHON`). Missing it or Redis: `skipped: …`, or a failure
//! under `SATCHEL_REQUIRE_SERVICES=1`.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::LazyLock;

use common::*;
use satchel::kvdb::Classes;
use satchel::{Codec, Zstd};
use satchel_store::{CodecExt, Store};
use serde_json::{Value, json};

/// Mirrors `kvdb_models.User` (crates/kvdb/tests/py/kvdb_models.py).
#[derive(serde::Deserialize, Debug, PartialEq)]
struct User {
    name: String,
    visits: u64,
    roles: Vec<String>,
}

static CLASSES: LazyLock<Classes> =
    LazyLock::new(|| Classes::new().register::<User>("kvdb_models.User"));

fn skip(reason: &str) {
    assert!(
        std::env::var("SATCHEL_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "kvdb_redis: {reason}, and SATCHEL_REQUIRE_SERVICES=1 requires it"
    );
    eprintln!("skipped: kvdb_redis ({reason})");
}

/// kvdb_io.py `args…`, its stdout.
fn kvdb_io(python: &Path, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kvdb/tests/py/kvdb_io.py");
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "kvdb_io.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json_of(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn kvdb_py_values_are_read_and_migrated_through_the_redis_store() {
    let Some(url) = std::env::var("SATCHEL_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        return skip("SATCHEL_TEST_REDIS_URL not set");
    };
    let python = match satchel_testkit::python::venv("kvdb", "SATCHEL_KVDB_PYTHON") {
        Ok(p) => p,
        Err(reason) => return skip(&reason),
    };
    let prefix = satchel_testkit::store::unique_prefix("kvdb-cli");
    let written = kvdb_io(&python, &[&url, "write", &prefix, "json", "zstd"]);
    let names: Vec<String> = serde_json::from_str(written.trim()).expect("names");
    assert!(names.contains(&"model".to_string()), "{names:?}");

    // kvdb-py frames what it serializes (`_kvdbenc_…`) and keeps str, int and bytes as they
    // are: the dump says which is which.
    let mut framed = Vec::new();
    let mut raw = Vec::new();
    for line in kvdb_io(&python, &[&url, "dump", &prefix]).lines() {
        let (key, hex) = line.split_once(' ').expect("key and bytes");
        let name = key
            .strip_prefix(prefix.as_str())
            .expect("under the prefix")
            .to_string();
        if hex.starts_with(
            &"_kvdbenc_"
                .bytes()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        ) {
            framed.push(name);
        } else {
            raw.push(name);
        }
    }
    assert!(
        framed.len() >= 5 && framed.contains(&"model".to_string()),
        "{framed:?}"
    );

    // `ls` lists every value kvdb-py wrote: the framed ones as kvdb-json+zstd.
    let listed = json_of(&ok(&satchel(
        &["ls", "--json", "--store", &url, "--prefix", &prefix],
        b"",
    )));
    let rows = listed.as_array().expect("rows");
    assert_eq!(rows.len(), names.len(), "{listed}");
    for row in rows {
        let key = row["key"].as_str().expect("key");
        let name = &key[prefix.len()..];
        if framed.iter().any(|f| f == name) {
            assert_eq!(row["pipeline"], json!("kvdb-json+zstd"), "{row}");
        } else {
            assert_eq!(row["pipeline"], json!("(no satchel header)"), "{row}");
        }
    }

    // `get` and `inspect` read them.
    let model = format!("{prefix}model");
    let got = json_of(&ok(&satchel(&["get", "--store", &url, &model], b"")));
    assert_eq!(got["name"], json!("ann"), "{got}");
    assert_eq!(got["__class__"], json!("kvdb_models.User"), "{got}");
    let dict = json_of(&ok(&satchel(
        &["get", "--store", &url, &format!("{prefix}dict")],
        b"",
    )));
    assert_eq!(
        dict,
        json!({"user": "ann", "items": [7, 9], "ok": true, "ratio": 0.5, "none": null})
    );
    let inspected = json_of(&ok(&satchel(
        &["inspect", "--json", "--store", &url, &model],
        b"",
    )));
    assert_eq!(
        inspected["pipeline"],
        json!("kvdb-json+zstd"),
        "{inspected}"
    );

    // A Rust service reads the Python service's values typed, through the store.
    block_on(async {
        let store = satchel_store::open(&url).await.expect("open");
        let typed = Codec::kvdb_json()
            .compress(Zstd)
            .classes(&CLASSES)
            .wrap(store);
        let user: User = typed.get(&model).await.expect("reads").expect("present");
        assert_eq!(
            user,
            User {
                name: "ann".into(),
                visits: 3,
                roles: vec!["admin".into(), "user".into()]
            }
        );
    });

    // `convert` migrates the framed values in place; they read the same afterwards. The raw
    // ones are no pipeline's bytes: they are listed as left alone (exit 7), unchanged.
    let before: Vec<Value> = framed
        .iter()
        .map(|n| {
            json_of(&ok(&satchel(
                &["get", "--store", &url, &format!("{prefix}{n}")],
                b"",
            )))
        })
        .collect();
    let raw_before = block_on(async {
        let store = satchel_store::open(&url).await.expect("open");
        let mut out = Vec::new();
        for n in &raw {
            out.push(
                store
                    .get(&format!("{prefix}{n}"))
                    .await
                    .expect("get")
                    .expect("present")
                    .value,
            );
        }
        out
    });
    let out = satchel(
        &[
            "convert",
            "--store",
            &url,
            "--prefix",
            &prefix,
            "--to",
            "json+zstd",
        ],
        b"",
    );
    let report = format!("{}{}", stdout(&out), fails(&out, 7));
    for n in &raw {
        assert!(
            report.contains(&format!("{prefix}{n}")),
            "{n} not listed: {report}"
        );
    }
    let listed = json_of(&ok(&satchel(
        &["ls", "--json", "--store", &url, "--prefix", &prefix],
        b"",
    )));
    for row in listed.as_array().expect("rows") {
        let name = &row["key"].as_str().expect("key")[prefix.len()..];
        if framed.iter().any(|f| f == name) {
            assert_eq!(row["pipeline"], json!("json+zstd"), "{row}");
        }
    }
    for (name, was) in framed.iter().zip(&before) {
        let now = json_of(&ok(&satchel(
            &["get", "--store", &url, &format!("{prefix}{name}")],
            b"",
        )));
        assert_eq!(&now, was, "{name} changed in conversion");
    }
    block_on(async {
        let store = satchel_store::open(&url).await.expect("open");
        for (n, was) in raw.iter().zip(&raw_before) {
            let now = store
                .get(&format!("{prefix}{n}"))
                .await
                .expect("get")
                .expect("present");
            assert_eq!(&now.value, was, "{n} was touched");
        }
    });

    block_on(async {
        let store = satchel_store::open(&url).await.expect("open");
        for key in store.scan(&prefix, usize::MAX).await.expect("scan") {
            store.delete(&key).await.expect("delete");
        }
    });
}
