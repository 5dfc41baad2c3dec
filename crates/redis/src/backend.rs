//! [`RedisStore`]: the store over a Redis connection, and its trait impls.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Value};
#[cfg(doc)]
use satchel_store_core::StoreErrorKind;
use satchel_store_core::{
    BoxFuture, Capabilities, Condition, Cursor, Entry, Page, Result, Scan, Store, StoreError,
    Version, check_key, check_write, unknown_condition,
};

use crate::RedisConfig;
use crate::error::{
    BACKEND, Op, bad_reply, conditional_write_lost, connect_failed, from_redis, is_dropped,
};
use crate::layout::{self, Stored};
use crate::scripts;

mod conn;
mod delete_if;
mod owners;
mod page;
mod replies;
mod sentinel;
mod watch;

use conn::{Conn, Node, query_on};
use replies::{
    flag_or_not_a_value, parse_legacy, parse_scan, parse_set, parse_version, wrong_type_apart,
};

/// A [`Store`] on a Redis server (or, with the `cluster` feature, a Redis Cluster).
///
/// # Layout
/// Each value is one Redis string under the key itself (wrap the store in
/// [`Prefixed`](satchel_store_core::Prefixed) for a namespace): the bytes behind a small
/// envelope, `C1 0F`, the version (8 bytes), the expiry in milliseconds since the epoch
/// (6 bytes, when the value has one) and the owner tag (when tagged). The key's Redis
/// expiry is the value's. So a read is one `GET`, an unconditional write one `SET`, and a
/// value costs 10 bytes over a plain `SET` of its bytes (16 with an expiry). Conditional
/// writes, `touch` and `delete_if` are single Lua scripts, atomic on the server.
///
/// # Versions
/// A version is 42 bits of the writer's clock in milliseconds and 21 random bits; each
/// process's versions grow, a compare-and-set's new version is above the one it replaces,
/// and two writers in the same millisecond draw their low bits independently. The expiry
/// that [`Entry::expires_at`] reports is the writer's clock plus the time to live.
///
/// # Values other programs wrote
/// A string without an envelope (kvdb-py's `_kvdbenc_…`, tower-sessions' MessagePack, a
/// `redis-cli SET`) is a value: its bytes are returned as they are, under a version derived
/// from their SHA-1 (the top bit set, so it never equals a version satchel writes), and
/// compare-and-set or `delete_if` against that version succeeds only while the key holds
/// the same bytes. Writing replaces it with an envelope. A key in satchel 0.1's layout (a
/// HASH with `v` and `n`) reads as before and moves to the string layout at its next
/// write (or `satchel convert`). A key of any other type (a list, a set, a hash of other
/// fields) reads as [`StoreErrorKind::Corrupt`] naming the type, and is left in place;
/// an unconditional `set` replaces it.
///
/// # Connections
/// The store is cheap to clone: clones share one multiplexed connection, which is
/// re-established by itself when it drops (a server restart, `CLIENT KILL`, a network
/// blip). An operation that finds the connection dropped is retried once on the new one when
/// repeating it is harmless (reads, `delete`, `touch`, scans and unconditional `set`); a
/// conditional `set` is not repeated, since it may have been applied, and fails with
/// [`StoreErrorKind::Unavailable`] instead.
///
/// # Owners
/// On a single server (not a cluster) the store also tags keys with owners
/// ([`OwnedKeys`](satchel_store_core::OwnedKeys)): a tagged key's envelope holds the owner,
/// and the key is a member of the owner's SET, whose name starts with a NUL character (which
/// no key the store accepts holds, so it never collides with one and scans skip it). Tagged
/// writes are scripts that keep both in step; an untagged plain `SET` over a tagged key
/// leaves a stale member, which listing prunes. See `docs/stores.md`.
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    redacted_urls: Arc<str>,
    replica_acks: Option<(u32, Duration)>,
    /// What [`Watch`](satchel_store_core::Watch) subscribes with: one server only.
    feed: Option<Arc<watch::FeedSetup>>,
}

impl RedisStore {
    /// Connects to the server at `url` with default settings (see [`RedisConfig`]).
    ///
    /// # Errors
    /// As [`RedisStore::with_config`].
    pub async fn connect(url: &str) -> Result<Self> {
        Self::with_config(RedisConfig::new(url)).await
    }

