//! 4. Network stalls and cuts, through a TCP proxy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use satchel_grpc::{GrpcConfig, GrpcStore};
use satchel_redis::{RedisConfig, RedisStore};
use satchel_sql::{SqlConfig, SqlStore};
use satchel_store::{Condition, MemoryStore, Store, StoreError};
use satchel_testkit::store::{service_url, unique_prefix};

use crate::PG_TABLE;
use crate::support::proxy::Proxy;
use crate::support::retry::{Errors, assert_all_readable, write_until_acked};

/// How long a stall lasts.
const STALL_FOR: Duration = Duration::from_millis(1500);

/// One call made while the network misbehaves: it must fail with a transient error within
/// `within` (a call that hangs is a failure of the client's timeouts).
async fn fails_in_time<T: std::fmt::Debug>(
    call: impl std::future::Future<Output = satchel_store::Result<T>>,
    within: Duration,
    errors: &mut Errors,
    context: &str,
) -> StoreError {
    let t = Instant::now();
    let answer = tokio::time::timeout(within + Duration::from_secs(5), call)
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{context}: no answer after {:?}: the call hangs while the network stalls",
                within + Duration::from_secs(5)
            )
        });
    let took = t.elapsed();
    let err = answer.expect_err(&format!("{context}: succeeded through a stalled network"));
    errors.saw(&err, took, context);
    assert!(
        took <= within,
        "{context}: the error took {took:?}, over the {within:?} the timeouts allow: {err}"
    );
    err
}

/// The stall scenario against `through` (a client connected through `proxy`), checking
/// the results against `direct` (a client not going through it):
///
/// 1. writes; 2. stall: a write and a read in flight fail in time, transiently; 3. resume: writes recover; 4. cut every connection: writes
///    recover; 5. cut and stall together (connections reset, new ones held): two writes
///    fail in time; 6. resume: writes recover; 7. every acknowledged write is readable,
///    through the proxy and directly.
async fn stall_and_cut<S: Store + ?Sized, D: Store + ?Sized>(
    label: &str,
    through: &S,
    direct: &D,
    proxy: &Proxy,
    within: Duration,
) {
    let started = Instant::now();
    let prefix = unique_prefix(&format!("{}-stall", through.backend()));
    let mut errors = Errors::default();
    let mut acked = Vec::new();
    let mut maybe = Vec::new();
    let batch = |name: &str| {
        (0..10)
            .map(|i| {
                (
                    format!("{prefix}{name}{i}"),
                    format!("{name} {i}").into_bytes(),
                )
            })
            .collect::<Vec<_>>()
    };
    let batches = [batch("a"), batch("b"), batch("c"), batch("d")];

    // 1.
    for (key, value) in &batches[0] {
        write_until_acked(through, key, value, &mut errors, label).await;
        acked.push((key.clone(), value.clone()));
    }
    assert_eq!(errors.count, 0, "{label}: errors before any fault");

    // 2. The network stalls under connections in use.
    proxy.stall();
    let stalled_at = Instant::now();
    let key = format!("{prefix}stalled");
    let err = fails_in_time(
        through.set(&key, b"stalled", None, Condition::Always),
        within,
        &mut errors,
        &format!("{label}: set while stalled"),
    )
    .await;
    eprintln!("{label}: set while stalled: [{}] {err}", err.kind());
    maybe.push(key);
    let err = fails_in_time(
        through.get(&batches[0][0].0),
        within,
        &mut errors,
        &format!("{label}: get while stalled"),
    )
    .await;
    eprintln!("{label}: get while stalled: [{}] {err}", err.kind());
    tokio::time::sleep(STALL_FOR.saturating_sub(stalled_at.elapsed())).await;
    proxy.resume();
    // 3. Recovery after the stall.
    for (key, value) in &batches[1] {
        write_until_acked(through, key, value, &mut errors, label).await;
        acked.push((key.clone(), value.clone()));
    }

    // 4. Every connection reset at once.
    proxy.cut();
    for (key, value) in &batches[2] {
        write_until_acked(through, key, value, &mut errors, label).await;
        acked.push((key.clone(), value.clone()));
    }

    // 5. A partition: connections reset and new ones held.
    proxy.stall();
    proxy.cut();
    let stalled_at = Instant::now();
    // The first call may meet the reset; the second has to reconnect, and is held.
    for name in ["partitioned", "partitioned-again"] {
        let key = format!("{prefix}{name}");
        let err = fails_in_time(
            through.set(&key, b"partitioned", None, Condition::Always),
            within,
            &mut errors,
            &format!("{label}: set while partitioned"),
        )
        .await;
        eprintln!(
            "{label}: set `{name}` while partitioned: [{}] {err}",
            err.kind()
        );
        maybe.push(key);
    }
    tokio::time::sleep(STALL_FOR.saturating_sub(stalled_at.elapsed())).await;
    proxy.resume();

    // 6. Recovery after the partition.
    for (key, value) in &batches[3] {
        write_until_acked(through, key, value, &mut errors, label).await;
        acked.push((key.clone(), value.clone()));
    }

    // 7.
    assert_all_readable(through, &acked, label).await;
    assert_all_readable(direct, &acked, &format!("{label}, read directly")).await;
    let mut applied = Vec::new();
    for key in &maybe {
        if direct.get(key).await.expect("read directly").is_some() {
            applied.push(key.rsplit(':').next().unwrap_or(key).to_string());
        }
        direct.delete(key).await.expect("cleanup");
    }
    for (key, _) in &acked {
        direct.delete(key).await.expect("cleanup");
    }
    errors.report(label);
    eprintln!(
        "{label}: {} writes acknowledged, {} connections through the proxy, writes that \
         failed during a fault and were applied anyway: {applied:?}; done in {:?}",
        acked.len(),
        proxy.accepted(),
        started.elapsed()
    );
}

