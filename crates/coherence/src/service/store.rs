//! Store access shared by the calls.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use super::bus::EntryChange;
use crate::query::Filter;
use satchel_store_core::{Condition, Entry, StoreErrorKind};
use tokio::sync::mpsc;
use tokio::time::Sleep;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::checks::{check_json_classes, retry_or_busy, store_failed};
use super::{Inner, ReplyStream, cas};
use crate::keys::key_from_suffix;

impl Inner {
    /// Refuses an entry whose `get` reply (the value, and the key too in a `getAll` or
    /// `entrySet` reply) would not fit in a reply message: it could be stored but never
    /// read back.
    pub(super) fn check_fits(&self, key: &[u8], value: &[u8]) -> Result<(), Status> {
        // Protobuf's tags and lengths: a few bytes per field, 32 is ample.
        let reply = key.len() + value.len() + 32;
        if reply > self.max_reply_size {
            return Err(Status::invalid_argument(format!(
                "value too large: its reply would be {reply} bytes, above the server's \
                 message size limit of {} bytes, so it could never be read back",
                self.max_reply_size
            )));
        }
        Ok(())
    }

    /// Refuses a key or value that is not Coherence JSON, or names a class this service
    /// does not know ([`CoherenceService::with_known_classes`]).
    ///
    /// [`CoherenceService::with_known_classes`]: super::CoherenceService::with_known_classes
    pub(super) fn check_json(&self, field: &str, bytes: &[u8]) -> Result<(), Status> {
        check_json_classes(field, bytes, &self.classes)
    }

    pub(super) async fn get(&self, op: &str, key: &str) -> Result<Option<Entry>, Status> {
        self.store.get(key).await.map_err(|e| store_failed(op, &e))
    }

