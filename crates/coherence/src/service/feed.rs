//! Changes made by other clients: the store's change feed, turned into entry changes on the
//! [`Bus`](super::bus::Bus).
//!
//! When the store has a feed ([`Capabilities::watch`]: Redis on one server, or any store
//! that `satchel serve` wrapped in [`Notifying`](satchel_store_core::Notifying)), the service
//! watches every key under `coherence:` from the first `events` stream on, and publishes the
//! changes it did not make itself:
//!
//! - A [`ChangeKind::Set`] notice is read back: the current entry is the event's new value
//!   (its old value is absent: the feed does not carry it). It is an update if the service
//!   has seen the key live since it started watching (a notice, or a write of its own),
//!   an insert otherwise, so the first change of a key older than the watch, made by
//!   another client, is reported as an insert. A notice whose entry is gone by the time it
//!   is read is dropped (the deletion's notice follows), and one whose entry has the version
//!   last reported (a `touch`, a second notice of one write) too. Several writes in quick
//!   succession may be reported as one, with the latest value.
//! - [`ChangeKind::Deleted`] and [`ChangeKind::Expired`] are delete events, without the old
//!   value.
//!
//! The service's own writes keep their events from the bus, with both values; their notices
//! are recognised and dropped ([`OwnWrites`]): every write the service makes goes through
//! [`Tracked`], which notes the key before writing and the outcome (the new version, or a
//! deletion) after, and a notice for a key with a write in flight waits (briefly, bounded)
//! for the outcome before it is matched. Each change therefore reaches a listener once.
//!
//! Bounded: the feed holds at most
//! [`CHANGE_STREAM_CAPACITY`](satchel_store_core::CHANGE_STREAM_CAPACITY) notices (more are dropped
//! and logged by the store), the notes of own writes at most [`MAX_OWN_KEYS`] keys for
//! [`KEEP_OWN`], and what the service knows to be live at most [`MAX_PRESENT`] keys (past
//! that it forgets, and the next changes of those keys are reported as inserts).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use satchel_store_core::{
    BoxFuture, Capabilities, ChangeKind, ChangeStream, Condition, Cursor, Entry, KeyChange, Page,
    Result, Store, StoreObject, Version,
};
use tokio::sync::Notify;

use super::Inner;
use super::bus::EntryChange;
use super::events::wait_closed;
use super::index::Indexes;
use crate::keys::{KEY_PREFIX, cache_prefix, parse_store_key};

/// The most keys whose own writes are noted at once.
pub(super) const MAX_OWN_KEYS: usize = 16_384;

/// How long the outcome of an own write is kept for its notice.
pub(super) const KEEP_OWN: Duration = Duration::from_secs(10);

/// The most outcomes noted for one key (a key written faster than its notices arrive).
const MAX_OWN_PER_KEY: usize = 16;

/// The most keys the feed remembers as live (to tell an update from an insert).
pub(super) const MAX_PRESENT: usize = 65_536;

/// The most bytes of values the feed keeps, to be the old values of the next events.
pub(super) const MAX_PRESENT_BYTES: usize = 16 << 20;

/// The largest value the feed keeps as the old value of the next event.
const MAX_KEPT_VALUE: usize = 64 << 10;

/// The longest a notice waits for an own write in flight on its key.
const SETTLE: Duration = Duration::from_secs(2);

/// The longest an `events` stream waits for the feed's subscription as it opens.
const SUBSCRIBE_TIME: Duration = Duration::from_secs(5);

/// How long after a failed subscription the next `events` stream tries again.
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// The writes this service has in flight or made lately, by store key.
#[derive(Debug, Default)]
pub(super) struct OwnWrites {
    keys: Mutex<HashMap<String, OwnKey>>,
    settled: Notify,
    /// Whether the feed runs (or is starting): writes are noted only then.
    active: AtomicBool,
    /// Bulk deletions by prefix (a `clear` or `truncate`): the prefix, and when the
    /// deletion ended (`None`: in flight). A deletion notice of a key under one of them
    /// is the service's own.
    prefixes: Mutex<Vec<(String, Option<Instant>)>>,
}

/// The most bulk deletions noted at once (more: the oldest that ended is forgotten).
const MAX_OWN_PREFIXES: usize = 64;

#[derive(Debug, Default)]
struct OwnKey {
    in_flight: u32,
    /// Outcomes, oldest first: `Some(version)` written, `None` deleted.
    done: VecDeque<(Option<Version>, Instant)>,
}