    /// Connects as `config` says, and waits until the connection is up.
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidInput`] for a URL that does not parse, a `rediss://` URL
    /// without the `tls` feature, or a `redis-cluster://` URL without the `cluster` feature; [`StoreErrorKind::Unavailable`] when the server cannot be
    /// reached (after [`RedisConfig::with_reconnect_attempts`] retries);
    /// [`StoreErrorKind::Timeout`] when it does not answer in time;
    /// [`StoreErrorKind::Backend`] when it refuses the connection (a wrong password, …).
    /// Messages show the URL with its password replaced by `***`.
    pub async fn with_config(config: RedisConfig) -> Result<Self> {
        let redacted = config.redacted_urls();
        let config = config.resolved()?;
        prepare_tls(&config, &redacted)?;
        #[cfg(feature = "cluster")]
        if config.cluster {
            return Self::open_cluster(config, redacted).await;
        }
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(config.connection_timeout)
            .set_response_timeout(config.response_timeout)
            .set_number_of_retries(config.reconnect_attempts);
        if let Some(target) = config.sentinel.clone() {
            let query_config = redis::AsyncConnectionConfig::new()
                .set_connection_timeout(config.connection_timeout)
                .set_response_timeout(config.response_timeout);
            let sentinel = sentinel::Sentinel::connect(target, manager_config, query_config)
                .await
                .map_err(|e| connect_failed(e, &redacted))?;
            return Ok(Self {
                conn: Conn::Sentinel(sentinel),
                redacted_urls: redacted.into(),
                replica_acks: config.replica_acks,
                feed: None,
            });
        }
        let client = redis::Client::open(config.url()).map_err(|e| connect_failed(e, &redacted))?;
        let feed = watch::FeedSetup::new(client.clone(), config.keyspace_events);
        let manager = ConnectionManager::new_with_config(client, manager_config)
            .await
            .map_err(|e| connect_failed(e, &redacted))?;
        Ok(Self {
            conn: Conn::Single(manager),
            redacted_urls: redacted.into(),
            replica_acks: config.replica_acks,
            feed: Some(Arc::new(feed)),
        })
    }

    /// Connects to a Redis Cluster through any of `urls` (seed nodes), with default
    /// settings; use [`RedisConfig::cluster`] and [`RedisStore::with_config`] for others.
    ///
    /// Each operation touches one key, so one slot. [`Scan`] asks every primary in turn.
    /// Owner tags ([`OwnedKeys`](satchel_store_core::OwnedKeys)) are not offered: an
    /// owner's set and its keys sit in different slots, which one script cannot touch.
    /// The cluster client follows `MOVED`/`ASK` redirections and reconnects by itself.
    ///
    /// # Errors
    /// As [`RedisStore::with_config`].
    #[cfg(feature = "cluster")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cluster")))]
    pub async fn connect_cluster<I, S>(urls: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::with_config(RedisConfig::cluster(urls)).await
    }

    #[cfg(feature = "cluster")]
    async fn open_cluster(config: RedisConfig, redacted: String) -> Result<Self> {
        if config.replica_acks.is_some() {
            return Err(StoreError::new(
                satchel_store_core::StoreErrorKind::InvalidInput,
                format!(
                    "{redacted}: waiting for replicas (WAIT) is not offered on a cluster connection"
                ),
            )
            .with_backend(BACKEND));
        }
        let retries = u32::try_from(config.reconnect_attempts).unwrap_or(u32::MAX);
        let mut builder =
            redis::cluster::ClusterClientBuilder::new(config.urls.iter().map(String::as_str))
                .retries(retries);
        if let Some(timeout) = config.connection_timeout {
            builder = builder.connection_timeout(timeout);
        }
        if let Some(timeout) = config.response_timeout {
            builder = builder.response_timeout(timeout);
        }
        let client = builder.build().map_err(|e| connect_failed(e, &redacted))?;
        let conn = client
            .get_async_connection()
            .await
            .map_err(|e| connect_failed(e, &redacted))?;
        Ok(Self {
            conn: Conn::Cluster(conn),
            redacted_urls: redacted.into(),
            replica_acks: None,
            feed: None,
        })
    }

