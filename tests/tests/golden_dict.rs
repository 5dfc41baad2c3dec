//! Golden bytes for a value compressed with a trained dictionary: the dictionary
//! (`crates/zstd/tests/data/sessions.dict`, 4 KiB, trained on session records like the
//! benchmarks' 750-byte one) and the value it compresses are committed, so a change to how
//! dictionary frames are written or read fails here.
//!
//! After an intended change to the value's bytes: `SATCHEL_BLESS=1 cargo test -p
//! satchel-tests --test golden_dict`. To retrain the dictionary itself (every golden value
//! then changes): `SATCHEL_BLESS_DICT=1`.

use std::path::PathBuf;

use satchel::{DynCodec, ErrorKind, ZstdDict, decode_any};
use satchel_testkit::payloads::{self, Session};

fn dict_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/zstd/tests/data/sessions.dict")
}

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden/session750.json+zstd+dict.bin")
}

#[test]
fn a_value_compressed_with_the_committed_dictionary_matches_its_golden_bytes() {
    if std::env::var_os("SATCHEL_BLESS_DICT").is_some() {
        let samples: Vec<Vec<u8>> = payloads::sessions_like_750(1_000, 400)
            .iter()
            .map(payloads::json_bytes)
            .collect();
        let dict = satchel::train(&samples, 4096).expect("trains");
        std::fs::write(dict_path(), dict).expect("write the dictionary");
    }
    let dict = ZstdDict::load_file(dict_path()).expect("the committed dictionary loads");
    let spec = format!("json+zstd:3@dict={}", dict_path().display());
    let codec: DynCodec = spec.parse().expect("spec with a dictionary");
    assert_eq!(
        codec.to_string(),
        format!("json+zstd@dict=id:{}", dict.id())
    );
    let value = payloads::session_750();
    let bytes = codec.encode(&value).expect("encodes");
    if std::env::var_os("SATCHEL_BLESS").is_some()
        || std::env::var_os("SATCHEL_BLESS_DICT").is_some()
    {
        std::fs::write(golden_path(), &bytes).expect("write golden");
    }
    let golden = std::fs::read(golden_path()).expect("golden file; SATCHEL_BLESS=1 creates it");
    assert_eq!(satchel::dict_id(&golden), Some(dict.id()));
    assert_eq!(decode_any::<Session>(&golden).expect("golden reads"), value);
    assert_eq!(
        codec.decode::<Session>(&golden).expect("golden reads"),
        value
    );
    assert!(
        bytes == golden,
        "the bytes of a dictionary value changed ({} now, {} golden); if intended, \
         regenerate with SATCHEL_BLESS=1",
        bytes.len(),
        golden.len()
    );
    let json_len = payloads::json_bytes(&value).len();
    assert!(
        golden.len() * 3 < json_len,
        "the committed dictionary should make the record at least 3x smaller: {} of {json_len}",
        golden.len()
    );
}

#[test]
fn a_dictionary_file_that_is_no_dictionary_is_a_dictionary_error() {
    let dir = std::env::temp_dir().join(format!("satchel-golden-dict-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("not.dict");
    std::fs::write(&file, b"{\"just\": \"json\"}").expect("write");
    let err = format!("json+zstd@dict={}", file.display())
        .parse::<DynCodec>()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Dictionary, "{err}");
    assert!(err.to_string().contains("not a zstd dictionary"), "{err}");
    let missing = dir.join("missing.dict");
    let err = format!("json+zstd@dict={}", missing.display())
        .parse::<DynCodec>()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Dictionary, "{err}");
    assert!(err.to_string().contains("missing.dict"), "{err}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the I/O error is kept"
    );
    std::fs::remove_dir_all(&dir).ok();
}