impl OwnWrites {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, OwnKey>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn begin(&self, key: &str) {
        if !self.active.load(Ordering::Acquire) {
            return;
        }
        let mut keys = self.lock();
        if keys.len() >= MAX_OWN_KEYS && !keys.contains_key(key) {
            prune(&mut keys);
        }
        keys.entry(key.to_string()).or_default().in_flight += 1;
    }

    /// The write on `key` is over: `outcome` is what it did, if it changed anything.
    fn end(&self, key: &str, outcome: Option<Option<Version>>) {
        if !self.active.load(Ordering::Acquire) && self.lock().is_empty() {
            return;
        }
        {
            let mut keys = self.lock();
            if let Some(own) = keys.get_mut(key) {
                own.in_flight = own.in_flight.saturating_sub(1);
                if let Some(outcome) = outcome {
                    if own.done.len() >= MAX_OWN_PER_KEY {
                        own.done.pop_front();
                    }
                    own.done.push_back((outcome, Instant::now()));
                }
                if own.in_flight == 0 && own.done.is_empty() {
                    keys.remove(key);
                }
            }
        }
        self.settled.notify_waiters();
    }

    /// Waits (at most [`SETTLE`]) until no own write is in flight on `key`.
    async fn settle(&self, key: &str) {
        let deadline = tokio::time::Instant::now() + SETTLE;
        loop {
            let notified = self.settled.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.lock().get(key).is_none_or(|own| own.in_flight == 0) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return;
            }
        }
    }

    /// A bulk deletion of every key under `prefix` starts; [`OwnWrites::end_prefix`]
    /// follows.
    fn begin_prefix(&self, prefix: &str) {
        if !self.active.load(Ordering::Acquire) {
            return;
        }
        let mut prefixes = self.prefixes.lock().unwrap_or_else(PoisonError::into_inner);
        prefixes.retain(|(_, ended)| ended.is_none_or(|at| at.elapsed() < KEEP_OWN));
        if prefixes.len() >= MAX_OWN_PREFIXES
            && let Some(oldest) = prefixes.iter().position(|(_, ended)| ended.is_some())
        {
            prefixes.remove(oldest);
        }
        prefixes.push((prefix.to_string(), None));
    }

    /// The bulk deletion under `prefix` is over: its notices are still matched for
    /// [`KEEP_OWN`].
    fn end_prefix(&self, prefix: &str) {
        let mut prefixes = self.prefixes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(at) = prefixes
            .iter()
            .position(|(p, ended)| p == prefix && ended.is_none())
        {
            prefixes[at].1 = Some(Instant::now());
        }
    }

    /// Whether a deletion of `key` may be one of the service's bulk deletions (in
    /// flight, or ended less than [`KEEP_OWN`] ago). Another client's deletion of such a
    /// key in that time is taken for the service's own: the key was being deleted anyway.
    fn bulk_deleted(&self, key: &str) -> bool {
        let prefixes = self.prefixes.lock().unwrap_or_else(PoisonError::into_inner);
        prefixes.iter().any(|(prefix, ended)| {
            key.starts_with(prefix.as_str()) && ended.is_none_or(|at| at.elapsed() < KEEP_OWN)
        })
    }

    /// Whether `outcome` on `key` was an own write; if so it is forgotten, with the older
    /// outcomes before it.
    fn take(&self, key: &str, outcome: Option<Version>) -> bool {
        let mut keys = self.lock();
        let Some(own) = keys.get_mut(key) else {
            return false;
        };
        let Some(at) = own.done.iter().position(|(o, _)| *o == outcome) else {
            return false;
        };
        own.done.drain(..=at);
        if own.in_flight == 0 && own.done.is_empty() {
            keys.remove(key);
        }
        true
    }
}

/// Forgets outcomes older than [`KEEP_OWN`]; if that is not enough, every outcome.
fn prune(keys: &mut HashMap<String, OwnKey>) {
    let now = Instant::now();
    keys.retain(|_, own| {
        own.done
            .retain(|(_, at)| now.duration_since(*at) < KEEP_OWN);
        own.in_flight > 0 || !own.done.is_empty()
    });
    if keys.len() >= MAX_OWN_KEYS {
        tracing::warn!(
            keys = keys.len(),
            "coherence events: too many own writes awaiting their notices; forgetting them \
             (some may be reported twice)"
        );
        keys.retain(|_, own| {
            own.done.clear();
            own.in_flight > 0
        });
    }
}