    /// The key on the server: the key itself (a namespace is the job of
    /// [`Prefixed`](satchel_store_core::Prefixed), the one
    /// key-prefix mechanism of every store).
    fn full_key(&self, key: &str) -> String {
        key.to_string()
    }

    /// Runs `attempt` on a clone of the connection; if the connection dropped, runs it once
    /// more when `retry` says that is harmless, and otherwise reports the write as possibly
    /// applied.
    async fn run<T, F, Fut>(&self, op: Op, key: Option<&str>, retry: bool, attempt: F) -> Result<T>
    where
        F: Fn(Conn) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let with_key = |e: StoreError| match key {
            Some(key) => e.with_key(key),
            None => e,
        };
        let err = match attempt(self.conn.clone()).await {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        // Behind sentinels, a primary that stopped answering or turned read-only may have
        // been replaced: ask the sentinels, then retry on the primary they name. A refused
        // connection or a READONLY reply means the command was not applied.
        if let Conn::Sentinel(sentinel) = &self.conn
            && sentinel::primary_moved(&err)
        {
            sentinel.refresh().await;
            let not_applied = err.is_connection_refusal() || err.code() == Some("READONLY");
            if !(retry || not_applied) {
                return Err(with_key(conditional_write_lost(err, op)));
            }
            tracing::debug!(backend = BACKEND, %op, "the primary moved; retrying once");
            return attempt(self.conn.clone())
                .await
                .map_err(|e| with_key(from_redis(e, op)));
        }
        if !is_dropped(&err) {
            return Err(with_key(from_redis(err, op)));
        }
        if !retry {
            return Err(with_key(conditional_write_lost(err, op)));
        }
        tracing::debug!(backend = BACKEND, %op, "connection dropped; retrying once");
        attempt(self.conn.clone())
            .await
            .map_err(|e| with_key(from_redis(e, op)))
    }

    /// One `GET`: an envelope is the whole answer. A foreign string (or an envelope whose
    /// expiry is past the year 10889) is read again with its time to live (one `MULTI`); a
    /// key of another Redis type (a 0.1 HASH, a list, …) is read by [`scripts::GET_LEGACY`].
    async fn get_entry(&self, key: &str) -> Result<Option<Entry>> {
        check_key(key)?;
        let full = self.full_key(key);
        let mut cmd = redis::cmd("GET");
        cmd.arg(&full);
        let reply = self
            .run(Op::Get, Some(key), true, |mut conn| {
                let cmd = &cmd;
                async move { wrong_type_apart(cmd.query_async(&mut conn).await) }
            })
            .await?;
        match reply {
            Some(Value::Nil) => Ok(None),
            Some(Value::BulkString(bytes)) => match layout::parse(bytes) {
                Stored::Envelope {
                    value,
                    version,
                    expires_at,
                    far: false,
                } => Ok(Some(Entry::new(value, version, expires_at))),
                _ => self.get_with_ttl(key, &full).await,
            },
            Some(_) => Err(bad_reply(Op::Get, "not a string").with_key(key)),
            None => self.get_legacy(key, &full).await,
        }
    }

    /// A string with its time to live, read together (`MULTI`): for a string another
    /// program wrote, whose version is derived from its bytes ([`layout::derived`]), and an
    /// envelope whose expiry is [`layout::FAR`].
    async fn get_with_ttl(&self, key: &str, full: &str) -> Result<Option<Entry>> {
        let mut pipe = redis::pipe();
        pipe.atomic().cmd("GET").arg(full).cmd("PTTL").arg(full);
        let reply = self
            .run(Op::Get, Some(key), true, |mut conn| {
                let pipe = &pipe;
                async move { wrong_type_apart(pipe.query_async(&mut conn).await) }
            })
            .await?;
        let Some(reply) = reply else {
            return self.get_legacy(key, full).await;
        };
        let Ok([value, Value::Int(pttl)]) = <[Value; 2]>::try_from(match reply {
            Value::Array(items) => items,
            _ => Vec::new(),
        }) else {
            return Err(bad_reply(Op::Get, "not a value and a time to live").with_key(key));
        };
        match value {
            Value::Nil => Ok(None),
            Value::BulkString(bytes) => match layout::parse(bytes) {
                Stored::Envelope {
                    value,
                    version,
                    expires_at,
                    far,
                } => {
                    let expires_at = if far {
                        replies::expiry_of(key, pttl)?
                    } else {
                        expires_at
                    };
                    Ok(Some(Entry::new(value, version, expires_at)))
                }
                Stored::Foreign(bytes) => {
                    let version = layout::derived(&bytes);
                    let expires_at = replies::expiry_of(key, pttl)?;
                    Ok(Some(Entry::new(bytes, version, expires_at)))
                }
            },
            _ => Err(bad_reply(Op::Get, "not a string").with_key(key)),
        }
    }

