//! Paged listing: [`Cursor`] and [`Page`], what [`Scan::scan_page`](crate::Scan::scan_page)
//! takes and returns.

use crate::{BoxFuture, Result, StoreError, StoreErrorKind};

/// The most keys [`Scan::scan`](crate::Scan::scan) asks for in one page.
pub const SCAN_BATCH: usize = 1000;

/// Where a paged listing resumes: an opaque token that only the store which handed it out
/// understands (a store may refuse a token it did not make, as
/// [`StoreErrorKind::InvalidInput`]).
///
/// Callers pass it back unchanged; wire protocols carry it as its string form
/// ([`Cursor::as_token`], [`Cursor::from_token`]). Its contents are no API: they differ by
/// store and may change between versions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// The cursor whose string form is `token` (as a store made it, or as a wire protocol
    /// carried it).
    pub fn from_token(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The string form of this cursor, for a wire protocol or a store's own parsing.
    pub fn as_token(&self) -> &str {
        &self.0
    }

    /// The cursor as its string form.
    pub fn into_token(self) -> String {
        self.0
    }
}

/// One page of a listing: keys, and where the next page starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Page {
    /// Keys on this page, at most the limit asked for.
    pub keys: Vec<String>,
    /// The cursor for the next page; `None` when the listing is complete.
    pub next: Option<Cursor>,
}

impl Page {
    /// A page of `keys`, followed by the page at `next` (if any).
    pub fn new(keys: Vec<String>, next: Option<Cursor>) -> Self {
        Self { keys, next }
    }
}

/// Checks the arguments of a page every store refuses the same way: a prefix with a NUL
/// ([`check_prefix`](crate::check_prefix)) and a `limit` of zero (a page that could never
/// move on).
///
/// # Errors
/// [`StoreErrorKind::InvalidInput`].
pub fn check_page(prefix: &str, limit: usize) -> Result<()> {
    crate::check_prefix(prefix)?;
    if limit == 0 {
        return Err(StoreError::new(
            StoreErrorKind::InvalidInput,
            "a page of a scan must allow at least one key (limit 0)",
        ));
    }
    Ok(())
}

/// The error for a cursor `backend` did not hand out (or that is damaged).
pub fn invalid_cursor(backend: &'static str) -> StoreError {
    StoreError::new(
        StoreErrorKind::InvalidInput,
        "the scan cursor was not made by this store; start the listing again without one",
    )
    .with_backend(backend)
}

/// Deletes the live keys starting with `prefix` one at a time: the pages `page` lists
/// (called with `None`, then each page's cursor), every key on them passed to `delete`.
/// Returns how many `delete` reported as live.
///
/// What [`Scan::delete_prefix`](crate::Scan::delete_prefix) does for a store without a
/// bulk operation of its own, and what a wrapper that must see every deleted key (a change
/// feed) calls with its own `delete`. A key listed twice (Redis `SCAN` may repeat one) is
/// deleted twice and counted once, as its second delete finds nothing.
///
/// # Errors
/// The first error of `page` or `delete`; the keys deleted before it stay deleted.
pub async fn delete_by_pages<'a, P, D>(prefix: &str, mut page: P, mut delete: D) -> Result<u64>
where
    P: FnMut(Option<Cursor>) -> BoxFuture<'a, Result<Page>>,
    D: FnMut(String) -> BoxFuture<'a, Result<bool>>,
{
    crate::check_prefix(prefix)?;
    let mut deleted = 0;
    let mut cursor = None;
    loop {
        let listed = page(cursor.take()).await?;
        for key in listed.keys {
            if delete(key).await? {
                deleted += 1;
            }
        }
        match listed.next {
            Some(next) => cursor = Some(next),
            None => return Ok(deleted),
        }
    }
}
