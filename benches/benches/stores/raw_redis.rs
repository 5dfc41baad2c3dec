//! The references: the raw redis-rs client in the same run, alone (plain GET/SET of the
//! stored bytes) and with the same json+zstd calls written by hand; satchel's Redis store
//! moving raw bytes (no codec) next to it. On a single Redis and on a Redis Cluster.

#[allow(unused_imports)]
use super::*;

use redis::aio::ConnectionLike;
use satchel_benches::{raw_compress, raw_deserialize, raw_serialize, raw_zstd_decompress};
use satchel_store::{Condition, Store};

/// Where the raw client connects: one Redis, or a cluster (its seed nodes).
pub(crate) enum RawTarget<'a> {
    Single(&'a str),
    Cluster(&'a [String]),
}

/// A raw redis-rs connection: multiplexed to one Redis, or a cluster connection.
#[derive(Clone)]
pub(crate) enum RawConn {
    Single(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl RawConn {
    pub(crate) async fn open(target: &RawTarget<'_>) -> Result<Self, redis::RedisError> {
        Ok(match target {
            RawTarget::Single(url) => Self::Single(
                redis::Client::open(*url)?
                    .get_multiplexed_async_connection()
                    .await?,
            ),
            RawTarget::Cluster(nodes) => Self::Cluster(
                redis::cluster::ClusterClient::new(nodes.iter().map(String::as_str))?
                    .get_async_connection()
                    .await?,
            ),
        })
    }

    async fn query<T: redis::FromRedisValue>(&mut self, cmd: &redis::Cmd) -> T {
        let value = match self {
            Self::Single(c) => c.req_packed_command(cmd).await,
            Self::Cluster(c) => c.req_packed_command(cmd).await,
        }
        .expect("redis answers");
        redis::from_redis_value(value).expect("the expected reply")
    }
}

/// The backend label of a target in the report.
fn label(target: &RawTarget<'_>) -> &'static str {
    match target {
        RawTarget::Single(_) => "redis",
        RawTarget::Cluster(_) => "redis-cluster",
    }
}

/// Raw redis-rs GET/SET of `bytes` bytes (no codec): client "raw redis-rs".
pub(crate) async fn bench_raw_redis(
    settings: &Settings,
    out: &mut Vec<String>,
    target: &RawTarget<'_>,
    bytes: usize,
) {
    let conn = match RawConn::open(target).await {
        Ok(c) => c,
        Err(e) => return println!("skipped raw redis: {e}"),
    };
    let value: Arc<Vec<u8>> = Arc::new(vec![b'x'; bytes]);
    let keys = prefill(&conn, "raw", bytes, &value).await;
    let backend = label(target);
    for concurrency in [1, 50] {
        let (c, k, v) = (conn.clone(), keys.clone(), value.clone());
        let set = median_of(settings, concurrency, move |_, i| {
            let (mut c, k, v) = (c.clone(), k.clone(), v.clone());
            async move {
                let () = c.query(redis::cmd("SET").arg(&k[i]).arg(&v[..])).await;
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": "raw redis-rs", "op": "set", "c": concurrency, "bytes": bytes}),
            &set,
        );
        let (c, k) = (conn.clone(), keys.clone());
        let get = median_of(settings, concurrency, move |_, i| {
            let (mut c, k) = (c.clone(), k.clone());
            async move {
                let v: Option<Vec<u8>> = c.query(redis::cmd("GET").arg(&k[i])).await;
                assert!(v.is_some());
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": "raw redis-rs", "op": "get", "c": concurrency, "bytes": bytes}),
            &get,
        );
    }
    cleanup(&conn, &keys).await;
}

/// Raw redis-rs plus the same json+zstd written by hand (`serde_json::to_vec` +
/// `zstd::bulk::compress(_, 3)`; `zstd::bulk::decompress` + `serde_json::from_slice`): the
/// fair reference for a typed pipeline, same bytes and same CPU. Client "raw redis-rs +
/// json+zstd".
pub(crate) async fn bench_raw_redis_codec(
    settings: &Settings,
    out: &mut Vec<String>,
    target: &RawTarget<'_>,
    value: &Arc<Session>,
    encoded: usize,
) {
    let conn = match RawConn::open(target).await {
        Ok(c) => c,
        Err(e) => return println!("skipped raw redis + json+zstd: {e}"),
    };
    let stored = Arc::new(raw_compress("zstd", raw_serialize("json", &**value)));
    let keys = prefill(&conn, "raw-codec", stored.len(), &stored).await;
    let backend = label(target);
    let client = "raw redis-rs + json+zstd";
    for concurrency in [1, 50] {
        let (c, k, v) = (conn.clone(), keys.clone(), value.clone());
        let set = median_of(settings, concurrency, move |_, i| {
            let (mut c, k, v) = (c.clone(), k.clone(), v.clone());
            async move {
                let bytes = raw_compress("zstd", raw_serialize("json", &*v));
                let () = c.query(redis::cmd("SET").arg(&k[i]).arg(bytes)).await;
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": client, "op": "set", "c": concurrency, "bytes": encoded}),
            &set,
        );
        let (c, k) = (conn.clone(), keys.clone());
        let get = median_of(settings, concurrency, move |_, i| {
            let (mut c, k) = (c.clone(), k.clone());
            async move {
                let bytes: Vec<u8> = c.query(redis::cmd("GET").arg(&k[i])).await;
                let session: Session = raw_deserialize("json", &raw_zstd_decompress(&bytes));
                std::hint::black_box(session);
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": client, "op": "get", "c": concurrency, "bytes": encoded}),
            &get,
        );
    }
    cleanup(&conn, &keys).await;
}

/// satchel's `RedisStore` moving `bytes` raw bytes, no codec: client "satchel bytes",
/// next to "raw redis-rs" of the same size.
pub(crate) async fn bench_redis_bytes(
    settings: &Settings,
    out: &mut Vec<String>,
    backend: &str,
    url: &str,
    bytes: usize,
) {
    match satchel_redis::RedisStore::connect(url).await {
        Ok(s) => bench_store_bytes(settings, out, backend, Arc::new(s), bytes).await,
        Err(e) => println!(
            "skipped satchel bytes on {backend}: {}",
            satchel::Report(&e)
        ),
    }
}

/// A store (concrete type, no `dyn`) moving `bytes` raw bytes, no codec: client "satchel
/// bytes", next to the raw client or tool of the same size.
pub(crate) async fn bench_store_bytes<S: Store + 'static>(
    settings: &Settings,
    out: &mut Vec<String>,
    backend: &str,
    store: Arc<S>,
    bytes: usize,
) {
    let value: Arc<Vec<u8>> = Arc::new(vec![b'x'; bytes]);
    let prefix = format!("satchel-bench-bytes:{}:{bytes}:", std::process::id());
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("{prefix}{i}")).collect());
    for k in keys.iter() {
        store
            .set(k, &value, None, Condition::Always)
            .await
            .expect("prefill");
    }
    for concurrency in [1, 50] {
        let (s, k, v) = (store.clone(), keys.clone(), value.clone());
        let set = median_of(settings, concurrency, move |_, i| {
            let (s, k, v) = (s.clone(), k.clone(), v.clone());
            async move {
                s.set(&k[i], &v, None, Condition::Always)
                    .await
                    .expect("set");
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": "satchel bytes", "op": "set", "c": concurrency, "bytes": bytes}),
            &set,
        );
        let (s, k) = (store.clone(), keys.clone());
        let get = median_of(settings, concurrency, move |_, i| {
            let (s, k) = (s.clone(), k.clone());
            async move {
                assert!(s.get(&k[i]).await.expect("get").is_some());
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": backend, "client": "satchel bytes", "op": "get", "c": concurrency, "bytes": bytes}),
            &get,
        );
    }
    for k in keys.iter() {
        let _ = store.delete(k).await;
    }
}

/// Every key of a reference run exists before anything is measured (a short run sets only
/// a few).
async fn prefill(conn: &RawConn, name: &str, bytes: usize, value: &[u8]) -> Arc<Vec<String>> {
    let prefix = format!("satchel-bench-{name}:{}:{bytes}:", std::process::id());
    let keys: Vec<String> = (0..KEYS).map(|i| format!("{prefix}{i}")).collect();
    let mut c = conn.clone();
    for k in &keys {
        let () = c.query(redis::cmd("SET").arg(k).arg(value)).await;
    }
    Arc::new(keys)
}

/// One DEL per key: on a cluster the keys live in different slots.
async fn cleanup(conn: &RawConn, keys: &[String]) {
    let mut c = conn.clone();
    for k in keys {
        let _: i64 = c.query(redis::cmd("DEL").arg(k)).await;
    }
}
