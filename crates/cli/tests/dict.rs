//! `satchel train` and dictionaries through the real commands: train from a store, keep
//! the dictionary in it, convert to it, list and read the values back from new processes,
//! rotate to a second dictionary while the first stays readable.

use satchel::Codec;
use satchel_store::Condition;
use serde_json::{Value, json};

mod common;
use common::*;

/// A session-like record, different for each `i` but alike in shape.
fn record(i: u64, kind: &str) -> Value {
    let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    json!({
        "id": format!("{h:016x}{:06x}", i),
        "user_id": h % 10_000_000,
        "user_name": format!("{kind}.{}", ["tea", "lamp", "oak", "mug"][(i % 4) as usize]),
        "roles": ["user"],
        "created_at": 1_790_000_000_000u64 + h % 1_000_000,
        "csrf": format!("{:016x}{:016x}", h.rotate_left(7), h.rotate_left(29)),
        "prefs": {"lang": "en-GB", "theme": if i.is_multiple_of(2) { "dark" } else { "light" }},
        "cart": [{"sku": format!("SKU-{:06}", h % 1_000_000), "qty": i % 5 + 1, "title": "blue wool mug"}],
        "history": [format!("/shop/{kind}/page?p={}", i % 40)],
    })
}

fn fill(url: &str, prefix: &str, kind: &str, n: u64) {
    block_on(async {
        let store = satchel_store::open(url).await.expect("open");
        let codec = Codec::json().compress(satchel::Zstd);
        for i in 0..n {
            let bytes = codec.encode(&record(i, kind)).expect("encode");
            store
                .set(&format!("{prefix}{i:04}"), &bytes, None, Condition::Always)
                .await
                .expect("set");
        }
    });
}

fn json_out(args: &[&str]) -> Value {
    serde_json::from_str(&ok(&satchel(args, b""))).expect("JSON output")
}

fn stored_bytes(url: &str, prefix: &str) -> (usize, Vec<String>) {
    let rows = json_out(&["ls", "--store", url, "--prefix", prefix, "--json"]);
    let rows = rows.as_array().expect("rows");
    let bytes = rows
        .iter()
        .map(|r| r["stored_bytes"].as_u64().unwrap() as usize)
        .sum();
    let pipelines = rows
        .iter()
        .map(|r| r["pipeline"].as_str().unwrap().to_string())
        .collect();
    (bytes, pipelines)
}

#[test]
fn train_into_the_store_then_convert_ls_get_and_rotate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let a_file = dir.path().join("a.dict").display().to_string();
    let b_file = dir.path().join("b.dict").display().to_string();
    fill(&url, "sess:", "sess", 300);
    let (before, _) = stored_bytes(&url, "sess:");

    let trained = json_out(&[
        "train",
        "--store",
        &url,
        "--prefix",
        "sess:",
        "--out",
        &a_file,
        "--size",
        "4096",
        "--into-store",
        "--json",
    ]);
    let a = trained["dict_id"].as_u64().expect("id");
    assert_eq!(trained["samples"], 300);
    assert_eq!(trained["store_key"], format!("__satchel/dict/{a}"));
    assert!(
        trained["zstd_dict_bytes"].as_u64() < trained["zstd_bytes"].as_u64(),
        "{trained}"
    );
    assert!(std::fs::metadata(&a_file).expect("dictionary file").len() <= 4096);
    let listed = json_out(&["ls", "--store", &url, "--prefix", "__satchel/", "--json"]);
    assert_eq!(listed[0]["pipeline"], "(zstd dictionary)", "{listed}");

    // A new process finds the dictionary in the store by id.
    let spec_a = format!("json+zstd@dict=id:{a}");
    ok(&satchel(
        &[
            "convert", "--store", &url, "--prefix", "sess:", "--to", &spec_a,
        ],
        b"",
    ));
    let (after, pipelines) = stored_bytes(&url, "sess:");
    assert!(pipelines.iter().all(|p| *p == spec_a), "{pipelines:?}");
    assert!(
        after * 3 / 2 < before,
        "smaller with the dictionary: {after} of {before}"
    );
    let got: Value =
        serde_json::from_str(&ok(&satchel(&["get", "--store", &url, "sess:0007"], b"")))
            .expect("json");
    assert_eq!(got, record(7, "sess"));
    // Run again: nothing left to convert.
    let again = json_out(&[
        "convert", "--store", &url, "--prefix", "sess:", "--to", &spec_a, "--json",
    ]);
    assert_eq!(
        (again["converted"].as_u64(), again["skipped"].as_u64()),
        (Some(0), Some(300))
    );

    // A second dictionary, written to a file only: values written with it do not read in
    // a process that has not loaded it, and the error names its id.
    fill(&url, "other:", "other", 300);
    let trained = json_out(&[
        "train", "--store", &url, "--prefix", "other:", "--out", &b_file, "--size", "2048",
        "--json",
    ]);
    let b = trained["dict_id"].as_u64().expect("id");
    assert_ne!(a, b);
    let spec_b = format!("json+zstd@dict={b_file}");
    ok(&satchel(
        &[
            "set",
            "--store",
            &url,
            "--codec",
            &spec_b,
            "b:1",
            &record(1, "other").to_string(),
        ],
        b"",
    ));
    let err = fails(&satchel(&["get", "--store", &url, "b:1"], b""), 5);
    assert!(
        err.contains(&format!("dictionary {b}, which is not loaded")),
        "{err}"
    );
    // Once B is in the store too, everything reads, old and new.
    ok(&satchel(
        &[
            "train",
            "--store",
            &url,
            "--prefix",
            "other:",
            "--out",
            &b_file,
            "--size",
            "2048",
            "--into-store",
        ],
        b"",
    ));
    let got: Value =
        serde_json::from_str(&ok(&satchel(&["get", "--store", &url, "b:1"], b""))).expect("json");
    assert_eq!(got, record(1, "other"));
    let spec_b = format!("json+zstd@dict=id:{b}");
    ok(&satchel(
        &[
            "convert", "--store", &url, "--prefix", "sess:", "--to", &spec_b,
        ],
        b"",
    ));
    let (_, pipelines) = stored_bytes(&url, "sess:");
    assert!(pipelines.iter().all(|p| *p == spec_b), "{pipelines:?}");
    let got: Value =
        serde_json::from_str(&ok(&satchel(&["get", "--store", &url, "sess:0299"], b"")))
            .expect("json");
    assert_eq!(got, record(299, "sess"));
}

