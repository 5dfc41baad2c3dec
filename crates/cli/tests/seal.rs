//! Sealed values through the real commands: `set` with a `+seal` spec, `get` with and
//! without the key ring, a value pasted under another key, and `convert` re-sealing under
//! a rotated ring's current key so the old key can go.

use satchel_store::Condition;
use serde_json::{Value, json};

mod common;
use common::*;

const OLD: &str = "1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
const NEW: &str = "2 paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaU=\n";

#[test]
fn set_get_convert_and_rotate_sealed_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("s.db").display());
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("key file");
        path.display().to_string()
    };
    let old = write("old.keys", OLD);
    let rotated = write("rotated.keys", &format!("{NEW}{OLD}"));
    let new_only = write("new.keys", NEW);
    let value = json!({"user": "ann", "items": [7, 9]});
    let text = value.to_string();

    // Without a ring, a +seal spec is refused, saying what to pass.
    let err = fails(
        &satchel(
            &[
                "set",
                "--store",
                &url,
                "cart:ann",
                &text,
                "--codec",
                "json+zstd+seal",
            ],
            b"",
        ),
        2,
    );
    assert!(err.contains("--seal-keys"), "{err}");
    ok(&satchel(
        &[
            "set",
            "--store",
            &url,
            "cart:ann",
            &text,
            "--codec",
            "json+zstd+seal",
            "--seal-keys",
            &old,
        ],
        b"",
    ));
    ok(&satchel(
        &[
            "set",
            "--store",
            &url,
            "cart:plain",
            &text,
            "--codec",
            "json",
        ],
        b"",
    ));

    let got = ok(&satchel(
        &["get", "--store", &url, "cart:ann", "--seal-keys", &old],
        b"",
    ));
    assert_eq!(serde_json::from_str::<Value>(&got).unwrap(), value);
    let err = fails(&satchel(&["get", "--store", &url, "cart:ann"], b""), 2);
    assert!(
        err.contains("sealed value (key id 1)") && err.contains("--seal-keys"),
        "{err}"
    );
    let err = fails(
        &satchel(
            &["get", "--store", &url, "cart:ann", "--seal-keys", &new_only],
            b"",
        ),
        2,
    );
    assert!(
        err.contains("key id 1, which is not in the key ring"),
        "{err}"
    );
    // The key file's contents never reach the output.
    assert!(!err.contains("AAEC") && !err.contains("paWl"), "{err}");

    // Pasted under another key, it does not open (exit 5, corrupt).
    block_on(async {
        let store = satchel_store::open(&url).await.expect("open");
        let bytes = store.get("cart:ann").await.unwrap().unwrap().value;
        store
            .set("cart:bob", &bytes, None, Condition::Always)
            .await
            .unwrap();
    });
    let err = fails(
        &satchel(
            &["get", "--store", &url, "cart:bob", "--seal-keys", &old],
            b"",
        ),
        5,
    );
    assert!(err.contains("does not open"), "{err}");
    block_on(async {
        let store = satchel_store::open(&url).await.expect("open");
        store.delete("cart:bob").await.unwrap();
    });

    // Rotation: convert re-seals under the new current key (and seals the plain value).
    let out = ok(&satchel(
        &[
            "convert",
            "--store",
            &url,
            "--to",
            "json+zstd+seal",
            "--seal-keys",
            &rotated,
            "--json",
        ],
        b"",
    ));
    let report: Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(report["converted"], 2, "{report}");
    // Run again: everything is already under key 2.
    let out = ok(&satchel(
        &[
            "convert",
            "--store",
            &url,
            "--to",
            "json+zstd+seal",
            "--seal-keys",
            &rotated,
            "--json",
        ],
        b"",
    ));
    let report: Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(
        (report["converted"].clone(), report["skipped"].clone()),
        (json!(0), json!(2)),
        "{report}"
    );
    // The old key can go.
    for key in ["cart:ann", "cart:plain"] {
        let got = ok(&satchel(
            &["get", "--store", &url, key, "--seal-keys", &new_only],
            b"",
        ));
        assert_eq!(serde_json::from_str::<Value>(&got).unwrap(), value, "{key}");
    }
}
