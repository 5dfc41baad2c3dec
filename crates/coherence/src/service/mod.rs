//! [`CoherenceService`]: `coherence.NamedCacheService` (v0) over a satchel store.
//!
//! This file holds the service, its settings and the table of calls; each call's work is
//! in the file of its kind:
//!
//! - `checks.rs`: request checks (cache name, format, JSON keys and values, ttl), value
//!   comparison, the statuses the endpoint answers;
//! - `store.rs`: store access shared by the calls (read, compare-and-set put, listing a
//!   cache, clearing it, streaming entries);
//! - `entries.rs`: calls on one entry or a list of keys (`get`, `put`, `replace`, …);
//! - `whole_cache.rs`: calls on a whole cache (`size`, `clear`, `keySet`, `values`, …);
//! - `paging.rs`: `nextKeySetPage` / `nextEntrySetPage` and their cookies;
//! - `query.rs`: the calls that carry the query language (`crate::query`): `invoke`,
//!   `invokeAll`, `aggregate`, and `keySet` / `values` / `entrySet` with a filter;
//! - `bus.rs`: the changes calls make, published to the `events` streams;
//! - `feed.rs`: the changes other clients make, from the store's change feed, onto the bus;
//! - `events.rs`: the `events` listener stream.

mod bus;
mod checks;
mod entries;
mod events;
mod feed;
mod index;
mod indexing;
mod paging;
mod plan;
mod query;
mod store;
mod whole_cache;

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use satchel_store_core::StoreObject;
use tokio::sync::watch;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

use crate::KnownClasses;
use crate::proto::{self, named_cache_service_server as server};

/// A stream of replies, as tonic wants it.
type ReplyStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// How a compare-and-set that lost to a concurrent writer is retried (the one retry helper
/// of every satchel layer: bounded, jittered backoff) before the call gives up with
/// `ABORTED`.
fn cas() -> satchel_store_core::Attempts {
    satchel_store_core::RetryPolicy::default().attempts()
}

/// The Coherence gRPC cache service, v0 (`coherence.NamedCacheService`), over any satchel
/// store: what lets Oracle Coherence clients (Python `coherence-client`, and the others
/// that speak the same protocol) use `satchel serve` as their cache.
///
/// [`Coherence`](crate::Coherence) mounts it on a satchel [`Server`](satchel_grpc::Server);
/// to serve it from a tonic server of your own, wrap it with
/// [`CoherenceService::into_server`].
///
/// Every `(scope, cache)` is a namespace of store keys (see [`store_key`](crate::store_key));
/// keys and values are kept exactly as the client sent them (format `json`: `0x15` then
/// JSON, checked). Conditional calls use the store's compare-and-set; `remove` and
/// `removeMapping` read, then delete unconditionally (the `Store` trait has no conditional
/// delete), so a write landing between the two can be deleted. Whole-cache calls (`size`,
/// `containsValue`, `keySet`, paging, …) scan the cache's prefix and refuse caches with
/// more than [`CoherenceService::with_max_entries`] entries.
///
/// The service checks no credential itself: who may call it is the server's business
/// ([`Coherence`](crate::Coherence) mounts it behind the token or the client certificate).
/// Keys and values are checked to be Coherence JSON nested at most 128 levels, never for a
/// satchel header.
///
/// Filters, entry processors and aggregators are Coherence's standard library over JSON
/// values (the classes the Python client's `Filters`, `Processors` and `Aggregators` send);
/// a processor changes each entry atomically (compare-and-set, retried). What needs Java
/// code on the server (scripts, calls of Java methods) answers `UNIMPLEMENTED` naming it;
/// an unknown class `INVALID_ARGUMENT` naming it. `aggregator.QueryRecorder` answers the
/// query's plan or trace. Indexes (`addIndex`) narrow queries on a memory store behind a
/// change feed (`satchel serve --store memory://`), where every write reaches them; on
/// other stores they are accepted and not used (queries read every entry), and query
/// plans say so. Listeners
/// (`events`) receive the changes made through this service, by key or by filter, and,
/// when the store has a change feed ([`Capabilities::watch`]: Redis on one server with
/// keyspace notifications, or a store in [`Notifying`] as `satchel serve` wraps its own),
/// the changes other clients made, read back from the store (new value; old value when
/// the service saw it, absent otherwise). The repository's `docs/coherence-protocol.md`
/// has which backends deliver whose changes.
///
/// [`Capabilities::watch`]: satchel_store_core::Capabilities::watch
/// [`Notifying`]: satchel_store_core::Notifying
#[derive(Clone)]
pub struct CoherenceService {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Settings {
    max_entries: usize,
    page_size: usize,
    max_stream_time: Duration,
    max_reply_size: usize,
    classes: KnownClasses,
}

struct Inner {
    /// The store as calls use it: [`feed::Tracked`] around `raw` when it has a change feed.
    store: Arc<dyn StoreObject>,
    /// The store as the service was given it.
    raw: Arc<dyn StoreObject>,
    max_entries: usize,
    page_size: usize,
    /// How long a streaming reply may keep producing (the server's request time limit).
    max_stream_time: Duration,
    /// The largest reply message (the server's message size limit): `put` refuses a value
    /// whose `get` reply would not fit.
    max_reply_size: usize,
    /// The `@class` names keys and values may carry.
    classes: KnownClasses,
    /// `true` once [`CoherenceService::close_streams`] was called.
    closed: watch::Sender<bool>,
    /// The changes made through this service, and those the feed saw, for the `events`
    /// streams.
    bus: bus::Bus,
    /// The writes this service made, so the feed does not report them twice.
    own: Arc<feed::OwnWrites>,
    /// Whether the feed runs.
    feed: std::sync::Mutex<feed::FeedState>,
    /// The caches' indexes (`addIndex`).
    indexes: Arc<index::Indexes>,
}

impl Inner {
    /// Whether the store's change feed runs (what indexes need to be used).
    fn feed_runs(&self) -> bool {
        matches!(
            *self
                .feed
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            feed::FeedState::Running
        )
    }
}

impl CoherenceService {
    /// The default [`CoherenceService::with_max_entries`]: 100,000.
    pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
    /// The default [`CoherenceService::with_page_size`]: 200 entries.
    pub const DEFAULT_PAGE_SIZE: usize = 200;
    /// The default [`CoherenceService::with_max_stream_time`]: 60 seconds.
    pub const DEFAULT_MAX_STREAM_TIME: Duration = Duration::from_secs(60);
    /// The default [`CoherenceService::with_max_reply_size`]: 16 MiB (satchel-grpc's
    /// default message size limit).
    pub const DEFAULT_MAX_REPLY_SIZE: usize = 16 << 20;

