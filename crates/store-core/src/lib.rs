//! The byte-level [`Store`] trait that every satchel store adapter implements.
//!
//! A store keeps bytes under string keys, each with a [`Version`] (so compare-and-set works
//! on every backend and concurrent writers never lose an update silently) and an optional
//! expiry. It knows nothing about types: the codec pipeline owns those (`satchel-store`'s
//! `CodecStore` joins the two).
//!
//! The trait is object-safe (`Arc<dyn Store>` works): methods return boxed futures, the
//! one allocation per call that makes run-time choice of backend possible. Optional
//! capabilities are separate traits: [`Scan`] (keys by prefix), [`PurgeExpired`],
//! [`OwnedKeys`] (keys tagged with an owner, listed and deleted by owner) and [`Watch`] (a
//! feed of the keys that change; [`Notifying`] gives any store an in-process one); a
//! store says which it has in [`Store::capabilities`], and [`StoreObject`] (what a store
//! chosen at run time is used through) offers them only when it has them.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

mod base64url;
mod capabilities;
mod changes;
mod error;
mod id;
mod owned;
mod page;
mod prefixed;
mod retry;
mod ttl;

pub use base64url::{decode_base64url, encode_base64url};
pub use capabilities::{Capabilities, StoreObject, unknown_condition, unsupported};
pub use changes::{
    CHANGE_STREAM_CAPACITY, ChangeKind, ChangeSender, ChangeStream, KeyChange, MAX_WATCHERS,
    Notifying, Watch,
};
pub use error::{StoreError, StoreErrorKind};
pub use id::SessionId;
pub use owned::{MAX_OWNER_LEN, OwnedKeys, check_owner};
pub use page::{Cursor, Page, SCAN_BATCH, check_page, delete_by_pages, invalid_cursor};
pub use prefixed::Prefixed;
pub use retry::{Attempts, RetryPolicy};
pub use ttl::{MAX_TTL, expires_at, ttl_millis};

/// The future returned by store methods: boxed, `Send`, borrowing the store and arguments.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A value's version: opaque, and unique for a key, even after it is deleted and created
/// again (so a compare-and-set cannot succeed against a different value that happens to
/// carry an old number). Versions grow with every write a process makes, and a
/// compare-and-set's new version is above the one it replaced; on Redis, writers in two
/// processes draw versions from their own clocks, and a value another program wrote has a
/// version derived from its bytes, with no order (see `satchel_redis::RedisStore`).
///
/// Compare-and-set ([`Condition::IfVersion`]) succeeds only if the stored version is still
/// the one the writer read.
///
/// Callers compare versions and hand them back; only adapters and wire protocols, which
/// must store and carry them, see the number ([`Version::new`], [`Version::get`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(u64);

impl Version {
    /// The version an adapter stored as `n` (or a wire protocol carried).
    pub const fn new(n: u64) -> Self {
        Self(n)
    }

    /// The number an adapter stores (or a wire protocol carries) for this version.
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// A stored value with its version and expiry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// The bytes as written.
    pub value: Vec<u8>,
    /// The version of these bytes.
    pub version: Version,
    /// When the value expires, if it has a time to live.
    pub expires_at: Option<SystemTime>,
}

impl Entry {
    /// An entry.
    pub fn new(value: Vec<u8>, version: Version, expires_at: Option<SystemTime>) -> Self {
        Self {
            value,
            version,
            expires_at,
        }
    }
}

/// When a [`Store::set`] may write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Condition {
    /// Whatever is there (or not).
    Always,
    /// Only if the key has no live value (an expired one counts as absent).
    IfAbsent,
    /// Only if the live value is still at this version.
    IfVersion(Version),
}

/// A byte store with versions and expiry.
///
/// Implementations must:
/// - never return a value whose expiry has passed;
/// - make [`Store::set`] with a condition atomic (compare-and-set on the server where the
///   backend is remote), returning [`StoreErrorKind::Conflict`] when the condition fails;
/// - keep the backend's error as the `source` of a [`StoreError`], and never put
///   credentials in messages or `Debug` output.
pub trait Store: Send + Sync + fmt::Debug {
    /// The live value under `key`, if any.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>>;

