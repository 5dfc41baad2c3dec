//! Regressions from trying the command line as an attacker and as a careful user: hostile
//! values are refused with bounded memory, `convert` never replaces a value with one that
//! reads back differently, one bad key never aborts a listing or a conversion.

mod common;

use std::path::Path;

use common::*;
use satchel::{Codec, Compression, Zstd};
use satchel_store::Condition;
use serde_json::{Value, json};

/// Runs `satchel ARGS` with its address space capped at `mib` MiB, so a decode that would
/// build gigabytes fails (the process aborts) instead of passing unnoticed.
#[cfg(unix)]
fn satchel_capped(mib: u64, args: &[&str]) -> std::process::Output {
    let mut script = format!("ulimit -v {}; exec \"$0\"", mib * 1024);
    for i in 1..=args.len() {
        script.push_str(&format!(" \"${i}\""));
    }
    std::process::Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(BIN)
        .args(args)
        .env_remove("SATCHEL_STORE")
        .output()
        .expect("sh runs")
}

/// A satchel value: header `C1 (format << 4 | zstd)`, then `raw` compressed with zstd.
fn zstd_value(format: u8, raw: &[u8]) -> Vec<u8> {
    let mut out = vec![0xC1, (format << 4) | 1];
    Zstd.compress(raw, &mut out).expect("compresses");
    out
}

/// 0.1: a 2 KB value made `decode`, `get` and `inspect` use 2.6 GB, turning 64 MiB of
/// msgpack nils (or JSON zeros, or bincode nulls) into a JSON tree. The decoded tree is now
/// bounded too: each of these is refused, under a 1 GiB address-space cap.
#[cfg(unix)]
#[test]
fn regression_small_values_that_decode_to_huge_trees_are_refused() {
    let n: u32 = 60_000_000;
    let msgpack = {
        let mut raw = vec![0xDD];
        raw.extend_from_slice(&n.to_be_bytes());
        raw.resize(raw.len() + n as usize, 0xC0);
        zstd_value(2, &raw)
    };
    let json = {
        let mut raw = b"[0".to_vec();
        raw.extend(std::iter::repeat_n(*b",0", 30_000_000).flatten());
        raw.push(b']');
        zstd_value(1, &raw)
    };
    // The CLI's bincode form: variant 6 (a sequence), a length, then that many variant 0
    // (null), one byte each.
    let bincode = {
        let mut raw = vec![6, 0xFC];
        raw.extend_from_slice(&n.to_le_bytes());
        raw.resize(raw.len() + n as usize, 0);
        zstd_value(3, &raw)
    };
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, bytes) in [("msgpack", msgpack), ("json", json), ("bincode", bincode)] {
        assert!(bytes.len() < 200_000, "{name}: {} bytes", bytes.len());
        let file = dir.path().join(format!("{name}.bin"));
        std::fs::write(&file, &bytes).expect("write");
        let file = file.to_str().expect("utf-8 path");
        for command in ["decode", "inspect"] {
            let out = satchel_capped(1024, &[command, file]);
            let err = fails(&out, 5);
            assert!(
                err.contains("more than 4000000 elements"),
                "{name} {command}: {err}"
            );
        }
    }
}

fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("trust.db").display())
}

fn put(url: &str, entries: &[(&str, Vec<u8>)]) {
    block_on(async {
        let store = satchel_store::open(url).await.expect("open");
        for (key, bytes) in entries {
            store
                .set(key, bytes, None, Condition::Always)
                .await
                .expect("set");
        }
    });
}

fn read(url: &str, key: &str) -> Vec<u8> {
    block_on(async {
        let store = satchel_store::open(url).await.expect("open");
        store.get(key).await.expect("get").expect("present").value
    })
}

/// 0.1's `convert` decoded into JSON and wrote back whatever came out: integers wider than
/// 64 bits, NaN and ±Inf were silently changed. Those values are now left as they were and
/// listed; the others convert.
#[test]
fn regression_convert_never_changes_a_value() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(dir.path());
    let msgpack = Codec::msgpack();
    let lossy = [
        ("wide", Codec::json().encode(&u128::MAX).expect("encodes")),
        (
            "negwide",
            Codec::json().encode(&[i128::MIN]).expect("encodes"),
        ),
        ("msgpack-u128", msgpack.encode(&u128::MAX).expect("encodes")),
        (
            "nan",
            msgpack.encode(&vec![1.0, f64::NAN]).expect("encodes"),
        ),
        ("inf", msgpack.encode(&f64::INFINITY).expect("encodes")),
    ];
    let fine = (
        "fine",
        msgpack
            .encode(&json!({"a": [1, 2.5, "x"]}))
            .expect("encodes"),
    );
    let mut all = lossy.to_vec();
    all.push(fine.clone());
    put(&url, &all);

    let out = satchel(
        &["convert", "--json", "--store", &url, "--to", "json+zstd"],
        b"",
    );
    fails(&out, 7);
    let report: Value = serde_json::from_str(&stdout(&out)).expect("json report");
    assert_eq!(report["converted"], json!(1), "{report}");
    let failed: Vec<&str> = report["failed"]
        .as_array()
        .expect("list")
        .iter()
        .map(|f| f["key"].as_str().expect("key"))
        .collect();
    assert_eq!(failed.len(), lossy.len(), "{report}");
    for (key, bytes) in &lossy {
        assert!(failed.contains(key), "{key} not listed: {report}");
        assert_eq!(&read(&url, key), bytes, "{key} was changed");
    }
    let converted: Value = Codec::json()
        .compress(Zstd)
        .decode(&read(&url, "fine"))
        .expect("json+zstd now");
    assert_eq!(converted, json!({"a": [1, 2.5, "x"]}));
}