/// The store as the service writes to it: every write noted in [`OwnWrites`], and taken
/// by the cache's indexes ([`Indexes`]) as it succeeds.
#[derive(Debug)]
pub(super) struct Tracked {
    pub(super) inner: Arc<dyn StoreObject>,
    pub(super) own: Arc<OwnWrites>,
    pub(super) indexes: Arc<Indexes>,
}

impl Store for Tracked {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
        self.inner.get(key)
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
    ) -> BoxFuture<'a, Result<Version>> {
        Box::pin(async move {
            self.own.begin(key);
            let written = self.inner.set(key, value, ttl, condition).await;
            self.own.end(key, written.as_ref().ok().map(|v| Some(*v)));
            if let Ok(version) = &written
                && self.indexes.any_kept()
            {
                self.indexes.written_key(key, *version, value);
            }
            written
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            self.own.begin(key);
            let deleted = self.inner.delete(key).await;
            self.own
                .end(key, matches!(deleted, Ok(true)).then_some(None));
            if matches!(deleted, Ok(true)) && self.indexes.any_kept() {
                self.indexes.refresh(&*self.inner, key, true).await;
            }
            deleted
        })
    }

    fn delete_if<'a>(&'a self, key: &'a str, version: Version) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            self.own.begin(key);
            let deleted = self.inner.delete_if(key, version).await;
            self.own
                .end(key, matches!(deleted, Ok(true)).then_some(None));
            if matches!(deleted, Ok(true)) && self.indexes.any_kept() {
                self.indexes.refresh(&*self.inner, key, true).await;
            }
            deleted
        })
    }

    fn touch<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        self.inner.touch(key, ttl)
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.inner.close()
    }

    fn key_at_rest<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
        self.inner.key_at_rest(key)
    }
}

impl StoreObject for Tracked {
    fn try_scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> Option<BoxFuture<'a, Result<Page>>> {
        self.inner.try_scan_page(prefix, cursor, limit)
    }

    fn try_scan<'a>(
        &'a self,
        prefix: &'a str,
        limit: usize,
    ) -> Option<BoxFuture<'a, Result<Vec<String>>>> {
        self.inner.try_scan(prefix, limit)
    }

    fn try_purge_expired(&self) -> Option<BoxFuture<'_, Result<u64>>> {
        self.inner.try_purge_expired()
    }

    fn try_set_owned<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
        owner: Option<&'a str>,
    ) -> Option<BoxFuture<'a, Result<Version>>> {
        // The service tags no key with an owner.
        self.inner.try_set_owned(key, value, ttl, condition, owner)
    }

    fn try_keys_of<'a>(&'a self, owner: &'a str) -> Option<BoxFuture<'a, Result<Vec<String>>>> {
        self.inner.try_keys_of(owner)
    }

    fn try_delete_owner<'a>(&'a self, owner: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
        self.inner.try_delete_owner(owner)
    }

    fn try_watch<'a>(&'a self, prefix: &'a str) -> Option<BoxFuture<'a, Result<ChangeStream>>> {
        self.inner.try_watch(prefix)
    }

    /// The store's bulk delete, noted as the service's own for its deletion notices.
    fn try_delete_prefix<'a>(&'a self, prefix: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
        let deleted = self.inner.try_delete_prefix(prefix)?;
        Some(Box::pin(async move {
            self.own.begin_prefix(prefix);
            let deleted = deleted.await;
            self.own.end_prefix(prefix);
            // The caches' indexes are emptied, whether or not the deletion finished;
            // `Inner::clear` builds them again once it returns.
            self.indexes.deleted_prefix(prefix);
            deleted
        }))
    }
}

/// Whether the service's feed runs.
#[derive(Debug, Default)]
pub(super) enum FeedState {
    /// Not started (or ended).
    #[default]
    Idle,
    Running,
    /// The last subscription failed at this time.
    Failed(Instant),
}

