//! [`Prefixed`]: a namespace for keys, one prefix per store handle.

use std::time::Duration;

use crate::{
    BoxFuture, Capabilities, ChangeStream, Condition, Cursor, Entry, OwnedKeys, Page, PurgeExpired,
    Result, Scan, Store, StoreError, StoreObject, Version, Watch,
};

/// A store handle whose keys all live under a prefix: `get("a")` reads `"{prefix}a"`.
///
/// Several handles with different prefixes share one backend (and its connection pool)
/// without their keys colliding; [`Scan`] returns keys without the prefix.
///
/// Owner tags ([`OwnedKeys`]) are namespaced the same way: the tag `ann` is kept as
/// `{prefix}ann`, so deleting the owner `ann` under one prefix never touches the keys
/// `ann` owns under another; [`OwnedKeys::keys_of`] returns keys without the prefix.
#[derive(Debug, Clone)]
pub struct Prefixed<S> {
    inner: S,
    prefix: String,
}

impl<S: Store> Prefixed<S> {
    /// `inner`, with every key under `prefix`.
    pub fn new(inner: S, prefix: impl Into<String>) -> Self {
        Self {
            inner,
            prefix: prefix.into(),
        }
    }

    /// The prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The store underneath.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The store underneath, unwrapped (to put it under another prefix).
    pub fn into_inner(self) -> S {
        self.inner
    }

    fn full(&self, key: &str) -> Result<String> {
        crate::check_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }

    /// `keys` of the inner store, without the prefix (keys outside it are dropped).
    fn strip_keys(&self, keys: Vec<String>) -> Vec<String> {
        keys.into_iter()
            .filter_map(|k| k.strip_prefix(&self.prefix).map(str::to_string))
            .collect()
    }

    fn full_owner(&self, owner: &str) -> Result<String> {
        crate::check_owner(owner)?;
        Ok(format!("{}{owner}", self.prefix))
    }

    fn strip(&self, e: StoreError) -> StoreError {
        match e.key().and_then(|k| k.strip_prefix(&self.prefix)) {
            Some(short) => {
                let short = short.to_string();
                e.with_key(short)
            }
            None => e,
        }
    }
}

impl<S: Store> Store for Prefixed<S> {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
        Box::pin(async move {
            let full = self.full(key)?;
            self.inner.get(&full).await.map_err(|e| self.strip(e))
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
    ) -> BoxFuture<'a, Result<Version>> {
        Box::pin(async move {
            let full = self.full(key)?;
            self.inner
                .set(&full, value, ttl, condition)
                .await
                .map_err(|e| self.strip(e))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let full = self.full(key)?;
            self.inner.delete(&full).await.map_err(|e| self.strip(e))
        })
    }

    fn delete_if<'a>(&'a self, key: &'a str, version: Version) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let full = self.full(key)?;
            self.inner
                .delete_if(&full, version)
                .await
                .map_err(|e| self.strip(e))
        })
    }

    fn touch<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let full = self.full(key)?;
            self.inner
                .touch(&full, ttl)
                .await
                .map_err(|e| self.strip(e))
        })
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
        let full = format!("{}{key}", self.prefix);
        std::borrow::Cow::Owned(self.inner.key_at_rest(&full).into_owned())
    }
}

impl<S: Scan> Scan for Prefixed<S> {
    fn scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page>> {
        Box::pin(async move {
            let full = format!("{}{prefix}", self.prefix);
            let page = self.inner.scan_page(&full, cursor, limit).await?;
            Ok(Page::new(self.strip_keys(page.keys), page.next))
        })
    }

    fn scan<'a>(&'a self, prefix: &'a str, limit: usize) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(async move {
            let full = format!("{}{prefix}", self.prefix);
            let keys = self.inner.scan(&full, limit).await?;
            Ok(self.strip_keys(keys))
        })
    }

    /// The store's own bulk delete, under this store's prefix: an empty `prefix` deletes
    /// this store's keys, never the rest of the store.
    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let full = format!("{}{prefix}", self.prefix);
            self.inner.delete_prefix(&full).await
        })
    }
}

impl<S: PurgeExpired> PurgeExpired for Prefixed<S> {
    fn purge_expired(&self) -> BoxFuture<'_, Result<u64>> {
        self.inner.purge_expired()
    }
}

/// Watches the keys under the prefix only, and delivers them without it.
impl<S: Watch> Watch for Prefixed<S> {
    fn watch<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<ChangeStream>> {
        Box::pin(async move {
            let full = format!("{}{prefix}", self.prefix);
            Ok(self.inner.watch(&full).await?.without_prefix(&self.prefix))
        })
    }
}