#[test]
fn a_corrupt_dictionary_key_fails_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    fill(&url, "s:", "corrupt", 2);
    block_on(async {
        let store = satchel_store::open(&url).await.expect("open");
        store
            .set(
                "__satchel/dict/77",
                b"no dictionary",
                None,
                Condition::Always,
            )
            .await
            .expect("set");
    });
    // convert loads every dictionary the store keeps: it stops at the bad key (exit 5).
    let err = fails(
        &satchel(
            &[
                "convert", "--store", &url, "--prefix", "s:", "--to", "json+lz4",
            ],
            b"",
        ),
        5,
    );
    assert!(err.contains("`__satchel/dict/77`"), "{err}");
    assert!(err.contains("does not hold one"), "{err}");
}

#[test]
fn train_without_enough_values_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    fill(&url, "few:", "few", 3);
    let out = dir.path().join("x.dict").display().to_string();
    let err = fails(
        &satchel(
            &["train", "--store", &url, "--prefix", "few:", "--out", &out],
            b"",
        ),
        1,
    );
    assert!(err.contains("found 3 satchel value(s)"), "{err}");
    assert!(!std::path::Path::new(&out).exists());
}

#[test]
fn advise_train_shows_each_zstd_pipeline_with_and_without_a_dictionary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files: Vec<String> = (0..40)
        .map(|i| {
            let path = dir.path().join(format!("s{i}.json"));
            std::fs::write(&path, record(i, "adv").to_string()).expect("write");
            path.display().to_string()
        })
        .collect();
    let mut args = vec!["advise", "--train", "--runs", "1", "--json"];
    args.extend(files.iter().map(String::as_str));
    let report = json_out(&args);
    let rows = report["pipelines"].as_array().expect("rows");
    let bytes = |name: &str| {
        rows.iter()
            .find(|r| r["pipeline"] == name)
            .unwrap_or_else(|| panic!("no row {name}: {report}"))["bytes"]
            .as_u64()
            .unwrap()
    };
    for plain in ["json+zstd", "msgpack+zstd", "json+zstd:19"] {
        let with: Vec<&Value> = rows
            .iter()
            .filter(|r| {
                let name = r["pipeline"].as_str().unwrap();
                name.starts_with(&format!("{plain}@dict=id:"))
            })
            .collect();
        assert_eq!(with.len(), 1, "{plain} with a dictionary: {report}");
        assert!(
            with[0]["bytes"].as_u64().unwrap() < bytes(plain),
            "{report}"
        );
    }
    let err = fails(&satchel(&["advise", "--train", &files[0]], b""), 2);
    assert!(
        err.contains("--train needs 8 or more sample files"),
        "{err}"
    );
}