/// Starts the feed of `inner`'s store if it has one and it is not running (called as an
/// `events` stream opens, so the changes made once the stream is acknowledged are seen):
/// waits for the subscription (at most [`SUBSCRIBE_TIME`]), then follows it in a task.
pub(super) async fn start(inner: &Arc<Inner>) {
    if !inner.raw.capabilities().watch {
        return;
    }
    {
        let mut state = inner.feed.lock().unwrap_or_else(PoisonError::into_inner);
        match *state {
            FeedState::Running => return,
            FeedState::Failed(at) if at.elapsed() < RETRY_AFTER => return,
            _ => *state = FeedState::Running,
        }
    }
    let weak = Arc::downgrade(inner);
    // Before subscribing: a write that starts now is noted, so its notice is recognised.
    inner.own.active.store(true, Ordering::Release);
    let Some(watch) = inner.raw.try_watch(KEY_PREFIX) else {
        return set_state(&weak, FeedState::Idle);
    };
    let mut stream = match tokio::time::timeout(SUBSCRIBE_TIME, watch).await {
        Ok(Ok(stream)) => stream,
        failed => {
            let error = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => format!("no subscription within {SUBSCRIBE_TIME:?}"),
            };
            tracing::error!(
                error,
                "coherence events: cannot watch the store, so listeners receive the changes \
                 made through this endpoint only (not those of other clients or processes); \
                 trying again when an events stream opens in 30 s or later"
            );
            return set_state(&weak, FeedState::Failed(Instant::now()));
        }
    };
    let closed = wait_closed(inner.closed.subscribe());
    // Indexes are built (again) now that every write reaches them: those waiting for the
    // feed, and any built while this subscription was still being made (an `addIndex`
    // that saw the feed starting), which could have missed a write made meanwhile.
    inner.indexes.invalidate_all();
    super::indexing::build_pending(inner);
    tokio::spawn(async move {
        tokio::pin!(closed);
        let mut present = Present::default();
        let mut lost = 0;
        loop {
            tokio::select! {
                change = stream.next() => match change {
                    Some(change) => {
                        let Some(inner) = weak.upgrade() else { return };
                        if stream.lost() != lost {
                            // Notices were dropped: the indexes may miss changes.
                            lost = stream.lost();
                            inner.indexes.invalidate_all();
                            super::indexing::build_pending(&inner);
                        }
                        inner.on_notice(change, &mut present).await;
                    }
                    None => {
                        tracing::warn!("coherence events: the store's change feed ended");
                        return set_state(&weak, FeedState::Idle);
                    }
                },
                () = &mut closed => return,
            }
        }
    });
}

fn set_state(inner: &Weak<Inner>, state: FeedState) {
    if let Some(inner) = inner.upgrade() {
        if !matches!(state, FeedState::Running) {
            inner.own.active.store(false, Ordering::Release);
            inner.own.lock().clear();
            // Without the feed, writes through other services no longer reach the
            // indexes: they wait, unused, for the feed to run again.
            inner.indexes.invalidate_all();
        }
        *inner.feed.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }
}

/// The keys the feed knows to be live: the version last reported, and the value when it
/// fits in [`MAX_PRESENT_BYTES`] (the old value of the next event).
#[derive(Debug, Default)]
struct Present {
    keys: HashMap<String, (Version, Option<Vec<u8>>)>,
    /// The bytes of the values kept.
    bytes: usize,
}

impl Present {
    /// Notes `key` live at `version` with `value`; returns what was noted before.
    fn insert(
        &mut self,
        key: String,
        version: Version,
        value: &[u8],
    ) -> Option<(Version, Option<Vec<u8>>)> {
        let before = self.remove(&key);
        if self.keys.len() >= MAX_PRESENT {
            self.keys.clear();
            self.bytes = 0;
        }
        let kept = (value.len() <= MAX_KEPT_VALUE && self.bytes + value.len() <= MAX_PRESENT_BYTES)
            .then(|| value.to_vec());
        self.bytes += kept.as_ref().map_or(0, Vec::len);
        self.keys.insert(key, (version, kept));
        before
    }

    fn remove(&mut self, key: &str) -> Option<(Version, Option<Vec<u8>>)> {
        let before = self.keys.remove(key)?;
        self.bytes -= before.1.as_ref().map_or(0, Vec::len);
        Some(before)
    }
}

