//! [`CoherenceService`]: `coherence.NamedCacheService` (v0) over a satchel store.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use satchel_json::coherence::{COHERENCE_FORMAT_NAME, MAGIC};
use satchel_store_core::{Condition, Entry, StoreError, StoreErrorKind, StoreObject};
use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::keys::{cache_prefix, key_from_suffix, key_suffix};
use super::proto::{self, named_cache_service_server as server};
use crate::status::to_status;

/// A stream of replies, as tonic wants it.
type ReplyStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// How many times a compare-and-set is retried against concurrent writers before the call
/// gives up with `ABORTED`.
const CAS_ATTEMPTS: usize = 64;

/// The Coherence gRPC cache service, v0 (`coherence.NamedCacheService`), over any satchel
/// store: what lets Oracle Coherence clients (Python `coherence-client`, and the others
/// that speak the same protocol) use `satchel serve` as their cache.
///
/// [`Server`](crate::Server) mounts it next to satchel's own service unless
/// [`ServerConfig::with_coherence`](crate::ServerConfig::with_coherence) turns it off; to
/// mount it in a tonic server of your own, wrap it in
/// [`NamedCacheServiceServer`](super::proto::named_cache_service_server::NamedCacheServiceServer).
///
/// Every `(scope, cache)` is a namespace of store keys (see [`store_key`](super::store_key));
/// keys and values are kept exactly as the client sent them (format `json`: `0x15` then
/// JSON, checked). Conditional calls use the store's compare-and-set; `remove` and
/// `removeMapping` read, then delete unconditionally (the `Store` trait has no conditional
/// delete), so a write landing between the two can be deleted. Whole-cache calls (`size`,
/// `containsValue`, `keySet`, paging, …) scan the cache's prefix and refuse caches with
/// more than [`CoherenceService::with_max_entries`] entries.
///
/// Coherence clients cannot send satchel's bearer token: this service checks none (TLS and
/// mutual TLS are the server's, and apply). Values are checked to be Coherence JSON, never
/// for a satchel header.
///
/// Listeners are acknowledged but never fire: the `events` stream answers every request
/// with `subscribed`/`unsubscribed` and stays open until the client cancels it or
/// [`CoherenceService::close_streams`] is called. Entry processors, aggregators, indexes
/// and filters answer `UNIMPLEMENTED` naming the call.
#[derive(Clone)]
pub struct CoherenceService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn StoreObject>,
    max_entries: usize,
    page_size: usize,
    /// `true` once [`CoherenceService::close_streams`] was called.
    closed: watch::Sender<bool>,
}

impl CoherenceService {
    /// The default [`CoherenceService::with_max_entries`]: 100,000.
    pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
    /// The default [`CoherenceService::with_page_size`]: 200 entries.
    pub const DEFAULT_PAGE_SIZE: usize = 200;

    /// The service over `store`.
    pub fn new(store: Arc<dyn StoreObject>) -> Self {
        Self::build(store, Self::DEFAULT_MAX_ENTRIES, Self::DEFAULT_PAGE_SIZE)
    }

    fn build(store: Arc<dyn StoreObject>, max_entries: usize, page_size: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                max_entries: max_entries.max(1),
                page_size: page_size.max(1),
                closed: watch::Sender::new(false),
            }),
        }
    }

    /// The most entries a cache may hold for the calls that list it (`size`,
    /// `containsValue`, `keySet`, `values`, `entrySet` and their pages): each scans the
    /// cache's prefix, and a cache with more entries answers `RESOURCE_EXHAUSTED` rather
    /// than a wrong answer. `clear`, `truncate`, `destroy` and `isEmpty` work at any size.
    #[must_use]
    pub fn with_max_entries(self, max: usize) -> Self {
        let page_size = self.inner.page_size;
        Self::build(self.inner.store.clone(), max, page_size)
    }

    /// The entries per page of `nextKeySetPage` / `nextEntrySetPage`. Every page re-scans
    /// the cache (the `Scan` trait has no cursor), so larger pages cost fewer scans.
    #[must_use]
    pub fn with_page_size(self, entries: usize) -> Self {
        let max = self.inner.max_entries;
        Self::build(self.inner.store.clone(), max, entries)
    }

    /// Ends every open `events` stream, and any opened later, so a graceful shutdown does
    /// not wait for clients to let go of them. [`Server`](crate::Server) calls it when its
    /// shutdown signal fires.
    pub fn close_streams(&self) {
        self.inner.closed.send_replace(true);
    }

    /// The service wrapped for a tonic router.
    pub fn into_server(self) -> server::NamedCacheServiceServer<Self> {
        server::NamedCacheServiceServer::new(self)
    }
}

