//! Owner sets of `RedisStore` against a live server (`SATCHEL_TEST_REDIS_URL`), looked at
//! with a raw connection: the store suite (`owned_keys_are_listed_and_deleted_by_owner`,
//! `delete_owner_races_tagged_writes`) checks the behaviour, these check the layout it
//! rests on: which set holds a key, how long a set lives, that stale members are pruned and
//! that sets larger than one page are listed and deleted whole.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use satchel_redis::{Condition, OwnedKeys, Prefixed, RedisStore, Store};

struct Fixture {
    store: Prefixed<RedisStore>,
    raw: ConnectionManager,
    prefix: String,
}

impl Fixture {
    async fn new(test: &str) -> Option<Self> {
        let url = match std::env::var("SATCHEL_TEST_REDIS_URL") {
            Ok(url) if !url.is_empty() => url,
            _ => {
                assert!(
                    std::env::var("SATCHEL_REQUIRE_SERVICES").as_deref() != Ok("1"),
                    "SATCHEL_TEST_REDIS_URL not set and SATCHEL_REQUIRE_SERVICES=1"
                );
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    b"skipped: a Redis test (SATCHEL_TEST_REDIS_URL not set)\n",
                );
                return None;
            }
        };
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let prefix = format!("satchel-test:{}:{nanos}:{test}:", std::process::id());
        let store = Prefixed::new(RedisStore::connect(&url).await.unwrap(), prefix.clone());
        let raw = ConnectionManager::new(redis::Client::open(url.as_str()).unwrap())
            .await
            .unwrap();
        Some(Self { store, raw, prefix })
    }

    /// The Redis key of `owner`'s set (the owner as `Prefixed` tags it).
    fn set(&self, owner: &str) -> String {
        format!("\0satchel:owner:{}{owner}", self.prefix)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn members(&mut self, owner: &str) -> BTreeSet<String> {
        let set = self.set(owner);
        let members: Vec<String> = self.raw.smembers(set).await.unwrap();
        let prefix = self.prefix.clone();
        members
            .iter()
            .map(|m| m.strip_prefix(&prefix).unwrap_or(m).to_string())
            .collect()
    }

    /// The owner tag in `key`'s envelope (`C1 0F`, version, [expiry], [owner]), if any.
    async fn tag(&mut self, key: &str) -> Option<String> {
        let bytes: Vec<u8> = self.raw.get(self.key(key)).await.unwrap();
        assert_eq!(bytes[0], 0xC1, "an envelope");
        let flags = bytes[1];
        if flags & 2 == 0 {
            return None;
        }
        let at = if flags & 1 == 1 { 16 } else { 10 };
        let len = usize::from(u16::from_be_bytes([bytes[at], bytes[at + 1]]));
        Some(String::from_utf8(bytes[at + 2..at + 2 + len].to_vec()).unwrap())
    }

    async fn set_ttl(&mut self, owner: &str) -> i64 {
        let set = self.set(owner);
        self.raw.pttl(set).await.unwrap()
    }

    async fn cleanup(mut self, owners: &[&str]) {
        for owner in owners {
            self.store.delete_owner(owner).await.unwrap();
            let set = self.set(owner);
            let _: i64 = self.raw.del(set).await.unwrap();
        }
        for key in satchel_redis::Scan::scan(&self.store, "", usize::MAX)
            .await
            .unwrap()
        {
            self.store.delete(&key).await.unwrap();
        }
    }
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

const MIN: Duration = Duration::from_secs(60);

/// A tagged write puts the key in its owner's set and the owner in the key's envelope; a
/// plain `set` untags it (listing prunes the stale member) and a new owner takes it out; the set lives as long as its longest-lived key
/// (`touch` extends it, a key without expiry makes it persistent), and expires with them.
#[tokio::test]
async fn owner_sets_follow_tags_and_outlive_their_keys() {
    let Some(mut fx) = Fixture::new("owner-sets").await else {
        return;
    };
    let s = fx.store.clone();
    s.set_owned("a", b"1", Some(MIN), Condition::Always, Some("ann"))
        .await
        .unwrap();
    assert_eq!(fx.members("ann").await, set(&["a"]));
    assert_eq!(
        fx.tag("a").await,
        Some(format!("{}ann", fx.prefix)),
        "the owner is in the envelope"
    );
    let ttl = fx.set_ttl("ann").await;
    assert!(
        (59_000..=60_000).contains(&ttl),
        "the set lives as the key: {ttl}"
    );

    s.set_owned("b", b"2", Some(2 * MIN), Condition::Always, Some("ann"))
        .await
        .unwrap();
    assert!(
        fx.set_ttl("ann").await > 60_000,
        "extended by the longer key"
    );
    assert!(s.touch("a", 5 * MIN).await.unwrap());
    assert!(fx.set_ttl("ann").await > 120_000, "extended by touch");
    s.set_owned("c", b"3", None, Condition::Always, Some("ann"))
        .await
        .unwrap();
    assert_eq!(
        fx.set_ttl("ann").await,
        -1,
        "a key without expiry: persistent"
    );
    assert_eq!(fx.members("ann").await, set(&["a", "b", "c"]));

    // A plain set (one SET, no script) untags and leaves a stale member, which listing
    // prunes; another owner moves the key at once.
    s.set("c", b"plain", None, Condition::Always).await.unwrap();
    assert_eq!(
        fx.tag("c").await,
        None,
        "a plain set writes the key untagged"
    );
    s.set_owned("b", b"4", None, Condition::Always, Some("bob"))
        .await
        .unwrap();
    assert_eq!(fx.members("ann").await, set(&["a", "c"]));
    assert_eq!(fx.members("bob").await, set(&["b"]));
    assert_eq!(s.keys_of("ann").await.unwrap(), vec!["a".to_string()]);
    assert_eq!(fx.members("ann").await, set(&["a"]), "pruned by listing");

    // A deleted key stays a member until keys_of prunes it; the empty set goes with it.
    assert!(s.delete("a").await.unwrap());
    assert_eq!(fx.members("ann").await, set(&["a"]), "stale until listed");
    assert!(s.keys_of("ann").await.unwrap().is_empty());
    let exists: bool = fx.raw.exists(fx.set("ann")).await.unwrap();
    assert!(!exists, "pruned to nothing");

    // A set whose keys all expire expires with them.
    s.set_owned(
        "short",
        b"5",
        Some(Duration::from_millis(100)),
        Condition::Always,
        Some("cy"),
    )
    .await
    .unwrap();
    assert!((1..=100).contains(&fx.set_ttl("cy").await));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let exists: bool = fx.raw.exists(fx.set("cy")).await.unwrap();
    assert!(!exists, "the set expired with its only key");
    fx.cleanup(&["ann", "bob", "cy"]).await;
}

/// Members that are not the owner's keys (deleted, retagged behind the store's back, or a
/// key satchel did not write) are pruned by `keys_of` and never deleted by `delete_owner`;
/// sets of more than one page (`SSCAN`) are listed and deleted whole.
#[tokio::test]
async fn large_owner_sets_are_pruned_listed_and_deleted_whole() {
    let Some(mut fx) = Fixture::new("owner-pages").await else {
        return;
    };
    let s = fx.store.clone();
    let keys: Vec<String> = (0..1500).map(|i| format!("k{i}")).collect();
    for k in &keys {
        s.set_owned(k, b"v", Some(5 * MIN), Condition::Always, Some("big"))
            .await
            .unwrap();
    }
    // 300 stale members: deleted keys; and a foreign string key added by hand.
    for k in &keys[..300] {
        assert!(s.delete(k).await.unwrap());
    }
    let foreign = fx.key("foreign");
    let _: () = fx.raw.set(&foreign, "not satchel's").await.unwrap();
    let _: i64 = fx.raw.sadd(fx.set("big"), &foreign).await.unwrap();

    let listed: BTreeSet<String> = s.keys_of("big").await.unwrap().into_iter().collect();
    let live: BTreeSet<String> = keys[300..].iter().cloned().collect();
    assert_eq!(listed, live, "every live key once, past one page");
    let left: i64 = fx.raw.scard(fx.set("big")).await.unwrap();
    assert_eq!(left, 1200, "stale members pruned");

    let _: i64 = fx.raw.sadd(fx.set("big"), &foreign).await.unwrap();
    assert_eq!(s.delete_owner("big").await.unwrap(), 1200);
    let exists: bool = fx.raw.exists(fx.set("big")).await.unwrap();
    assert!(!exists, "the set goes with its keys");
    let kept: Option<String> = fx.raw.get(&foreign).await.unwrap();
    assert_eq!(
        kept.as_deref(),
        Some("not satchel's"),
        "a foreign key is left alone"
    );
    for k in &keys[300..] {
        assert!(
            s.get(k).await.unwrap().is_none(),
            "{k} survived delete_owner"
        );
    }
    let _: i64 = fx.raw.del(&foreign).await.unwrap();
    fx.cleanup(&["big"]).await;
}
