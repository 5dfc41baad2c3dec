//! What a store can do beyond [`Store`]: [`Capabilities`], and [`StoreObject`], the form
//! a store chosen at run time is used through.

use std::time::Duration;

use crate::{
    BoxFuture, ChangeStream, Condition, Cursor, Page, Result, SCAN_BATCH, Store, StoreError,
    StoreErrorKind, Version, delete_by_pages,
};
#[cfg(doc)]
use crate::{OwnedKeys, PurgeExpired, Scan, Watch};

/// The optional capabilities a store has, as [`Store::capabilities`] reports them.
///
/// A capability is reported only if the store really performs it: no adapter implements
/// one as a no-op (Redis, which expires values by itself, does not report
/// `purge_expired`). New capabilities may be added, so build a value from
/// [`Capabilities::NONE`] with the `with_*` methods.
///
/// ```
/// use satchel_store_core::Capabilities;
///
/// let caps = Capabilities::NONE.with_scan(true);
/// assert!(caps.scan && !caps.purge_expired);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Capabilities {
    /// Lists keys by prefix ([`Scan`]).
    pub scan: bool,
    /// Deletes expired values on request ([`PurgeExpired`]): stores that keep them until
    /// purged (SQL tables, the memory store).
    pub purge_expired: bool,
    /// Tags keys with an owner and lists or deletes an owner's keys in one operation
    /// ([`OwnedKeys`]): SQL tables.
    pub owned_keys: bool,
    /// Tells which keys change, as a feed of notices ([`Watch`]): Redis on one server
    /// (keyspace notifications), and any store wrapped in
    /// [`Notifying`](crate::Notifying) (in-process).
    pub watch: bool,
}

impl Capabilities {
    /// No optional capability.
    pub const NONE: Self = Self {
        scan: false,
        purge_expired: false,
        owned_keys: false,
        watch: false,
    };

    /// These capabilities, with [`Capabilities::scan`] set to `yes`.
    #[must_use]
    pub const fn with_scan(mut self, yes: bool) -> Self {
        self.scan = yes;
        self
    }

    /// These capabilities, with [`Capabilities::purge_expired`] set to `yes`.
    #[must_use]
    pub const fn with_purge_expired(mut self, yes: bool) -> Self {
        self.purge_expired = yes;
        self
    }

    /// These capabilities, with [`Capabilities::owned_keys`] set to `yes`.
    #[must_use]
    pub const fn with_owned_keys(mut self, yes: bool) -> Self {
        self.owned_keys = yes;
        self
    }

    /// These capabilities, with [`Capabilities::watch`] set to `yes`.
    #[must_use]
    pub const fn with_watch(mut self, yes: bool) -> Self {
        self.watch = yes;
        self
    }
}

/// A store used through `dyn` (`Arc<dyn StoreObject>`, what `satchel_store::open`
/// returns): the byte [`Store`] plus the optional capabilities, each `None` when the store
/// does not have it.
///
/// Generic code asks for a capability in its bounds (`S: Scan`); code holding a store
/// chosen at run time asks the store. `dyn StoreObject` has `scan` and `purge_expired`
/// methods of its own that refuse with [`StoreErrorKind::Unsupported`] naming the backend
/// when the capability is missing.
///
/// Implementations report in [`Store::capabilities`] exactly the capabilities whose
/// method here returns `Some`.
pub trait StoreObject: Store {
    /// One page of the live keys starting with `prefix`, as [`Scan::scan_page`]; `None`
    /// if this store cannot list keys.
    fn try_scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> Option<BoxFuture<'a, Result<Page>>>;