impl fmt::Debug for CoherenceService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CoherenceService")
            .field("store", &self.inner.store)
            .field("max_entries", &self.inner.max_entries)
            .field("page_size", &self.inner.page_size)
            .finish()
    }
}

// ---------------------------------------------------------------------------------------
// Checks

/// Refuses an empty cache name, and a format other than `json` where the request has one
/// (an empty format is taken as `json`).
fn namespace(scope: &str, cache: &str, format: Option<&str>) -> Result<String, Status> {
    if cache.is_empty() {
        return Err(Status::invalid_argument(
            "invalid request, cache name cannot be null or empty",
        ));
    }
    if let Some(format) = format
        && !format.is_empty()
        && format != COHERENCE_FORMAT_NAME
    {
        return Err(Status::invalid_argument(format!(
            "unsupported serialization format {format:?}: satchel's Coherence endpoint \
             supports \"{COHERENCE_FORMAT_NAME}\" only"
        )));
    }
    Ok(cache_prefix(scope, cache))
}

/// Refuses bytes that are not a `json`-format value: `0x15` then one JSON text.
fn check_json(field: &str, bytes: &[u8]) -> Result<(), Status> {
    let Some((&MAGIC, json)) = bytes.split_first() else {
        return Err(Status::invalid_argument(if bytes.is_empty() {
            format!("malformed {field}: it is empty (format json is 0x15 followed by JSON)")
        } else {
            format!(
                "malformed {field}: it does not start with 0x15, the marker of format json \
                 (first byte: 0x{:02x})",
                bytes[0]
            )
        }));
    };
    // serde_json skips ignored strings without checking their UTF-8: check it first.
    let text = std::str::from_utf8(json).map_err(|e| {
        Status::invalid_argument(format!(
            "malformed {field}: the JSON after 0x15 is not UTF-8 ({e})"
        ))
    })?;
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(drop)
        .map_err(|e| {
            Status::invalid_argument(format!(
                "malformed {field}: not valid JSON after 0x15 ({e})"
            ))
        })
}

/// A request's `ttl` in milliseconds: 0 is the cache's default (satchel caches have none:
/// no expiry), -1 never expires, more expires after that long.
fn ttl(ms: i64) -> Result<Option<Duration>, Status> {
    match ms {
        0 | -1 => Ok(None),
        ms if ms > 0 => Ok(Some(Duration::from_millis(ms.unsigned_abs()))),
        ms => Err(Status::invalid_argument(format!(
            "invalid ttl {ms}: use milliseconds > 0, 0 for the cache's default (no expiry) \
             or -1 for never"
        ))),
    }
}