    /// A key that is not a string: a 0.1 HASH is read (and moved to the string layout by the
    /// next write), anything else is [`StoreErrorKind::Corrupt`], left in place.
    async fn get_legacy(&self, key: &str, full: &str) -> Result<Option<Entry>> {
        let reply: Value = self
            .run(Op::Get, Some(key), true, |mut conn| async move {
                scripts::GET_LEGACY.key(full).invoke_async(&mut conn).await
            })
            .await?;
        parse_legacy(key, reply)
    }

    /// Writes `key` (tagged with `owner` if given, which the caller has checked). An
    /// unconditional, untagged write is one plain `SET` of the envelope; every other write
    /// is one script, which checks the condition and moves the key between owner sets.
    async fn set_value(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        condition: Condition,
        owner: Option<&str>,
    ) -> Result<Version> {
        check_write(key, ttl)?;
        let (mode, replaced) = match condition {
            Condition::Always => ("always", None),
            Condition::IfAbsent => ("absent", None),
            Condition::IfVersion(v) => ("version", Some(v)),
            _ => return Err(unknown_condition(key, condition, BACKEND)),
        };
        let ttl_ms = ttl.map(ttl_millis);
        let version = layout::next_version(replaced);
        let envelope = layout::encode(value, version, ttl_ms.map(layout::expiry_ms), owner);
        let full = self.full_key(key);
        if matches!(condition, Condition::Always) && owner.is_none() {
            let mut cmd = redis::cmd("SET");
            cmd.arg(&full).arg(&envelope);
            if let Some(ms) = ttl_ms {
                cmd.arg("PX").arg(ms);
            }
            let () = self
                .run(Op::Set, Some(key), true, |mut conn| {
                    let cmd = &cmd;
                    async move { cmd.query_async(&mut conn).await }
                })
                .await?;
            self.replicated(Op::Set, Some(key)).await?;
            return Ok(version);
        }
        let expected = replaced.map(|v| (layout::version_hex(v), v.get().to_string()));
        let (hex, dec) = expected.unwrap_or_default();
        let ttl = ttl_ms.map(|ms| ms.to_string()).unwrap_or_default();
        let owner_set = owner.map(scripts::owner_set);
        let retry = matches!(condition, Condition::Always);
        let reply: Value = self
            .run(Op::Set, Some(key), retry, |mut conn| {
                let (full, envelope, hex, dec) = (&full, &envelope, &hex, &dec);
                let (ttl, owner_set) = (&ttl, &owner_set);
                async move {
                    let mut invocation = scripts::SET.key(full);
                    if let Some(set) = owner_set {
                        invocation.key(set);
                    }
                    invocation
                        .arg(envelope)
                        .arg(mode)
                        .arg(hex)
                        .arg(dec)
                        .arg(ttl)
                        .arg(owner.unwrap_or_default())
                        .arg(self.owner_sets())
                        .invoke_async(&mut conn)
                        .await
                }
            })
            .await?;
        parse_set(key, condition, reply)?;
        self.replicated(Op::Set, Some(key)).await?;
        Ok(version)
    }