    /// Live keys starting with `prefix`, at most `limit` of them, as [`Scan::scan`] (pages
    /// of [`StoreObject::try_scan_page`]); `None` if this store cannot list keys.
    fn try_scan<'a>(
        &'a self,
        prefix: &'a str,
        limit: usize,
    ) -> Option<BoxFuture<'a, Result<Vec<String>>>> {
        if !self.capabilities().scan {
            return None;
        }
        Some(Box::pin(async move {
            crate::check_prefix(prefix)?;
            let mut keys = Vec::new();
            let mut cursor: Option<Cursor> = None;
            while keys.len() < limit {
                let want = (limit - keys.len()).min(SCAN_BATCH);
                let page = match self.try_scan_page(prefix, cursor.as_ref(), want) {
                    Some(page) => page.await?,
                    None => return Err(unsupported(self.backend(), "list keys (scan)")),
                };
                keys.extend(page.keys);
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            keys.truncate(limit);
            Ok(keys)
        }))
    }

    /// Deletes every expired value, as [`PurgeExpired::purge_expired`]; `None` if this
    /// store does not keep expired values to purge.
    fn try_purge_expired(&self) -> Option<BoxFuture<'_, Result<u64>>>;

    /// Writes `value` under `key` tagged with `owner`, as [`OwnedKeys::set_owned`];
    /// `None` if this store cannot tag keys with owners.
    fn try_set_owned<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
        owner: Option<&'a str>,
    ) -> Option<BoxFuture<'a, Result<Version>>>;

    /// The live keys tagged with `owner`, as [`OwnedKeys::keys_of`]; `None` if this store
    /// cannot tag keys with owners.
    fn try_keys_of<'a>(&'a self, owner: &'a str) -> Option<BoxFuture<'a, Result<Vec<String>>>>;

    /// Deletes every key tagged with `owner`, as [`OwnedKeys::delete_owner`]; `None` if
    /// this store cannot tag keys with owners.
    fn try_delete_owner<'a>(&'a self, owner: &'a str) -> Option<BoxFuture<'a, Result<u64>>>;

    /// Subscribes to the changes of the keys under `prefix`, as [`Watch::watch`]; `None`
    /// if this store has no change feed (the default: wrappers must forward it).
    fn try_watch<'a>(&'a self, prefix: &'a str) -> Option<BoxFuture<'a, Result<ChangeStream>>> {
        let _ = prefix;
        None
    }

    /// Deletes every key starting with `prefix`, as [`Scan::delete_prefix`]; `None` if
    /// this store cannot list keys. The default deletes key by key over
    /// [`StoreObject::try_scan_page`] ([`delete_by_pages`]); [`store_object!`](crate::store_object) forwards to
    /// the store's own [`Scan::delete_prefix`], and wrappers must forward it.
    fn try_delete_prefix<'a>(&'a self, prefix: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
        if !self.capabilities().scan {
            return None;
        }
        Some(Box::pin(delete_by_pages(
            prefix,
            move |cursor| {
                Box::pin(async move {
                    match self.try_scan_page(prefix, cursor.as_ref(), SCAN_BATCH) {
                        Some(page) => page.await,
                        None => Err(unsupported(self.backend(), "list keys (scan)")),
                    }
                })
            },
            move |key| Box::pin(async move { self.delete(&key).await }),
        )))
    }
}

/// The error for a capability `store` does not have.
pub fn unsupported(backend: &'static str, capability: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Unsupported,
        format!(
            "this store cannot {capability} (Store::capabilities says which operations a \
             store has)"
        ),
    )
    .with_backend(backend)
}

