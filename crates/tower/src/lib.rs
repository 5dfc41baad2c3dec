//! A [tower-sessions](https://docs.rs/tower-sessions) [`SessionStore`] for any satchel
//! store and codec: keep an axum app's sessions in memory, SQLite, PostgreSQL, MySQL or
//! Redis, encoded as JSON, MessagePack or bincode, compressed or not, by changing one line.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use satchel::{Codec, Zstd};
//! use satchel_tower::SatchelSessionStore;
//! use tower_sessions::SessionManagerLayer;
//!
//! let store = satchel_store::open("memory://").await?; // or "sqlite://sessions.db", …
//! let sessions = SatchelSessionStore::new(store, Codec::msgpack().compress(Zstd));
//! let layer = SessionManagerLayer::new(sessions); // .layer(…) it onto an axum Router
//! # let _ = layer;
//! # Ok(()) }
//! ```
//!
//! # What is stored
//!
//! Each session lives under the key `{prefix}k_{hash}`, the base64url of the first 128
//! bits of the session id's SHA-256 (prefix `tower-session:` by default, see
//! [`SatchelSessionStore::with_key_prefix`]), so the store never holds an id usable as a
//! cookie, and logs and errors, which name the key, carry none. A record kept under an
//! earlier key (`{prefix}h_` and the whole hash, or 0.1's id itself) is read when the key
//! has none, and moved to its key; either way, with the store's time to live
//! set to the session's expiry, so expired sessions are never loaded. Stores that keep
//! expired values until purged (SQL tables, the memory store) reclaim the space on
//! [`ExpiredDeletion::delete_expired`]: run it now and then, or spawn
//! `continuously_delete_expired` (cargo feature `deletion-task`).
//!
//! The value is the record in this layout, encoded by the codec:
//!
//! ```text
//! { id: String,                      // `c_` + 64 bits of the session id's hash, so a
//!                                    // record copied under another key is refused (earlier
//!                                    // records: the whole hash; 0.1: the id)
//!   expiry_unix_ms: i64,             // expiry, milliseconds since the Unix epoch
//!   data: BTreeMap<String, String> } // each session value as its JSON text
//! ```
//!
//! Session values are `serde_json::Value`s, which only self-describing formats can decode;
//! keeping each one as JSON text makes the record a plain struct of strings that every
//! format reads back, bincode included. The cost is that the values inside are JSON
//! whatever the codec (the codec's compression still applies to the whole record). Expiry
//! is kept to the millisecond.
//!
//! # Damaged records
//!
//! A record that cannot be decoded (corrupt bytes, a format or compression this build
//! lacks, another layout) is treated as absent: [`SessionStore::load`] returns `Ok(None)`,
//! the request goes on with a new session (under a new id), a `tracing` warning names the
//! key (never the value), and the bytes are left in place for inspection until they
//! expire. A record written by another pipeline than the current codec (after switching
//! from JSON to MessagePack, say) is still read, by following its header, and rewritten
//! in the current codec on the next save.
//!
//! # Errors
//!
//! tower-sessions' [`session_store::Error`] holds only strings, so store errors become
//! [`session_store::Error::Backend`] with the error and its causes rendered into the
//! message, and encoding errors [`session_store::Error::Encode`]: the kind and `source()`
//! of the original [`StoreError`](satchel_store_core::StoreError) cannot be kept there.
//! That is a limit of tower-sessions' error type.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use satchel::{DynCodec, ErrorKind, ValueCodec};
use satchel_store_core::{Condition, Prefixed, RetryPolicy, Store, StoreObject, unix_millis};
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store;
pub use tower_sessions_core::{ExpiredDeletion, SessionStore};

mod record;

use record::Stored;

/// The key prefix used unless [`SatchelSessionStore::with_key_prefix`] sets another.
pub const DEFAULT_KEY_PREFIX: &str = "tower-session:";

/// How many fresh ids [`SessionStore::create`] tries before giving up. With 128-bit random
/// ids a second attempt is already a once-in-the-universe event; the bound only keeps a
/// misbehaving store from looping forever.
const MAX_CREATE_ATTEMPTS: u32 = 16;

/// A [`SessionStore`] keeping tower-sessions records in a satchel [`Store`], encoded by a
/// satchel [`Codec`](satchel::Codec) (any [`ValueCodec`]).
///
/// The defaults suit run-time choice: `S` a store from `satchel_store::open` (an
/// `Arc<dyn StoreObject>`) and the codec a [`DynCodec`] parsed from a spec such as
/// `"msgpack+zstd"`. A concrete store and codec
/// (`SatchelSessionStore<MemoryStore, Codec<Json>>`) keep the whole path static.
///
/// [`SessionStore::create`] never overwrites an existing session: it writes only if the key
/// is absent and draws a new id on a collision. [`SessionStore::save`] writes with a time
/// to live of the record's expiry minus now, and deletes the session instead when that is
/// already past. Records that fail to decode load as `None` (see the
/// [crate docs](crate#damaged-records)).
#[derive(Debug, Clone)]
pub struct SatchelSessionStore<S = Arc<dyn StoreObject>, K = DynCodec> {
    /// The store, seen under the key prefix (the one key-prefix mechanism of satchel).
    store: Prefixed<S>,
    codec: K,
}

