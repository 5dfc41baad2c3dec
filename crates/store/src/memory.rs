//! [`MemoryStore`]: a store in this process's memory.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use satchel_store_core::{
    BoxFuture, Capabilities, Condition, Cursor, Entry, Page, PurgeExpired, Result, Scan, Store,
    StoreError, StoreErrorKind, Version, check_key, check_page, check_write, expires_at,
    unknown_condition,
};

/// A store in this process's memory: for tests, caches and single-process services.
///
/// Expiry is honoured on every read (an expired value is never returned) and expired
/// values are dropped when [`PurgeExpired::purge_expired`] runs or when their key is
/// written again. Versions come from one counter for the whole store, so they never repeat.
#[derive(Debug, Default)]
pub struct MemoryStore {
    map: Mutex<BTreeMap<String, Slot>>,
    next_version: AtomicU64,
}

#[derive(Debug)]
struct Slot {
    value: Vec<u8>,
    version: u64,
    expires_at: Option<SystemTime>,
}

impl Slot {
    fn live(&self, now: SystemTime) -> bool {
        self.expires_at.is_none_or(|t| t > now)
    }
}

fn poisoned() -> StoreError {
    StoreError::new(
        StoreErrorKind::Backend,
        "the memory store's lock was poisoned by a panic in another thread",
    )
    .with_backend("memory")
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many values are held, expired ones included until purged.
    pub fn len(&self) -> usize {
        self.map.lock().map(|m| m.len()).unwrap_or(0)
    }

    /// True if nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn version(&self) -> u64 {
        self.next_version.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl Store for MemoryStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
        let result = check_key(key).and_then(|()| {
            let map = self.map.lock().map_err(|_| poisoned())?;
            let now = SystemTime::now();
            Ok(map
                .get(key)
                .filter(|s| s.live(now))
                .map(|s| Entry::new(s.value.clone(), Version::new(s.version), s.expires_at)))
        });
        Box::pin(std::future::ready(result))
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
    ) -> BoxFuture<'a, Result<Version>> {
        let result = check_write(key, ttl).and_then(|()| {
            let mut map = self.map.lock().map_err(|_| poisoned())?;
            let now = SystemTime::now();
            let current = map.get(key).filter(|s| s.live(now)).map(|s| s.version);
            let allowed = match condition {
                Condition::IfAbsent => current.is_none(),
                Condition::IfVersion(v) => current == Some(v.get()),
                Condition::Always => true,
                _ => return Err(unknown_condition(key, condition, "memory")),
            };
            if !allowed {
                return Err(StoreError::conflict(
                    key,
                    condition,
                    current.map(Version::new),
                    "memory",
                ));
            }
            let version = self.version();
            map.insert(
                key.to_string(),
                Slot {
                    value: value.to_vec(),
                    version,
                    expires_at: ttl.map(|t| expires_at(now, t)),
                },
            );
            Ok(Version::new(version))
        });
        Box::pin(std::future::ready(result))
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        let result = check_key(key).and_then(|()| {
            let mut map = self.map.lock().map_err(|_| poisoned())?;
            Ok(map.remove(key).is_some_and(|s| s.live(SystemTime::now())))
        });
        Box::pin(std::future::ready(result))
    }

    fn delete_if<'a>(&'a self, key: &'a str, version: Version) -> BoxFuture<'a, Result<bool>> {
        let result = check_key(key).and_then(|()| {
            let mut map = self.map.lock().map_err(|_| poisoned())?;
            let now = SystemTime::now();
            let at = map
                .get(key)
                .is_some_and(|s| s.live(now) && s.version == version.get());
            if at {
                map.remove(key);
            }
            Ok(at)
        });
        Box::pin(std::future::ready(result))
    }

    fn touch<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        let result = check_write(key, Some(ttl)).and_then(|()| {
            let mut map = self.map.lock().map_err(|_| poisoned())?;
            let now = SystemTime::now();
            Ok(match map.get_mut(key).filter(|s| s.live(now)) {
                Some(slot) => {
                    slot.expires_at = Some(expires_at(now, ttl));
                    true
                }
                None => false,
            })
        });
        Box::pin(std::future::ready(result))
    }

    fn backend(&self) -> &'static str {
        "memory"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE.with_scan(true).with_purge_expired(true)
    }
}

satchel_store_core::store_object!(MemoryStore: scan, purge_expired);

/// Keys are listed in order (byte order of their UTF-8), and a page's cursor is the last
/// key on it: a listing never repeats a key, and returns every key that lived throughout.
impl Scan for MemoryStore {
    fn scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page>> {
        let result = check_page(prefix, limit)
            .and_then(|()| self.map.lock().map_err(|_| poisoned()))
            .map(|map| {
                let now = SystemTime::now();
                let start = match cursor {
                    Some(after) => Bound::Excluded(after.as_token()),
                    None => Bound::Included(prefix),
                };
                let mut keys = Vec::new();
                let mut more = false;
                for (k, s) in map.range::<str, _>((start, Bound::Unbounded)) {
                    if !k.starts_with(prefix) {
                        if k.as_str() > prefix {
                            break;
                        }
                        continue;
                    }
                    if !s.live(now) {
                        continue;
                    }
                    if keys.len() == limit {
                        more = true;
                        break;
                    }
                    keys.push(k.clone());
                }
                let next = match (more, keys.last()) {
                    (true, Some(last)) => Some(Cursor::from_token(last.clone())),
                    _ => None,
                };
                Page::new(keys, next)
            });
        Box::pin(std::future::ready(result))
    }

    /// The keys under `prefix` (one run in key order) removed under one lock.
    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64>> {
        let result = satchel_store_core::check_prefix(prefix)
            .and_then(|()| self.map.lock().map_err(|_| poisoned()))
            .map(|mut map| {
                let now = SystemTime::now();
                let keys: Vec<String> = map
                    .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
                    .map(|(k, _)| k)
                    .take_while(|k| k.starts_with(prefix))
                    .cloned()
                    .collect();
                let mut live = 0;
                for key in &keys {
                    if map.remove(key).is_some_and(|s| s.live(now)) {
                        live += 1;
                    }
                }
                live
            });
        Box::pin(std::future::ready(result))
    }
}

impl PurgeExpired for MemoryStore {
    fn purge_expired(&self) -> BoxFuture<'_, Result<u64>> {
        let result = self.map.lock().map_err(|_| poisoned()).map(|mut map| {
            let now = SystemTime::now();
            let before = map.len();
            map.retain(|_, s| s.live(now));
            (before - map.len()) as u64
        });
        Box::pin(std::future::ready(result))
    }
}
