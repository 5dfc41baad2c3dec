//! [`CodecStore`]: typed values over any byte [`Store`], through a codec.

use std::time::Duration;

use satchel::{Codec, ErrorKind, ValueCodec};
use satchel_store_core::{
    Condition, Result, RetryPolicy, Store, StoreError, StoreErrorKind, Version,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Typed access to a byte store: values go through `codec` on the way in and out.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), satchel_store::StoreError> {
/// use satchel::{Codec, Zstd};
/// use satchel_store::{CodecExt, MemoryStore};
///
/// let users = Codec::json().compress(Zstd).wrap(MemoryStore::new());
/// users.set("ann", &vec!["admin"], None).await?;
/// let roles: Vec<String> = users.get("ann").await?.unwrap();
/// assert_eq!(roles, ["admin"]);
///
/// // Read, modify, write, retried on conflict: concurrent updates are never lost.
/// let visits = Codec::json().wrap(MemoryStore::new());
/// let n = visits.update("visits", None, |n: Option<u64>| n.unwrap_or(0) + 1).await?;
/// assert_eq!(n, 1);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CodecStore<S, K> {
    store: S,
    codec: K,
    retry: RetryPolicy,
}

/// Builds a [`CodecStore`] from a codec: `Codec::json().wrap(store)`.
pub trait CodecExt: ValueCodec + Sized {
    /// Typed access to `store` through this codec.
    fn wrap<S: Store>(self, store: S) -> CodecStore<S, Self>;
}

impl<F, C, E> CodecExt for Codec<F, C, E>
where
    Codec<F, C, E>: ValueCodec,
{
    fn wrap<S: Store>(self, store: S) -> CodecStore<S, Self> {
        CodecStore::new(store, self)
    }
}

impl<S: Store, K: ValueCodec> CodecStore<S, K> {
    /// Typed access to `store` through `codec`. Operations are traced if the store is
    /// (stores from [`open`](crate::open) are; wrap others in
    /// [`Instrumented`](crate::Instrumented)).
    pub fn new(store: S, codec: K) -> Self {
        Self {
            store,
            codec,
            retry: RetryPolicy::default(),
        }
    }

    /// This store, with [`CodecStore::update`] retrying lost races as `policy` says
    /// (default [`RetryPolicy::default`]: 100 attempts, jittered backoff up to 50 ms).
    #[must_use]
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How [`CodecStore::update`] retries lost races.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The byte store underneath.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The codec.
    pub fn codec(&self) -> &K {
        &self.codec
    }