impl dyn StoreObject + '_ {
    /// One page of the live keys starting with `prefix`, resumed at `cursor`, as
    /// [`Scan::scan_page`].
    ///
    /// # Errors
    /// [`StoreErrorKind::Unsupported`] if the store cannot list keys
    /// ([`Capabilities::scan`]); the store's errors otherwise.
    pub fn scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page>> {
        match self.try_scan_page(prefix, cursor, limit) {
            Some(fut) => fut,
            None => Box::pin(std::future::ready(Err(unsupported(
                self.backend(),
                "list keys (scan)",
            )))),
        }
    }

    /// Live keys starting with `prefix`, in no particular order, at most `limit` of them.
    ///
    /// # Errors
    /// [`StoreErrorKind::Unsupported`] if the store cannot list keys
    /// ([`Capabilities::scan`]); the store's errors otherwise.
    pub fn scan<'a>(&'a self, prefix: &'a str, limit: usize) -> BoxFuture<'a, Result<Vec<String>>> {
        match self.try_scan(prefix, limit) {
            Some(fut) => fut,
            None => Box::pin(std::future::ready(Err(unsupported(
                self.backend(),
                "list keys (scan)",
            )))),
        }
    }

    /// Deletes every key starting with `prefix`, returning how many live values were
    /// removed, as [`Scan::delete_prefix`] (in bulk where the store can).
    ///
    /// # Errors
    /// [`StoreErrorKind::Unsupported`] if the store cannot list keys
    /// ([`Capabilities::scan`]); [`StoreErrorKind::InvalidInput`] for a prefix with a NUL;
    /// the store's errors otherwise.
    pub fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64>> {
        match self.try_delete_prefix(prefix) {
            Some(fut) => fut,
            None => Box::pin(std::future::ready(Err(unsupported(
                self.backend(),
                "delete keys by prefix (it cannot list keys)",
            )))),
        }
    }

    /// Deletes every expired value, returning how many were removed.
    ///
    /// # Errors
    /// [`StoreErrorKind::Unsupported`] if the store does not keep expired values to purge
    /// ([`Capabilities::purge_expired`]: Redis expires them by itself); the store's errors
    /// otherwise.
    pub fn purge_expired(&self) -> BoxFuture<'_, Result<u64>> {
        match self.try_purge_expired() {
            Some(fut) => fut,
            None => Box::pin(std::future::ready(Err(unsupported(
                self.backend(),
                "purge expired values (it expires them by itself, or keeps none)",
            )))),
        }
    }
}

