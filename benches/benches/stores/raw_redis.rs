//! The reference: the raw redis-rs client in the same run.

#[allow(unused_imports)]
use super::*;

pub(crate) async fn bench_raw_redis(
    settings: &Settings,
    out: &mut Vec<String>,
    url: &str,
    bytes: usize,
) {
    let client = match redis::Client::open(url) {
        Ok(c) => c,
        Err(e) => return println!("skipped raw redis: {e}"),
    };
    let conn = match client.get_multiplexed_async_connection().await {
        Ok(c) => c,
        Err(e) => return println!("skipped raw redis: {e}"),
    };
    let value: Arc<Vec<u8>> = Arc::new(vec![b'x'; bytes]);
    let prefix = format!("satchel-bench-raw:{}:{bytes}:", std::process::id());
    let keys: Arc<Vec<String>> = Arc::new((0..KEYS).map(|i| format!("{prefix}{i}")).collect());
    // Every key exists before anything is measured (a short run sets only a few).
    let mut c = conn.clone();
    for k in keys.iter() {
        let () = redis::cmd("SET")
            .arg(k)
            .arg(&value[..])
            .query_async(&mut c)
            .await
            .expect("prefill");
    }
    for concurrency in [1, 50] {
        let (c, k, v) = (conn.clone(), keys.clone(), value.clone());
        let set = median_of(settings, concurrency, move |_, i| {
            let (mut c, k, v) = (c.clone(), k.clone(), v.clone());
            async move {
                let () = redis::cmd("SET")
                    .arg(&k[i])
                    .arg(&v[..])
                    .query_async(&mut c)
                    .await
                    .expect("SET");
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": "redis", "client": "raw redis-rs", "op": "set", "c": concurrency, "bytes": bytes}),
            &set,
        );
        let (c, k) = (conn.clone(), keys.clone());
        let get = median_of(settings, concurrency, move |_, i| {
            let (mut c, k) = (c.clone(), k.clone());
            async move {
                let v: Option<Vec<u8>> = redis::cmd("GET")
                    .arg(&k[i])
                    .query_async(&mut c)
                    .await
                    .expect("GET");
                assert!(v.is_some());
            }
        })
        .await;
        emit(
            out,
            serde_json::json!({"backend": "redis", "client": "raw redis-rs", "op": "get", "c": concurrency, "bytes": bytes}),
            &get,
        );
    }
    let mut c = conn.clone();
    let _: Result<(), _> = redis::cmd("DEL").arg(&keys[..]).query_async(&mut c).await;
}
