//! Store access shared by the calls.

use std::sync::Arc;
use std::time::Duration;

use satchel_store_core::{Condition, Entry, StoreErrorKind};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use super::checks::{busy, store_failed};
use super::{CAS_ATTEMPTS, Inner, ReplyStream};
use crate::keys::key_from_suffix;

impl Inner {
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
        for _ in 0..CAS_ATTEMPTS {
            let current = self.get(op, key).await?;
            let condition = match &current {
                Some(e) => Condition::IfVersion(e.version),
                None => Condition::IfAbsent,
            };
            match self.store.set(key, value, ttl, condition).await {
                Ok(_) => return Ok(current.map(|e| e.value).unwrap_or_default()),
                Err(e) if e.kind() == StoreErrorKind::Conflict => continue,
                Err(e) => return Err(store_failed(op, &e)),
            }
        }
        Err(busy(op))
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
        loop {
            let keys = self
                .store
                .scan(prefix, self.max_entries)
                .await
                .map_err(|e| store_failed(op, &e))?;
            let mut deleted = false;
            for key in &keys {
                deleted |= self
                    .store
                    .delete(key)
                    .await
                    .map_err(|e| store_failed(op, &e))?;
            }
            // Done when the scan found nothing, or nothing it found was left to delete
            // (expired meanwhile, or deleted by someone else).
            if keys.is_empty() || !deleted {
                return Ok(());
            }
        }
    }

    /// Streams `f(key, value)` for every live entry of the listed keys, in order.
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
        F: Fn(Vec<u8>, Vec<u8>) -> T + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(32);
        let inner = self.clone();
        tokio::spawn(async move {
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
                    Ok(Some(entry)) => Ok(f(key, entry.value)),
                    // Expired or deleted since the scan.
                    Ok(None) => continue,
                    Err(status) => Err(status),
                };
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        Box::pin(ReceiverStream::new(rx))
    }
}

pub(super) fn stream_of<T: Send + 'static>(items: Vec<T>) -> ReplyStream<T> {
    Box::pin(tokio_stream::iter(items.into_iter().map(Ok)))
}