impl<S: Store, K: ValueCodec> SatchelSessionStore<S, K> {
    /// Sessions in `store`, encoded by `codec`, under keys prefixed with
    /// [`DEFAULT_KEY_PREFIX`].
    pub fn new(store: S, codec: K) -> Self {
        Self {
            store: Prefixed::new(store, DEFAULT_KEY_PREFIX),
            codec,
        }
    }

    /// The same store with session keys under `prefix` instead (an app sharing a store
    /// between several session layers gives each its own).
    #[must_use]
    pub fn with_key_prefix(mut self, prefix: impl Into<Arc<str>>) -> Self {
        let prefix: Arc<str> = prefix.into();
        self.store = Prefixed::new(self.store.into_inner(), prefix.as_ref());
        self
    }

    /// The key prefix.
    pub fn key_prefix(&self) -> &str {
        self.store.prefix()
    }

    /// The store key a session is kept under: the prefix, `k_` and 128 bits of the id's
    /// SHA-256 in base64url (never the id itself).
    pub fn key(&self, id: &Id) -> String {
        format!("{}{}", self.store.prefix(), record::key_of(id))
    }

    /// Moves a record an earlier version kept under another key (the whole hash, or 0.1's
    /// id itself) to the session's key, and returns it; `None` if there is none.
    async fn move_legacy(
        &self,
        id: &Id,
    ) -> session_store::Result<Option<satchel_store_core::Entry>> {
        let mut found = None;
        for legacy in record::legacy_keys(id) {
            if let Some(entry) = self
                .store
                .get(&legacy)
                .await
                .map_err(|e| self.store_error(id, e))?
            {
                found = Some((legacy, entry));
                break;
            }
        }
        let Some((legacy, entry)) = found else {
            return Ok(None);
        };
        let ttl = match entry.expires_at {
            Some(at) => match at.duration_since(SystemTime::now()) {
                Ok(left) if !left.is_zero() => Some(left),
                _ => return Ok(None),
            },
            None => None,
        };
        let version = match self
            .store
            .set(&record::key_of(id), &entry.value, ttl, Condition::IfAbsent)
            .await
        {
            Ok(v) => v,
            // Moved meanwhile by another request: the moved one wins.
            Err(e) if e.is_conflict() => {
                return self
                    .store
                    .get(&record::key_of(id))
                    .await
                    .map_err(|e| self.store_error(id, e));
            }
            Err(e) => return Err(self.store_error(id, e)),
        };
        self.store
            .delete(&legacy)
            .await
            .map_err(|e| self.store_error(id, e))?;
        Ok(Some(satchel_store_core::Entry::new(
            entry.value,
            version,
            entry.expires_at,
        )))
    }

    fn store_error(&self, id: &Id, e: satchel_store_core::StoreError) -> session_store::Error {
        backend_error(&e.with_key(self.key(id)))
    }

    /// The byte store underneath (keys there carry the prefix).
    pub fn store(&self) -> &S {
        self.store.inner()
    }

    /// The codec records are encoded with.
    pub fn codec(&self) -> &K {
        &self.codec
    }

    fn encode(&self, record: &Record) -> session_store::Result<Vec<u8>> {
        let stored = record::to_stored(record)
            .map_err(|e| session_store::Error::Encode(format!("a session value: {e}")))?;
        self.codec
            .encode(&stored)
            .map_err(|e| session_store::Error::Encode(with_causes(&e)))
    }

    fn decode(&self, bytes: &[u8]) -> Result<Stored, satchel::Error> {
        match self.codec.decode(bytes) {
            // Written before a change of codec: follow the header (the next save rewrites
            // it in the current codec).
            Err(e) if e.kind() == ErrorKind::Mismatch => {
                satchel::decode_any_with(bytes, self.codec.decode_limits())
            }
            other => other,
        }
    }

    /// Logs a record that does not decode. The key, never the value: and only messages
    /// satchel writes itself, not the format's, which may quote stored content.
    fn warn_unreadable(&self, key: &str, reason: &dyn std::fmt::Display) {
        tracing::warn!(
            key,
            backend = self.store.backend(),
            %reason,
            "session record does not decode; the request goes on as a new session and \
             the stored bytes are left in place"
        );
    }
}

