//! Indexes (`addIndex` / `removeIndex`): for each cache, the values an extractor takes from
//! its entries, so a query on that extractor looks at the entries whose extracted value
//! matches instead of reading every entry.
//!
//! An index maps each key of the cache to the value its extractor takes from the entry
//! (and the entry's version), and each distinct extracted value to its keys. A filter
//! that tests one extracted value (`GreaterFilter(.age, 25)`, `InFilter`, `LikeFilter`, …)
//! is answered by testing each *distinct* value once ([`Filter::matches_extracted`]);
//! `AndFilter` intersects what its indexed parts answer, `OrFilter` unites them when every
//! part is indexed. The entries so found are still read and the whole filter evaluated on
//! their current values, so an index can only narrow a query, never change its result, as
//! long as it holds every entry the store has: its one rule.
//!
//! That rule holds when every write reaches the index, which is only known here for the
//! memory store behind the store's change feed (`satchel serve --store memory://`): writes
//! through this endpoint update the index as they succeed ([`Tracked`](super::feed::Tracked)),
//! writes through the server's other services arrive on the feed, and a feed that lost
//! notices or stopped leaves the index unused until it is built again. On every other
//! store other processes write too (SQL, Redis without a feed that reports everything), so
//! an index is declared but never built or used, and query plans show the lookup without
//! an index: queries stay correct and read every entry, as without `addIndex`.
//!
//! Bounded: at most [`MAX_INDEXES`] indexes, and [`MAX_INDEXED_BYTES`] of extracted values
//! across all of them; an index that would pass the bound is dropped (logged) and the
//! queries on it read every entry.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use satchel_store_core::{StoreObject, Version};
use serde_json::Value;

use crate::query::{Extractor, Filter};
use crate::value::MAGIC;

/// The most indexes, over all caches.
pub(super) const MAX_INDEXES: usize = 64;

/// The most bytes of extracted values and keys all indexes hold together (64 MiB).
pub(super) const MAX_INDEXED_BYTES: usize = 64 << 20;

/// The largest value an index parses to extract from (1 MiB, as queries).
const MAX_INDEXED_VALUE: usize = 1 << 20;

/// The state of one index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    /// Declared on a store where it cannot hold every entry: never built.
    Declared,
    /// Being built (or waiting to be rebuilt): not used yet.
    Building,
    /// Holds every entry: used by queries.
    Ready,
    /// Dropped for passing [`MAX_INDEXED_BYTES`]: not used.
    TooLarge,
}

/// One index: a cache's extracted values.
#[derive(Debug)]
pub(super) struct Index {
    extractor: Extractor,
    /// What the client asked (`sorted`); satchel's indexes are hash maps, never sorted.
    asked_sorted: bool,
    pub(super) state: State,
    /// Store key suffix → the entry's version and extracted value (its canonical JSON).
    forward: HashMap<String, (Version, String)>,
    /// Canonical JSON of an extracted value → the value and the keys it was taken from.
    inverse: HashMap<String, (Value, HashSet<String>)>,
    /// The bytes this index holds (keys twice, canonical values twice).
    bytes: usize,
}

/// What a query plan says of the index on an extractor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct IndexInfo {
    /// Whether queries use it now.
    pub(super) used: bool,
    pub(super) bytes: usize,
    pub(super) distinct: usize,
    pub(super) asked_sorted: bool,
}

/// Every index of the service, by cache namespace and extractor.
#[derive(Debug, Default)]
pub(super) struct Indexes {
    /// Whether indexes can be built at all (the store is memory, behind a feed).
    buildable: bool,
    caches: Mutex<HashMap<String, HashMap<String, Index>>>,
}

/// The keys an index lookup found, and how many distinct values it tested.
#[derive(Debug, Default)]
pub(super) struct Lookup {
    pub(super) keys: HashSet<String>,
    pub(super) tested: usize,
}

