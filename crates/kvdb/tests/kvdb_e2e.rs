//! End to end with the real kvdb-py 0.0.2 on a live Redis: Python writes, Rust reads typed
//! values; Rust writes, Python reads them back equal; hostile values under a key are
//! errors and their bytes stay as they were.
//!
//! Needs the virtual environment `scripts/py-venv.sh kvdb` builds (`target/py/kvdb`, built
//! by the test itself when missing, or the python named by `SATCHEL_KVDB_PYTHON`) and a Redis at `SATCHEL_TEST_REDIS_URL`
//! (default `redis://127.0.0.1:6379`). Either missing: the test says `skipped: …` and
//! passes, unless `SATCHEL_REQUIRE_SERVICES=1`, which makes it fail.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use redis::Commands;
use satchel::{Codec, ErrorKind, Gzip, Lz4, Zlib, Zstd};

const TEST: &str = "kvdb_e2e";
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

/// Skips the test (or fails it under `SATCHEL_REQUIRE_SERVICES=1`), as
/// `satchel_testkit::store::service_url` does for a missing service.
fn skip(reason: &str) {
    assert!(
        std::env::var("SATCHEL_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "{TEST}: {reason}, and SATCHEL_REQUIRE_SERVICES=1 requires it"
    );
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("skipped: {TEST} ({reason})\n").as_bytes(),
    );
}

fn python() -> Result<PathBuf, String> {
    // Built on first use (scripts/py-venv.sh kvdb), so `cargo test` needs no set-up step.
    satchel_testkit::python::venv("kvdb", "SATCHEL_KVDB_PYTHON")
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/kvdb_io.py")
}

fn run_python(python: &Path, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg(script())
        .args(args)
        // No __pycache__ left in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "kvdb_io.py {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Bytes stored raw (kvdb-py stores `bytes` as they are).
struct RawBytes<'a>(&'a [u8]);

impl serde::Serialize for RawBytes<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

/// The samples kvdb_models.py defines, encoded by `codec` (msgpack: without the ones
/// kvdb-py cannot store through msgpack).
macro_rules! rust_samples {
    ($codec:expr, $msgpack:expr) => {{
        let codec = &$codec;
        let mut out = vec![
            ("dict", codec.encode(&dict()).unwrap()),
            ("model", codec.encode(&user()).unwrap()),
            ("bytes", codec.encode(&blob()).unwrap()),
            ("str", codec.encode("plain text").unwrap()),
            ("int", codec.encode(&42u32).unwrap()),
            (
                "raw_bytes",
                codec.encode(&RawBytes(b"\x00\x01raw")).unwrap(),
            ),
        ];
        if !$msgpack {
            out.push(("datetime", codec.encode(&at()).unwrap()));
            out.push(("set", codec.encode(&tags()).unwrap()));
            out.push(("dataclass", codec.encode(&Point { x: 1, y: -2 }).unwrap()));
        }
        out
    }};
}