    /// Writes `value` under `key` if `condition` holds, with a time to live (`None`: keep
    /// until deleted). Returns the new version.
    ///
    /// A `ttl` of zero is refused as [`StoreErrorKind::InvalidInput`] (it would write a
    /// value that is already gone).
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
    ) -> BoxFuture<'a, Result<Version>>;

    /// Removes `key`. Returns whether a live value was there.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>>;

    /// Removes `key` only if its live value is still at `version` (compare-and-delete,
    /// atomic on the backend). Returns whether it was removed: `false` when the key is
    /// missing, expired, or was written since (a concurrent write wins).
    ///
    /// Removing what was read, after reading it, without this races a writer: a plain
    /// [`Store::delete`] would remove their newer value.
    fn delete_if<'a>(&'a self, key: &'a str, version: Version) -> BoxFuture<'a, Result<bool>>;

    /// Sets a new time to live on a live value without rewriting it (its version does not
    /// change). Returns whether a live value was there: an expired or missing key is never
    /// revived.
    fn touch<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>>;

    /// A short name of the backend (`memory`, `sqlite`, `redis`, …), for logs and spans.
    fn backend(&self) -> &'static str;

    /// The optional capabilities this store has ([`Scan`], [`PurgeExpired`], [`OwnedKeys`]). The default
    /// is none: a store that implements one reports it here (and in its [`StoreObject`]
    /// impl), so that a caller holding a store chosen at run time can ask.
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
    }

    /// Lets go of the store's resources cleanly, waiting for operations in flight: a SQL
    /// pool closes its connections (SQLite checkpoints its write-ahead log first). Call it
    /// once on shutdown; operations afterwards fail as unavailable. The default has
    /// nothing to let go of (memory; Redis and gRPC clients close on drop); wrappers
    /// forward it.
    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }

    /// The key `key` is kept under in the store at the bottom of this stack of wrappers:
    /// [`Prefixed`] adds its prefix, everything else (the default) keeps it as it is.
    /// What a sealed codec binds a value to, so the value opens under that key only, from
    /// this handle, from a handle with another prefix reaching the same key, and from
    /// `satchel` commands that see the whole store.
    fn key_at_rest<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
        std::borrow::Cow::Borrowed(key)
    }
}

/// Stores that can list their keys.
///
/// [`Scan::scan_page`] is the listing: one page at a time, resumed from the [`Cursor`] the
/// previous page returned, so any number of keys can be listed. [`Scan::scan`] collects
/// pages up to a limit.
pub trait Scan: Store {
    /// One page of the live keys starting with `prefix`: at most `limit` keys (at least 1;
    /// a page may hold fewer, even none, and still have a next one), and the cursor to
    /// pass back for the next page, `None` when the listing is complete.
    ///
    /// Paging from `None` until `next` is `None` returns every key that lived for the whole
    /// listing; a key written or deleted meanwhile may or may not appear. Each store
    /// documents whether a key can appear on two pages (the ordered stores, memory and
    /// SQL, never repeat one).
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidInput`] for a `limit` of zero, a prefix with a NUL
    /// ([`check_page`]), or a cursor this store did not hand out; the store's errors
    /// otherwise.
    fn scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page>>;

    /// Live keys starting with `prefix`, in no particular order, at most `limit` of them:
    /// pages of [`Scan::scan_page`] (at most [`SCAN_BATCH`] keys each) until `limit` keys
    /// are found or the listing ends.
    fn scan<'a>(&'a self, prefix: &'a str, limit: usize) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(async move {
            check_prefix(prefix)?;
            let mut keys = Vec::new();
            let mut cursor: Option<Cursor> = None;
            while keys.len() < limit {
                let want = (limit - keys.len()).min(SCAN_BATCH);
                let page = self.scan_page(prefix, cursor.as_ref(), want).await?;
                keys.extend(page.keys);
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            keys.truncate(limit);
            Ok(keys)
        })
    }

    /// Deletes every key starting with `prefix`; returns how many live values were
    /// removed (expired ones under the prefix go too, uncounted, as with
    /// [`Store::delete`]). An empty prefix empties the store (a [`Prefixed`] store: its
    /// own keys only).
    ///
    /// Every key that lives for the whole call is removed; a key written under the prefix
    /// while it runs may or may not be. It is not one transaction: after a failure part of
    /// the keys may be gone, and calling again removes the rest.
    ///
    /// The default lists pages of [`Scan::scan_page`] and deletes key by key
    /// ([`delete_by_pages`]); stores override it with a bulk operation of their own (one
    /// statement on SQL and memory, `SCAN` with `UNLINK` of each batch on Redis, one call
    /// over gRPC).
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidInput`] for a prefix with a NUL; the store's errors
    /// otherwise.
    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(delete_by_pages(
            prefix,
            move |cursor| {
                Box::pin(async move { self.scan_page(prefix, cursor.as_ref(), SCAN_BATCH).await })
            },
            move |key| Box::pin(async move { self.delete(&key).await }),
        ))
    }
}

