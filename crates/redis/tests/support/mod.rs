//! What the live-server tests share: the server's URL, a key prefix per test, and a
//! fixture holding a store under that prefix and a raw connection.

#![allow(dead_code, unreachable_pub)]

use std::time::SystemTime;

use satchel_redis::{Prefixed, RedisConfig, RedisStore, Scan, Store};
use tokio::sync::{RwLock, RwLockReadGuard};

/// `CLIENT KILL TYPE normal` drops every connection to the server, so the test that sends it
/// runs alone: it takes this lock for writing, every other test for reading.
pub static KILL_LOCK: RwLock<()> = RwLock::const_new(());

pub fn test_url() -> Option<String> {
    match std::env::var("SATCHEL_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("SATCHEL_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "SATCHEL_TEST_REDIS_URL not set and SATCHEL_REQUIRE_SERVICES=1"
            );
            // Written past the test harness's output capture, so a plain `cargo test` shows it.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"skipped: a Redis test (SATCHEL_TEST_REDIS_URL not set)\n",
            );
            None
        }
    }
}

pub fn unique_prefix(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("satchel-test:{}:{nanos}:{test}:", std::process::id())
}

/// A store under a fresh prefix, a raw connection for setting up odd states, and the
/// guard that keeps the `CLIENT KILL` test away.
pub struct Fixture {
    pub store: Prefixed<RedisStore>,
    pub raw: redis::aio::MultiplexedConnection,
    pub prefix: String,
    _guard: RwLockReadGuard<'static, ()>,
}

impl Fixture {
    pub async fn new(test: &str) -> Option<Self> {
        let url = test_url()?;
        let guard = KILL_LOCK.read().await;
        let prefix = unique_prefix(test);
        let store = Prefixed::new(
            RedisStore::with_config(RedisConfig::new(&url))
                .await
                .unwrap(),
            prefix.clone(),
        );
        let raw = redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        Some(Self {
            store,
            raw,
            prefix,
            _guard: guard,
        })
    }

    /// Deletes every key under the prefix, and checks nothing is left.
    pub async fn cleanup(self) {
        cleanup(&self.store).await;
    }
}

pub async fn cleanup(store: &Prefixed<RedisStore>) {
    for key in store.scan("", usize::MAX).await.unwrap() {
        store.delete(&key).await.unwrap();
    }
    assert!(store.scan("", usize::MAX).await.unwrap().is_empty());
}