/// The address of a `scheme://[user@]host:port/…` URL.
fn url_addr(url: &str) -> SocketAddr {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host_port = host_port.replace("localhost", "127.0.0.1");
    host_port
        .parse()
        .unwrap_or_else(|_| panic!("{url}: a 127.0.0.1:port address is expected"))
}

/// `url` with its host and port replaced by `addr`.
fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let userinfo = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
    format!("{scheme}://{}{addr}{tail}", userinfo.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_through_a_stalling_network() {
    let Some(url) = service_url("SATCHEL_TEST_REDIS_URL", "redis_through_a_stalling_network")
    else {
        return;
    };
    let proxy = Proxy::start(url_addr(&url)).await;
    let timeout = Duration::from_millis(500);
    let through = RedisStore::with_config(
        RedisConfig::new(via(&url, proxy.addr()))
            .with_response_timeout(Some(timeout))
            .with_connection_timeout(Some(timeout))
            .with_reconnect_attempts(1),
    )
    .await
    .expect("connect through the proxy");
    let direct = RedisStore::connect(&url).await.expect("connect");
    stall_and_cut(
        "redis via proxy",
        &through,
        &direct,
        &proxy,
        Duration::from_secs(3),
    )
    .await;
}

/// PostgreSQL through the proxy: a stall under a connection in use (bounded by the
/// store's operation timeout: a statement whose reply never comes would otherwise wait
/// for TCP to give up), cuts, and a partition while it must open connections (bounded by
/// the pool's acquire timeout).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_through_a_stalling_network() {
    let Some(url) = service_url(
        "SATCHEL_TEST_POSTGRES_URL",
        "postgres_through_a_stalling_network",
    ) else {
        return;
    };
    let proxy = Proxy::start(url_addr(&url)).await;
    let through = SqlStore::with_config(
        SqlConfig::new(via(&url, proxy.addr()))
            .with_table(PG_TABLE)
            .with_max_connections(2)
            .with_acquire_timeout(Duration::from_secs(1))
            .with_operation_timeout(Some(Duration::from_secs(2))),
    )
    .await
    .expect("connect through the proxy");
    let direct = SqlStore::with_config(SqlConfig::new(&url).with_table(PG_TABLE))
        .await
        .expect("connect");
    stall_and_cut(
        "postgres via proxy",
        &through,
        &direct,
        &proxy,
        Duration::from_secs(3),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_through_a_stalling_network() {
    let memory = Arc::new(MemoryStore::new());
    let server = satchel_testkit::grpc::serve(memory.clone()).await;
    let proxy = Proxy::start(server.addr).await;
    let timeout = Duration::from_millis(500);
    let through = GrpcStore::connect(
        GrpcConfig::new(proxy.addr().to_string())
            .with_request_timeout(timeout)
            .with_connect_timeout(timeout),
    )
    .await
    .expect("connect through the proxy");
    stall_and_cut(
        "grpc via proxy",
        &through,
        &*memory,
        &proxy,
        Duration::from_secs(3),
    )
    .await;
    server.stop().await;
}
