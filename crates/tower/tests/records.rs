//! The session store over each codec: records round-trip, `create` never overwrites,
//! expiry maps to the store's time to live, damaged records load as absent.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use satchel::{Codec, DynCodec, Lz4, ValueCodec, Zstd};
use satchel_store::{Condition, MemoryStore, Store};
use satchel_tower::{ExpiredDeletion, SatchelSessionStore, SessionStore};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use tower_sessions::session::{Id, Record};

/// A record with values of every JSON shape, its expiry on a whole millisecond (the stored
/// precision).
fn sample_record() -> Record {
    let now = OffsetDateTime::now_utc();
    let expiry = now + Duration::hours(1);
    let expiry = expiry
        .replace_nanosecond(expiry.millisecond() as u32 * 1_000_000)
        .unwrap();
    let data: HashMap<String, serde_json::Value> = [
        ("null", json!(null)),
        ("bool", json!(true)),
        ("int", json!(-42)),
        ("big", json!(u64::MAX)),
        ("float", json!(0.1 + 0.2)),
        ("text", json!("héllo \"world\" \u{1F600}")),
        ("list", json!([1, "two", [3.5], {"four": null}])),
        (
            "object",
            json!({"user": {"id": 7, "roles": ["admin", "dev"]}, "": ""}),
        ),
        ("", json!("empty key")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Record {
        id: Id::default(),
        data,
        expiry_date: expiry,
    }
}

async fn round_trip<K: ValueCodec + 'static>(codec: K) {
    let sessions = SatchelSessionStore::new(Arc::new(MemoryStore::new()), codec);
    let mut record = sample_record();
    sessions.create(&mut record).await.unwrap();
    assert_eq!(
        sessions.load(&record.id).await.unwrap().as_ref(),
        Some(&record)
    );

    record.data.insert("added".into(), json!({"n": 1}));
    record.data.remove("int");
    sessions.save(&record).await.unwrap();
    assert_eq!(
        sessions.load(&record.id).await.unwrap().as_ref(),
        Some(&record)
    );

    sessions.delete(&record.id).await.unwrap();
    assert_eq!(sessions.load(&record.id).await.unwrap(), None);
    // Deleting what is gone is fine.
    sessions.delete(&record.id).await.unwrap();
}

macro_rules! codec_suite {
    ($($name:ident => $codec:expr;)*) => {$(
        mod $name {
            use super::*;

            #[tokio::test]
            async fn records_round_trip() {
                round_trip($codec).await;
            }

            #[tokio::test]
            async fn records_round_trip_through_dyn_codec() {
                let spec = $codec.pipeline().to_string();
                let codec: DynCodec = spec.parse().unwrap();
                round_trip(codec).await;
            }
        }
    )*};
}

codec_suite! {
    json => Codec::json();
    msgpack_zstd => Codec::msgpack().compress(Zstd);
    bincode_lz4 => Codec::bincode().compress(Lz4);
}

#[tokio::test]
async fn compressed_records_really_are_compressed() {
    let store = Arc::new(MemoryStore::new());
    let sessions = SatchelSessionStore::new(store.clone(), Codec::msgpack().compress(Zstd));
    let mut record = sample_record();
    record.data.insert("long".into(), json!("abc".repeat(1000)));
    sessions.create(&mut record).await.unwrap();
    let raw = store
        .get(&sessions.key(&record.id))
        .await
        .unwrap()
        .unwrap()
        .value;
    assert!(raw.len() < 1000, "{} bytes", raw.len());
    assert_eq!(sessions.load(&record.id).await.unwrap(), Some(record));
}

#[tokio::test]
async fn records_written_by_an_earlier_codec_still_load() {
    let store = Arc::new(MemoryStore::new());
    let before = SatchelSessionStore::new(store.clone(), Codec::json());
    let after = SatchelSessionStore::new(store.clone(), Codec::bincode().compress(Lz4));
    let mut record = sample_record();
    before.create(&mut record).await.unwrap();
    assert_eq!(
        after.load(&record.id).await.unwrap().as_ref(),
        Some(&record)
    );
    after.save(&record).await.unwrap();
    let raw = store
        .get(&after.key(&record.id))
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(
        satchel::sniff(&raw).unwrap().pipeline,
        after.codec().pipeline()
    );
}

#[tokio::test]
async fn create_never_overwrites_and_draws_a_new_id() {
    let store = Arc::new(MemoryStore::new());
    let sessions = SatchelSessionStore::new(store.clone(), Codec::json());
    let mut first = sample_record();
    sessions.create(&mut first).await.unwrap();

    let mut second = sample_record();
    second.id = first.id;
    second.data = HashMap::from([("who".to_string(), json!("second"))]);
    sessions.create(&mut second).await.unwrap();

    assert_ne!(second.id, first.id);
    assert_eq!(sessions.load(&first.id).await.unwrap(), Some(first));
    assert_eq!(sessions.load(&second.id).await.unwrap(), Some(second));
}

#[tokio::test]
async fn save_sets_the_ttl_and_deletes_past_sessions() {
    let store = Arc::new(MemoryStore::new());
    let sessions = SatchelSessionStore::new(store.clone(), Codec::json());
    let mut record = sample_record();
    sessions.create(&mut record).await.unwrap();
    let entry = store.get(&sessions.key(&record.id)).await.unwrap().unwrap();
    let expires_at = OffsetDateTime::from(entry.expires_at.unwrap());
    assert!((expires_at - record.expiry_date).abs() < Duration::seconds(5));

    record.expiry_date = OffsetDateTime::now_utc() - Duration::seconds(1);
    sessions.save(&record).await.unwrap();
    assert!(
        store
            .get(&sessions.key(&record.id))
            .await
            .unwrap()
            .is_none()
    );

    // An already expired record is not created either.
    let mut expired = sample_record();
    expired.expiry_date = OffsetDateTime::now_utc() - Duration::seconds(1);
    sessions.create(&mut expired).await.unwrap();
    assert_eq!(sessions.load(&expired.id).await.unwrap(), None);
}

#[tokio::test]
async fn expired_sessions_do_not_load() {
    let sessions = SatchelSessionStore::new(Arc::new(MemoryStore::new()), Codec::json());
    let mut record = sample_record();
    record.expiry_date = OffsetDateTime::now_utc() + Duration::milliseconds(50);
    sessions.create(&mut record).await.unwrap();
    assert!(sessions.load(&record.id).await.unwrap().is_some());
    tokio::time::sleep(StdDuration::from_millis(120)).await;
    assert_eq!(sessions.load(&record.id).await.unwrap(), None);
    sessions.delete_expired().await.unwrap();
    assert!(sessions.store().is_empty());
}

#[tokio::test]
async fn key_prefix_is_configurable() {
    let store = Arc::new(MemoryStore::new());
    let sessions = SatchelSessionStore::new(store.clone(), Codec::json());
    assert_eq!(sessions.key_prefix(), satchel_tower::DEFAULT_KEY_PREFIX);
    let admin = sessions.clone().with_key_prefix("admin-session:");
    let mut record = sample_record();
    admin.create(&mut record).await.unwrap();
    let key = admin.key(&record.id);
    assert!(key.starts_with("admin-session:k_"), "{key}");
    assert!(store.get(&key).await.unwrap().is_some());
    assert_eq!(sessions.load(&record.id).await.unwrap(), None);
}

/// The base64url SHA-256 of `id`, or its first `bytes` bytes.
fn digest(id: &Id, bytes: usize) -> String {
    use sha2::{Digest, Sha256};
    satchel_store_core::encode_base64url(&Sha256::digest(id.to_string().as_bytes())[..bytes])
}

#[tokio::test]
async fn records_name_their_session_by_a_short_id_check() {
    let store = Arc::new(MemoryStore::new());
    let sessions = SatchelSessionStore::new(store.clone(), Codec::json());
    let mut record = sample_record();
    sessions.create(&mut record).await.unwrap();
    let stored = store.get(&sessions.key(&record.id)).await.unwrap().unwrap();
    let layout: serde_json::Value = Codec::json().decode(&stored.value).unwrap();
    // 64 bits of the id's hash: the key holds all 256 already.
    assert_eq!(
        layout["id"],
        json!(format!("c_{}", digest(&record.id, 8))),
        "{layout}"
    );
    assert_eq!(layout["id"].as_str().unwrap().len(), 13);

    // Records that name their session by its whole hash (written before) still load, and
    // the id check of another session is refused as much as its hash is.
    let id = Id::default();
    let key = sessions.key(&id);
    let other = Id::default();
    for (name, ok) in [
        (format!("h_{}", digest(&id, 32)), true),
        (format!("c_{}", digest(&other, 8)), false),
        (format!("h_{}", digest(&other, 32)), false),
    ] {
        let mut stored = sample_record_stored(id);
        stored["id"] = json!(name);
        let bytes = Codec::json().encode(&stored).unwrap();
        store
            .set(&key, &bytes, None, Condition::Always)
            .await
            .unwrap();
        assert_eq!(
            sessions.load(&id).await.unwrap().is_some(),
            ok,
            "a record naming {name}"
        );
    }
}

/// Captures what `tracing` writes, to check what a warning says.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_damaged_record_loads_as_absent_is_logged_by_key_and_left_in_place() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let store = Arc::new(MemoryStore::new());
    let sessions = SatchelSessionStore::new(store.clone(), Codec::bincode().compress(Lz4));
    let id = Id::default();
    let key = sessions.key(&id);
    // The layout below is the real one: undamaged, it loads (through the JSON header).
    let good = Codec::json().encode(&sample_record_stored(id)).unwrap();
    store
        .set(&key, &good, None, Condition::Always)
        .await
        .unwrap();
    let loaded = sessions.load(&id).await.unwrap().unwrap();
    assert_eq!(loaded.data["flag"], json!(true));

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not satchel bytes",
            b"SECRET-VALUE, not a record".to_vec(),
            "header",
        ),
        (
            "a satchel value of another type",
            Codec::json().encode(&"SECRET-VALUE").unwrap(),
            "does not decode in this layout",
        ),
        (
            "a record with a value that is not JSON",
            {
                let mut bad = good.clone();
                let at = bad.windows(4).position(|w| w == b"true").unwrap();
                bad[at..at + 4].copy_from_slice(b"tru!");
                bad
            },
            "not valid JSON text",
        ),
        (
            "a record filed under another id",
            Codec::json()
                .encode(&sample_record_stored(Id::default()))
                .unwrap(),
            "another session id",
        ),
        (
            "truncated",
            {
                let full = sessions.codec().encode(&sample_record_stored(id)).unwrap();
                full[..full.len() / 2].to_vec()
            },
            "WARN",
        ),
    ];
    for (what, bytes, reason) in cases {
        logs.0.lock().unwrap().clear();
        store
            .set(&key, &bytes, None, Condition::Always)
            .await
            .unwrap();
        assert_eq!(sessions.load(&id).await.unwrap(), None, "{what}");
        assert_eq!(
            store.get(&key).await.unwrap().unwrap().value,
            bytes,
            "{what}"
        );
        let text = logs.text();
        assert!(text.contains("WARN"), "{what}: {text}");
        assert!(text.contains(&key), "{what}: {text}");
        assert!(text.contains(reason), "{what}: {text}");
        assert!(!text.contains("SECRET"), "{what}: {text}");
    }
}

