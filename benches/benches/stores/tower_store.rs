//! satchel-tower next to tower-sessions-redis-store on the same Redis.

#[allow(unused_imports)]
use super::*;

/// A tower-sessions record holding `value` under one key, as an axum handler would.
pub(crate) fn tower_data(value: &Session) -> std::collections::HashMap<String, serde_json::Value> {
    std::collections::HashMap::from([(
        "record".to_string(),
        serde_json::to_value(value).expect("a JSON value"),
    )])
}

/// Bytes Redis keeps for `key` (`MEMORY USAGE`).
pub(crate) async fn memory_usage(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> u64 {
    redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(key)
        .arg("SAMPLES")
        .arg(0)
        .query_async(conn)
        .await
        .expect("MEMORY USAGE")
}

/// satchel-tower (json+zstd and msgpack+zstd over satchel's Redis store) next to
/// tower-sessions-redis-store (fred, MessagePack, plain SET/GET), both through their
/// `SessionStore` implementations, on the same Redis, same records: save and load ops/s
/// at c = 1 and 50, and the bytes Redis keeps per session.
pub(crate) async fn bench_tower(
    settings: &Settings,
    out: &mut Vec<String>,
    url: &str,
    value: &Session,
) {
    use tower_sessions_redis_store::fred::prelude::{ClientLike, Config, Pool};
    const SESSIONS: usize = 200;
    let expiry = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let data = tower_data(value);
    let raw = match redis::Client::open(url) {
        Ok(c) => c.get_multiplexed_async_connection().await,
        Err(e) => return println!("skipped tower-sessions: {e}"),
    };
    let Ok(mut raw) = raw else {
        return println!("skipped tower-sessions: Redis unreachable");
    };

    // Theirs.
    let config = match Config::from_url(url) {
        Ok(c) => c,
        Err(e) => return println!("skipped tower-sessions: {e}"),
    };
    let pool = Pool::new(config, None, None, None, 6).expect("fred pool");
    pool.init().await.expect("fred connects");
    let theirs = Arc::new(tower_sessions_redis_store::RedisStore::new(pool.clone()));
    let mut their_ids = Vec::new();
    for _ in 0..SESSIONS {
        use tower_sessions_core_014::SessionStore as _;
        let mut record = tower_sessions_core_014::session::Record {
            id: tower_sessions_core_014::session::Id::default(),
            data: data.clone(),
            expiry_date: expiry,
        };
        theirs.create(&mut record).await.expect("create");
        their_ids.push(record.id);
    }
    let their_bytes = memory_usage(&mut raw, &their_ids[0].to_string()).await;
    let their_ids = Arc::new(their_ids);
    for concurrency in [1, 50] {
        let (st, ids, d) = (theirs.clone(), their_ids.clone(), data.clone());
        let save = median_of(settings, concurrency, move |_, i| {
            let (st, ids, d) = (st.clone(), ids.clone(), d.clone());
            async move {
                use tower_sessions_core_014::SessionStore as _;
                let record = tower_sessions_core_014::session::Record {
                    id: ids[i % SESSIONS],
                    data: d,
                    expiry_date: expiry,
                };
                st.save(&record).await.expect("save");
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": "redis", "client": "tower-sessions-redis-store", "op": "session save", "c": concurrency, "bytes": their_bytes}),
            &save,
        );
        let (st, ids) = (theirs.clone(), their_ids.clone());
        let load = median_of(settings, concurrency, move |_, i| {
            let (st, ids) = (st.clone(), ids.clone());
            async move {
                use tower_sessions_core_014::SessionStore as _;
                assert!(st.load(&ids[i % SESSIONS]).await.expect("load").is_some());
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": "redis", "client": "tower-sessions-redis-store", "op": "session load", "c": concurrency, "bytes": their_bytes}),
            &load,
        );
    }
    let keys: Vec<String> = their_ids.iter().map(ToString::to_string).collect();
    let _: Result<(), _> = redis::cmd("DEL").arg(&keys).query_async(&mut raw).await;
    let _ = pool.quit().await;

    // Ours, per codec: plain, and MessagePack + zstd with a dictionary trained the way
    // `satchel train` trains one, on other sessions written through satchel-tower.
    let dict_file = match train_tower_dict(url, expiry).await {
        Ok(path) => Some(path),
        Err(e) => {
            println!("skipped satchel-tower with a dictionary: {e}");
            None
        }
    };
    let mut specs = vec![
        ("json+zstd".to_string(), "json+zstd".to_string()),
        ("msgpack+zstd".to_string(), "msgpack+zstd".to_string()),
    ];
    if let Some(path) = &dict_file {
        specs.push((
            "msgpack+zstd@dict".to_string(),
            format!("msgpack+zstd@dict={}", path.display()),
        ));
    }
    for (label, spec) in specs {
        let store = match satchel_store::open(url).await {
            Ok(s) => s,
            Err(e) => return println!("skipped satchel-tower: {}", satchel::Report(&e)),
        };
        // The default key prefix, as an app that does not set one has (theirs has none).
        let ours = Arc::new(satchel_tower::SatchelSessionStore::new(
            store,
            spec.parse::<satchel::DynCodec>().expect("spec"),
        ));
        let mut ids = Vec::new();
        for _ in 0..SESSIONS {
            use tower_sessions_core::SessionStore as _;
            let mut record = tower_sessions_core::session::Record {
                id: tower_sessions_core::session::Id::default(),
                data: data.clone(),
                expiry_date: expiry,
            };
            ours.create(&mut record).await.expect("create");
            ids.push(record.id);
        }
        let our_bytes = memory_usage(&mut raw, &ours.key(&ids[0])).await;
        let ids = Arc::new(ids);
        let client = format!("satchel-tower {label}");
        for concurrency in [1, 50] {
            let (st, ids2, d) = (ours.clone(), ids.clone(), data.clone());
            let save = median_of(settings, concurrency, move |_, i| {
                let (st, ids, d) = (st.clone(), ids2.clone(), d.clone());
                async move {
                    use tower_sessions_core::SessionStore as _;
                    let record = tower_sessions_core::session::Record {
                        id: ids[i % SESSIONS],
                        data: d,
                        expiry_date: expiry,
                    };
                    st.save(&record).await.expect("save");
                }
            })
            .await;
            emit(
                out,
                serde_json::json!({"backend": "redis", "client": client, "op": "session save", "c": concurrency, "bytes": our_bytes}),
                &save,
            );
            let (st, ids2) = (ours.clone(), ids.clone());
            let load = median_of(settings, concurrency, move |_, i| {
                let (st, ids) = (st.clone(), ids2.clone());
                async move {
                    use tower_sessions_core::SessionStore as _;
                    assert!(st.load(&ids[i % SESSIONS]).await.expect("load").is_some());
                }
            })
            .await;
            emit(
                out,
                serde_json::json!({"backend": "redis", "client": client, "op": "session load", "c": concurrency, "bytes": our_bytes}),
                &load,
            );
        }
        for id in ids.iter() {
            use tower_sessions_core::SessionStore as _;
            let _ = ours.delete(id).await;
        }
    }
    if let Some(path) = dict_file {
        let _ = std::fs::remove_file(path);
    }
}

/// A zstd dictionary for satchel-tower's MessagePack records, trained as `satchel train
/// --store … --prefix …` trains one: 2,000 other sessions shaped like the measured one
/// (different seeds) are saved through satchel-tower with `msgpack`, their payloads read
/// back from the store and handed to zstd's trainer (the CLI's default size: 16 KiB, or an
/// eighth of the samples if smaller). Written to a temporary file for an `@dict=FILE` spec;
/// the training sessions are deleted.
async fn train_tower_dict(
    url: &str,
    expiry: time::OffsetDateTime,
) -> Result<std::path::PathBuf, String> {
    use tower_sessions_core::SessionStore as _;
    let store = satchel_store::open(url)
        .await
        .map_err(|e| satchel::Report(&e).to_string())?;
    let prefix = format!("satchel-bench-tower-train:{}:", std::process::id());
    let plain = satchel_tower::SatchelSessionStore::new(
        store.clone(),
        "msgpack".parse::<satchel::DynCodec>().expect("spec"),
    )
    .with_key_prefix(prefix);
    let mut samples = Vec::new();
    let mut ids = Vec::new();
    for session in payloads::sessions_like_750(1_000_000, 2_000) {
        let mut record = tower_sessions_core::session::Record {
            id: tower_sessions_core::session::Id::default(),
            data: tower_data(&session),
            expiry_date: expiry,
        };
        plain.create(&mut record).await.map_err(|e| e.to_string())?;
        let stored = store
            .get(&plain.key(&record.id))
            .await
            .map_err(|e| satchel::Report(&e).to_string())?
            .ok_or("a training session vanished")?;
        let (_, payload) = satchel::Header::parse(&stored.value).map_err(|e| e.to_string())?;
        samples.push(payload.to_vec());
        ids.push(record.id);
    }
    for id in &ids {
        let _ = plain.delete(id).await;
    }
    let total: usize = samples.iter().map(Vec::len).sum();
    let size = satchel::DEFAULT_DICT_SIZE.min(total / 8).max(256);
    let dict = satchel::train(&samples, size).map_err(|e| e.to_string())?;
    let path =
        std::env::temp_dir().join(format!("satchel-bench-tower-{}.dict", std::process::id()));
    std::fs::write(&path, dict).map_err(|e| e.to_string())?;
    Ok(path)
}