    /// The service over `store`.
    pub fn new(store: Arc<dyn StoreObject>) -> Self {
        Self::build(
            store,
            Settings {
                max_entries: Self::DEFAULT_MAX_ENTRIES,
                page_size: Self::DEFAULT_PAGE_SIZE,
                max_stream_time: Self::DEFAULT_MAX_STREAM_TIME,
                max_reply_size: Self::DEFAULT_MAX_REPLY_SIZE,
                classes: KnownClasses::default(),
            },
        )
    }

    fn build(raw: Arc<dyn StoreObject>, settings: Settings) -> Self {
        let own = Arc::new(feed::OwnWrites::default());
        // Indexes hold every entry only where every write reaches them: a memory store
        // (no other process writes it) behind a feed (writes through other services).
        let watched = raw.capabilities().watch;
        let indexes = Arc::new(index::Indexes::new(watched && raw.backend() == "memory"));
        let store: Arc<dyn StoreObject> = if watched {
            Arc::new(feed::Tracked {
                inner: raw.clone(),
                own: own.clone(),
                indexes: indexes.clone(),
            })
        } else {
            raw.clone()
        };
        Self {
            inner: Arc::new(Inner {
                store,
                raw,
                max_entries: settings.max_entries.max(1),
                page_size: settings.page_size.max(1),
                max_stream_time: settings.max_stream_time,
                max_reply_size: settings.max_reply_size,
                classes: settings.classes,
                closed: watch::Sender::new(false),
                bus: bus::Bus::new(),
                own,
                feed: std::sync::Mutex::default(),
                indexes,
            }),
        }
    }

    fn settings(&self) -> Settings {
        Settings {
            max_entries: self.inner.max_entries,
            page_size: self.inner.page_size,
            max_stream_time: self.inner.max_stream_time,
            max_reply_size: self.inner.max_reply_size,
            classes: self.inner.classes.clone(),
        }
    }

    /// The `@class` names the keys and values it stores may carry, at any depth (default
    /// [`KnownClasses::coherence`]): a `put` of a value naming another class is refused
    /// with `INVALID_ARGUMENT` "Could not deserialize …", as a Coherence server without
    /// that class refuses it. Declare the application's classes here
    /// (`KnownClasses::coherence().with("test.Person")`), or accept any with
    /// [`KnownClasses::any`].
    #[must_use]
    pub fn with_known_classes(self, classes: KnownClasses) -> Self {
        let settings = Settings {
            classes,
            ..self.settings()
        };
        Self::build(self.inner.store.clone(), settings)
    }