/// `e` and its causes, joined by `: `, for tower-sessions' string-only errors.
fn with_causes(e: &(dyn StdError + 'static)) -> String {
    satchel::Report(e).to_string()
}

fn backend_error(e: &satchel_store_core::StoreError) -> session_store::Error {
    session_store::Error::Backend(with_causes(e))
}

/// The time to live for an expiry, or `None` if it is already past.
fn ttl_until(expiry_unix_ms: i64) -> Option<Duration> {
    let left = expiry_unix_ms.saturating_sub(unix_millis(SystemTime::now()));
    u64::try_from(left)
        .ok()
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis)
}

#[async_trait]
impl<S, K> SessionStore for SatchelSessionStore<S, K>
where
    S: Store + 'static,
    K: ValueCodec + 'static,
{
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A collision needs a new id, not a pause: no backoff.
        let mut attempts = RetryPolicy::new(MAX_CREATE_ATTEMPTS)
            .with_backoff(Duration::ZERO, Duration::ZERO)
            .attempts();
        loop {
            let Some(ttl) = ttl_until(record::unix_ms(record.expiry_date)) else {
                // Already expired: there is nothing to keep, and loading it would give
                // `None` anyway.
                return Ok(());
            };
            let key = record::key_of(&record.id);
            let bytes = self.encode(record)?;
            match self
                .store
                .set(&key, &bytes, Some(ttl), Condition::IfAbsent)
                .await
            {
                Ok(_) => return Ok(()),
                Err(e) if e.is_conflict() => {
                    attempts.after_conflict(e).await.map_err(|e| {
                        session_store::Error::Backend(format!(
                            "no free session id: every write-if-absent conflicted (is the {} \
                             store answering correctly?): {}",
                            self.store.backend(),
                            with_causes(&e)
                        ))
                    })?;
                    record.id = Id::default();
                }
                Err(e) => return Err(self.store_error(&record.id, e)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let key = record::key_of(&record.id);
        match ttl_until(record::unix_ms(record.expiry_date)) {
            Some(ttl) => {
                let bytes = self.encode(record)?;
                self.store
                    .set(&key, &bytes, Some(ttl), Condition::Always)
                    .await
                    .map_err(|e| self.store_error(&record.id, e))?;
            }
            None => {
                self.store
                    .delete(&key)
                    .await
                    .map_err(|e| self.store_error(&record.id, e))?;
            }
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let key = self.key(id);
        let found = self
            .store
            .get(&record::key_of(id))
            .await
            .map_err(|e| self.store_error(id, e))?;
        let found = match found {
            Some(entry) => Some(entry),
            None => self.move_legacy(id).await?,
        };
        let Some(entry) = found else {
            return Ok(None);
        };
        let stored = match self.decode(&entry.value) {
            Ok(stored) => stored,
            Err(e) => {
                // A `Decode` message comes from the format and may quote stored content:
                // log its kind only. The others are satchel's own words.
                if e.kind() == ErrorKind::Decode {
                    self.warn_unreadable(&key, &"the record does not decode in this layout");
                } else {
                    self.warn_unreadable(&key, &format_args!("{}: {e}", e.kind()));
                }
                return Ok(None);
            }
        };
        // The store never returns an expired value; this only guards against a clock step
        // between the store's check and ours.
        if ttl_until(stored.expiry_unix_ms()).is_none() {
            return Ok(None);
        }
        match record::from_stored(stored, *id) {
            Ok(record) => Ok(Some(record)),
            Err(invalid) => {
                self.warn_unreadable(&key, &invalid);
                Ok(None)
            }
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let [whole_hash, id_itself] = record::legacy_keys(id);
        for key in [record::key_of(id), whole_hash, id_itself] {
            self.store
                .delete(&key)
                .await
                .map_err(|e| self.store_error(id, e))?;
        }
        Ok(())
    }
}

/// Purges every expired value of the store, not only sessions' (stores purge by expiry, not
/// by key). SQL tables and the memory store keep expired values until purged; Redis
/// expires them by itself and has no purge (its
/// [`capabilities`](satchel_store_core::Store::capabilities) say so): run the deletion
/// task only for a store whose capabilities include `purge_expired`.
///
/// # Errors
/// A backend error naming the store if it has no purge, and the store's errors.
#[async_trait]
impl<S, K> ExpiredDeletion for SatchelSessionStore<S, K>
where
    S: StoreObject + 'static,
    K: ValueCodec + 'static,
{
    async fn delete_expired(&self) -> session_store::Result<()> {
        let Some(purge) = self.store.try_purge_expired() else {
            return Err(backend_error(&satchel_store_core::unsupported(
                self.store.backend(),
                "purge expired values (it expires them by itself: do not run a deletion \
                 task for it)",
            )));
        };
        purge.await.map(drop).map_err(|e| backend_error(&e))
    }
}