/// A record for session `id` in the stored layout, with a `true` value to damage.
fn sample_record_stored(id: Id) -> serde_json::Value {
    json!({
        "id": id.to_string(),
        "expiry_unix_ms": (OffsetDateTime::now_utc() + Duration::hours(1)).unix_timestamp() * 1000,
        "data": {"flag": "true", "SECRET": "\"SECRET-VALUE\""},
    })
}

#[tokio::test]
async fn store_errors_become_backend_errors_with_their_message() {
    // A store that is down for every operation.
    #[derive(Debug)]
    struct Down;
    impl Store for Down {
        fn get<'a>(
            &'a self,
            key: &'a str,
        ) -> satchel_store::BoxFuture<'a, satchel_store::Result<Option<satchel_store::Entry>>>
        {
            Box::pin(async move { Err(down(key)) })
        }
        fn set<'a>(
            &'a self,
            key: &'a str,
            _: &'a [u8],
            _: Option<StdDuration>,
            _: Condition,
        ) -> satchel_store::BoxFuture<'a, satchel_store::Result<satchel_store::Version>> {
            Box::pin(async move { Err(down(key)) })
        }
        fn delete<'a>(
            &'a self,
            key: &'a str,
        ) -> satchel_store::BoxFuture<'a, satchel_store::Result<bool>> {
            Box::pin(async move { Err(down(key)) })
        }
        fn delete_if<'a>(
            &'a self,
            key: &'a str,
            _: satchel_store::Version,
        ) -> satchel_store::BoxFuture<'a, satchel_store::Result<bool>> {
            Box::pin(async move { Err(down(key)) })
        }
        fn touch<'a>(
            &'a self,
            key: &'a str,
            _: StdDuration,
        ) -> satchel_store::BoxFuture<'a, satchel_store::Result<bool>> {
            Box::pin(async move { Err(down(key)) })
        }
        fn backend(&self) -> &'static str {
            "down"
        }
    }
    fn down(key: &str) -> satchel_store::StoreError {
        satchel_store::StoreError::new(
            satchel_store::StoreErrorKind::Unavailable,
            "connection refused",
        )
        .with_key(key)
        .with_backend("down")
        .with_source(io::Error::other("os error 111"))
    }

    let sessions = SatchelSessionStore::new(Down, Codec::json());
    let mut record = sample_record();
    let errors = [
        sessions.create(&mut record).await.unwrap_err(),
        sessions.save(&record).await.unwrap_err(),
        sessions.load(&record.id).await.unwrap_err(),
        sessions.delete(&record.id).await.unwrap_err(),
    ];
    for e in errors {
        match e {
            tower_sessions::session_store::Error::Backend(message) => assert_eq!(
                message,
                format!(
                    "down: key `{}`: connection refused: os error 111",
                    sessions.key(&record.id)
                )
            ),
            other => panic!("{other:?}"),
        }
    }
}