    /// With [`RedisConfig::with_replica_acks`]: waits until the replicas have every write
    /// sent so far on the connection (`WAIT`), or fails the operation as not acknowledged.
    pub(super) async fn replicated(&self, op: Op, key: Option<&str>) -> Result<()> {
        let Some((replicas, timeout)) = self.replica_acks else {
            return Ok(());
        };
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(replicas).arg(ttl_millis(timeout));
        let acked: i64 = self
            .run(op, key, true, |mut conn| {
                let cmd = &cmd;
                async move { cmd.query_async(&mut conn).await }
            })
            .await?;
        if acked >= i64::from(replicas) {
            return Ok(());
        }
        let err = StoreError::new(
            satchel_store_core::StoreErrorKind::Unavailable,
            format!(
                "{op}: the write reached {acked} of {replicas} replicas within {timeout:?}; it is on the primary but a failover now could lose it"
            ),
        )
        .with_backend(BACKEND);
        Err(match key {
            Some(key) => err.with_key(key),
            None => err,
        })
    }

    async fn delete_key(&self, key: &str) -> Result<bool> {
        check_key(key)?;
        let mut cmd = redis::cmd("DEL");
        cmd.arg(self.full_key(key));
        let removed: i64 = self
            .run(Op::Delete, Some(key), true, |mut conn| {
                let cmd = &cmd;
                async move { cmd.query_async(&mut conn).await }
            })
            .await?;
        if removed > 0 {
            self.replicated(Op::Delete, Some(key)).await?;
        }
        Ok(removed > 0)
    }

    /// Extends a value's ttl (an envelope's own expiry with it); a key that holds no value
    /// is the same error as from `get` (one rule in every operation), and keeps its own ttl.
    async fn touch_key(&self, key: &str, ttl: Duration) -> Result<bool> {
        check_write(key, Some(ttl))?;
        let full = self.full_key(key);
        let ms = ttl_millis(ttl);
        let expiry = layout::expiry_bytes(layout::expiry_ms(ms));
        let reply: Value = self
            .run(Op::Touch, Some(key), true, |mut conn| {
                let full = &full;
                async move {
                    scripts::TOUCH
                        .key(full)
                        .arg(ms)
                        .arg(&expiry[..])
                        .arg(self.owner_sets())
                        .invoke_async(&mut conn)
                        .await
                }
            })
            .await?;
        let touched = flag_or_not_a_value(key, Op::Touch, reply)?;
        if touched {
            self.replicated(Op::Touch, Some(key)).await?;
        }
        Ok(touched)
    }

    async fn scan_keys(&self, prefix: &str, limit: usize) -> Result<Vec<String>> {
        satchel_store_core::check_prefix(prefix)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let pattern = format!("{}*", glob_escape(&self.full_key(prefix)));
        let mut found = Found {
            keys: Vec::new(),
            seen: HashSet::new(),
            limit,
        };
        match &self.conn {
            Conn::Single(_) | Conn::Sentinel(_) => {
                self.scan_node(&pattern, None, &mut found).await?;
            }
            #[cfg(feature = "cluster")]
            Conn::Cluster(_) => {
                for node in self.primaries().await? {
                    if found.full() {
                        break;
                    }
                    self.scan_node(&pattern, Some(&node), &mut found).await?;
                }
            }
        }
        Ok(found.keys)
    }

