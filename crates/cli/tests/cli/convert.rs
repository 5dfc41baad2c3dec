//! `convert`: interrupted and rerun, and foreign (kvdb-py, Coherence) values.

#[allow(unused_imports)]
use super::*;

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
