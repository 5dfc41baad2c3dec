//! Events of changes made by other clients: through the satchel Store service of the same
//! server (memory: the server's in-process feed; Redis: keyspace notifications), through a
//! second server sharing the Redis or the PostgreSQL table (its change feed: `NOTIFY` from
//! a trigger), and by another program writing the Redis keys or the table's rows; Redis
//! expiries; and a flood that is dropped, not held.
//!
//! The Redis tests run a `redis-server` of their own (`OwnRedis`, keyspace notifications
//! off), which the listening server is allowed to set up
//! (`RedisConfig::with_keyspace_events_enabled`): the shared server is left as it is.

use redis::AsyncCommands;
use satchel_redis::{RedisConfig, RedisStore};
use satchel_store::Condition;
use satchel_testkit::redis_server::OwnRedis;

use super::events::{Events, entry_event, listen, listen_filter, next_event, open_events};
#[allow(unused_imports)]
use super::*;

const ALWAYS: &str = r#"{"@class": "filter.AlwaysFilter"}"#;

type Requests = tokio::sync::mpsc::Sender<cp::MapListenerRequest>;

/// A stream listening to every change of `cache`, with values (filter id 1).
async fn listener(c: &mut Client, cache: &str) -> (Requests, Events) {
    let init = cp::MapListenerRequest {
        cache: cache.into(),
        ..listen("init", RequestType::Init, true)
    };
    let all = cp::MapListenerRequest {
        cache: cache.into(),
        ..listen_filter("all", 1, 7, ALWAYS, false)
    };
    open_events(c, vec![init, all]).await
}

/// A Redis server of the test's own, and a store on it that may turn on its keyspace
/// notifications.
async fn redis_store(test: &str) -> Option<(OwnRedis, Arc<dyn StoreObject>)> {
    let server = OwnRedis::start(test, &[])?;
    let store =
        RedisStore::with_config(RedisConfig::new(&server.url).with_keyspace_events_enabled(true))
            .await
            .unwrap();
    Some((server, Arc::new(store)))
}

/// Who writes the entries the listener hears of.
enum Writer {
    /// The satchel Store service (a `grpc://` store), on the store key.
    Store(satchel_store::DynStore),
    /// A Coherence client (of another server).
    Coherence(Client),
    /// Another program, straight on the Redis key.
    Redis(redis::aio::MultiplexedConnection),
}

impl Writer {
    async fn put(&mut self, cache: &str, key: &str, value: i32) {
        let at = store_key("", cache, &j(key));
        match self {
            Self::Store(store) => {
                store
                    .set(&at, &j(&value), None, Condition::Always)
                    .await
                    .unwrap();
            }
            Self::Coherence(c) => {
                c.put(cp::PutRequest {
                    cache: cache.into(),
                    ..put(key, &value, 0)
                })
                .await
                .unwrap();
            }
            Self::Redis(raw) => {
                let () = raw.set(at, j(&value)).await.unwrap();
            }
        }
    }

    async fn remove(&mut self, cache: &str, key: &str) {
        let at = store_key("", cache, &j(key));
        match self {
            Self::Store(store) => assert!(store.delete(&at).await.unwrap()),
            Self::Coherence(c) => {
                c.remove(cp::RemoveRequest {
                    cache: cache.into(),
                    format: "json".into(),
                    key: j(key),
                    ..Default::default()
                })
                .await
                .unwrap();
            }
            Self::Redis(raw) => {
                let removed: i64 = raw.del(at).await.unwrap();
                assert_eq!(removed, 1);
            }
        }
    }
}

