//! Golden bytes: every pipeline's output for a fixed value is committed under
//! `tests/golden/`, so any change to the wire format shows up as a failing test.
//!
//! After an intended change, regenerate with `SATCHEL_BLESS=1 cargo test -p satchel-tests
//! --test golden` and commit the new files with a note on why the bytes changed.

use std::path::PathBuf;

use satchel::decode_any;
use satchel_testkit::Rich;
use satchel_tests::all_pipelines;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden")
}

#[test]
fn every_pipeline_matches_its_golden_bytes() {
    let bless = std::env::var_os("SATCHEL_BLESS").is_some();
    let value = Rich::sample();
    for codec in all_pipelines() {
        for (codec, suffix) in [
            (codec.clone(), ""),
            (codec.checksum().expect("headered"), "+crc"),
        ] {
            let name = format!("rich.{codec}{suffix}.bin");
            let path = golden_dir().join(&name);
            let bytes = codec.encode(&value).unwrap();
            if bless {
                std::fs::write(&path, &bytes).unwrap();
                continue;
            }
            let golden = std::fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; run with SATCHEL_BLESS=1 to create it",
                    path.display()
                )
            });
            // Old bytes must always stay readable, whatever else changes.
            assert_eq!(decode_any::<Rich>(&golden).unwrap(), value, "{name}");
            assert_eq!(codec.decode::<Rich>(&golden).unwrap(), value, "{name}");
            assert!(
                bytes == golden,
                "{name}: the encoded bytes changed ({} bytes now, {} golden); if intended, \
                 regenerate with SATCHEL_BLESS=1",
                bytes.len(),
                golden.len()
            );
        }
    }
}
