//! Dictionaries through the facade: specs naming one, `decode_any` and `DynCodec` finding
//! the right one by the id in the frame, old dictionaries staying readable, and sessions
//! configured with a dictionary spec.

use std::path::PathBuf;

use satchel::{Codec, DynCodec, ErrorKind, Zstd, ZstdDict, decode_any};
use satchel_session::{SessionManager, SessionOptions};
use satchel_testkit::payloads::{self, Session};
use satchel_testkit::store::unique_prefix;

fn dict_a_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/zstd/tests/data/sessions.dict")
}

/// A second dictionary, trained here on other records, and written to a file.
fn dict_b_file() -> (PathBuf, &'static ZstdDict) {
    let samples: Vec<Vec<u8>> = payloads::sessions_like_750(50_000, 300)
        .iter()
        .map(payloads::json_bytes)
        .collect();
    let bytes = satchel::train(&samples, 2048).expect("trains");
    let path = std::env::temp_dir().join(format!(
        "{}.dict",
        unique_prefix("dict-b").replace(':', "-")
    ));
    std::fs::write(&path, &bytes).expect("write");
    let dict = ZstdDict::load(&bytes).expect("loads");
    (path, dict)
}

#[test]
fn a_spec_names_a_dictionary_file_and_prints_it_by_id() {
    let spec = format!("msgpack+zstd:9@dict={}", dict_a_path().display());
    let codec: DynCodec = spec.parse().expect("parses");
    let id = ZstdDict::load_file(dict_a_path()).expect("loaded").id();
    assert_eq!(codec.to_string(), format!("msgpack+zstd:9@dict=id:{id}"));
    assert_eq!(codec.compression().dict_id(), Some(id));
    // The printed spec parses back to the same codec, in config files too.
    let again: DynCodec = codec.to_string().parse().expect("by id");
    assert_eq!(again, codec);
    let json = serde_json::to_string(&codec).expect("serializes");
    assert_eq!(
        serde_json::from_str::<DynCodec>(&json).expect("deserializes"),
        codec
    );

    let value = payloads::session_750();
    let bytes = codec.encode(&value).expect("encodes");
    assert_eq!(satchel::dict_id(&bytes), Some(id));
    assert_eq!(codec.decode::<Session>(&bytes).expect("decodes"), value);
    assert_eq!(
        decode_any::<Session>(&bytes).expect("decode_any finds it"),
        value
    );
    let plain: DynCodec = "msgpack+zstd".parse().expect("parses");
    assert_eq!(
        plain
            .decode::<Session>(&bytes)
            .expect("any zstd codec reads it"),
        value
    );
}

#[test]
fn bad_dictionary_specs_say_what_is_wrong() {
    let path = dict_a_path().display().to_string();
    for (spec, kind, says) in [
        (
            format!("json+lz4@dict={path}"),
            ErrorKind::Spec,
            "a dictionary needs zstd",
        ),
        (
            format!("json@dict={path}"),
            ErrorKind::Spec,
            "a dictionary needs zstd",
        ),
        (
            "json+zstd@level=3".to_string(),
            ErrorKind::Spec,
            "unknown option `@level=3`",
        ),
        (
            "json+zstd@dict=".to_string(),
            ErrorKind::Spec,
            "names no dictionary",
        ),
        (
            "json+zstd@dict=id:x".to_string(),
            ErrorKind::Spec,
            "not a whole number",
        ),
        (
            "json+zstd@dict=id:12345".to_string(),
            ErrorKind::Dictionary,
            "12345, which is not loaded",
        ),
    ] {
        let err = spec.parse::<DynCodec>().unwrap_err();
        assert_eq!(err.kind(), kind, "{spec}: {err}");
        assert!(err.to_string().contains(says), "{spec}: {err}");
    }
}

#[test]
fn a_value_written_with_an_unloaded_dictionary_names_its_id() {
    let codec = Codec::json().compress(Zstd.dict(ZstdDict::load_file(dict_a_path()).unwrap()));
    let mut bytes = codec.encode(&payloads::session_750()).expect("encodes");
    // Rewrite the frame's dictionary id (4 bytes after the frame descriptor and window
    // byte) to one no process has loaded.
    let frame = 2; // after satchel's two-byte header
    let at = frame + 5 + usize::from(1 - ((bytes[frame + 4] >> 5) & 1));
    bytes[at..at + 4].copy_from_slice(&0x0BAD_D1C7u32.to_le_bytes());
    let err = decode_any::<Session>(&bytes).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Dictionary);
    assert!(
        err.to_string().contains(&0x0BAD_D1C7u32.to_string()),
        "{err}"
    );
}

#[test]
fn values_written_with_dictionary_a_stay_readable_once_b_is_current() {
    let a: DynCodec = format!("json+zstd@dict={}", dict_a_path().display())
        .parse()
        .unwrap();
    let (b_path, b) = dict_b_file();
    let current: DynCodec = format!("json+zstd@dict={}", b_path.display())
        .parse()
        .unwrap();
    assert_eq!(current.compression().dict_id(), Some(b.id()));
    let records = payloads::sessions_like_750(90_000, 3);
    let old: Vec<Vec<u8>> = records.iter().map(|r| a.encode(r).unwrap()).collect();
    let new: Vec<Vec<u8>> = records.iter().map(|r| current.encode(r).unwrap()).collect();
    for ((record, old), new) in records.iter().zip(&old).zip(&new) {
        assert_ne!(satchel::dict_id(old), satchel::dict_id(new));
        assert_eq!(&current.decode::<Session>(old).unwrap(), record);
        assert_eq!(&decode_any::<Session>(old).unwrap(), record);
        assert_eq!(&decode_any::<Session>(new).unwrap(), record);
    }
    std::fs::remove_file(b_path).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_configured_with_a_dictionary_spec_write_and_read_with_it() {
    let id = ZstdDict::load_file(dict_a_path()).unwrap().id();
    let options = SessionOptions::from_url(&format!(
        "memory://?codec=json+zstd@dict={}",
        dict_a_path().display()
    ))
    .expect("options with a dictionary spec");
    assert_eq!(options.codec.to_string(), format!("json+zstd@dict=id:{id}"));
    let manager = SessionManager::new();
    let sessions = manager.get_session("dict", &options).await.unwrap();
    let mut session = sessions.create();
    session.insert("record", &payloads::session_750()).unwrap();
    session.save().await.unwrap();
    let key = format!("{}{}", sessions.config().key_prefix, session.key().unwrap());
    let stored = sessions.store().get(&key).await.unwrap().expect("saved");
    assert_eq!(
        satchel::dict_id(&stored.value),
        Some(id),
        "the record uses the dictionary"
    );
    let again = sessions
        .connect(session.id().unwrap().as_str())
        .await
        .unwrap();
    assert_eq!(
        again.get::<Session>("record").unwrap(),
        Some(payloads::session_750())
    );
}