/// 0.1 wrote `--to bincode` values in the tool's own tagged form, which typed readers
/// cannot decode: refused before anything is touched.
#[test]
fn regression_convert_to_bincode_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(dir.path());
    let bytes = Codec::json().encode(&json!([1, 2])).expect("encodes");
    put(&url, &[("k", bytes.clone())]);
    let err = fails(
        &satchel(&["convert", "--store", &url, "--to", "bincode+zstd"], b""),
        2,
    );
    assert!(err.contains("bincode is not self-describing"), "{err}");
    assert_eq!(read(&url, "k"), bytes);
}

/// 0.1: a msgpack value whose JSON form is over the decoding limit was overwritten by
/// `convert`, and could then never be read. New bytes that do not read back leave the old
/// ones in place.
#[test]
fn regression_convert_keeps_values_whose_new_form_would_not_read_back() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(dir.path());
    // 12 million control characters: 12 MB as msgpack, 72 MB (`\u0001` each) as JSON
    // text, over the 64 MiB limit.
    let text = "\u{1}".repeat(12_000_000);
    let bytes = Codec::msgpack()
        .compress(Zstd)
        .encode(&text)
        .expect("encodes");
    put(&url, &[("big", bytes.clone())]);
    let out = satchel(&["convert", "--store", &url, "--to", "json"], b"");
    fails(&out, 7);
    assert!(
        stdout(&out).contains("would not read back"),
        "{}",
        stdout(&out)
    );
    assert_eq!(read(&url, "big"), bytes, "the value was replaced");
}

/// 0.1: one key the store could not read aborted `ls` and `convert` for every other key.
/// Redis is where foreign keys live (a list someone else pushed).
#[test]
fn regression_one_unreadable_key_never_aborts_ls_or_convert() {
    let Some(url) = std::env::var("SATCHEL_TEST_REDIS_URL").ok() else {
        assert!(
            std::env::var("SATCHEL_REQUIRE_SERVICES").is_err(),
            "SATCHEL_TEST_REDIS_URL is required"
        );
        eprintln!("skipped: SATCHEL_TEST_REDIS_URL is not set");
        return;
    };
    let prefix = format!("trust:{}:", std::process::id());
    let client = redis::Client::open(url.as_str()).expect("redis url");
    let mut con = client.get_connection().expect("redis");
    let foreign = format!("{prefix}a-list");
    redis::cmd("RPUSH")
        .arg(&foreign)
        .arg("x")
        .query::<()>(&mut con)
        .expect("rpush");
    let good = Codec::json().encode(&json!({"n": 1})).expect("encodes");
    put(&url, &[(&format!("{prefix}b-good"), good)]);

    let out = satchel(&["ls", "--store", &url, "--prefix", &prefix], b"");
    fails(&out, 7);
    let listing = stdout(&out);
    assert!(
        listing.contains("b-good") && listing.contains("json"),
        "{listing}"
    );
    assert!(
        listing.contains("a-list") && listing.contains("unreadable"),
        "{listing}"
    );

    let out = satchel(
        &[
            "convert", "--store", &url, "--prefix", &prefix, "--to", "msgpack",
        ],
        b"",
    );
    fails(&out, 7);
    assert!(stdout(&out).contains("1 converted"), "{}", stdout(&out));
    redis::cmd("DEL")
        .arg(&foreign)
        .arg(format!("{prefix}b-good"))
        .query::<()>(&mut con)
        .expect("del");
}