/// Implements [`StoreObject`] for a store type from the capabilities it implements:
/// `store_object!(MyStore: scan, purge_expired, owned_keys, watch);`,
/// `store_object!(MyStore: scan);` or `store_object!(MyStore);` (capabilities in this order). The type must also report them in [`Store::capabilities`].
///
/// ```
/// use std::time::Duration;
/// use satchel_store_core::*;
///
/// #[derive(Debug)]
/// struct Nothing;
/// impl Store for Nothing {
///     fn get<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
///         Box::pin(async { Ok(None) })
///     }
///     fn set<'a>(&'a self, k: &'a str, _: &'a [u8], _: Option<Duration>, c: Condition)
///         -> BoxFuture<'a, Result<Version>> {
///         Box::pin(async move { Err(StoreError::conflict(k, c, None, "nothing")) })
///     }
///     fn delete<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<bool>> {
///         Box::pin(async { Ok(false) })
///     }
///     fn delete_if<'a>(&'a self, _: &'a str, _: Version) -> BoxFuture<'a, Result<bool>> {
///         Box::pin(async { Ok(false) })
///     }
///     fn touch<'a>(&'a self, _: &'a str, _: Duration) -> BoxFuture<'a, Result<bool>> {
///         Box::pin(async { Ok(false) })
///     }
///     fn backend(&self) -> &'static str { "nothing" }
/// }
/// satchel_store_core::store_object!(Nothing);
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store: std::sync::Arc<dyn StoreObject> = std::sync::Arc::new(Nothing);
/// let err = store.scan("", 10).await.unwrap_err();
/// assert_eq!(err.kind(), StoreErrorKind::Unsupported);
/// # }
/// ```
#[macro_export]
macro_rules! store_object {
    ($ty:ty $(: $($cap:ident),* $(,)?)?) => {
        impl $crate::StoreObject for $ty {
            fn try_scan_page<'a>(
                &'a self,
                prefix: &'a str,
                cursor: ::core::option::Option<&'a $crate::Cursor>,
                limit: usize,
            ) -> ::core::option::Option<$crate::BoxFuture<'a, $crate::Result<$crate::Page>>> {
                $crate::store_object!(@scan self, prefix, cursor, limit $(, $($cap),*)?)
            }
            fn try_scan<'a>(
                &'a self,
                prefix: &'a str,
                limit: usize,
            ) -> ::core::option::Option<$crate::BoxFuture<'a, $crate::Result<::std::vec::Vec<::std::string::String>>>> {
                $crate::store_object!(@scanall self, prefix, limit $(, $($cap),*)?)
            }
            fn try_purge_expired(
                &self,
            ) -> ::core::option::Option<$crate::BoxFuture<'_, $crate::Result<u64>>> {
                $crate::store_object!(@purge self $(, $($cap),*)?)
            }
            fn try_set_owned<'a>(
                &'a self,
                key: &'a str,
                value: &'a [u8],
                ttl: ::core::option::Option<::std::time::Duration>,
                condition: $crate::Condition,
                owner: ::core::option::Option<&'a str>,
            ) -> ::core::option::Option<$crate::BoxFuture<'a, $crate::Result<$crate::Version>>> {
                $crate::store_object!(@set_owned self, key, value, ttl, condition, owner $(, $($cap),*)?)
            }
            fn try_keys_of<'a>(
                &'a self,
                owner: &'a str,
            ) -> ::core::option::Option<$crate::BoxFuture<'a, $crate::Result<::std::vec::Vec<::std::string::String>>>> {
                $crate::store_object!(@keys_of self, owner $(, $($cap),*)?)
            }
            fn try_delete_owner<'a>(
                &'a self,
                owner: &'a str,
            ) -> ::core::option::Option<$crate::BoxFuture<'a, $crate::Result<u64>>> {
                $crate::store_object!(@delete_owner self, owner $(, $($cap),*)?)
            }
            fn try_watch<'a>(
                &'a self,
                prefix: &'a str,
            ) -> ::core::option::Option<$crate::BoxFuture<'a, $crate::Result<$crate::ChangeStream>>> {
                $crate::store_object!(@watch self, prefix $(, $($cap),*)?)
            }
            fn try_delete_prefix<'a>(
                &'a self,
                prefix: &'a str,
            ) -> ::core::option::Option<$crate::BoxFuture<'a, $crate::Result<u64>>> {
                $crate::store_object!(@delete_prefix self, prefix $(, $($cap),*)?)
            }
        }
    };
    (@delete_prefix $self:ident, $p:ident, scan $(, $rest:ident)*) => {
        ::core::option::Option::Some($crate::Scan::delete_prefix($self, $p))
    };
    (@delete_prefix $self:ident, $p:ident, $other:ident $(, $rest:ident)*) => {
        $crate::store_object!(@delete_prefix $self, $p $(, $rest)*)
    };
    (@delete_prefix $self:ident, $p:ident) => {{
        let _ = $p;
        ::core::option::Option::None
    }};
    (@watch $self:ident, $p:ident, watch $(, $rest:ident)*) => {
        ::core::option::Option::Some($crate::Watch::watch($self, $p))
    };
    (@watch $self:ident, $p:ident, $other:ident $(, $rest:ident)*) => {
        $crate::store_object!(@watch $self, $p $(, $rest)*)
    };
    (@watch $self:ident, $p:ident) => {{
        let _ = $p;
        ::core::option::Option::None
    }};
    (@set_owned $self:ident, $k:ident, $v:ident, $t:ident, $c:ident, $o:ident, owned_keys $(, $rest:ident)*) => {
        ::core::option::Option::Some($crate::OwnedKeys::set_owned($self, $k, $v, $t, $c, $o))
    };
    (@set_owned $self:ident, $k:ident, $v:ident, $t:ident, $c:ident, $o:ident, $other:ident $(, $rest:ident)*) => {
        $crate::store_object!(@set_owned $self, $k, $v, $t, $c, $o $(, $rest)*)
    };
    (@set_owned $self:ident, $k:ident, $v:ident, $t:ident, $c:ident, $o:ident) => {{
        let _ = ($k, $v, $t, $c, $o);
        ::core::option::Option::None
    }};
    (@keys_of $self:ident, $o:ident, owned_keys $(, $rest:ident)*) => {
        ::core::option::Option::Some($crate::OwnedKeys::keys_of($self, $o))
    };
    (@keys_of $self:ident, $o:ident, $other:ident $(, $rest:ident)*) => {
        $crate::store_object!(@keys_of $self, $o $(, $rest)*)
    };
    (@keys_of $self:ident, $o:ident) => {{
        let _ = $o;
        ::core::option::Option::None
    }};
    (@delete_owner $self:ident, $o:ident, owned_keys $(, $rest:ident)*) => {
        ::core::option::Option::Some($crate::OwnedKeys::delete_owner($self, $o))
    };
    (@delete_owner $self:ident, $o:ident, $other:ident $(, $rest:ident)*) => {
        $crate::store_object!(@delete_owner $self, $o $(, $rest)*)
    };
    (@delete_owner $self:ident, $o:ident) => {{
        let _ = $o;
        ::core::option::Option::None
    }};
    (@scan $self:ident, $prefix:ident, $cursor:ident, $limit:ident, scan $(, $rest:ident)*) => {
        ::core::option::Option::Some($crate::Scan::scan_page($self, $prefix, $cursor, $limit))
    };
    (@scan $self:ident, $prefix:ident, $cursor:ident, $limit:ident, $other:ident $(, $rest:ident)*) => {
        $crate::store_object!(@scan $self, $prefix, $cursor, $limit $(, $rest)*)
    };
    (@scan $self:ident, $prefix:ident, $cursor:ident, $limit:ident) => {{
        let _ = ($prefix, $cursor, $limit);
        ::core::option::Option::None
    }};
    (@scanall $self:ident, $prefix:ident, $limit:ident, scan $(, $rest:ident)*) => {
        ::core::option::Option::Some($crate::Scan::scan($self, $prefix, $limit))
    };
    (@scanall $self:ident, $prefix:ident, $limit:ident, $other:ident $(, $rest:ident)*) => {
        $crate::store_object!(@scanall $self, $prefix, $limit $(, $rest)*)
    };
    (@scanall $self:ident, $prefix:ident, $limit:ident) => {{
        let _ = ($prefix, $limit);
        ::core::option::Option::None
    }};
    (@purge $self:ident, purge_expired $(, $rest:ident)*) => {
        ::core::option::Option::Some($crate::PurgeExpired::purge_expired($self))
    };
    (@purge $self:ident, $other:ident $(, $rest:ident)*) => {
        $crate::store_object!(@purge $self $(, $rest)*)
    };
    (@purge $self:ident) => {
        ::core::option::Option::None
    };
}