impl Indexes {
    pub(super) fn new(buildable: bool) -> Self {
        Self {
            buildable,
            caches: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, HashMap<String, Index>>> {
        self.caches.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn total_bytes(caches: &HashMap<String, HashMap<String, Index>>) -> usize {
        caches
            .values()
            .flat_map(HashMap::values)
            .map(|i| i.bytes)
            .sum()
    }

    /// Declares an index on `extractor` for the cache `namespace`. Returns whether it
    /// must be built now (a new index on a store where indexes can be built); one that
    /// exists already is left as it is, as Coherence does.
    pub(super) fn add(
        &self,
        namespace: &str,
        extractor: Extractor,
        sorted: bool,
    ) -> Result<bool, String> {
        let mut caches = self.lock();
        let count: usize = caches.values().map(HashMap::len).sum();
        let name = extractor.describe();
        if caches.get(namespace).is_some_and(|c| c.contains_key(&name)) {
            return Ok(false);
        }
        if count >= MAX_INDEXES {
            return Err(format!(
                "the server holds {MAX_INDEXES} indexes already, satchel's limit; remove one \
                 first"
            ));
        }
        let state = if self.buildable {
            State::Building
        } else {
            State::Declared
        };
        caches.entry(namespace.to_string()).or_default().insert(
            name,
            Index {
                extractor,
                asked_sorted: sorted,
                state,
                forward: HashMap::new(),
                inverse: HashMap::new(),
                bytes: 0,
            },
        );
        Ok(self.buildable)
    }

    /// Removes the index on `extractor` of `namespace`; whether there was one.
    pub(super) fn remove(&self, namespace: &str, extractor: &Extractor) -> bool {
        let mut caches = self.lock();
        let Some(cache) = caches.get_mut(namespace) else {
            return false;
        };
        let removed = cache.remove(&extractor.describe()).is_some();
        if cache.is_empty() {
            caches.remove(namespace);
        }
        removed
    }

    /// Drops every index of `namespace` (the cache was destroyed).
    pub(super) fn drop_cache(&self, namespace: &str) {
        self.lock().remove(namespace);
    }

    /// The extractors of `namespace`'s indexes waiting to be built.
    pub(super) fn to_build(&self, namespace: &str) -> Vec<Extractor> {
        self.lock().get(namespace).map_or_else(Vec::new, |cache| {
            cache
                .values()
                .filter(|i| i.state == State::Building)
                .map(|i| i.extractor.clone())
                .collect()
        })
    }

    /// Every cache with an index waiting to be built.
    pub(super) fn caches_to_build(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter(|(_, c)| c.values().any(|i| i.state == State::Building))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Whether `namespace` has an index that is kept up to date (building or ready).
    pub(super) fn covers(&self, namespace: &str) -> bool {
        self.lock().get(namespace).is_some_and(|c| {
            c.values()
                .any(|i| matches!(i.state, State::Building | State::Ready))
        })
    }

    /// The entries read to build `namespace`'s index on `extractor` are in (each value
    /// parsed once, by [`parsed`], before the lock is taken): entries the index already has
    /// at a newer version (written meanwhile) keep theirs. The index is ready unless it
    /// was removed, rebuilt meanwhile, or passed the byte bound.
    pub(super) fn built(
        &self,
        namespace: &str,
        extractor: &Extractor,
        entries: &[(String, Version, Value)],
    ) {
        let mut caches = self.lock();
        let mut total = Self::total_bytes(&caches);
        let Some(index) = caches
            .get_mut(namespace)
            .and_then(|c| c.get_mut(&extractor.describe()))
        else {
            return;
        };
        if index.state != State::Building {
            return;
        }
        for (suffix, version, value) in entries {
            total -= index.bytes;
            index.put(suffix, *version, value);
            total += index.bytes;
            if total > MAX_INDEXED_BYTES {
                index.too_large(namespace);
                return;
            }
        }
        index.state = State::Ready;
    }

    /// An entry of `namespace` was written at `version` with `bytes`: every index of the
    /// cache that is kept up to date takes its extracted value (unless it has a newer one).
    /// The value is parsed once, outside the lock, and only for a cache with an index.
    pub(super) fn written(&self, namespace: &str, suffix: &str, version: Version, bytes: &[u8]) {
        if !self.covers(namespace) {
            return;
        }
        let value = parsed(bytes);
        let mut caches = self.lock();
        let mut total = Self::total_bytes(&caches);
        let Some(cache) = caches.get_mut(namespace) else {
            return;
        };
        for index in cache.values_mut() {
            if !matches!(index.state, State::Building | State::Ready) {
                continue;
            }
            total -= index.bytes;
            index.put(suffix, version, &value);
            total += index.bytes;
            if total > MAX_INDEXED_BYTES {
                total -= index.bytes;
                index.too_large(namespace);
            }
        }
    }

    /// An entry of `namespace` was deleted (or expired).
    pub(super) fn deleted(&self, namespace: &str, suffix: &str) {
        if let Some(cache) = self.lock().get_mut(namespace) {
            for index in cache.values_mut() {
                index.forget(suffix);
            }
        }
    }

    /// Whether any index is kept up to date (what the store's write path asks first).
    pub(super) fn any_kept(&self) -> bool {
        self.lock()
            .values()
            .flat_map(HashMap::values)
            .any(|i| matches!(i.state, State::Building | State::Ready))
    }

    /// A write of the store key `key` at `version`: the indexes of its cache take it.
    pub(super) fn written_key(&self, key: &str, version: Version, bytes: &[u8]) {
        if let Some((namespace, suffix)) = split_store_key(key) {
            self.written(namespace, suffix, version, bytes);
        }
    }

    /// The store key `key` changed (`deleted`: it was deleted): its cache's indexes take
    /// what the store holds now. A deletion is forgotten first and the key read after,
    /// so a write that raced it and landed after it is indexed, whichever finished first;
    /// a write is only read (the version guard keeps the newest). A failed read leaves no
    /// index trusted: all are built again.
    pub(super) async fn refresh(&self, store: &dyn StoreObject, key: &str, deleted: bool) {
        let Some((namespace, suffix)) = split_store_key(key) else {
            return;
        };
        if !self.covers(namespace) {
            return;
        }
        if deleted {
            self.deleted(namespace, suffix);
        }
        match store.get(key).await {
            Ok(Some(entry)) => self.written(namespace, suffix, entry.version, &entry.value),
            Ok(None) => self.deleted(namespace, suffix),
            Err(_) => self.invalidate_all(),
        }
    }

    /// Every key under the store prefix `prefix` was deleted in bulk (a `clear` or
    /// `truncate`), or a bulk deletion failed part way: the indexes of the caches under it
    /// are emptied and built again, since a write that raced the deletion may be in the
    /// store or not. Returns the caches to build.
    pub(super) fn deleted_prefix(&self, prefix: &str) -> Vec<String> {
        let mut caches = self.lock();
        let mut rebuild = Vec::new();
        for (namespace, cache) in caches.iter_mut() {
            if !(namespace.starts_with(prefix) || prefix.starts_with(namespace.as_str())) {
                continue;
            }
            for index in cache.values_mut() {
                if matches!(index.state, State::Building | State::Ready) {
                    index.forward.clear();
                    index.inverse.clear();
                    index.bytes = 0;
                    index.state = State::Building;
                }
            }
            rebuild.push(namespace.clone());
        }
        rebuild
    }

    /// Notices were lost, or the feed stopped: no index can be trusted to hold every
    /// entry. Each is emptied and waits to be built again.
    pub(super) fn invalidate_all(&self) {
        for index in self.lock().values_mut().flat_map(HashMap::values_mut) {
            if index.state == State::Ready || index.state == State::Building {
                index.forward.clear();
                index.inverse.clear();
                index.bytes = 0;
                index.state = State::Building;
            }
        }
    }

    /// What a plan says of the index on `extractor` of `namespace`, if there is one.
    pub(super) fn info(&self, namespace: &str, extractor: &Extractor) -> Option<IndexInfo> {
        let caches = self.lock();
        let index = caches.get(namespace)?.get(&extractor.describe())?;
        Some(IndexInfo {
            used: index.state == State::Ready,
            bytes: index.bytes,
            distinct: index.inverse.len(),
            asked_sorted: index.asked_sorted,
        })
    }

    /// The keys (store key suffixes) of `namespace` whose entries may match `filter`, if
    /// ready indexes can tell: a superset of the entries that match, provided the indexes
    /// hold every entry. `None`: no index answers this filter, read every entry.
    pub(super) fn lookup(&self, namespace: &str, filter: &Filter) -> Option<Lookup> {
        let caches = self.lock();
        let cache = caches.get(namespace)?;
        lookup_in(cache, filter)
    }
}

/// A stored value (Coherence JSON) as indexes see it. A value that is not JSON, or is
/// too large to parse, is `null`: what any extractor takes from it is `null`, which only
/// null checks match (queries refuse such values when they read them).
pub(super) fn parsed(bytes: &[u8]) -> Value {
    match bytes.split_first() {
        Some((&MAGIC, json)) if bytes.len() <= MAX_INDEXED_VALUE => {
            serde_json::from_slice(json).unwrap_or(Value::Null)
        }
        _ => Value::Null,
    }
}

/// The cache namespace (`coherence:<scope>:<cache>:`) and the key suffix of a store key
/// the endpoint wrote.
fn split_store_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(crate::keys::KEY_PREFIX)?;
    let scope_end = rest.find(':')?;
    let cache_end = rest[scope_end + 1..].find(':')? + scope_end + 1;
    let at = crate::keys::KEY_PREFIX.len() + cache_end + 1;
    Some((&key[..at], &key[at..]))
}

fn lookup_in(cache: &HashMap<String, Index>, filter: &Filter) -> Option<Lookup> {
    match filter {
        Filter::All(parts) => {
            let mut found: Option<Lookup> = None;
            for part in parts {
                let Some(l) = lookup_in(cache, part) else {
                    continue;
                };
                found = Some(match found {
                    None => l,
                    Some(mut f) => {
                        f.keys.retain(|k| l.keys.contains(k));
                        f.tested += l.tested;
                        f
                    }
                });
            }
            found
        }
        Filter::Any(parts) => {
            let mut found = Lookup::default();
            for part in parts {
                let l = lookup_in(cache, part)?;
                found.keys.extend(l.keys);
                found.tested += l.tested;
            }
            Some(found)
        }
        Filter::Never => Some(Lookup::default()),
        leaf => {
            let index = cache.get(&leaf.leaf_extractor()?.describe())?;
            if index.state != State::Ready {
                return None;
            }
            let mut found = Lookup::default();
            for (value, keys) in index.inverse.values() {
                found.tested += 1;
                if leaf.matches_extracted(value) {
                    found.keys.extend(keys.iter().cloned());
                }
            }
            Some(found)
        }
    }
}

impl Index {
    /// Takes what the extractor takes from `value` (the entry's whole value, [`parsed`])
    /// for `suffix` at `version`, unless the index has a newer version of that entry.
    fn put(&mut self, suffix: &str, version: Version, value: &Value) {
        if let Some((have, _)) = self.forward.get(suffix)
            && have.get() >= version.get()
        {
            return;
        }
        let value = self.extractor.extract(value);
        self.forget(suffix);
        let canonical = value.to_string();
        self.bytes += 2 * suffix.len() + 2 * canonical.len();
        self.inverse
            .entry(canonical.clone())
            .or_insert_with(|| (value, HashSet::new()))
            .1
            .insert(suffix.to_string());
        self.forward
            .insert(suffix.to_string(), (version, canonical));
    }

    fn forget(&mut self, suffix: &str) {
        let Some((_, canonical)) = self.forward.remove(suffix) else {
            return;
        };
        self.bytes = self
            .bytes
            .saturating_sub(2 * suffix.len() + 2 * canonical.len());
        if let Some((_, keys)) = self.inverse.get_mut(&canonical) {
            keys.remove(suffix);
            if keys.is_empty() {
                self.inverse.remove(&canonical);
            }
        }
    }

    fn too_large(&mut self, namespace: &str) {
        tracing::warn!(
            cache = namespace,
            extractor = %self.extractor.describe(),
            limit = MAX_INDEXED_BYTES,
            "coherence index dropped: the indexes would hold more than the limit; queries \
             on this extractor read every entry"
        );
        self.forward.clear();
        self.inverse.clear();
        self.bytes = 0;
        self.state = State::TooLarge;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Budget;
    use serde_json::json;

    fn bytes(v: Value) -> Vec<u8> {
        let mut out = vec![MAGIC];
        out.extend(v.to_string().into_bytes());
        out
    }

    fn age() -> Extractor {
        Extractor::parse(&json!("age"), &mut Budget::default()).unwrap()
    }

    fn filter(v: Value) -> Filter {
        Filter::parse(&v, &mut Budget::default()).unwrap()
    }

    fn greater(n: i64) -> Filter {
        filter(json!({"@class": "filter.GreaterFilter", "extractor": "age", "value": n}))
    }

    fn ready() -> Indexes {
        let indexes = Indexes::new(true);
        assert!(indexes.add("c:", age(), false).unwrap());
        let entries: Vec<_> = [("a", 20), ("b", 30), ("c", 30), ("d", 40)]
            .into_iter()
            .map(|(k, n)| (k.to_string(), Version::new(1), json!({"age": n})))
            .collect();
        indexes.built("c:", &age(), &entries);
        indexes
    }

    fn keys(l: Option<Lookup>) -> Vec<String> {
        let mut k: Vec<String> = l.expect("answered").keys.into_iter().collect();
        k.sort();
        k
    }

    #[test]
    fn lookups_test_each_distinct_value_once() {
        let indexes = ready();
        let l = indexes.lookup("c:", &greater(25)).unwrap();
        assert_eq!(l.tested, 3, "20, 30, 40");
        assert_eq!(keys(Some(l)), ["b", "c", "d"]);
        assert!(indexes.lookup("other:", &greater(25)).is_none());
        let name =
            filter(json!({"@class": "filter.EqualsFilter", "extractor": "name", "value": 1}));
        assert!(indexes.lookup("c:", &name).is_none(), "no index on .name");
    }

    #[test]
    fn and_narrows_with_its_indexed_parts_and_or_needs_all_of_them() {
        let indexes = ready();
        let less = filter(json!({"@class": "filter.LessFilter", "extractor": "age", "value": 35}));
        let name =
            filter(json!({"@class": "filter.EqualsFilter", "extractor": "name", "value": 1}));
        let and = Filter::All(vec![greater(25), less.clone(), name.clone()]);
        assert_eq!(keys(indexes.lookup("c:", &and)), ["b", "c"]);
        let or = Filter::Any(vec![greater(35), less.clone()]);
        assert_eq!(keys(indexes.lookup("c:", &or)), ["a", "b", "c", "d"]);
        assert!(
            indexes
                .lookup("c:", &Filter::Any(vec![less, name]))
                .is_none()
        );
    }

    #[test]
    fn writes_move_entries_and_older_versions_never_replace_newer_ones() {
        let indexes = ready();
        indexes.written("c:", "a", Version::new(5), &bytes(json!({"age": 50})));
        indexes.written("c:", "a", Version::new(3), &bytes(json!({"age": 10})));
        assert_eq!(keys(indexes.lookup("c:", &greater(45))), ["a"]);
        indexes.deleted("c:", "a");
        assert_eq!(
            keys(indexes.lookup("c:", &greater(45))),
            Vec::<String>::new()
        );
        assert_eq!(indexes.deleted_prefix("c:"), ["c:"]);
        let info = indexes.info("c:", &age()).unwrap();
        assert_eq!((info.used, info.distinct, info.bytes), (false, 0, 0));
        assert_eq!(
            indexes.to_build("c:").len(),
            1,
            "built again after a bulk deletion"
        );
    }

    #[test]
    fn an_index_is_unused_until_built_and_after_notices_were_lost() {
        let indexes = Indexes::new(true);
        indexes.add("c:", age(), true).unwrap();
        assert!(indexes.lookup("c:", &greater(1)).is_none(), "building");
        assert!(indexes.covers("c:"), "kept up to date while it builds");
        let indexes = ready();
        indexes.invalidate_all();
        assert!(indexes.lookup("c:", &greater(1)).is_none());
        assert_eq!(indexes.caches_to_build(), ["c:"]);
    }

    #[test]
    fn indexes_are_only_declared_where_they_cannot_hold_every_entry() {
        let indexes = Indexes::new(false);
        assert!(
            !indexes.add("c:", age(), false).unwrap(),
            "nothing to build"
        );
        assert!(!indexes.covers("c:"));
        let info = indexes.info("c:", &age()).unwrap();
        assert!(!info.used);
        assert!(indexes.remove("c:", &age()));
        assert!(!indexes.remove("c:", &age()));
    }

    #[test]
    fn store_keys_split_into_their_cache_and_key() {
        let key = crate::keys::store_key("s%3Ax", "people", &bytes(json!("ann")));
        let (namespace, suffix) = split_store_key(&key).unwrap();
        assert_eq!(namespace, crate::keys::cache_prefix("s%3Ax", "people"));
        assert_eq!(suffix, "\"ann\"");
        assert_eq!(split_store_key("other:key"), None);
    }

    #[test]
    fn indexes_are_bounded_in_number() {
        let indexes = Indexes::new(true);
        for i in 0..MAX_INDEXES {
            let e = Extractor::parse(&json!(format!("p{i}")), &mut Budget::default()).unwrap();
            indexes.add("c:", e, false).unwrap();
        }
        assert!(indexes.add("c:", age(), false).is_err());
        assert!(
            !indexes
                .add(
                    "c:",
                    Extractor::parse(&json!("p0"), &mut Budget::default()).unwrap(),
                    false
                )
                .unwrap(),
            "an index that exists is kept"
        );
    }
}