/// Stores that keep expired values until they are purged (SQL tables; Redis and the memory
/// store expire by themselves).
pub trait PurgeExpired: Store {
    /// Deletes every expired value, returning how many were removed.
    fn purge_expired(&self) -> BoxFuture<'_, Result<u64>>;
}

macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        impl<S: Store + ?Sized> Store for $ty {
            fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
                (**self).get(key)
            }
            fn set<'a>(
                &'a self,
                key: &'a str,
                value: &'a [u8],
                ttl: Option<Duration>,
                condition: Condition,
            ) -> BoxFuture<'a, Result<Version>> {
                (**self).set(key, value, ttl, condition)
            }
            fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
                (**self).delete(key)
            }
            fn delete_if<'a>(&'a self, key: &'a str, version: Version) -> BoxFuture<'a, Result<bool>> {
                (**self).delete_if(key, version)
            }
            fn touch<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
                (**self).touch(key, ttl)
            }
            fn backend(&self) -> &'static str {
                (**self).backend()
            }
            fn capabilities(&self) -> Capabilities {
                (**self).capabilities()
            }
            fn close(&self) -> BoxFuture<'_, ()> {
                (**self).close()
            }
            fn key_at_rest<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
                (**self).key_at_rest(key)
            }
        }
        impl<S: StoreObject + ?Sized> StoreObject for $ty {
            fn try_scan_page<'a>(
                &'a self,
                prefix: &'a str,
                cursor: Option<&'a Cursor>,
                limit: usize,
            ) -> Option<BoxFuture<'a, Result<Page>>> {
                (**self).try_scan_page(prefix, cursor, limit)
            }
            fn try_scan<'a>(
                &'a self,
                prefix: &'a str,
                limit: usize,
            ) -> Option<BoxFuture<'a, Result<Vec<String>>>> {
                (**self).try_scan(prefix, limit)
            }
            fn try_purge_expired(&self) -> Option<BoxFuture<'_, Result<u64>>> {
                (**self).try_purge_expired()
            }
            fn try_set_owned<'a>(
                &'a self,
                key: &'a str,
                value: &'a [u8],
                ttl: Option<Duration>,
                condition: Condition,
                owner: Option<&'a str>,
            ) -> Option<BoxFuture<'a, Result<Version>>> {
                (**self).try_set_owned(key, value, ttl, condition, owner)
            }
            fn try_keys_of<'a>(&'a self, owner: &'a str) -> Option<BoxFuture<'a, Result<Vec<String>>>> {
                (**self).try_keys_of(owner)
            }
            fn try_delete_owner<'a>(&'a self, owner: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
                (**self).try_delete_owner(owner)
            }
            fn try_watch<'a>(&'a self, prefix: &'a str) -> Option<BoxFuture<'a, Result<ChangeStream>>> {
                (**self).try_watch(prefix)
            }
            fn try_delete_prefix<'a>(&'a self, prefix: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
                (**self).try_delete_prefix(prefix)
            }
        }
        impl<S: Watch + ?Sized> Watch for $ty {
            fn watch<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<ChangeStream>> {
                (**self).watch(prefix)
            }
        }
        impl<S: Scan + ?Sized> Scan for $ty {
            fn scan_page<'a>(
                &'a self,
                prefix: &'a str,
                cursor: Option<&'a Cursor>,
                limit: usize,
            ) -> BoxFuture<'a, Result<Page>> {
                (**self).scan_page(prefix, cursor, limit)
            }
            fn scan<'a>(&'a self, prefix: &'a str, limit: usize) -> BoxFuture<'a, Result<Vec<String>>> {
                (**self).scan(prefix, limit)
            }
            fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64>> {
                (**self).delete_prefix(prefix)
            }
        }
        impl<S: PurgeExpired + ?Sized> PurgeExpired for $ty {
            fn purge_expired(&self) -> BoxFuture<'_, Result<u64>> {
                (**self).purge_expired()
            }
        }
    )*};
}

forward_store!(Arc<S>, Box<S>, &S);