/// `writer`'s insert, update and delete reach the listener on `c`'s server as insert,
/// update and delete events, with the new value read back and the old one the server saw
/// last; the server's own writes still arrive once each, with both values, among them.
async fn writes_elsewhere_reach_the_listener(c: &mut Client, cache: &str, writer: &mut Writer) {
    let (_requests, mut events) = listener(c, cache).await;
    writer.put(cache, "k", 1).await;
    assert_eq!(
        next_event(&mut events).await,
        entry_event(1, "k", None, Some(1), vec![1])
    );
    writer.put(cache, "k", 2).await;
    assert_eq!(
        next_event(&mut events).await,
        entry_event(2, "k", Some(1), Some(2), vec![1])
    );
    writer.remove(cache, "k").await;
    assert_eq!(
        next_event(&mut events).await,
        entry_event(3, "k", Some(2), None, vec![1])
    );

    // The listener's own server: events from its bus, not again from the feed.
    let own = |key: &str, value: i32| cp::PutRequest {
        cache: cache.into(),
        ..put(key, &value, 0)
    };
    c.put(own("mine", 5)).await.unwrap();
    c.put(own("mine", 6)).await.unwrap();
    writer.put(cache, "theirs", 7).await;
    // The bus delivers at once, the feed a moment later: the two interleave, each in order.
    // "theirs" is deleted only once its insert has arrived: the feed reads a changed entry
    // back, and a notice whose entry is gone by then is dropped (documented: the deletion
    // follows), which a loaded machine made happen here (CI, 2026-12-04).
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(next_event(&mut events).await);
    }
    c.remove(cp::RemoveRequest {
        cache: cache.into(),
        format: "json".into(),
        key: j("mine"),
        ..Default::default()
    })
    .await
    .unwrap();
    writer.remove(cache, "theirs").await;
    for _ in 0..2 {
        got.push(next_event(&mut events).await);
    }
    let mine = [
        entry_event(1, "mine", None, Some(5), vec![1]),
        entry_event(2, "mine", Some(5), Some(6), vec![1]),
        entry_event(3, "mine", Some(6), None, vec![1]),
    ];
    let theirs = [
        entry_event(1, "theirs", None, Some(7), vec![1]),
        entry_event(3, "theirs", Some(7), None, vec![1]),
    ];
    let of = |wanted: &[ResponseType]| -> Vec<ResponseType> {
        got.iter().filter(|e| wanted.contains(e)).cloned().collect()
    };
    assert_eq!(of(&mine), mine, "{got:?}");
    assert_eq!(of(&theirs), theirs, "{got:?}");
    // Nothing else: no second event for any of those.
    writer.put(cache, "last", 8).await;
    assert_eq!(
        next_event(&mut events).await,
        entry_event(1, "last", None, Some(8), vec![1])
    );
    writer.remove(cache, "last").await;
    assert_eq!(
        next_event(&mut events).await,
        entry_event(3, "last", Some(8), None, vec![1])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_hear_of_writes_through_the_store_service_on_memory() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let mut c = client(&server).await;
    let mut writer = Writer::Store(satchel_store::open(&server.url).await.unwrap());
    writes_elsewhere_reach_the_listener(&mut c, CACHE, &mut writer).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_hear_of_writes_through_the_store_service_on_redis() {
    let Some((_redis, store)) =
        redis_store("listeners_hear_of_writes_through_the_store_service_on_redis").await
    else {
        return;
    };
    let server = serve(store).await;
    let mut c = client(&server).await;
    let mut writer = Writer::Store(satchel_store::open(&server.url).await.unwrap());
    let cache = unique("store-service");
    writes_elsewhere_reach_the_listener(&mut c, &cache, &mut writer).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_hear_of_writes_through_another_server_sharing_redis() {
    const TEST: &str = "listeners_hear_of_writes_through_another_server_sharing_redis";
    let Some((redis, store)) = redis_store(TEST).await else {
        return;
    };
    let url = redis.url.clone();
    let listening = serve(store).await;
    let other = serve(Arc::new(RedisStore::connect(&url).await.unwrap())).await;
    let mut c = client(&listening).await;
    let mut writer = Writer::Coherence(client(&other).await);
    let cache = unique("other-server");
    writes_elsewhere_reach_the_listener(&mut c, &cache, &mut writer).await;
    other.stop().await;
    listening.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_hear_of_redis_writes_by_other_programs_and_of_expiries() {
    const TEST: &str = "listeners_hear_of_redis_writes_by_other_programs_and_of_expiries";
    let Some((redis, store)) = redis_store(TEST).await else {
        return;
    };
    let url = redis.url.clone();
    let server = serve(store).await;
    let mut c = client(&server).await;
    let raw = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let cache = unique("redis-cli");
    let mut writer = Writer::Redis(raw.clone());
    writes_elsewhere_reach_the_listener(&mut c, &cache, &mut writer).await;

    // Expiries are deletions: of an entry another program wrote, and of one of this
    // endpoint's own (a put with a ttl).
    let (_requests, mut events) = listener(&mut c, &cache).await;
    let mut raw = raw;
    let () = raw
        .pset_ex(store_key("", &cache, &j("brief")), j(&1), 200)
        .await
        .unwrap();
    c.put(cp::PutRequest {
        cache: cache.clone(),
        ..put("mine", &2, 300)
    })
    .await
    .unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(next_event(&mut events).await);
    }
    for want in [
        entry_event(1, "brief", None, Some(1), vec![1]),
        entry_event(1, "mine", None, Some(2), vec![1]),
        entry_event(3, "brief", Some(1), None, vec![1]),
        entry_event(3, "mine", Some(2), None, vec![1]),
    ] {
        assert!(got.contains(&want), "{want:?} not among {got:?}");
    }
    server.stop().await;
}

/// A PostgreSQL table of the test's own, dropped (with the feed's trigger function) when
/// the test ends.
struct PgTable {
    url: String,
    name: String,
}

impl PgTable {
    fn new(test: &str) -> Option<Self> {
        let url = satchel_testkit::store::service_url("SATCHEL_TEST_POSTGRES_URL", test)?;
        let name = format!("satchel_coh_{}", unique("feed").replace(['-', ':'], "_"));
        Some(Self { url, name })
    }

    /// A store on the table, with or without the change feed.
    async fn store(&self, feed: bool) -> Arc<dyn StoreObject> {
        let config = satchel_sql::SqlConfig::new(self.url.clone())
            .with_table(&self.name)
            .with_change_feed(feed);
        Arc::new(satchel_sql::SqlStore::with_config(config).await.unwrap())
    }

    async fn drop_it(self) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
        for sql in [
            format!("DROP TABLE IF EXISTS \"{}\"", self.name),
            format!("DROP FUNCTION IF EXISTS \"{}_notify\"", self.name),
        ] {
            sqlx::query(&sql).execute(&mut conn).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_hear_of_writes_through_another_server_sharing_postgres() {
    let Some(table) =
        PgTable::new("listeners_hear_of_writes_through_another_server_sharing_postgres")
    else {
        return;
    };
    let listening = serve(table.store(true).await).await;
    // The other server's store has no feed of its own: the table's trigger notifies for
    // its writes all the same.
    let other = serve(table.store(false).await).await;
    let mut c = client(&listening).await;
    let mut writer = Writer::Coherence(client(&other).await);
    let cache = unique("pg-other-server");
    writes_elsewhere_reach_the_listener(&mut c, &cache, &mut writer).await;
    other.stop().await;
    listening.stop().await;
    table.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_hear_of_postgres_writes_by_other_programs() {
    let Some(table) = PgTable::new("listeners_hear_of_postgres_writes_by_other_programs") else {
        return;
    };
    let server = serve(table.store(true).await).await;
    let mut c = client(&server).await;
    // Another program: a satchel store of its own on the same table.
    let mut writer = Writer::Store(table.store(false).await);
    let cache = unique("pg-program");
    writes_elsewhere_reach_the_listener(&mut c, &cache, &mut writer).await;
    server.stop().await;
    table.drop_it().await;
}

/// Another program writes 20,000 entries at once while a listener does not read: the
/// server drops what its bounded feed and bus cannot hold (and logs it) instead of growing,
/// and the listener, reading again, hears of the next change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_changes_elsewhere_is_dropped_not_held() {
    const TEST: &str = "a_flood_of_changes_elsewhere_is_dropped_not_held";
    let Some((redis, store)) = redis_store(TEST).await else {
        return;
    };
    let url = redis.url.clone();
    let server = serve(store).await;
    let mut c = client(&server).await;
    let mut raw = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let cache = unique("flood");
    let (_requests, mut events) = listener(&mut c, &cache).await;
    const FLOOD: usize = 20_000;
    let mut pipe = redis::pipe();
    for i in 0..FLOOD {
        pipe.set(store_key("", &cache, &j(&format!("k{i}"))), j(&i))
            .ignore();
    }
    let () = pipe.query_async(&mut raw).await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    c.put(cp::PutRequest {
        cache: cache.clone(),
        ..put("marker", &1, 0)
    })
    .await
    .unwrap();
    let marker = entry_event(1, "marker", None, Some(1), vec![1]);
    let mut before = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while next_event(&mut events).await != marker {
        before += 1;
        assert!(Instant::now() < deadline, "no marker after {before} events");
    }
    assert!(
        before < FLOOD,
        "every one of the {FLOOD} changes was held for the listener"
    );
    server.stop().await;
    let mut pipe = redis::pipe();
    for i in 0..FLOOD {
        pipe.del(store_key("", &cache, &j(&format!("k{i}"))))
            .ignore();
    }
    pipe.del(store_key("", &cache, &j("marker"))).ignore();
    let () = pipe.query_async(&mut raw).await.unwrap();
}
