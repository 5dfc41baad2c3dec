//! satchel's stores: raw bytes and typed json+zstd values, directly and behind a gRPC server.

#[allow(unused_imports)]
use super::*;

pub(crate) type Typed = CodecStore<Prefixed<DynStore>, satchel::Codec<satchel::Json, Zstd>>;

pub(crate) async fn bench_store(
    settings: &Settings,
    out: &mut Vec<String>,
    backend: &str,
    url: &str,
    value: &Arc<Session>,
    with_sessions: bool,
) {
    // The SQL pools get one connection per task at c = 50, as pgbench gets with -c 50
    // (unless SATCHEL_BENCH_SQL_POOL says otherwise).
    let opened = if backend == "postgres" || backend == "mysql" {
        satchel_sql::SqlStore::with_config(
            satchel_sql::SqlConfig::new(url).with_max_connections(sql_pool()),
        )
        .await
        .map(|s| Arc::new(satchel_store::Instrumented::new(s)) as DynStore)
    } else {
        satchel_store::open(url).await
    };
    let store = match opened {
        Ok(s) => s,
        Err(e) => {
            println!("skipped {backend}: {}", satchel::Report(&e));
            return;
        }
    };
    let prefix = format!("satchel-bench:{}:", std::process::id());
    let typed: Arc<Typed> = Arc::new(
        Codec::json()
            .compress(Zstd)
            .wrap(Prefixed::new(store, prefix)),
    );
    let encoded = typed.codec().encode(&**value).expect("encodes").len();
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("k{i}")).collect());
    for k in keys.iter() {
        typed.set(k, &**value, None).await.expect("prefill");
    }
    for concurrency in [1, 50] {
        let (t, k, v) = (typed.clone(), keys.clone(), value.clone());
        let set = median_of(settings, concurrency, move |_, i| {
            let (t, k, v) = (t.clone(), k.clone(), v.clone());
            async move {
                t.set(&k[i], &*v, None).await.expect("set");
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": "satchel json+zstd", "op": "set", "c": concurrency, "bytes": encoded}),
            &set,
        );
        let (t, k) = (typed.clone(), keys.clone());
        let get = median_of(settings, concurrency, move |_, i| {
            let (t, k) = (t.clone(), k.clone());
            async move {
                let v: Option<Session> = t.get(&k[i]).await.expect("get");
                assert!(v.is_some());
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": "satchel json+zstd", "op": "get", "c": concurrency, "bytes": encoded}),
            &get,
        );
        // Read-modify-write with compare-and-set (retried on conflict): each task on keys
        // of its own stride, so c = 50 measures throughput more than contention.
        let (t, k) = (typed.clone(), keys.clone());
        let update = median_of(settings, concurrency, move |_, i| {
            let (t, k) = (t.clone(), k.clone());
            async move {
                let _: Session = t
                    .update(&k[i], None, |v: Option<Session>| v.expect("prefilled"))
                    .await
                    .expect("update");
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": "satchel json+zstd", "op": "update", "c": concurrency, "bytes": encoded}),
            &update,
        );
    }
    if !with_sessions {
        for k in keys.iter() {
            let _ = typed.delete(k).await;
        }
        return;
    }
    // Sessions: load + modify + save, one session per task, next to the bare CodecStore
    // get + set of the same record on the same store.
    let sessions = satchel_session::Sessions::new(
        typed.store().inner().clone(),
        Codec::json().compress(Zstd),
        satchel_session::SessionConfig::default()
            .with_key_prefix(format!("satchel-bench-session:{}:", std::process::id())),
    );
    let mut ids = Vec::new();
    for _ in 0..50 {
        let mut s = sessions.create();
        s.insert("record", &**value).expect("encodes");
        s.insert("n", &0u64).expect("encodes");
        s.save().await.expect("session saved");
        ids.push(s.id().expect("saved").to_string());
    }
    let ids = Arc::new(ids);
    for concurrency in [1, 50] {
        let (ss, ids2) = (sessions.clone(), ids.clone());
        let rt = median_of(settings, concurrency, move |t, _| {
            let (ss, ids) = (ss.clone(), ids2.clone());
            async move {
                let mut s = ss.connect(&ids[t]).await.expect("connect");
                let n: u64 = s.get("n").expect("decodes").unwrap_or(0);
                s.insert("n", &(n + 1)).expect("encodes");
                s.save().await.expect("save");
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": "satchel session", "op": "load+modify+save", "c": concurrency, "bytes": encoded}),
            &rt,
        );
        let (t, k, v) = (typed.clone(), keys.clone(), value.clone());
        let getset = median_of(settings, concurrency, move |task, _| {
            let (t, k, v) = (t.clone(), k.clone(), v.clone());
            async move {
                let got: Option<Session> = t.get(&k[task]).await.expect("get");
                assert!(got.is_some());
                t.set(&k[task], &*v, None).await.expect("set");
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": "satchel json+zstd", "op": "get+set", "c": concurrency, "bytes": encoded}),
            &getset,
        );
    }
    for id in ids.iter() {
        let _ = sessions.delete(id).await;
    }
    for k in keys.iter() {
        let _ = typed.delete(k).await;
    }
}

/// Raw bytes on PostgreSQL through a store with the change feed (its own table, dropped
/// afterwards with the trigger's function), one subscriber counting the notices.
pub(crate) async fn bench_pg_feed(
    settings: &Settings,
    out: &mut Vec<String>,
    url: &str,
    bytes: usize,
) {
    use satchel_store::Watch;
    let table = format!("satchel_bench_feed_{}", std::process::id());
    let opened = satchel_sql::SqlStore::with_config(
        satchel_sql::SqlConfig::new(url)
            .with_table(&table)
            .with_max_connections(sql_pool())
            .with_change_feed(true),
    )
    .await;
    let store = match opened {
        Ok(s) => Arc::new(s),
        Err(e) => {
            println!(
                "skipped the change feed on postgres: {}",
                satchel::Report(&e)
            );
            return;
        }
    };
    let mut stream = store.watch("").await.expect("watch");
    let drained = tokio::spawn(async move { while stream.next().await.is_some() {} });
    bench_store_bytes(settings, out, "postgres+feed", store.clone(), bytes).await;
    drained.abort();
    store.close().await;
    drop_pg_table(url, &table).await;
}

async fn drop_pg_table(url: &str, table: &str) {
    use sqlx::Connection;
    let Ok(mut conn) = sqlx::PgConnection::connect(url).await else {
        return;
    };
    for sql in [
        format!("DROP TABLE IF EXISTS \"{table}\""),
        format!("DROP FUNCTION IF EXISTS \"{table}_notify\""),
    ] {
        let _ = sqlx::query(&sql).execute(&mut conn).await;
    }
}