/// Whether two serialized values are the same: the same bytes, or the same JSON (so a
/// value written by a client that spaces its JSON differently still matches).
fn same_value(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    match (parse_value(a), parse_value(b)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

fn parse_value(bytes: &[u8]) -> Option<serde_json::Value> {
    match bytes.split_first() {
        Some((&MAGIC, json)) => serde_json::from_slice(json).ok(),
        _ => None,
    }
}

fn store_failed(op: &str, e: &StoreError) -> Status {
    match e.kind() {
        StoreErrorKind::Conflict | StoreErrorKind::NotFound | StoreErrorKind::InvalidInput => {
            tracing::debug!(op, error = %e, "coherence: store call refused");
        }
        _ => {
            tracing::warn!(op, error = %e, source = ?std::error::Error::source(e), "coherence: store call failed")
        }
    }
    to_status(e)
}

fn busy(op: &str) -> Status {
    Status::aborted(format!(
        "coherence {op}: the entry kept changing under concurrent writers; try again"
    ))
}

fn unsupported(what: &str) -> Status {
    Status::unimplemented(format!(
        "coherence {what} is not supported by satchel's Coherence endpoint"
    ))
}

/// What is left of an entry's time to live: `Ok(None)` for none, `Err(())` if it has just
/// expired.
fn remaining(entry: &Entry) -> Result<Option<Duration>, ()> {
    match entry.expires_at {
        None => Ok(None),
        Some(at) => match at.duration_since(SystemTime::now()) {
            Ok(d) if !d.is_zero() => Ok(Some(d)),
            _ => Err(()),
        },
    }
}

// ---------------------------------------------------------------------------------------
// Store access

impl Inner {
    async fn get(&self, op: &str, key: &str) -> Result<Option<Entry>, Status> {
        self.store.get(key).await.map_err(|e| store_failed(op, &e))
    }

    /// Writes `value`, returning the value it replaced (empty if none), atomically.
    async fn put(
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
    async fn list(&self, op: &str, prefix: &str) -> Result<Vec<String>, Status> {
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
    async fn clear(&self, op: &str, prefix: &str) -> Result<(), Status> {
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
    fn stream_entries<T, F>(
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

fn stream_of<T: Send + 'static>(items: Vec<T>) -> ReplyStream<T> {
    Box::pin(tokio_stream::iter(items.into_iter().map(Ok)))
}

/// One page of `suffixes` (sorted) after `cookie`: the items and the next cookie (empty on
/// the last page).
fn page(
    suffixes: Vec<String>,
    cookie: &[u8],
    size: usize,
) -> Result<(Vec<String>, Vec<u8>), Status> {
    let after = std::str::from_utf8(cookie)
        .map_err(|_| Status::invalid_argument("malformed cookie: not one this server issued"))?;
    let start = if after.is_empty() {
        0
    } else {
        suffixes.partition_point(|s| s.as_str() <= after)
    };
    let rest = &suffixes[start..];
    let items: Vec<String> = rest.iter().take(size).cloned().collect();
    let next = if rest.len() > size {
        items
            .last()
            .map(|s| s.clone().into_bytes())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok((items, next))
}

// ---------------------------------------------------------------------------------------
// The service

#[tonic::async_trait]
impl server::NamedCacheService for CoherenceService {
    async fn add_index(&self, _: Request<proto::AddIndexRequest>) -> Result<Response<()>, Status> {
        Err(unsupported("addIndex (indexes)"))
    }

    async fn aggregate(
        &self,
        _: Request<proto::AggregateRequest>,
    ) -> Result<Response<Vec<u8>>, Status> {
        Err(unsupported("aggregate (aggregators)"))
    }

    async fn clear(&self, request: Request<proto::ClearRequest>) -> Result<Response<()>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, None)?;
        self.inner.clear("clear", &prefix).await?;
        Ok(Response::new(()))
    }

    async fn contains_entry(
        &self,
        request: Request<proto::ContainsEntryRequest>,
    ) -> Result<Response<bool>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        check_json("key", &r.key)?;
        let key = format!("{prefix}{}", key_suffix(&r.key));
        let found = self.inner.get("containsEntry", &key).await?;
        Ok(Response::new(
            found.is_some_and(|e| same_value(&e.value, &r.value)),
        ))
    }

    async fn contains_key(
        &self,
        request: Request<proto::ContainsKeyRequest>,
    ) -> Result<Response<bool>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        check_json("key", &r.key)?;
        let key = format!("{prefix}{}", key_suffix(&r.key));
        Ok(Response::new(
            self.inner.get("containsKey", &key).await?.is_some(),
        ))
    }

    async fn contains_value(
        &self,
        request: Request<proto::ContainsValueRequest>,
    ) -> Result<Response<bool>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        check_json("value", &r.value)?;
        let wanted = parse_value(&r.value);
        for suffix in self.inner.list("containsValue", &prefix).await? {
            let key = format!("{prefix}{suffix}");
            if let Some(entry) = self.inner.get("containsValue", &key).await?
                && (entry.value == r.value
                    || wanted.is_some() && parse_value(&entry.value) == wanted)
            {
                return Ok(Response::new(true));
            }
        }
        Ok(Response::new(false))
    }

    async fn destroy(
        &self,
        request: Request<proto::DestroyRequest>,
    ) -> Result<Response<()>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, None)?;
        self.inner.clear("destroy", &prefix).await?;
        Ok(Response::new(()))
    }

    type entrySetStream = ReplyStream<proto::Entry>;

    async fn entry_set(
        &self,
        request: Request<proto::EntrySetRequest>,
    ) -> Result<Response<Self::entrySetStream>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        if !r.filter.is_empty() || !r.comparator.is_empty() {
            return Err(unsupported("entrySet with a filter or comparator"));
        }
        let suffixes = self.inner.list("entrySet", &prefix).await?;
        Ok(Response::new(self.inner.stream_entries(
            "entrySet",
            prefix,
            suffixes,
            None,
            |key, value| proto::Entry { key, value },
        )))
    }

    type eventsStream = ReplyStream<proto::MapListenerResponse>;

    async fn events(
        &self,
        request: Request<Streaming<proto::MapListenerRequest>>,
    ) -> Result<Response<Self::eventsStream>, Status> {
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        let closed = wait_closed(self.inner.closed.subscribe());
        tokio::spawn(async move {
            tokio::pin!(closed);
            let mut reading = true;
            loop {
                tokio::select! {
                    message = inbound.message(), if reading => match message {
                        Ok(Some(r)) => {
                            if tx.send(Ok(acknowledge(r))).await.is_err() {
                                return;
                            }
                        }
                        // The client stopped sending: keep the stream open until it
                        // cancels (or the server shuts down).
                        Ok(None) => reading = false,
                        Err(_) => return,
                    },
                    () = &mut closed => return,
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }

    async fn get(
        &self,
        request: Request<proto::GetRequest>,
    ) -> Result<Response<proto::OptionalValue>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        check_json("key", &r.key)?;
        let key = format!("{prefix}{}", key_suffix(&r.key));
        Ok(Response::new(match self.inner.get("get", &key).await? {
            Some(entry) => proto::OptionalValue {
                present: true,
                value: entry.value,
            },
            None => proto::OptionalValue::default(),
        }))
    }

    type getAllStream = ReplyStream<proto::Entry>;

    async fn get_all(
        &self,
        request: Request<proto::GetAllRequest>,
    ) -> Result<Response<Self::getAllStream>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        let mut suffixes = Vec::with_capacity(r.key.len());
        for key in &r.key {
            check_json("key", key)?;
            suffixes.push(key_suffix(key));
        }
        // Each key once, whatever the request repeats.
        suffixes.sort_unstable();
        suffixes.dedup();
        Ok(Response::new(self.inner.stream_entries(
            "getAll",
            prefix,
            suffixes,
            None,
            |key, value| proto::Entry { key, value },
        )))
    }

    async fn invoke(&self, _: Request<proto::InvokeRequest>) -> Result<Response<Vec<u8>>, Status> {
        Err(unsupported("invoke (entry processors)"))
    }

    type invokeAllStream = ReplyStream<proto::Entry>;

    async fn invoke_all(
        &self,
        _: Request<proto::InvokeAllRequest>,
    ) -> Result<Response<Self::invokeAllStream>, Status> {
        Err(unsupported("invokeAll (entry processors)"))
    }

    async fn is_empty(
        &self,
        request: Request<proto::IsEmptyRequest>,
    ) -> Result<Response<bool>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, None)?;
        let keys = self
            .inner
            .store
            .scan(&prefix, 1)
            .await
            .map_err(|e| store_failed("isEmpty", &e))?;
        Ok(Response::new(keys.is_empty()))
    }

    async fn is_ready(
        &self,
        request: Request<proto::IsReadyRequest>,
    ) -> Result<Response<bool>, Status> {
        let r = request.into_inner();
        namespace(&r.scope, &r.cache, None)?;
        Ok(Response::new(true))
    }

    type keySetStream = ReplyStream<Vec<u8>>;

    async fn key_set(
        &self,
        request: Request<proto::KeySetRequest>,
    ) -> Result<Response<Self::keySetStream>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        if !r.filter.is_empty() {
            return Err(unsupported("keySet with a filter"));
        }
        let keys = self.inner.list("keySet", &prefix).await?;
        Ok(Response::new(stream_of(
            keys.iter().filter_map(|s| key_from_suffix(s)).collect(),
        )))
    }

    type nextEntrySetPageStream = ReplyStream<proto::EntryResult>;

    async fn next_entry_set_page(
        &self,
        request: Request<proto::PageRequest>,
    ) -> Result<Response<Self::nextEntrySetPageStream>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        let all = self.inner.list("nextEntrySetPage", &prefix).await?;
        let (items, cookie) = page(all, &r.cookie, self.inner.page_size)?;
        // The first message of every page is the next page's cookie, even when empty.
        let first = proto::EntryResult {
            cookie,
            ..Default::default()
        };
        Ok(Response::new(self.inner.stream_entries(
            "nextEntrySetPage",
            prefix,
            items,
            Some(first),
            |key, value| proto::EntryResult {
                key,
                value,
                cookie: Vec::new(),
            },
        )))
    }

    type nextKeySetPageStream = ReplyStream<Vec<u8>>;

    async fn next_key_set_page(
        &self,
        request: Request<proto::PageRequest>,
    ) -> Result<Response<Self::nextKeySetPageStream>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        let all = self.inner.list("nextKeySetPage", &prefix).await?;
        let (items, cookie) = page(all, &r.cookie, self.inner.page_size)?;
        let mut out = Vec::with_capacity(items.len() + 1);
        out.push(cookie);
        out.extend(items.iter().filter_map(|s| key_from_suffix(s)));
        Ok(Response::new(stream_of(out)))
    }

    async fn put(&self, request: Request<proto::PutRequest>) -> Result<Response<Vec<u8>>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        check_json("key", &r.key)?;
        check_json("value", &r.value)?;
        let ttl = ttl(r.ttl)?;
        let key = format!("{prefix}{}", key_suffix(&r.key));
        let previous = self.inner.put("put", &key, &r.value, ttl).await?;
        Ok(Response::new(previous))
    }

    async fn put_all(
        &self,
        request: Request<proto::PutAllRequest>,
    ) -> Result<Response<()>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        let ttl = ttl(r.ttl)?;
        // Everything is checked before anything is written.
        for e in &r.entry {
            check_json("key", &e.key)?;
            check_json("value", &e.value)?;
        }
        for e in &r.entry {
            let key = format!("{prefix}{}", key_suffix(&e.key));
            self.inner
                .store
                .set(&key, &e.value, ttl, Condition::Always)
                .await
                .map_err(|err| store_failed("putAll", &err))?;
        }
        Ok(Response::new(()))
    }

    async fn put_if_absent(
        &self,
        request: Request<proto::PutIfAbsentRequest>,
    ) -> Result<Response<Vec<u8>>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        check_json("key", &r.key)?;
        check_json("value", &r.value)?;
        let ttl = ttl(r.ttl)?;
        let key = format!("{prefix}{}", key_suffix(&r.key));
        for _ in 0..CAS_ATTEMPTS {
            match self
                .inner
                .store
                .set(&key, &r.value, ttl, Condition::IfAbsent)
                .await
            {
                Ok(_) => return Ok(Response::new(Vec::new())),
                Err(e) if e.kind() == StoreErrorKind::Conflict => {
                    // Present: answer its value, unless it went away meanwhile (then retry).
                    if let Some(entry) = self.inner.get("putIfAbsent", &key).await? {
                        return Ok(Response::new(entry.value));
                    }
                }
                Err(e) => return Err(store_failed("putIfAbsent", &e)),
            }
        }
        Err(busy("putIfAbsent"))
    }

    async fn remove(
        &self,
        request: Request<proto::RemoveRequest>,
    ) -> Result<Response<Vec<u8>>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        check_json("key", &r.key)?;
        let key = format!("{prefix}{}", key_suffix(&r.key));
        // Not atomic: `Store::delete` is unconditional, so a write between the read and the
        // delete is deleted too (and this answers the value it replaced).
        let Some(entry) = self.inner.get("remove", &key).await? else {
            return Ok(Response::new(Vec::new()));
        };
        let removed = self
            .inner
            .store
            .delete(&key)
            .await
            .map_err(|e| store_failed("remove", &e))?;
        Ok(Response::new(if removed {
            entry.value
        } else {
            Vec::new()
        }))
    }

    async fn remove_index(
        &self,
        _: Request<proto::RemoveIndexRequest>,
    ) -> Result<Response<()>, Status> {
        Err(unsupported("removeIndex (indexes)"))
    }

    async fn remove_mapping(
        &self,
        request: Request<proto::RemoveMappingRequest>,
    ) -> Result<Response<bool>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        check_json("key", &r.key)?;
        check_json("value", &r.value)?;
        let key = format!("{prefix}{}", key_suffix(&r.key));
        // Not atomic, like `remove`: the compare and the delete are two calls.
        match self.inner.get("removeMapping", &key).await? {
            Some(entry) if same_value(&entry.value, &r.value) => Ok(Response::new(
                self.inner
                    .store
                    .delete(&key)
                    .await
                    .map_err(|e| store_failed("removeMapping", &e))?,
            )),
            _ => Ok(Response::new(false)),
        }
    }

    async fn replace(
        &self,
        request: Request<proto::ReplaceRequest>,
    ) -> Result<Response<Vec<u8>>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        check_json("key", &r.key)?;
        check_json("value", &r.value)?;
        let key = format!("{prefix}{}", key_suffix(&r.key));
        for _ in 0..CAS_ATTEMPTS {
            let Some(entry) = self.inner.get("replace", &key).await? else {
                return Ok(Response::new(Vec::new()));
            };
            // The entry keeps what is left of its time to live.
            let Ok(ttl) = remaining(&entry) else {
                return Ok(Response::new(Vec::new()));
            };
            match self
                .inner
                .store
                .set(&key, &r.value, ttl, Condition::IfVersion(entry.version))
                .await
            {
                Ok(_) => return Ok(Response::new(entry.value)),
                Err(e) if e.kind() == StoreErrorKind::Conflict => continue,
                Err(e) => return Err(store_failed("replace", &e)),
            }
        }
        Err(busy("replace"))
    }

    async fn replace_mapping(
        &self,
        request: Request<proto::ReplaceMappingRequest>,
    ) -> Result<Response<bool>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        check_json("key", &r.key)?;
        check_json("previousValue", &r.previous_value)?;
        check_json("newValue", &r.new_value)?;
        let key = format!("{prefix}{}", key_suffix(&r.key));
        for _ in 0..CAS_ATTEMPTS {
            let Some(entry) = self.inner.get("replaceMapping", &key).await? else {
                return Ok(Response::new(false));
            };
            if !same_value(&entry.value, &r.previous_value) {
                return Ok(Response::new(false));
            }
            let Ok(ttl) = remaining(&entry) else {
                return Ok(Response::new(false));
            };
            match self
                .inner
                .store
                .set(&key, &r.new_value, ttl, Condition::IfVersion(entry.version))
                .await
            {
                Ok(_) => return Ok(Response::new(true)),
                Err(e) if e.kind() == StoreErrorKind::Conflict => continue,
                Err(e) => return Err(store_failed("replaceMapping", &e)),
            }
        }
        Err(busy("replaceMapping"))
    }

    async fn size(&self, request: Request<proto::SizeRequest>) -> Result<Response<i32>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, None)?;
        let n = self.inner.list("size", &prefix).await?.len();
        Ok(Response::new(i32::try_from(n).unwrap_or(i32::MAX)))
    }

    async fn truncate(
        &self,
        request: Request<proto::TruncateRequest>,
    ) -> Result<Response<()>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, None)?;
        self.inner.clear("truncate", &prefix).await?;
        Ok(Response::new(()))
    }

    type valuesStream = ReplyStream<Vec<u8>>;

    async fn values(
        &self,
        request: Request<proto::ValuesRequest>,
    ) -> Result<Response<Self::valuesStream>, Status> {
        let r = request.into_inner();
        let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
        if !r.filter.is_empty() || !r.comparator.is_empty() {
            return Err(unsupported("values with a filter or comparator"));
        }
        let suffixes = self.inner.list("values", &prefix).await?;
        Ok(Response::new(self.inner.stream_entries(
            "values",
            prefix,
            suffixes,
            None,
            |_, value| value,
        )))
    }
}