/// Ids at rest: the store held each session under its id (usable as a cookie), the record
/// named the id, and logs and errors named the key. Now only a hash of the id is stored,
/// and a record 0.1 kept under the id is read and moved.
#[tokio::test]
async fn regression_ids_at_rest() {
    let store = Arc::new(MemoryStore::new());
    let sessions = SatchelSessionStore::new(store.clone(), Codec::json());
    let mut record = sample_record();
    sessions.create(&mut record).await.unwrap();
    let id = record.id.to_string();
    let keys = satchel_store::Scan::scan(&*store, "", 100).await.unwrap();
    assert_eq!(keys.len(), 1);
    for key in &keys {
        assert!(!key.contains(&id), "store key `{key}` holds the id");
        let value = store.get(key).await.unwrap().unwrap().value;
        assert!(
            !String::from_utf8_lossy(&value).contains(&id),
            "the record holds the id"
        );
    }
    assert!(!sessions.key(&record.id).contains(&id));

    // A 0.1 record: under the id, naming the id.
    let old = Id::default();
    let legacy = format!("{}{old}", satchel_tower::DEFAULT_KEY_PREFIX);
    let bytes = Codec::json().encode(&sample_record_stored(old)).unwrap();
    store
        .set(
            &legacy,
            &bytes,
            Some(StdDuration::from_secs(600)),
            Condition::Always,
        )
        .await
        .unwrap();
    let loaded = sessions
        .load(&old)
        .await
        .unwrap()
        .expect("a 0.1 record is read");
    assert_eq!(loaded.data["flag"], json!(true));
    assert!(store.get(&legacy).await.unwrap().is_none(), "not moved");
    assert!(store.get(&sessions.key(&old)).await.unwrap().is_some());
    assert_eq!(sessions.load(&old).await.unwrap(), Some(loaded));
    sessions.delete(&old).await.unwrap();
    assert_eq!(sessions.load(&old).await.unwrap(), None);
}