/// The error for a [`Condition`](crate::Condition) this version of a store does not know
/// (`Condition` is `#[non_exhaustive]`): every adapter refuses it the same way, never
/// treating it as another condition.
pub fn unknown_condition(
    key: &str,
    condition: crate::Condition,
    backend: &'static str,
) -> StoreError {
    StoreError::new(
        StoreErrorKind::Unsupported,
        format!(
            "set: condition {condition:?} is not known to this version of the {backend} \
             adapter; nothing was written (upgrade the adapter, or use Always, IfAbsent or \
             IfVersion)"
        ),
    )
    .with_key(key)
    .with_backend(backend)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Condition, Version};

    #[test]
    fn an_unknown_condition_is_refused_naming_key_and_backend() {
        let e = unknown_condition("cart:1", Condition::IfVersion(Version::new(3)), "postgres");
        assert_eq!(e.kind(), StoreErrorKind::Unsupported);
        assert_eq!(e.key(), Some("cart:1"));
        assert_eq!(e.backend(), Some("postgres"));
        assert!(e.to_string().contains("nothing was written"), "{e}");
    }

    #[test]
    fn capabilities_build_from_none() {
        assert_eq!(Capabilities::default(), Capabilities::NONE);
        let both = Capabilities::NONE.with_scan(true).with_purge_expired(true);
        assert!(both.scan && both.purge_expired && !both.owned_keys);
        assert!(both.with_owned_keys(true).owned_keys);
        assert!(both.with_watch(true).watch && !both.watch);
        assert!(!both.with_scan(false).scan);
    }
}
