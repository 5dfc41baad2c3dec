//! [`Instrumented`]: a `tracing` span around every store operation.

use std::time::{Duration, Instant};

use satchel_store_core::{
    BoxFuture, Capabilities, Condition, Cursor, Entry, OwnedKeys, Page, PurgeExpired, Result, Scan,
    Store, StoreObject, Version,
};
use tracing::Instrument;

/// Wraps a store so every operation runs in a `tracing` span named `satchel.store` with
/// the backend, the operation, the key, value sizes, the outcome and the latency in
/// microseconds. Values and credentials are never recorded, nor session ids: a key that
/// ends in one (an unhashed session not yet moved) is recorded as
/// [`SessionId::shown_key`](satchel_store_core::SessionId::shown_key) shows it.
///
/// [`open`](crate::open) applies it; wrap an adapter built directly yourself.
#[derive(Debug, Clone)]
pub struct Instrumented<S> {
    inner: S,
}

impl<S: Store> Instrumented<S> {
    /// `inner`, traced.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }

    /// The store underneath.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

fn span(backend: &'static str, op: &'static str, key: &str) -> tracing::Span {
    let key = satchel_store_core::SessionId::shown_key(key);
    let key = key.as_ref();
    tracing::debug_span!(
        "satchel.store",
        backend,
        op,
        key,
        bytes = tracing::field::Empty,
        outcome = tracing::field::Empty,
        micros = tracing::field::Empty,
    )
}

async fn traced<T>(
    span: tracing::Span,
    fut: BoxFuture<'_, Result<T>>,
    outcome: impl FnOnce(&T) -> (&'static str, Option<usize>),
) -> Result<T> {
    let start = Instant::now();
    let result = fut.instrument(span.clone()).await;
    let micros = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    span.record("micros", micros);
    match &result {
        Ok(value) => {
            let (what, bytes) = outcome(value);
            span.record("outcome", what);
            if let Some(bytes) = bytes {
                span.record("bytes", bytes);
            }
        }
        Err(e) => {
            span.record("outcome", e.kind().as_str());
            span.in_scope(|| tracing::debug!(error = %e, "store operation failed"));
        }
    }
    result
}

impl<S: Store> Store for Instrumented<S> {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
        let span = span(self.inner.backend(), "get", key);
        Box::pin(traced(span, self.inner.get(key), |e| match e {
            Some(e) => ("hit", Some(e.value.len())),
            None => ("miss", None),
        }))
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
    ) -> BoxFuture<'a, Result<Version>> {
        let span = span(self.inner.backend(), "set", key);
        let len = value.len();
        Box::pin(traced(
            span,
            self.inner.set(key, value, ttl, condition),
            move |_| ("ok", Some(len)),
        ))
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        let span = span(self.inner.backend(), "delete", key);
        Box::pin(traced(span, self.inner.delete(key), |hit| {
            (if *hit { "deleted" } else { "absent" }, None)
        }))
    }

    fn delete_if<'a>(&'a self, key: &'a str, version: Version) -> BoxFuture<'a, Result<bool>> {
        let span = span(self.inner.backend(), "delete_if", key);
        Box::pin(traced(span, self.inner.delete_if(key, version), |hit| {
            (if *hit { "deleted" } else { "not_at_version" }, None)
        }))
    }

    fn touch<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        let span = span(self.inner.backend(), "touch", key);
        Box::pin(traced(span, self.inner.touch(key, ttl), |hit| {
            (if *hit { "extended" } else { "absent" }, None)
        }))
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.inner.close()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn key_at_rest<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
        self.inner.key_at_rest(key)
    }
}

impl<S: Store> Instrumented<S> {
    fn traced_scan<'a>(
        &'a self,
        prefix: &'a str,
        fut: BoxFuture<'a, Result<Vec<String>>>,
    ) -> BoxFuture<'a, Result<Vec<String>>> {
        let span = span(self.inner.backend(), "scan", prefix);
        Box::pin(traced(span, fut, |keys| ("ok", Some(keys.len()))))
    }

    fn traced_scan_page<'a>(
        &'a self,
        prefix: &'a str,
        fut: BoxFuture<'a, Result<Page>>,
    ) -> BoxFuture<'a, Result<Page>> {
        let span = span(self.inner.backend(), "scan_page", prefix);
        Box::pin(traced(span, fut, |page| ("ok", Some(page.keys.len()))))
    }

    fn traced_delete_prefix<'a>(
        &'a self,
        prefix: &'a str,
        fut: BoxFuture<'a, Result<u64>>,
    ) -> BoxFuture<'a, Result<u64>> {
        let span = span(self.inner.backend(), "delete_prefix", prefix);
        Box::pin(traced(span, fut, |n| {
            ("ok", Some(usize::try_from(*n).unwrap_or(usize::MAX)))
        }))
    }

    fn traced_purge<'a>(&'a self, fut: BoxFuture<'a, Result<u64>>) -> BoxFuture<'a, Result<u64>> {
        let span = span(self.inner.backend(), "purge_expired", "");
        Box::pin(traced(span, fut, |n| {
            ("ok", Some(usize::try_from(*n).unwrap_or(usize::MAX)))
        }))
    }
}