    /// The most entries a cache may hold for the calls that list it (`size`,
    /// `containsValue`, `keySet`, `values`, `entrySet` and their pages): each scans the
    /// cache's prefix, and a cache with more entries answers `RESOURCE_EXHAUSTED` rather
    /// than a wrong answer. `clear`, `truncate`, `destroy` and `isEmpty` work at any size.
    #[must_use]
    pub fn with_max_entries(self, max: usize) -> Self {
        let settings = Settings {
            max_entries: max,
            ..self.settings()
        };
        Self::build(self.inner.raw.clone(), settings)
    }

    /// The entries per page of `nextKeySetPage` / `nextEntrySetPage`. Every page re-scans
    /// the cache (the `Scan` trait has no cursor), so larger pages cost fewer scans.
    #[must_use]
    pub fn with_page_size(self, entries: usize) -> Self {
        let settings = Settings {
            page_size: entries,
            ..self.settings()
        };
        Self::build(self.inner.raw.clone(), settings)
    }

    /// How long a streaming reply (`keySet`, `values`, `entrySet`, `getAll`) may keep
    /// sending: past it the stream ends with `DEADLINE_EXCEEDED`, so a client that stops
    /// reading (a zero HTTP/2 window) cannot hold the entries read for it. [`Coherence`]
    /// sets it to the server's request time limit.
    ///
    /// [`Coherence`]: crate::Coherence
    #[must_use]
    pub fn with_max_stream_time(self, limit: Duration) -> Self {
        let settings = Settings {
            max_stream_time: limit,
            ..self.settings()
        };
        Self::build(self.inner.raw.clone(), settings)
    }

    /// The largest reply the server sends (its message size limit): `put` and the other
    /// writes refuse, with `INVALID_ARGUMENT`, a value whose `get` reply would be larger,
    /// so nothing is stored that cannot be read back. [`Coherence`] sets it to the server's
    /// message size limit.
    ///
    /// [`Coherence`]: crate::Coherence
    #[must_use]
    pub fn with_max_reply_size(self, bytes: usize) -> Self {
        let settings = Settings {
            max_reply_size: bytes,
            ..self.settings()
        };
        Self::build(self.inner.raw.clone(), settings)
    }

    /// Ends every open `events` stream, and any opened later, so a graceful shutdown does
    /// not wait for clients to let go of them. [`Coherence`](crate::Coherence) has the server
    /// call it when its shutdown signal fires.
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
            .field("store", &self.inner.raw)
            .field("max_entries", &self.inner.max_entries)
            .field("page_size", &self.inner.page_size)
            .field("max_stream_time", &self.inner.max_stream_time)
            .field("max_reply_size", &self.inner.max_reply_size)
            .finish()
    }
}

#[tonic::async_trait]
impl server::NamedCacheService for CoherenceService {
    async fn add_index(
        &self,
        request: Request<proto::AddIndexRequest>,
    ) -> Result<Response<()>, Status> {
        indexing::add_index(&self.inner, request).await
    }

    async fn aggregate(
        &self,
        request: Request<proto::AggregateRequest>,
    ) -> Result<Response<Vec<u8>>, Status> {
        query::aggregate(&self.inner, request).await
    }

    async fn clear(&self, request: Request<proto::ClearRequest>) -> Result<Response<()>, Status> {
        whole_cache::clear(&self.inner, request).await
    }

    async fn contains_entry(
        &self,
        request: Request<proto::ContainsEntryRequest>,
    ) -> Result<Response<bool>, Status> {
        entries::contains_entry(&self.inner, request).await
    }

    async fn contains_key(
        &self,
        request: Request<proto::ContainsKeyRequest>,
    ) -> Result<Response<bool>, Status> {
        entries::contains_key(&self.inner, request).await
    }

    async fn contains_value(
        &self,
        request: Request<proto::ContainsValueRequest>,
    ) -> Result<Response<bool>, Status> {
        whole_cache::contains_value(&self.inner, request).await
    }

    async fn destroy(
        &self,
        request: Request<proto::DestroyRequest>,
    ) -> Result<Response<()>, Status> {
        whole_cache::destroy(&self.inner, request).await
    }

    type entrySetStream = ReplyStream<proto::Entry>;

    async fn entry_set(
        &self,
        request: Request<proto::EntrySetRequest>,
    ) -> Result<Response<Self::entrySetStream>, Status> {
        whole_cache::entry_set(&self.inner, request).await
    }

    type eventsStream = ReplyStream<proto::MapListenerResponse>;