/// 0.1 printed a PostgreSQL password given as `?password=` and a gRPC token given as
/// `grpc://TOKEN@host` in its error messages. Every credential form is redacted, in the
/// messages a user sees when the store cannot be reached or refuses them.
#[test]
fn regression_credentials_in_store_urls_never_reach_messages() {
    let secret = "s3cr3t-Z9";
    for url in [
        format!("postgres://nobody@127.0.0.1:5432/test?password={secret}"),
        format!("postgres://nobody:{secret}@127.0.0.1:5432/test"),
        format!("postgres://nobody@127.0.0.1:5432/test?sslmode=disable&PASSWORD={secret}"),
        format!("mysql://nobody:{secret}@127.0.0.1:3306/test"),
        format!("redis://:{secret}@127.0.0.1:1"),
        format!("grpc://{secret}@127.0.0.1:1"),
        format!("grpcs://{secret}@127.0.0.1:1"),
    ] {
        let out = satchel(&["get", "--store", &url, "some-key"], b"");
        assert!(!out.status.success(), "{url}");
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(!text.contains(secret), "{url}: {text}");
        assert!(
            text.contains("***") || !text.contains("nobody"),
            "{url}: {text}"
        );
    }
}

/// Kills and reaps a `satchel serve` child when the test ends, passing or not.
struct Serving(std::process::Child);

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// 0.2's gRPC server answered a scan with at most 10,000 keys and said nothing, so `ls`
/// and `convert` over `grpc://` stopped there silently. Listings now page through every
/// key, and a limit that cuts `ls` short is said (exit 7), never silent.
#[test]
fn regression_grpc_listing_never_truncates_silently() {
    use std::io::BufRead;

    const KEYS: usize = 10_050;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(dir.path());
    block_on(async {
        let store = satchel_store::open(&url).await.expect("open");
        for i in 0..KEYS {
            let bytes = Codec::json().encode(&i).expect("encodes");
            store
                .set(&format!("k/{i:05}"), &bytes, None, Condition::Always)
                .await
                .expect("set");
        }
    });
    let mut child = std::process::Command::new(BIN)
        .args([
            "serve",
            "--store",
            &url,
            "--listen",
            "127.0.0.1:0",
            "--json",
        ])
        .env_remove("SATCHEL_STORE")
        .env_remove("SATCHEL_TOKEN")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("serve starts");
    let stdout_pipe = child.stdout.take().expect("stdout");
    let _server = Serving(child);
    let first = std::io::BufReader::new(stdout_pipe)
        .lines()
        .next()
        .expect("serve prints where it listens")
        .expect("line");
    let info: Value = serde_json::from_str(&first).expect("one JSON line");
    let grpc = format!("grpc://{}", info["listening"].as_str().expect("address"));

    let all = ok(&satchel(
        &["ls", "--keys-only", "--limit", "20000", "--store", &grpc],
        b"",
    ));
    let listed: Vec<&str> = all.lines().collect();
    assert_eq!(
        listed.len(),
        KEYS,
        "ls lists every key past the server's cap"
    );
    assert_eq!(listed[0], "k/00000");
    assert_eq!(listed[KEYS - 1], format!("k/{:05}", KEYS - 1));

    let out = satchel(&["ls", "--keys-only", "--store", &grpc], b"");
    let err = fails(&out, 7);
    assert_eq!(stdout(&out).lines().count(), 1000, "the default limit");
    assert!(err.contains("more than 1000 keys"), "{err}");

    let out = satchel(
        &["convert", "--json", "--store", &grpc, "--to", "msgpack"],
        b"",
    );
    let report: Value = serde_json::from_str(&ok(&out)).expect("json report");
    assert_eq!(report["converted"], json!(KEYS), "{report}");
    let last: u64 = Codec::msgpack()
        .decode(&read(&url, &format!("k/{:05}", KEYS - 1)))
        .expect("the last key is msgpack now");
    assert_eq!(last, (KEYS - 1) as u64);
}

/// 0.1's `convert` re-encoded satchel session records as a whole, leaving the values inside
/// them in the old format, which the sessions then could not read. A session record is left
/// as it was and listed (sessions read any pipeline and rewrite it on their next save).
#[test]
fn regression_convert_leaves_session_records_to_the_sessions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(dir.path());
    // What satchel-session writes: created_ms, owner and the values, each encoded alone
    // (base64url in JSON).
    let record = Codec::json()
        .encode(&json!({"created_ms": 1_764_590_000_000i64, "owner": null, "data": {"cart": "WzEsMl0"}}))
        .expect("encodes");
    let plain = Codec::json().encode(&json!({"n": 1})).expect("encodes");
    put(&url, &[("session:x", record.clone()), ("plain", plain)]);
    let out = satchel(&["convert", "--store", &url, "--to", "msgpack+zstd"], b"");
    fails(&out, 7);
    assert!(
        stdout(&out).contains("a satchel session record"),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("1 converted"), "{}", stdout(&out));
    assert_eq!(
        read(&url, "session:x"),
        record,
        "the session record was changed"
    );
}
