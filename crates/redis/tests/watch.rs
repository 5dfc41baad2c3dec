//! The change feed (`Watch`) against live servers: keyspace notifications of any client's
//! writes, deletions and expiries; a flood dropped and counted; a server without
//! notifications refused with the command to run; a lost connection subscribed again.
//!
//! Each test runs a `redis-server` of its own on a free port (`OwnRedis`), started with
//! keyspace notifications off: the tests turn them on there
//! (`RedisConfig::with_keyspace_events_enabled`) or check that they are refused, and kill
//! its connections, without touching the shared server.

use std::time::Duration;

use redis::AsyncCommands;
use satchel_redis::{
    ChangeKind, ChangeStream, Condition, KeyChange, Prefixed, RedisConfig, RedisStore, Store,
    StoreErrorKind, Watch,
};

#[path = "../../testkit/src/redis_server.rs"]
mod redis_server;

use redis_server::OwnRedis;

async fn watched(url: &str, prefix: &str) -> (Prefixed<RedisStore>, ChangeStream) {
    let store = Prefixed::new(
        RedisStore::with_config(RedisConfig::new(url).with_keyspace_events_enabled(true))
            .await
            .unwrap(),
        prefix,
    );
    let stream = store.watch("").await.unwrap();
    (store, stream)
}

async fn next(stream: &mut ChangeStream) -> KeyChange {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a notice within 10 s")
        .expect("the feed is open")
}

#[tokio::test]
async fn watch_delivers_the_sets_deletes_and_expiries_of_any_client() {
    let Some(server) = OwnRedis::start("watch_delivers", &[]) else {
        return;
    };
    let url = server.url.clone();
    let prefix = "app:".to_string();
    let (store, mut stream) = watched(&url, &prefix).await;
    assert!(store.capabilities().watch);
    let mut raw = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // A key outside the prefix is not watched.
    let outside = format!("{}-outside", prefix.trim_end_matches(':'));
    let _: () = raw.set(&outside, "x").await.unwrap();
    store.set("a", b"1", None, Condition::Always).await.unwrap();
    let _: () = raw.set(format!("{prefix}b"), "by redis-cli").await.unwrap();
    store.delete("a").await.unwrap();
    let _: () = raw.del(format!("{prefix}b")).await.unwrap();
    store
        .set(
            "c",
            b"short-lived",
            Some(Duration::from_millis(100)),
            Condition::IfAbsent,
        )
        .await
        .unwrap();
    for want in [
        KeyChange::new("a", ChangeKind::Set),
        KeyChange::new("b", ChangeKind::Set),
        KeyChange::new("a", ChangeKind::Deleted),
        KeyChange::new("b", ChangeKind::Deleted),
        KeyChange::new("c", ChangeKind::Set),
        KeyChange::new("c", ChangeKind::Expired),
    ] {
        assert_eq!(next(&mut stream).await, want);
    }
    assert_eq!(stream.lost(), 0);
    let _: () = raw.del(&outside).await.unwrap();
}

/// A subscriber that does not read holds at most the stream's capacity; the rest is dropped
/// and counted, and the feed goes on.
#[tokio::test]
async fn a_flood_of_notices_is_dropped_and_counted_not_held() {
    let Some(server) = OwnRedis::start("a_flood_of_notices", &[]) else {
        return;
    };
    let url = server.url.clone();
    let prefix = "app:".to_string();
    let (store, mut stream) = watched(&url, &prefix).await;
    let mut raw = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    const FLOOD: usize = 5_000;
    let cap = satchel_redis::CHANGE_STREAM_CAPACITY;
    let mut pipe = redis::pipe();
    for i in 0..FLOOD {
        pipe.set(format!("{prefix}k{i}"), i).ignore();
    }
    let () = pipe.query_async(&mut raw).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stream.lost() < (FLOOD - cap) as u64 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "lost {}",
            stream.lost()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stream.lost(), (FLOOD - cap) as u64);
    for i in 0..cap {
        assert_eq!(
            next(&mut stream).await,
            KeyChange::new(format!("k{i}"), ChangeKind::Set)
        );
    }
    // Drained, it delivers again.
    store
        .set("after", b"x", None, Condition::Always)
        .await
        .unwrap();
    assert_eq!(
        next(&mut stream).await,
        KeyChange::new("after", ChangeKind::Set)
    );
    let mut pipe = redis::pipe();
    for i in 0..FLOOD {
        pipe.del(format!("{prefix}k{i}")).ignore();
    }
    pipe.del(format!("{prefix}after")).ignore();
    let () = pipe.query_async(&mut raw).await.unwrap();
}

#[tokio::test]
async fn watch_refuses_a_server_without_keyspace_events_naming_the_config_set() {
    let Some(server) = OwnRedis::start("watch_refuses_a_server_without_keyspace_events", &[])
    else {
        return;
    };
    let store = RedisStore::connect(&server.url).await.unwrap();
    let err = store.watch("app:").await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unsupported);
    assert!(
        err.to_string()
            .contains("CONFIG SET notify-keyspace-events K$gxe"),
        "{err}"
    );
    // Nothing was changed on the server.
    let mut c = redis::Client::open(server.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let flags: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(flags[1], "");
}

#[tokio::test]
async fn watch_subscribes_again_after_its_connection_is_killed() {
    let Some(server) = OwnRedis::start("watch_subscribes_again", &[]) else {
        return;
    };
    let (store, mut stream) = watched(&server.url, "app:").await;
    store
        .set("one", b"1", None, Condition::Always)
        .await
        .unwrap();
    assert_eq!(
        next(&mut stream).await,
        KeyChange::new("one", ChangeKind::Set)
    );
    let mut c = redis::Client::open(server.url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(killed, 1);
    assert_eq!(stream.lost(), 0);
    // Writes until the feed is back (changes made while it is away are not delivered).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not subscribed again"
        );
        store
            .set("two", b"2", None, Condition::Always)
            .await
            .unwrap();
        if let Ok(Some(change)) =
            tokio::time::timeout(Duration::from_millis(200), stream.next()).await
        {
            assert_eq!(change, KeyChange::new("two", ChangeKind::Set));
            break;
        }
    }
    // The gap is reported: a consumer keeping state from the notices rebuilds it.
    assert_eq!(
        stream.lost(),
        1,
        "the reconnection counts as one lost notice"
    );
}