impl Inner {
    /// Publishes what `change` means, unless it is this service's own write.
    async fn on_notice(&self, change: KeyChange, present: &mut Present) {
        let Some((scope, cache, key)) = parse_store_key(&change.key) else {
            return;
        };
        if self.indexes.any_kept() {
            let deleted = change.kind != ChangeKind::Set;
            self.indexes.refresh(&*self.raw, &change.key, deleted).await;
        }
        let store_key = change.key;
        if !self.bus.listened() {
            // Nobody to tell: only an own deletion's note is matched (a stale one could
            // hide a later deletion by someone else), and what is live is not followed.
            if change.kind != ChangeKind::Set {
                self.own.settle(&store_key).await;
                self.own.take(&store_key, None);
            }
            present.remove(&store_key);
            return;
        }
        self.own.settle(&store_key).await;
        let namespace = cache_prefix(&scope, &cache);
        if change.kind != ChangeKind::Set {
            let old = present.remove(&store_key).and_then(|(_, value)| value);
            if !self.own.take(&store_key, None) && !self.own.bulk_deleted(&store_key) {
                self.bus
                    .entry(&namespace, EntryChange::Deleted, &key, old, None);
            }
            return;
        }
        let entry = match self.store.get(&store_key).await {
            Ok(Some(entry)) => entry,
            // Deleted since; its own notice follows.
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "coherence events: cannot read a changed entry");
                return;
            }
        };
        let own = self.own.take(&store_key, Some(entry.version));
        let known = present.insert(store_key, entry.version, &entry.value);
        if own || known.as_ref().is_some_and(|(v, _)| *v == entry.version) {
            return;
        }
        let (kind, old) = match known {
            Some((_, old)) => (EntryChange::Updated, old),
            None => (EntryChange::Inserted, None),
        };
        // A value too large for an event message: the event names the key only.
        let new = self
            .check_fits(&key, &entry.value)
            .is_ok()
            .then_some(entry.value);
        self.bus.entry(&namespace, kind, &key, old, new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active() -> OwnWrites {
        let own = OwnWrites::default();
        own.active.store(true, Ordering::Release);
        own
    }

    #[test]
    fn writes_are_not_noted_while_no_feed_runs() {
        let own = OwnWrites::default();
        own.begin("k");
        own.end("k", Some(Some(Version::new(1))));
        assert!(own.lock().is_empty());
    }

    #[test]
    fn own_outcomes_are_matched_once_in_order() {
        let own = active();
        own.begin("k");
        own.end("k", Some(Some(Version::new(1))));
        own.begin("k");
        own.end("k", Some(None));
        own.begin("k");
        own.end("k", Some(Some(Version::new(3))));
        assert!(!own.take("k", Some(Version::new(2))));
        assert!(own.take("k", None), "the deletion, and the write before it");
        assert!(!own.take("k", Some(Version::new(1))));
        assert!(own.take("k", Some(Version::new(3))));
        assert!(own.lock().is_empty());
        // A write that changed nothing leaves nothing to match.
        own.begin("k");
        own.end("k", None);
        assert!(own.lock().is_empty());
    }

    #[test]
    fn own_writes_are_bounded() {
        let own = active();
        for i in 0..MAX_OWN_KEYS * 2 {
            let key = format!("k{i}");
            own.begin(&key);
            own.end(&key, Some(Some(Version::new(1))));
        }
        assert!(own.lock().len() <= MAX_OWN_KEYS);
    }

    #[test]
    fn deletions_under_a_bulk_deleted_prefix_are_own_until_kept_long_enough() {
        let own = active();
        own.begin_prefix("coherence:c:");
        assert!(own.bulk_deleted("coherence:c:k"), "in flight");
        assert!(!own.bulk_deleted("coherence:d:k"), "another cache");
        own.end_prefix("coherence:c:");
        assert!(own.bulk_deleted("coherence:c:k"), "ended just now");
        own.prefixes.lock().unwrap()[0].1 = Some(Instant::now() - KEEP_OWN);
        assert!(!own.bulk_deleted("coherence:c:k"), "ended long ago");
        for i in 0..MAX_OWN_PREFIXES * 2 {
            own.begin_prefix(&format!("p{i}:"));
            own.end_prefix(&format!("p{i}:"));
        }
        assert!(own.prefixes.lock().unwrap().len() <= MAX_OWN_PREFIXES);
    }

    #[tokio::test]
    async fn a_notice_waits_for_the_own_write_in_flight_on_its_key() {
        let own = Arc::new(active());
        own.begin("k");
        let writer = own.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            writer.end("k", Some(Some(Version::new(7))));
        });
        let started = Instant::now();
        own.settle("k").await;
        assert!(started.elapsed() < SETTLE);
        assert!(own.take("k", Some(Version::new(7))));
    }
}