    /// The key a sealed codec binds values to: the key at rest, under every [`Prefixed`]
    /// of the stack (worked out only for codecs that bind one).
    ///
    /// [`Prefixed`]: satchel_store_core::Prefixed
    fn bound_key<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
        if self.codec.binds_key() {
            self.store.key_at_rest(key)
        } else {
            std::borrow::Cow::Borrowed(key)
        }
    }

    fn decode<T: DeserializeOwned>(&self, key: &str, bytes: &[u8]) -> Result<T> {
        self.codec
            .decode_keyed(bytes, &self.bound_key(key))
            .map_err(|e| {
                let (kind, what) = if e.kind() == ErrorKind::Unauthentic {
                    (
                        StoreErrorKind::Corrupt,
                        "stored value does not open (tampered, cut short, copied from another \
                     key, or sealed with another key)",
                    )
                } else if e.kind() == ErrorKind::UnknownKey {
                    (
                        StoreErrorKind::Codec,
                        "stored value is sealed with a key this key ring does not hold",
                    )
                } else if e.is_corrupt() || e.is_limit() {
                    (StoreErrorKind::Corrupt, "stored value is not readable")
                } else if e.kind() == ErrorKind::Mismatch {
                    (
                        StoreErrorKind::Codec,
                        "stored value was written by another pipeline",
                    )
                } else {
                    (
                        StoreErrorKind::Codec,
                        "stored value does not decode as the requested type",
                    )
                };
                StoreError::new(
                    kind,
                    format!("{what} ({}); its bytes are left untouched", e.message()),
                )
                .with_key(key)
                .with_backend(self.store.backend())
                .with_source(e)
            })
    }

    fn encode<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<Vec<u8>> {
        self.codec
            .encode_keyed(value, &self.bound_key(key))
            .map_err(|e| {
                StoreError::new(StoreErrorKind::Codec, "value cannot be encoded")
                    .with_key(key)
                    .with_source(e)
            })
    }

    /// The value under `key`, if any.
    ///
    /// # Errors
    /// [`StoreErrorKind::Corrupt`] naming the key if the stored bytes are damaged (they are
    /// left in place); [`StoreErrorKind::Codec`] if they are another type or pipeline;
    /// backend errors as they come.
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        Ok(self.get_versioned(key).await?.map(|(v, _)| v))
    }

    /// The value under `key` with its version, for a later [`CodecStore::set_if_version`].
    ///
    /// # Errors
    /// As [`CodecStore::get`].
    pub async fn get_versioned<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<(T, Version)>> {
        match self.store.get(key).await? {
            Some(entry) => Ok(Some((self.decode(key, &entry.value)?, entry.version))),
            None => Ok(None),
        }
    }

    /// Writes `value` under `key`, replacing whatever is there.
    ///
    /// # Errors
    /// [`StoreErrorKind::Codec`] if the value cannot be encoded; backend errors.
    pub async fn set<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<Version> {
        let bytes = self.encode(key, value)?;
        self.store.set(key, &bytes, ttl, Condition::Always).await
    }

    /// Writes `value` only if `key` has no live value. Returns `None` if it had one.
    ///
    /// # Errors
    /// As [`CodecStore::set`].
    pub async fn set_if_absent<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
    ) -> Result<Option<Version>> {
        let bytes = self.encode(key, value)?;
        match self.store.set(key, &bytes, ttl, Condition::IfAbsent).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_conflict() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes `value` only if the stored version is still `version`.
    ///
    /// # Errors
    /// [`StoreErrorKind::Conflict`] if someone wrote (or deleted) since; as
    /// [`CodecStore::set`] otherwise.
    pub async fn set_if_version<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Option<Duration>,
        version: Version,
    ) -> Result<Version> {
        let bytes = self.encode(key, value)?;
        self.store
            .set(key, &bytes, ttl, Condition::IfVersion(version))
            .await
    }

    /// Reads the value under `key` (`None` if absent), computes a new one with `f` and
    /// writes it if nobody wrote in between; otherwise reads again and retries. Returns the
    /// value written. `f` may run several times.
    ///
    /// # Errors
    /// [`StoreErrorKind::Conflict`] once [`CodecStore::retry_policy`]'s attempts are all
    /// lost (the message says how many); as
    /// [`CodecStore::get`] and [`CodecStore::set`] otherwise.
    pub async fn update<T, Fun>(&self, key: &str, ttl: Option<Duration>, mut f: Fun) -> Result<T>
    where
        T: Serialize + DeserializeOwned,
        Fun: FnMut(Option<T>) -> T,
    {
        let mut attempts = self.retry.attempts();
        loop {
            let (old, condition) = match self.get_versioned::<T>(key).await? {
                Some((value, version)) => (Some(value), Condition::IfVersion(version)),
                None => (None, Condition::IfAbsent),
            };
            let new = f(old);
            let bytes = self.encode(key, &new)?;
            match self.store.set(key, &bytes, ttl, condition).await {
                Ok(_) => return Ok(new),
                Err(e) if e.is_conflict() => attempts.after_conflict(e).await?,
                Err(e) => return Err(e),
            }
        }
    }

    /// Removes `key`. Returns whether a value was there.
    ///
    /// # Errors
    /// Backend errors.
    pub async fn delete(&self, key: &str) -> Result<bool> {
        self.store.delete(key).await
    }

    /// Extends the time to live of `key` without rewriting it. Returns whether a live
    /// value was there (an expired key is never revived).
    ///
    /// # Errors
    /// Backend errors.
    pub async fn touch(&self, key: &str, ttl: Duration) -> Result<bool> {
        self.store.touch(key, ttl).await
    }
}
