//! The `Store`, `Scan` and `PurgeExpired` impls (`OwnedKeys` is in `owners`) of [`SqlStore`].

use super::*;

impl Store for SqlStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
        Box::pin(self.inner.timed(Some(key), false, self.inner.get(key)))
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
    ) -> BoxFuture<'a, Result<Version>> {
        Box::pin(async move {
            let version = self
                .inner
                .timed(
                    Some(key),
                    true,
                    self.inner.set(key, value, ttl, condition, None),
                )
                .await?;
            self.inner.after_write().await;
            Ok(version)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let deleted = self
                .inner
                .timed(Some(key), true, self.inner.delete(key))
                .await?;
            self.inner.after_write().await;
            Ok(deleted)
        })
    }

    fn delete_if<'a>(&'a self, key: &'a str, version: Version) -> BoxFuture<'a, Result<bool>> {
        Box::pin(
            self.inner
                .timed(Some(key), true, self.inner.delete_if(key, version)),
        )
    }

    fn touch<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        Box::pin(
            self.inner
                .timed(Some(key), true, self.inner.touch(key, ttl)),
        )
    }

    fn backend(&self) -> &'static str {
        self.inner.dialect.name()
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(SqlStore::close(self))
    }

    fn capabilities(&self) -> Capabilities {
        let caps = Capabilities::NONE
            .with_scan(true)
            .with_purge_expired(true)
            .with_owned_keys(true);
        #[cfg(feature = "postgres")]
        let caps = caps.with_watch(self.inner.feed.is_some());
        caps
    }
}

satchel_store_core::store_object!(SqlStore: scan, purge_expired, owned_keys, watch);

/// Keys are listed in the table's key order, by keyset pagination (`WHERE key > last
/// ORDER BY key LIMIT n`; a page's cursor is its last key): a listing never repeats a key,
/// and returns every key that lived throughout.
impl Scan for SqlStore {
    fn scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page>> {
        Box::pin(async move {
            let after = cursor.map_or("", Cursor::as_token);
            let keys = self
                .inner
                .timed(None, false, self.inner.scan_page(prefix, after, limit))
                .await?;
            let next = if keys.len() == limit {
                keys.last().cloned().map(Cursor::from_token)
            } else {
                None
            };
            Ok(Page::new(keys, next))
        })
    }

    /// Two `DELETE … WHERE key LIKE 'prefix%'` statements (the live rows, counted, then the
    /// expired ones): one round trip each, however many keys.
    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let deleted = self
                .inner
                .timed(None, true, self.inner.delete_prefix(prefix))
                .await?;
            self.inner.after_write().await;
            Ok(deleted)
        })
    }
}

impl PurgeExpired for SqlStore {
    fn purge_expired(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(self.inner.timed(None, true, self.inner.purge()))
    }
}