/// Keys were the prefix, `h_` and the whole SHA-256 of the id (59 bytes with the default
/// prefix, a 64-byte allocation on Redis); now `k_` and its first 128 bits (38 bytes, a
/// 48-byte one). A session kept under the whole-hash key is read, moved to its key (with
/// its time to live) and deleted from both.
#[tokio::test]
async fn sessions_under_the_whole_hash_key_are_read_and_moved() {
    let store = Arc::new(MemoryStore::new());
    let sessions = SatchelSessionStore::new(store.clone(), Codec::json());
    let id = Id::default();
    let key = sessions.key(&id);
    assert_eq!(
        key,
        format!("tower-session:k_{}", digest(&id, 16)),
        "128 bits of the hash"
    );
    assert_eq!(key.len(), 38);

    let whole = format!("tower-session:h_{}", digest(&id, 32));
    let mut stored = sample_record_stored(id);
    stored["id"] = json!(format!("h_{}", digest(&id, 32)));
    let bytes = Codec::json().encode(&stored).unwrap();
    store
        .set(
            &whole,
            &bytes,
            Some(StdDuration::from_secs(600)),
            Condition::Always,
        )
        .await
        .unwrap();
    let loaded = sessions
        .load(&id)
        .await
        .unwrap()
        .expect("a session under the whole-hash key is read");
    assert_eq!(loaded.data["flag"], json!(true));
    assert!(store.get(&whole).await.unwrap().is_none(), "not moved");
    let moved = store.get(&key).await.unwrap().expect("moved to its key");
    assert!(moved.expires_at.is_some(), "the time to live moved with it");
    assert_eq!(sessions.load(&id).await.unwrap(), Some(loaded));

    // A logout deletes whichever key holds the session.
    store
        .set(
            &whole,
            &bytes,
            Some(StdDuration::from_secs(600)),
            Condition::Always,
        )
        .await
        .unwrap();
    sessions.delete(&id).await.unwrap();
    assert!(store.get(&whole).await.unwrap().is_none());
    assert!(store.get(&key).await.unwrap().is_none());
    assert_eq!(sessions.load(&id).await.unwrap(), None);
}