    /// `SCAN`s one server (one cluster node if `node` is given) until it is done or `found`
    /// is full.
    async fn scan_node(&self, pattern: &str, node: Option<&Node>, found: &mut Found) -> Result<()> {
        let count = found.limit.clamp(100, 1000);
        let mut cursor: u64 = 0;
        loop {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(count);
            let reply = self
                .run(Op::Scan, None, true, |conn| query_on(conn, &cmd, node))
                .await?;
            let (next, keys) = parse_scan(reply)?;
            for key in keys {
                let Some(key) = listed_key(key) else {
                    continue;
                };
                found.push(&key);
                if found.full() {
                    return Ok(());
                }
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

/// Keys collected by a scan: deduplicated (`SCAN` may return a key twice), at most `limit`.
struct Found {
    keys: Vec<String>,
    seen: HashSet<String>,
    limit: usize,
}

impl Found {
    fn push(&mut self, key: &str) {
        if !self.full() && self.seen.insert(key.to_string()) {
            self.keys.push(key.to_string());
        }
    }

    fn full(&self) -> bool {
        self.keys.len() >= self.limit
    }
}

/// A key `SCAN` returned, if it is one the store could have written: UTF-8, without the
/// NUL character that owner sets ([`scripts::OWNER_SETS`]) begin with.
pub(super) fn listed_key(key: Vec<u8>) -> Option<String> {
    String::from_utf8(key).ok().filter(|k| !k.contains('\0'))
}

/// `ttl` in whole milliseconds under the one rule every store follows
/// ([`satchel_store_core::ttl_millis`]: rounded up, capped at 2^52 ms, Redis's own cap).
fn ttl_millis(ttl: Duration) -> u64 {
    satchel_store_core::ttl_millis(ttl)
}

/// `s` with the glob characters of `SCAN MATCH` (`*?[]\`) escaped, so it matches literally.
pub(super) fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.conn {
            Conn::Single(_) => "single",
            Conn::Sentinel(_) => "sentinel",
            #[cfg(feature = "cluster")]
            Conn::Cluster(_) => "cluster",
        };
        f.debug_struct("RedisStore")
            .field("url", &self.redacted_urls)
            .field("kind", &kind)
            .finish()
    }
}

impl Store for RedisStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
        Box::pin(self.get_entry(key))
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
    ) -> BoxFuture<'a, Result<Version>> {
        Box::pin(self.set_value(key, value, ttl, condition, None))
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(self.delete_key(key))
    }

    fn delete_if<'a>(&'a self, key: &'a str, version: Version) -> BoxFuture<'a, Result<bool>> {
        Box::pin(self.delete_key_if(key, version))
    }

    fn touch<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        Box::pin(self.touch_key(key, ttl))
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }

    /// Lists keys and, outside a cluster, tags them with owners; on one server (not
    /// behind sentinels, not a cluster) watches keys; no `purge_expired`: Redis deletes
    /// expired keys by itself.
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
            .with_scan(true)
            .with_owned_keys(self.keeps_owner_sets())
            .with_watch(self.feed.is_some())
    }
}

/// Pages follow `SCAN` cursors (one primary after another in a cluster, the node named in
/// the cursor): every key that lived for the whole listing is returned, deduplicated within
/// a page, but as `SCAN` itself may return a key twice (while Redis resizes its table), a
/// key can appear on two pages. [`Scan::scan`] deduplicates across the whole listing.
impl Scan for RedisStore {
    fn scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page>> {
        Box::pin(self.scan_page_keys(prefix, cursor, limit))
    }

    fn scan<'a>(&'a self, prefix: &'a str, limit: usize) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(self.scan_keys(prefix, limit))
    }

    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(self.delete_prefix_keys(prefix))
    }
}

/// Installs ring as the process's rustls crypto provider for `rediss://` URLs if none is
/// installed yet (redis builds rustls without one).
#[cfg(feature = "tls")]
fn prepare_tls(config: &RedisConfig, _redacted: &str) -> Result<()> {
    if config.urls.iter().any(|u| u.starts_with("rediss:"))
        && rustls::crypto::CryptoProvider::get_default().is_none()
    {
        // Losing a race with another installer is fine: a provider is then installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    Ok(())
}

/// Refuses `rediss://` URLs: they need the `tls` feature.
#[cfg(not(feature = "tls"))]
fn prepare_tls(config: &RedisConfig, redacted: &str) -> Result<()> {
    if config.urls.iter().any(|u| u.starts_with("rediss:")) {
        return Err(StoreError::new(
            satchel_store_core::StoreErrorKind::InvalidInput,
            format!("{redacted}: rediss:// URLs need the `tls` cargo feature of satchel-redis"),
        )
        .with_backend(BACKEND));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_characters_are_escaped() {
        assert_eq!(glob_escape(r"a*b?c[d]e\f"), r"a\*b\?c\[d\]e\\f");
        assert_eq!(glob_escape("plain:key"), "plain:key");
    }

    #[test]
    fn ttls_round_up_and_are_capped() {
        assert_eq!(ttl_millis(Duration::from_micros(1)), 1);
        assert_eq!(ttl_millis(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_millis(Duration::from_secs(3)), 3000);
        assert_eq!(ttl_millis(Duration::MAX), 1 << 52);
    }
}
