//! Change feeds: [`Watch`], the optional capability of telling which keys change, the
//! [`KeyChange`] notices it delivers on a bounded [`ChangeStream`], and [`Notifying`], the
//! in-process feed for stores that have none of their own.
//!
//! A notice names a key and what happened to it, never the value: whoever wants the value
//! reads the key (it may have changed again since). Feeds are bounded: a consumer that
//! falls more than the stream's capacity behind loses notices (the producer counts and
//! logs them), so a flood of writes never grows a consumer's memory.
//!
//! | store | feed | sees changes made by |
//! | --- | --- | --- |
//! | Redis, one server | keyspace notifications (`satchel_redis`; the server needs `notify-keyspace-events` with `K$gxe`) | every client of the server, expiries and evictions included |
//! | PostgreSQL with `SqlConfig::with_change_feed` (`satchel_sql`) | `NOTIFY` from a row trigger on the table | every writer of the table, expired rows when they are removed |
//! | Redis Sentinel, Cluster | none | — |
//! | anything wrapped in [`Notifying`] (what `satchel serve` does for every store without a feed: memory, SQLite, PostgreSQL without its feed, MySQL, gRPC, Redis Sentinel and Cluster) | in-process | writes through that wrapper only; no expiries |

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::{
    BoxFuture, Capabilities, Condition, Cursor, Entry, OwnedKeys, Page, PurgeExpired, Result, Scan,
    Store, StoreError, StoreErrorKind, StoreObject, Version,
};

/// What happened to a key, as a [`KeyChange`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChangeKind {
    /// The key was written (created or replaced); read it for the value.
    Set,
    /// The key was deleted (or, on Redis, evicted).
    Deleted,
    /// The key's time to live ran out and the backend removed it.
    Expired,
}

/// One notice of a change feed: a key and what happened to it (no value).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct KeyChange {
    /// The key, as the store handle that delivered the notice names it (a [`Prefixed`]
    /// handle strips its prefix).
    ///
    /// [`Prefixed`]: crate::Prefixed
    pub key: String,
    /// What happened.
    pub kind: ChangeKind,
}

impl KeyChange {
    /// A notice that `key` changed.
    pub fn new(key: impl Into<String>, kind: ChangeKind) -> Self {
        Self {
            key: key.into(),
            kind,
        }
    }
}

/// The default capacity of a [`ChangeStream`]: 1,024 notices.
pub const CHANGE_STREAM_CAPACITY: usize = 1024;

/// The notices of one subscription, in the order the backend raised them, until the feed
/// ends (the store was closed or the subscriber dropped the stream).
///
/// Bounded: it holds at most the capacity it was made with; notices that arrive while it
/// is full are dropped by the producer, which counts and logs them
/// ([`ChangeSender::offer`]). A feed that loses its connection reconnects by itself and
/// says so in the log; changes made meanwhile are not delivered, and the gap counts as one
/// lost notice ([`ChangeStream::lost`]).
#[derive(Debug)]
pub struct ChangeStream {
    rx: mpsc::Receiver<KeyChange>,
    lost: Arc<AtomicU64>,
    /// What every delivered key starts with and loses (the prefixes of the [`Prefixed`]
    /// handles the stream came through).
    ///
    /// [`Prefixed`]: crate::Prefixed
    strip: String,
}

impl ChangeStream {
    /// A stream and the sender that feeds it, holding at most `capacity` notices (at
    /// least 1).
    pub fn channel(capacity: usize) -> (ChangeSender, ChangeStream) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let lost = Arc::new(AtomicU64::new(0));
        (
            ChangeSender {
                tx,
                lost: lost.clone(),
            },
            ChangeStream {
                rx,
                lost,
                strip: String::new(),
            },
        )
    }

    /// The next notice; `None` once the feed has ended.
    pub async fn next(&mut self) -> Option<KeyChange> {
        loop {
            let mut change = self.rx.recv().await?;
            if self.strip.is_empty() {
                return Some(change);
            }
            if let Some(short) = change.key.strip_prefix(&self.strip) {
                change.key = short.to_string();
                return Some(change);
            }
        }
    }

    /// How many notices the producer dropped so far because this stream was full, plus
    /// one for each gap in the feed (it reconnected, or could not say which key changed:
    /// [`ChangeSender::missed`]). A consumer that keeps state derived from the notices
    /// rebuilds it when this grows.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// This stream with `prefix` removed from the front of every key, and the keys that do
    /// not start with it left out (what [`Prefixed`](crate::Prefixed) applies).
    #[must_use]
    pub fn without_prefix(mut self, prefix: &str) -> Self {
        self.strip.push_str(prefix);
        self
    }
}

/// The producing end of a [`ChangeStream`]: never waits, never grows.
#[derive(Clone, Debug)]
pub struct ChangeSender {
    tx: mpsc::Sender<KeyChange>,
    lost: Arc<AtomicU64>,
}