    /// Writes `value`, returning the value it replaced (empty if none), atomically.
    pub(super) async fn put(
        &self,
        op: &str,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> Result<Vec<u8>, Status> {
        let mut attempts = cas();
        loop {
            let current = self.get(op, key).await?;
            let condition = match &current {
                Some(e) => Condition::IfVersion(e.version),
                None => Condition::IfAbsent,
            };
            match self.store.set(key, value, ttl, condition).await {
                Ok(_) => return Ok(current.map(|e| e.value).unwrap_or_default()),
                Err(e) if e.kind() == StoreErrorKind::Conflict => {
                    retry_or_busy(&mut attempts, op, e).await?;
                }
                Err(e) => return Err(store_failed(op, &e)),
            }
        }
    }

    /// Publishes the change of one entry of `namespace` to the `events` streams: `old` and
    /// `new` are the values before and after, empty for none (Coherence values never are).
    pub(super) fn published(&self, namespace: &str, key: &[u8], old: &[u8], new: &[u8]) {
        if !self.bus.listened() {
            return;
        }
        let some = |v: &[u8]| (!v.is_empty()).then(|| v.to_vec());
        let change = match (old.is_empty(), new.is_empty()) {
            (true, false) => EntryChange::Inserted,
            (false, false) => EntryChange::Updated,
            (false, true) => EntryChange::Deleted,
            (true, true) => return,
        };
        self.bus.entry(namespace, change, key, some(old), some(new));
    }

    /// The keys of a namespace, sorted, as suffixes of `prefix`; `RESOURCE_EXHAUSTED` past
    /// `max_entries`.
    pub(super) async fn list(&self, op: &str, prefix: &str) -> Result<Vec<String>, Status> {
        let keys = self
            .store
            .scan(prefix, self.max_entries + 1)
            .await
            .map_err(|e| store_failed(op, &e))?;
        if keys.len() > self.max_entries {
            return Err(Status::resource_exhausted(format!(
                "coherence {op}: the cache has more than {} entries, more than satchel's \
                 Coherence endpoint lists (CoherenceService::with_max_entries)",
                self.max_entries
            )));
        }
        let mut suffixes: Vec<String> = keys
            .into_iter()
            .filter_map(|k| k.strip_prefix(prefix).map(str::to_string))
            .collect();
        suffixes.sort_unstable();
        Ok(suffixes)
    }

    /// Deletes every entry of a namespace, whatever its size.
    pub(super) async fn clear(&self, op: &str, prefix: &str) -> Result<(), Status> {
        // In bulk where the store can: one statement on SQL, SCAN + UNLINK on Redis.
        let deleted = self
            .store
            .delete_prefix(prefix)
            .await
            .map_err(|e| store_failed(op, &e));
        // The cache's indexes were emptied by the deletion; built again from what is left
        // (nothing, unless a write raced it).
        super::indexing::build_now(self, prefix).await?;
        deleted.map(drop)
    }

    /// The keys (suffixes, in order) of the entries of `prefix` that may match `filter`:
    /// what its indexes answer when they can ([`super::index`]), else every key.
    pub(super) async fn candidates(
        &self,
        op: &str,
        prefix: &str,
        filter: &Filter,
    ) -> Result<Vec<String>, Status> {
        match self.indexes.lookup(prefix, filter) {
            Some(found) => {
                let mut keys: Vec<String> = found.keys.into_iter().collect();
                keys.sort_unstable();
                Ok(keys)
            }
            None => self.list(op, prefix).await,
        }
    }

    /// Streams `f(key, value)` for every live entry of the listed keys, in order, leaving
    /// out the entries `f` answers `None` for; an error from `f` ends the stream with it.
    pub(super) fn stream_entries<T, F>(
        self: &Arc<Self>,
        op: &'static str,
        prefix: String,
        suffixes: Vec<String>,
        first: Option<T>,
        f: F,
    ) -> ReplyStream<T>
    where
        T: Send + 'static,
        F: Fn(Vec<u8>, Vec<u8>) -> Result<Option<T>, Status> + Send + 'static,
    {
        // A few replies in hand at most: a client that stops reading holds little.
        let (tx, rx) = mpsc::channel(2);
        let inner = self.clone();
        let limit = self.max_stream_time;
        let send_all = async move {
            if let Some(first) = first
                && tx.send(Ok(first)).await.is_err()
            {
                return;
            }
            for suffix in suffixes {
                let Some(key) = key_from_suffix(&suffix) else {
                    continue;
                };
                let item = match inner.get(op, &format!("{prefix}{suffix}")).await {
                    Ok(Some(entry)) => match f(key, entry.value) {
                        Ok(Some(item)) => Ok(item),
                        Ok(None) => continue,
                        Err(status) => Err(status),
                    },
                    // Expired or deleted since the scan.
                    Ok(None) => continue,
                    Err(status) => Err(status),
                };
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        };
        // The producer stops at the deadline, dropping what it holds, whether or not the
        // client reads; the reply ends with DEADLINE_EXCEEDED, never as if complete.
        let cut = Arc::new(AtomicBool::new(false));
        let cut_by_deadline = cut.clone();
        tokio::spawn(async move {
            if tokio::time::timeout(limit, send_all).await.is_err() {
                cut_by_deadline.store(true, Ordering::Release);
                tracing::warn!(
                    op,
                    "coherence: a streaming reply ran past the request time limit; ended"
                );
            }
        });
        Box::pin(Deadlined {
            rx: ReceiverStream::new(rx),
            deadline: Box::pin(tokio::time::sleep(limit)),
            op,
            limit,
            cut,
            done: false,
        })
    }
}

/// A reply stream that ends with `DEADLINE_EXCEEDED` once its time is up.
struct Deadlined<T> {
    rx: ReceiverStream<Result<T, Status>>,
    deadline: Pin<Box<Sleep>>,
    op: &'static str,
    limit: Duration,
    /// Set when the producer was stopped by the deadline.
    cut: Arc<AtomicBool>,
    done: bool,
}

impl<T> Stream for Deadlined<T> {
    type Item = Result<T, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.rx).poll_next(cx) {
            Poll::Ready(Some(item)) => return Poll::Ready(Some(item)),
            Poll::Ready(None) if !self.cut.load(Ordering::Acquire) => {
                return Poll::Ready(None);
            }
            Poll::Ready(None) => {}
            Poll::Pending => {
                if self.deadline.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
        }
        self.done = true;
        Poll::Ready(Some(Err(Status::deadline_exceeded(format!(
            "coherence {}: the reply took longer than the server's request time limit \
             ({:?}); read faster, or ask for less (pages: nextEntrySetPage)",
            self.op, self.limit
        )))))
    }
}

pub(super) fn stream_of<T: Send + 'static>(items: Vec<T>) -> ReplyStream<T> {
    Box::pin(tokio_stream::iter(items.into_iter().map(Ok)))
}