impl<S: OwnedKeys> OwnedKeys for Prefixed<S> {
    fn set_owned<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Version>> {
        Box::pin(async move {
            let full = self.full(key)?;
            let owner = owner.map(|o| self.full_owner(o)).transpose()?;
            self.inner
                .set_owned(&full, value, ttl, condition, owner.as_deref())
                .await
                .map_err(|e| self.strip(e))
        })
    }

    fn keys_of<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(async move {
            let owner = self.full_owner(owner)?;
            Ok(self.strip_keys(self.inner.keys_of(&owner).await?))
        })
    }

    fn delete_owner<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let owner = self.full_owner(owner)?;
            self.inner.delete_owner(&owner).await
        })
    }
}

/// A prefixed store chosen at run time (`Prefixed<Arc<dyn StoreObject>>`) has the
/// capabilities of the store underneath.
impl<S: StoreObject> StoreObject for Prefixed<S> {
    fn try_scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> Option<BoxFuture<'a, Result<Page>>> {
        if !self.inner.capabilities().scan {
            return None;
        }
        Some(Box::pin(async move {
            let full = format!("{}{prefix}", self.prefix);
            let page = match self.inner.try_scan_page(&full, cursor, limit) {
                Some(page) => page.await?,
                None => return Err(crate::unsupported(self.backend(), "list keys (scan)")),
            };
            Ok(Page::new(self.strip_keys(page.keys), page.next))
        }))
    }

    fn try_scan<'a>(
        &'a self,
        prefix: &'a str,
        limit: usize,
    ) -> Option<BoxFuture<'a, Result<Vec<String>>>> {
        if !self.inner.capabilities().scan {
            return None;
        }
        Some(Box::pin(async move {
            let full = format!("{}{prefix}", self.prefix);
            let keys = match self.inner.try_scan(&full, limit) {
                Some(scan) => scan.await?,
                None => return Err(crate::unsupported(self.backend(), "list keys (scan)")),
            };
            Ok(self.strip_keys(keys))
        }))
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
        if !self.inner.capabilities().owned_keys {
            return None;
        }
        Some(Box::pin(async move {
            let full = self.full(key)?;
            let owner = owner.map(|o| self.full_owner(o)).transpose()?;
            match self
                .inner
                .try_set_owned(&full, value, ttl, condition, owner.as_deref())
            {
                Some(set) => set.await.map_err(|e| self.strip(e)),
                None => Err(crate::unsupported(self.backend(), "tag keys with owners")),
            }
        }))
    }

    fn try_keys_of<'a>(&'a self, owner: &'a str) -> Option<BoxFuture<'a, Result<Vec<String>>>> {
        if !self.inner.capabilities().owned_keys {
            return None;
        }
        Some(Box::pin(async move {
            let owner = self.full_owner(owner)?;
            match self.inner.try_keys_of(&owner) {
                Some(keys) => Ok(self.strip_keys(keys.await?)),
                None => Err(crate::unsupported(self.backend(), "tag keys with owners")),
            }
        }))
    }

    fn try_delete_owner<'a>(&'a self, owner: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
        if !self.inner.capabilities().owned_keys {
            return None;
        }
        Some(Box::pin(async move {
            let owner = self.full_owner(owner)?;
            match self.inner.try_delete_owner(&owner) {
                Some(deleted) => deleted.await,
                None => Err(crate::unsupported(self.backend(), "tag keys with owners")),
            }
        }))
    }

    fn try_watch<'a>(&'a self, prefix: &'a str) -> Option<BoxFuture<'a, Result<ChangeStream>>> {
        if !self.inner.capabilities().watch {
            return None;
        }
        Some(Box::pin(async move {
            let full = format!("{}{prefix}", self.prefix);
            match self.inner.try_watch(&full) {
                Some(watch) => Ok(watch.await?.without_prefix(&self.prefix)),
                None => Err(crate::unsupported(
                    self.backend(),
                    "watch keys (a change feed)",
                )),
            }
        }))
    }

    fn try_delete_prefix<'a>(&'a self, prefix: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
        if !self.inner.capabilities().scan {
            return None;
        }
        Some(Box::pin(async move {
            let full = format!("{}{prefix}", self.prefix);
            match self.inner.try_delete_prefix(&full) {
                Some(deleted) => deleted.await,
                None => Err(crate::unsupported(self.backend(), "list keys (scan)")),
            }
        }))
    }
}