impl ChangeSender {
    /// Hands `change` to the stream if it has room; drops it otherwise, counting it, and
    /// logs the count (at 1, 2, 4, 8, … lost notices, so a flood logs a few lines).
    /// Returns `false` once the stream is gone (the producer should stop).
    pub fn offer(&self, change: KeyChange) -> bool {
        match self.tx.try_send(change) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                let lost = self.lost.fetch_add(1, Ordering::Relaxed) + 1;
                if lost.is_power_of_two() {
                    tracing::warn!(
                        lost,
                        "change feed: a subscriber fell behind; notices were dropped"
                    );
                }
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Says that the feed missed changes it cannot name (its connection was lost and
    /// made again, or a notice could not carry its key): counted in
    /// [`ChangeStream::lost`] as one lost notice, so the consumer knows to read again
    /// whatever it derived from the notices.
    pub fn missed(&self) {
        self.lost.fetch_add(1, Ordering::Relaxed);
    }

    /// How many notices were dropped because the stream was full, plus the gaps
    /// [`ChangeSender::missed`] reported.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Whether the stream was dropped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Waits until the stream is dropped.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }
}

/// Stores that tell which of their keys change: a change feed.
pub trait Watch: Store {
    /// Subscribes to the changes of the keys starting with `prefix`, from the moment the
    /// returned future completes: notices on a bounded stream ([`ChangeStream`]).
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidInput`] for a prefix with a NUL; the store's errors (a Redis
    /// server without keyspace notifications enabled is
    /// [`StoreErrorKind::Unsupported`], naming the `CONFIG SET` to run).
    fn watch<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<ChangeStream>>;
}

/// The most subscribers one [`Notifying`] store serves at once.
pub const MAX_WATCHERS: usize = 256;

/// Any store, with an in-process change feed: every successful write through this handle
/// (or its clones) raises a notice to its [`Watch`] subscribers, so a process that writes
/// through one shared handle (as `satchel serve` does: its Store service and its Coherence
/// endpoint) can tell its listeners about every change it makes.
///
/// Only writes through the wrapper are seen: not those of other processes or other
/// handles, and expired values raise nothing (they are simply gone when read).
/// `set`, `delete` and `delete_if` that changed something raise [`ChangeKind::Set`] or
/// [`ChangeKind::Deleted`]; `touch` raises nothing (the value did not change);
/// `delete_owner` and `delete_prefix` raise a deletion for each key listed just before
/// (the owner's, or those under the prefix). A write costs
/// nothing more while no one watches.
#[derive(Debug, Clone)]
pub struct Notifying<S> {
    inner: S,
    watchers: Arc<Mutex<Vec<Watcher>>>,
}

#[derive(Debug)]
struct Watcher {
    prefix: String,
    sender: ChangeSender,
}

impl<S: Store> Notifying<S> {
    /// `inner`, with an in-process change feed.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            watchers: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The store underneath.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn raise(&self, key: &str, kind: ChangeKind) {
        let mut watchers = self.watchers.lock().unwrap_or_else(PoisonError::into_inner);
        if watchers.is_empty() {
            return;
        }
        watchers
            .retain(|w| !key.starts_with(&w.prefix) || w.sender.offer(KeyChange::new(key, kind)));
    }

    fn watchers_empty(&self) -> bool {
        self.watchers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    fn subscribe(&self, prefix: &str) -> Result<ChangeStream> {
        crate::check_prefix(prefix)?;
        let mut watchers = self.watchers.lock().unwrap_or_else(PoisonError::into_inner);
        watchers.retain(|w| !w.sender.is_closed());
        if watchers.len() >= MAX_WATCHERS {
            return Err(StoreError::new(
                StoreErrorKind::Unavailable,
                format!("change feed: {MAX_WATCHERS} subscribers already watch this store"),
            )
            .with_backend(self.inner.backend()));
        }
        let (sender, stream) = ChangeStream::channel(CHANGE_STREAM_CAPACITY);
        watchers.push(Watcher {
            prefix: prefix.to_string(),
            sender,
        });
        Ok(stream)
    }
}

impl<S: Store> Store for Notifying<S> {
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
            let version = self.inner.set(key, value, ttl, condition).await?;
            self.raise(key, ChangeKind::Set);
            Ok(version)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let deleted = self.inner.delete(key).await?;
            if deleted {
                self.raise(key, ChangeKind::Deleted);
            }
            Ok(deleted)
        })
    }

    fn delete_if<'a>(&'a self, key: &'a str, version: Version) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let deleted = self.inner.delete_if(key, version).await?;
            if deleted {
                self.raise(key, ChangeKind::Deleted);
            }
            Ok(deleted)
        })
    }

    fn touch<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        self.inner.touch(key, ttl)
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities().with_watch(true)
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.inner.close()
    }

    fn key_at_rest<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
        self.inner.key_at_rest(key)
    }
}

impl<S: Store> Watch for Notifying<S> {
    fn watch<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<ChangeStream>> {
        Box::pin(std::future::ready(self.subscribe(prefix)))
    }
}

impl<S: Scan> Scan for Notifying<S> {
    fn scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page>> {
        self.inner.scan_page(prefix, cursor, limit)
    }

    fn scan<'a>(&'a self, prefix: &'a str, limit: usize) -> BoxFuture<'a, Result<Vec<String>>> {
        self.inner.scan(prefix, limit)
    }

    /// The store's own bulk delete. While someone watches, the keys are listed first and
    /// a deletion is raised for each of them afterwards (as `delete_owner` does).
    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let keys = if self.watchers_empty() {
                Vec::new()
            } else {
                self.inner.scan(prefix, usize::MAX).await?
            };
            let deleted = self.inner.delete_prefix(prefix).await?;
            for key in &keys {
                self.raise(key, ChangeKind::Deleted);
            }
            Ok(deleted)
        })
    }
}

impl<S: PurgeExpired> PurgeExpired for Notifying<S> {
    fn purge_expired(&self) -> BoxFuture<'_, Result<u64>> {
        self.inner.purge_expired()
    }
}

impl<S: OwnedKeys> OwnedKeys for Notifying<S> {
    fn set_owned<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Version>> {
        Box::pin(async move {
            let version = self
                .inner
                .set_owned(key, value, ttl, condition, owner)
                .await?;
            self.raise(key, ChangeKind::Set);
            Ok(version)
        })
    }

    fn keys_of<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<Vec<String>>> {
        self.inner.keys_of(owner)
    }

    fn delete_owner<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let keys = if self.watchers_empty() {
                Vec::new()
            } else {
                self.inner.keys_of(owner).await?
            };
            let deleted = self.inner.delete_owner(owner).await?;
            for key in &keys {
                self.raise(key, ChangeKind::Deleted);
            }
            Ok(deleted)
        })
    }
}

/// A store chosen at run time, with an in-process feed: the capabilities of the store
/// underneath, and [`Watch`].
impl<S: StoreObject> StoreObject for Notifying<S> {
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
        let set = self
            .inner
            .try_set_owned(key, value, ttl, condition, owner)?;
        Some(Box::pin(async move {
            let version = set.await?;
            self.raise(key, ChangeKind::Set);
            Ok(version)
        }))
    }

    fn try_keys_of<'a>(&'a self, owner: &'a str) -> Option<BoxFuture<'a, Result<Vec<String>>>> {
        self.inner.try_keys_of(owner)
    }

    fn try_delete_owner<'a>(&'a self, owner: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
        if !self.inner.capabilities().owned_keys {
            return None;
        }
        Some(Box::pin(async move {
            let keys = if self.watchers_empty() {
                Vec::new()
            } else {
                match self.inner.try_keys_of(owner) {
                    Some(keys) => keys.await?,
                    None => Vec::new(),
                }
            };
            let deleted = match self.inner.try_delete_owner(owner) {
                Some(deleted) => deleted.await?,
                None => return Err(crate::unsupported(self.backend(), "tag keys with owners")),
            };
            for key in &keys {
                self.raise(key, ChangeKind::Deleted);
            }
            Ok(deleted)
        }))
    }

    fn try_watch<'a>(&'a self, prefix: &'a str) -> Option<BoxFuture<'a, Result<ChangeStream>>> {
        Some(self.watch(prefix))
    }

    fn try_delete_prefix<'a>(&'a self, prefix: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
        if !self.inner.capabilities().scan {
            return None;
        }
        Some(Box::pin(async move {
            let keys = if self.watchers_empty() {
                Vec::new()
            } else {
                match self.inner.try_scan(prefix, usize::MAX) {
                    Some(keys) => keys.await?,
                    None => Vec::new(),
                }
            };
            let deleted = match self.inner.try_delete_prefix(prefix) {
                Some(deleted) => deleted.await?,
                None => return Err(crate::unsupported(self.backend(), "list keys (scan)")),
            };
            for key in &keys {
                self.raise(key, ChangeKind::Deleted);
            }
            Ok(deleted)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_stream_drops_and_counts_instead_of_growing() {
        let (tx, mut rx) = ChangeStream::channel(4);
        for i in 0..100 {
            assert!(tx.offer(KeyChange::new(format!("k{i}"), ChangeKind::Set)));
        }
        assert_eq!((tx.lost(), rx.lost()), (96, 96));
        for i in 0..4 {
            assert_eq!(rx.next().await.unwrap().key, format!("k{i}"));
        }
        drop(rx);
        assert!(!tx.offer(KeyChange::new("late", ChangeKind::Set)));
        assert!(tx.is_closed());
    }

    #[tokio::test]
    async fn a_stream_without_a_prefix_strips_it_and_skips_other_keys() {
        let (tx, rx) = ChangeStream::channel(8);
        let mut rx = rx.without_prefix("b:").without_prefix("a:");
        tx.offer(KeyChange::new("b:a:x", ChangeKind::Set));
        tx.offer(KeyChange::new("b:z", ChangeKind::Set));
        tx.offer(KeyChange::new("b:a:y", ChangeKind::Expired));
        drop(tx);
        assert_eq!(rx.next().await, Some(KeyChange::new("x", ChangeKind::Set)));
        assert_eq!(
            rx.next().await,
            Some(KeyChange::new("y", ChangeKind::Expired))
        );
        assert_eq!(rx.next().await, None);
    }
}