/// Completes once [`CoherenceService::close_streams`] was called.
async fn wait_closed(mut closed: watch::Receiver<bool>) {
    loop {
        let now = *closed.borrow_and_update();
        if now {
            return;
        }
        if closed.changed().await.is_err() {
            // The service is gone; its streams end with the runtime.
            std::future::pending::<()>().await;
        }
    }
}

/// The answer Coherence's own proxy gives a listener request: `subscribed` for a subscribe
/// (and the INIT request every cache opens with), `unsubscribed` otherwise. No events
/// follow: see [`CoherenceService`].
fn acknowledge(r: proto::MapListenerRequest) -> proto::MapListenerResponse {
    use proto::map_listener_response::ResponseType;
    let init = r.r#type == proto::map_listener_request::RequestType::Init as i32;
    let response = if r.subscribe || init {
        ResponseType::Subscribed(proto::MapListenerSubscribedResponse { uid: r.uid })
    } else {
        ResponseType::Unsubscribed(proto::MapListenerUnsubscribedResponse { uid: r.uid })
    };
    proto::MapListenerResponse {
        response_type: Some(response),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(ttl(0).unwrap(), None);
        assert_eq!(ttl(-1).unwrap(), None);
        assert_eq!(ttl(1500).unwrap(), Some(Duration::from_millis(1500)));
        assert_eq!(ttl(-2).unwrap_err().code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn json_checks_name_the_field() {
        assert!(check_json("key", b"\x15\"k\"").is_ok());
        for bad in [
            &b""[..],
            b"\x00x",
            b"\x15{not json",
            b"\x15",
            b"\x15\"\xff\"",
        ] {
            let e = check_json("key", bad).unwrap_err();
            assert_eq!(e.code(), tonic::Code::InvalidArgument);
            assert!(e.message().contains("key"), "{}", e.message());
        }
    }

    #[test]
    fn values_match_by_bytes_or_json() {
        assert!(same_value(b"\x15{\"a\": 1}", b"\x15{\"a\":1}"));
        assert!(!same_value(b"\x151", b"\x151.0"));
        assert!(same_value(b"\x15NaN", b"\x15NaN"));
    }

    #[test]
    fn pages_walk_every_key_once() {
        let all: Vec<String> = (0..7).map(|i| format!("\"k{i}\"")).collect();
        let mut cookie = Vec::new();
        let mut seen = Vec::new();
        loop {
            let (items, next) = page(all.clone(), &cookie, 3).unwrap();
            seen.extend(items);
            if next.is_empty() {
                break;
            }
            cookie = next;
        }
        assert_eq!(seen, all);
        let (items, next) = page(Vec::new(), b"", 3).unwrap();
        assert!(items.is_empty() && next.is_empty());
    }
}
