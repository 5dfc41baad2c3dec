//! `load_dictionaries`: the zstd dictionaries a store keeps under `__satchel/dict/ID`, loaded
//! and checked, each refusal naming its key.
#![cfg(feature = "zstd")]

use satchel::{Codec, Zstd, ZstdDict};
use satchel_store::{
    CodecExt, Condition, DictLimits, MemoryStore, Store, StoreErrorKind, dict_key,
    load_dictionaries, load_dictionaries_with, save_dictionary,
};

const COMMITTED: &[u8] = include_bytes!("../../zstd/tests/data/sessions.dict");

fn trained() -> &'static ZstdDict {
    let samples: Vec<Vec<u8>> = (0..400)
        .map(|i| {
            format!(
                r#"{{"created_ms":{},"owner":"user{}","data":{{"cart":"[{},{}]","theme":"dark"}}}}"#,
                1_735_689_600_000u64 + i * 977,
                i % 37,
                i % 11,
                i % 7
            )
            .into_bytes()
        })
        .collect();
    ZstdDict::load(&satchel::train(&samples, 2048).expect("trains")).expect("loads")
}

async fn put(store: &MemoryStore, key: &str, value: &[u8]) {
    store
        .set(key, value, None, Condition::Always)
        .await
        .unwrap();
}

#[tokio::test]
async fn every_dictionary_the_store_keeps_is_loaded_and_values_read_back() {
    let store = MemoryStore::new();
    let committed = ZstdDict::load(COMMITTED).unwrap();
    let other = trained();
    assert_ne!(committed.id(), other.id());
    assert_eq!(
        save_dictionary(&store, committed).await.unwrap(),
        dict_key(committed.id())
    );
    save_dictionary(&store, other).await.unwrap();
    // Saving again is harmless: the id names the dictionary.
    save_dictionary(&store, other).await.unwrap();
    put(&store, "session:1", b"not a dictionary key").await;

    let mut want = vec![committed, other];
    want.sort_by_key(|d| dict_key(d.id()));
    assert_eq!(load_dictionaries(&store).await.unwrap(), want);
    // Loading again returns the same, already loaded, dictionaries.
    assert_eq!(load_dictionaries(&store).await.unwrap(), want);

    let sessions = Codec::json().compress(Zstd.dict(other)).wrap(&store);
    sessions.set("session:2", &vec!["ann"], None).await.unwrap();
    let raw = store.get("session:2").await.unwrap().unwrap().value;
    assert_eq!(satchel::dict_id(&raw), Some(other.id()));
    let plain = Codec::json().compress(Zstd).wrap(&store);
    assert_eq!(
        plain
            .get::<Vec<String>>("session:2")
            .await
            .unwrap()
            .unwrap(),
        ["ann"]
    );
}

#[tokio::test]
async fn an_empty_store_has_no_dictionaries() {
    assert!(
        load_dictionaries(&MemoryStore::new())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_corrupt_dictionary_is_an_error_naming_its_key() {
    let store = MemoryStore::new();
    save_dictionary(&store, ZstdDict::load(COMMITTED).unwrap())
        .await
        .unwrap();
    // The dictionary magic number and an id, then garbage zstd cannot digest.
    let mut bytes = vec![0x37, 0xA4, 0x30, 0xEC, 0x2A, 0, 0, 0];
    bytes.extend_from_slice(&[0xFF; 64]);
    put(&store, "__satchel/dict/42", &bytes).await;
    let err = load_dictionaries(&store).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
    assert_eq!(err.key(), Some("__satchel/dict/42"));
    assert!(err.to_string().contains("`__satchel/dict/42`"), "{err}");
    assert!(
        std::error::Error::source(&err).is_some(),
        "the zstd error is the cause"
    );

    // Bytes that are no dictionary at all, and a key that names no id.
    for (key, value) in [
        ("__satchel/dict/43", &b"{\"not\":\"a dictionary\"}"[..]),
        ("__satchel/dict/latest", COMMITTED),
        ("__satchel/dict/0042", COMMITTED),
    ] {
        let store = MemoryStore::new();
        put(&store, key, value).await;
        let err = load_dictionaries(&store).await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{key}: {err}");
        assert_eq!(err.key(), Some(key));
    }
}

#[tokio::test]
async fn a_dictionary_under_another_id_is_refused() {
    let store = MemoryStore::new();
    let dict = ZstdDict::load(COMMITTED).unwrap();
    let key = dict_key(dict.id().wrapping_add(1));
    put(&store, &key, COMMITTED).await;
    let err = load_dictionaries(&store).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
    assert_eq!(err.key(), Some(key.as_str()));
    assert!(
        err.to_string()
            .contains(&format!("holds zstd dictionary {}", dict.id())),
        "{err}"
    );
}

#[tokio::test]
async fn an_oversized_dictionary_is_refused_before_it_is_digested() {
    let store = MemoryStore::new();
    let big = vec![0u8; satchel::MAX_DICT_LEN + 1];
    put(&store, "__satchel/dict/7", &big).await;
    let err = load_dictionaries(&store).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
    assert_eq!(err.key(), Some("__satchel/dict/7"));
    assert!(err.to_string().contains("over the limit"), "{err}");
    assert!(
        std::error::Error::source(&err).is_none(),
        "refused, not loaded"
    );

    // A real dictionary over a lower limit, and two over a lower total.
    let dict = ZstdDict::load(COMMITTED).unwrap();
    let store = MemoryStore::new();
    save_dictionary(&store, dict).await.unwrap();
    save_dictionary(&store, trained()).await.unwrap();
    let limits = DictLimits::default().with_max_len(COMMITTED.len() - 1);
    let err = load_dictionaries_with(&store, limits).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
    assert!(err.key().is_some_and(|k| k.starts_with("__satchel/dict/")));
    let limits = DictLimits::default().with_max_total(COMMITTED.len());
    let err = load_dictionaries_with(&store, limits).await.unwrap_err();
    assert!(err.to_string().contains("together"), "{err}");
}

#[tokio::test]
async fn more_dictionary_keys_than_the_limit_are_refused_before_any_is_read() {
    let store = MemoryStore::new();
    for id in 1..=3 {
        put(&store, &dict_key(id), b"never read").await;
    }
    let limits = DictLimits::default().with_max_count(2);
    let err = load_dictionaries_with(&store, limits).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
    assert!(err.to_string().contains("more than 2 keys"), "{err}");
    // Within the limit, the same keys are read (and refused: they hold no dictionary).
    let err = load_dictionaries_with(&store, limits.with_max_count(3))
        .await
        .unwrap_err();
    assert_eq!(err.key(), Some("__satchel/dict/1"));
}