/// The owner operations are traced without the owner (a user id is no key).
impl<S: Store> Instrumented<S> {
    fn traced_set_owned<'a>(
        &'a self,
        key: &'a str,
        len: usize,
        fut: BoxFuture<'a, Result<Version>>,
    ) -> BoxFuture<'a, Result<Version>> {
        let span = span(self.inner.backend(), "set_owned", key);
        Box::pin(traced(span, fut, move |_| ("ok", Some(len))))
    }

    fn traced_keys_of<'a>(
        &'a self,
        fut: BoxFuture<'a, Result<Vec<String>>>,
    ) -> BoxFuture<'a, Result<Vec<String>>> {
        let span = span(self.inner.backend(), "keys_of", "");
        Box::pin(traced(span, fut, |keys| ("ok", Some(keys.len()))))
    }

    fn traced_delete_owner<'a>(
        &'a self,
        fut: BoxFuture<'a, Result<u64>>,
    ) -> BoxFuture<'a, Result<u64>> {
        let span = span(self.inner.backend(), "delete_owner", "");
        Box::pin(traced(span, fut, |n| {
            ("ok", Some(usize::try_from(*n).unwrap_or(usize::MAX)))
        }))
    }
}

impl<S: OwnedKeys> OwnedKeys for Instrumented<S> {
    fn set_owned<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Version>> {
        let fut = self.inner.set_owned(key, value, ttl, condition, owner);
        self.traced_set_owned(key, value.len(), fut)
    }

    fn keys_of<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<Vec<String>>> {
        self.traced_keys_of(self.inner.keys_of(owner))
    }

    fn delete_owner<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<u64>> {
        self.traced_delete_owner(self.inner.delete_owner(owner))
    }
}

impl<S: Scan> Scan for Instrumented<S> {
    fn scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page>> {
        self.traced_scan_page(prefix, self.inner.scan_page(prefix, cursor, limit))
    }

    fn scan<'a>(&'a self, prefix: &'a str, limit: usize) -> BoxFuture<'a, Result<Vec<String>>> {
        self.traced_scan(prefix, self.inner.scan(prefix, limit))
    }

    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64>> {
        self.traced_delete_prefix(prefix, self.inner.delete_prefix(prefix))
    }
}

impl<S: PurgeExpired> PurgeExpired for Instrumented<S> {
    fn purge_expired(&self) -> BoxFuture<'_, Result<u64>> {
        self.traced_purge(self.inner.purge_expired())
    }
}

/// A traced store chosen at run time has the capabilities of the store underneath, each
/// traced.
impl<S: StoreObject> StoreObject for Instrumented<S> {
    fn try_scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> Option<BoxFuture<'a, Result<Page>>> {
        let fut = self.inner.try_scan_page(prefix, cursor, limit)?;
        Some(self.traced_scan_page(prefix, fut))
    }

    fn try_scan<'a>(
        &'a self,
        prefix: &'a str,
        limit: usize,
    ) -> Option<BoxFuture<'a, Result<Vec<String>>>> {
        let fut = self.inner.try_scan(prefix, limit)?;
        Some(self.traced_scan(prefix, fut))
    }

    fn try_purge_expired(&self) -> Option<BoxFuture<'_, Result<u64>>> {
        let fut = self.inner.try_purge_expired()?;
        Some(self.traced_purge(fut))
    }

    fn try_set_owned<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
        owner: Option<&'a str>,
    ) -> Option<BoxFuture<'a, Result<Version>>> {
        let fut = self
            .inner
            .try_set_owned(key, value, ttl, condition, owner)?;
        Some(self.traced_set_owned(key, value.len(), fut))
    }

    fn try_keys_of<'a>(&'a self, owner: &'a str) -> Option<BoxFuture<'a, Result<Vec<String>>>> {
        let fut = self.inner.try_keys_of(owner)?;
        Some(self.traced_keys_of(fut))
    }

    fn try_delete_owner<'a>(&'a self, owner: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
        let fut = self.inner.try_delete_owner(owner)?;
        Some(self.traced_delete_owner(fut))
    }

    /// The feed itself is not traced (it is one subscription, not an operation per key).
    fn try_watch<'a>(
        &'a self,
        prefix: &'a str,
    ) -> Option<BoxFuture<'a, Result<satchel_store_core::ChangeStream>>> {
        self.inner.try_watch(prefix)
    }

    fn try_delete_prefix<'a>(&'a self, prefix: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
        let fut = self.inner.try_delete_prefix(prefix)?;
        Some(self.traced_delete_prefix(prefix, fut))
    }
}

impl<S: satchel_store_core::Watch> satchel_store_core::Watch for Instrumented<S> {
    fn watch<'a>(
        &'a self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<satchel_store_core::ChangeStream>> {
        self.inner.watch(prefix)
    }
}