#[test]
fn kvdb_py_and_satchel_share_a_redis() {
    let python = match python() {
        Ok(p) => p,
        Err(reason) => return skip(&reason),
    };
    let url = std::env::var("SATCHEL_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_REDIS.into());
    let mut redis = match redis::Client::open(url.as_str()).and_then(|c| c.get_connection()) {
        Ok(c) => c,
        Err(e) => return skip(&format!("Redis at {url} is not reachable: {e}")),
    };
    let prefix = satchel_testkit::store::unique_prefix("kvdb");

    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for (serializer, compression) in [
            ("json", "none"),
            ("json", "zstd"),
            ("json", "lz4"),
            ("json", "gzip"),
            ("json", "zlib"),
            ("msgpack", "none"),
            ("msgpack", "zstd"),
        ] {
            let pipeline = format!("{serializer}-{compression}");
            // Python writes, Rust reads.
            let py = format!("{prefix}py:{pipeline}:");
            let written = run_python(&python, &[&url, "write", &py, serializer, compression]);
            let names: Vec<String> = serde_json::from_str(written.trim()).unwrap();
            assert!(names.len() >= 6, "{pipeline}: {names:?}");
            for name in &names {
                let bytes: Vec<u8> = redis.get(format!("{py}{name}")).unwrap();
                if serializer == "json" {
                    check_sample!(Codec::kvdb_json().classes(&CLASSES), name.as_str(), &bytes);
                } else {
                    check_sample!(
                        Codec::kvdb_msgpack().classes(&CLASSES),
                        name.as_str(),
                        &bytes
                    );
                }
            }
            // Rust writes, Python reads back equal.
            let rs = format!("{prefix}rs:{pipeline}:");
            let json = Codec::kvdb_json().classes(&CLASSES);
            let msgpack = Codec::kvdb_msgpack().classes(&CLASSES);
            let samples = match (serializer, compression) {
                ("json", "none") => rust_samples!(json, false),
                ("json", "zstd") => rust_samples!(json.compress(Zstd), false),
                ("json", "lz4") => rust_samples!(json.compress(Lz4), false),
                ("json", "gzip") => rust_samples!(json.compress(Gzip), false),
                ("json", "zlib") => rust_samples!(json.compress(Zlib), false),
                ("msgpack", "none") => rust_samples!(msgpack, true),
                ("msgpack", "zstd") => rust_samples!(msgpack.compress(Zstd), true),
                other => unreachable!("{other:?}"),
            };
            for (name, bytes) in &samples {
                let () = redis.set(format!("{rs}{name}"), bytes.as_slice()).unwrap();
            }
            let checked = run_python(&python, &[&url, "check", &rs, serializer, compression]);
            assert_eq!(
                checked.lines().filter(|l| l.starts_with("ok ")).count(),
                samples.len(),
                "{pipeline}: {checked}"
            );
        }

        // Hostile values: errors, and the stored bytes stay as they were.
        let zeros = vec![0u8; 64 << 20];
        let mut bomb = b"_kvdbenc_".to_vec();
        satchel::Compression::compress(&Zstd, &zeros, &mut bomb).unwrap();
        drop(zeros);
        let good = Codec::kvdb_json().compress(Zstd).encode(&dict()).unwrap();
        let hostile: Vec<(&str, Vec<u8>, ErrorKind, &str)> = vec![
            (
                "unknown-class",
                br#"_kvdbenc_{"__type__":"pydantic","__class__":"subprocess.Popen","value":{"args":["touch","/tmp/pwned"]}}"#.to_vec(),
                ErrorKind::Decode,
                "subprocess.Popen",
            ),
            ("bomb", bomb, ErrorKind::LimitExceeded, "limit"),
            (
                "tag-in-user-data",
                br#"_kvdbenc_{"user":"ann","note":{"__type__":"pickle","value":"80049503"}}"#.to_vec(),
                ErrorKind::Decode,
                "pickle",
            ),
            (
                "truncated",
                good[..good.len() - 3].to_vec(),
                ErrorKind::Decompress,
                "zstd",
            ),
        ];
        let codec = Codec::kvdb_json()
            .classes(&CLASSES)
            .compress(Zstd)
            .max_decoded_len(16 << 20);
        for (name, bytes, kind, needle) in &hostile {
            let key = format!("{prefix}hostile:{name}");
            let () = redis.set(&key, bytes.as_slice()).unwrap();
            let stored: Vec<u8> = redis.get(&key).unwrap();
            let err = codec.decode::<serde_json::Value>(&stored).unwrap_err();
            assert_eq!(err.kind(), *kind, "{name}: {err}");
            assert!(err.to_string().contains(needle), "{name}: {err}");
            let after: Vec<u8> = redis.get(&key).unwrap();
            assert!(after == *bytes, "{name}: stored bytes changed");
        }
    }));

    // Clean up whatever happened.
    let keys: Vec<String> = redis
        .scan_match::<_, String>(format!("{prefix}*"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for key in keys {
        let _: () = redis.del(key).unwrap();
    }
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