    async fn events(
        &self,
        request: Request<Streaming<proto::MapListenerRequest>>,
    ) -> Result<Response<Self::eventsStream>, Status> {
        events::events(&self.inner, request).await
    }

    async fn get(
        &self,
        request: Request<proto::GetRequest>,
    ) -> Result<Response<proto::OptionalValue>, Status> {
        entries::get(&self.inner, request).await
    }

    type getAllStream = ReplyStream<proto::Entry>;

    async fn get_all(
        &self,
        request: Request<proto::GetAllRequest>,
    ) -> Result<Response<Self::getAllStream>, Status> {
        entries::get_all(&self.inner, request).await
    }

    async fn invoke(
        &self,
        request: Request<proto::InvokeRequest>,
    ) -> Result<Response<Vec<u8>>, Status> {
        query::invoke(&self.inner, request).await
    }

    type invokeAllStream = ReplyStream<proto::Entry>;

    async fn invoke_all(
        &self,
        request: Request<proto::InvokeAllRequest>,
    ) -> Result<Response<Self::invokeAllStream>, Status> {
        query::invoke_all(&self.inner, request).await
    }

    async fn is_empty(
        &self,
        request: Request<proto::IsEmptyRequest>,
    ) -> Result<Response<bool>, Status> {
        whole_cache::is_empty(&self.inner, request).await
    }

    async fn is_ready(
        &self,
        request: Request<proto::IsReadyRequest>,
    ) -> Result<Response<bool>, Status> {
        whole_cache::is_ready(request)
    }

    type keySetStream = ReplyStream<Vec<u8>>;

    async fn key_set(
        &self,
        request: Request<proto::KeySetRequest>,
    ) -> Result<Response<Self::keySetStream>, Status> {
        whole_cache::key_set(&self.inner, request).await
    }

    type nextEntrySetPageStream = ReplyStream<proto::EntryResult>;

    async fn next_entry_set_page(
        &self,
        request: Request<proto::PageRequest>,
    ) -> Result<Response<Self::nextEntrySetPageStream>, Status> {
        paging::next_entry_set_page(&self.inner, request).await
    }

    type nextKeySetPageStream = ReplyStream<Vec<u8>>;

    async fn next_key_set_page(
        &self,
        request: Request<proto::PageRequest>,
    ) -> Result<Response<Self::nextKeySetPageStream>, Status> {
        paging::next_key_set_page(&self.inner, request).await
    }

    async fn put(&self, request: Request<proto::PutRequest>) -> Result<Response<Vec<u8>>, Status> {
        entries::put(&self.inner, request).await
    }

    async fn put_all(
        &self,
        request: Request<proto::PutAllRequest>,
    ) -> Result<Response<()>, Status> {
        entries::put_all(&self.inner, request).await
    }

    async fn put_if_absent(
        &self,
        request: Request<proto::PutIfAbsentRequest>,
    ) -> Result<Response<Vec<u8>>, Status> {
        entries::put_if_absent(&self.inner, request).await
    }

    async fn remove(
        &self,
        request: Request<proto::RemoveRequest>,
    ) -> Result<Response<Vec<u8>>, Status> {
        entries::remove(&self.inner, request).await
    }

    async fn remove_index(
        &self,
        request: Request<proto::RemoveIndexRequest>,
    ) -> Result<Response<()>, Status> {
        indexing::remove_index(&self.inner, request).await
    }

    async fn remove_mapping(
        &self,
        request: Request<proto::RemoveMappingRequest>,
    ) -> Result<Response<bool>, Status> {
        entries::remove_mapping(&self.inner, request).await
    }

    async fn replace(
        &self,
        request: Request<proto::ReplaceRequest>,
    ) -> Result<Response<Vec<u8>>, Status> {
        entries::replace(&self.inner, request).await
    }

    async fn replace_mapping(
        &self,
        request: Request<proto::ReplaceMappingRequest>,
    ) -> Result<Response<bool>, Status> {
        entries::replace_mapping(&self.inner, request).await
    }

    async fn size(&self, request: Request<proto::SizeRequest>) -> Result<Response<i32>, Status> {
        whole_cache::size(&self.inner, request).await
    }

    async fn truncate(
        &self,
        request: Request<proto::TruncateRequest>,
    ) -> Result<Response<()>, Status> {
        whole_cache::truncate(&self.inner, request).await
    }

    type valuesStream = ReplyStream<Vec<u8>>;

    async fn values(
        &self,
        request: Request<proto::ValuesRequest>,
    ) -> Result<Response<Self::valuesStream>, Status> {
        whole_cache::values(&self.inner, request).await
    }
}