/// Checks the arguments every store refuses the same way: an empty key, a zero ttl.
///
/// # Errors
/// [`StoreErrorKind::InvalidInput`] naming the problem.
pub fn check_write(key: &str, ttl: Option<Duration>) -> Result<()> {
    check_key(key)?;
    if ttl == Some(Duration::ZERO) {
        return Err(StoreError::new(
            StoreErrorKind::InvalidInput,
            "a ttl of zero would write a value that is already expired; use delete",
        )
        .with_key(key));
    }
    Ok(())
}

/// Refuses what no store may be given as a key: an empty key, and a NUL character (which
/// PostgreSQL's text cannot hold, so every store refuses it the same way).
///
/// # Errors
/// [`StoreErrorKind::InvalidInput`].
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(StoreError::new(
            StoreErrorKind::InvalidInput,
            "the key is empty",
        ));
    }
    if key.contains('\0') {
        return Err(StoreError::new(
            StoreErrorKind::InvalidInput,
            "the key contains a NUL character, which not every store can hold; \
             encode it (base64url, percent-encoding) first",
        ));
    }
    Ok(())
}

/// Refuses a scan prefix with a NUL character: no key can hold one ([`check_key`]), and
/// refusing it keeps every store's answer the same (0.1's SQLite matched nothing while
/// other stores matched).
///
/// # Errors
/// [`StoreErrorKind::InvalidInput`].
pub fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.contains('\0') {
        return Err(StoreError::new(
            StoreErrorKind::InvalidInput,
            "the prefix contains a NUL character, which no key can hold",
        ));
    }
    Ok(())
}

/// Milliseconds since the Unix epoch, the unit every adapter stores expiry in.
pub fn unix_millis(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The time `millis` after the Unix epoch.
pub fn from_unix_millis(millis: i64) -> SystemTime {
    if millis >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_millis(millis as u64)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_millis(millis.unsigned_abs())
    }
}

/// Query parameters whose values are credentials, redacted by [`redact_url`] (compared
/// without regard to case; sqlx, redis-rs and libpq accept several of these).
pub const SECRET_PARAMS: &[&str] = &[
    "password",
    "pass",
    "passwd",
    "pwd",
    "sslpassword",
    "token",
    "auth",
    "secret",
    "api_key",
    "apikey",
    "sentinelpassword",
];

/// `url` with every credential replaced by `***`, for messages and `Debug` output: the
/// password of the user info, the whole user info of a `grpc://`/`grpcs://` URL (where it
/// is a bearer token, `grpc://TOKEN@host`), and the values of the query parameters in
/// [`SECRET_PARAMS`] (`?password=…`).
///
/// ```
/// use satchel_store_core::redact_url;
/// assert_eq!(redact_url("postgres://app:s3cret@db:5432/test"), "postgres://app:***@db:5432/test");
/// assert_eq!(redact_url("redis://:pw@host"), "redis://:***@host");
/// assert_eq!(redact_url("sqlite://data.db"), "sqlite://data.db");
/// assert_eq!(
///     redact_url("postgres://app@db/test?sslmode=require&password=s3cret"),
///     "postgres://app@db/test?sslmode=require&password=***"
/// );
/// assert_eq!(redact_url("grpc://t0ken@127.0.0.1:1408"), "grpc://***@127.0.0.1:1408");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return redact_query(url);
    };
    let scheme = &url[..scheme_end];
    let token_userinfo =
        scheme.eq_ignore_ascii_case("grpc") || scheme.eq_ignore_ascii_case("grpcs");
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let with_authority = match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let redacted = match userinfo.find(':') {
                _ if token_userinfo => "***".to_string(),
                Some(colon) => format!("{}:***", &userinfo[..colon]),
                None => userinfo.to_string(),
            };
            format!(
                "{}{redacted}{}",
                &url[..scheme_end + 3],
                &url[scheme_end + 3 + at..]
            )
        }
        None => url.to_string(),
    };
    redact_query(&with_authority)
}

/// The values of [`SECRET_PARAMS`] in the query of `url` replaced by `***`.
fn redact_query(url: &str) -> String {
    let Some(q) = url.find('?') else {
        return url.to_string();
    };
    let (head, query) = url.split_at(q + 1);
    let (query, fragment) = match query.find('#') {
        Some(h) => query.split_at(h),
        None => (query, ""),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name)) => {
                format!("{name}=***")
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{head}{}{fragment}", pairs.join("&"))
}
