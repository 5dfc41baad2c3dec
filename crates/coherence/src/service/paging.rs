//! `nextKeySetPage` / `nextEntrySetPage`: pages of a cache that follow the store's own
//! listing cursor ([`Scan::scan_page`](satchel_store_core::Scan::scan_page)), so each page costs
//! what it holds, whatever the cache's size; the cookie is the cursor.
//!
//! Cookies are `c` followed by the store's cursor token; an empty cookie asks for the first
//! page, and an empty cookie in a reply means it was the last. Pages come in the store's
//! listing order. Most stores list each key once; Redis' `SCAN` may return a key twice
//! across pages (its documented guarantee is "every key present throughout the listing is
//! returned at least once"), and so may a page here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use satchel_store_core::{Cursor, StoreErrorKind};
use tonic::{Request, Response, Status};

use super::checks::{namespace, store_failed};
use super::store::stream_of;
use super::{Inner, ReplyStream};
use crate::keys::key_from_suffix;
use crate::proto;

pub(super) async fn next_entry_set_page(
    inner: &Arc<Inner>,
    request: Request<proto::PageRequest>,
) -> Result<Response<ReplyStream<proto::EntryResult>>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    let (items, cookie) = page(inner, "nextEntrySetPage", &prefix, &r.cookie).await?;
    // The first message of every page is the next page's cookie, even when empty.
    let first = proto::EntryResult {
        cookie,
        ..Default::default()
    };
    Ok(Response::new(inner.stream_entries(
        "nextEntrySetPage",
        prefix,
        items,
        Some(first),
        |key, value| {
            Ok(Some(proto::EntryResult {
                key,
                value,
                cookie: Vec::new(),
            }))
        },
    )))
}

pub(super) async fn next_key_set_page(
    inner: &Arc<Inner>,
    request: Request<proto::PageRequest>,
) -> Result<Response<ReplyStream<Vec<u8>>>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    let (items, cookie) = page(inner, "nextKeySetPage", &prefix, &r.cookie).await?;
    let mut out = Vec::with_capacity(items.len() + 1);
    out.push(cookie);
    out.extend(items.iter().filter_map(|s| key_from_suffix(s)));
    Ok(Response::new(stream_of(out)))
}

/// How long one page may spend gathering keys before it answers with fewer than a page
/// (a store may hand out many empty pages: Redis' `SCAN` over a large keyspace).
const PAGE_TIME: Duration = Duration::from_secs(2);

/// One page of the namespace `prefix` from `cookie`: the key suffixes (at most the page
/// size) and the next cookie (empty on the last page).
async fn page(
    inner: &Inner,
    op: &'static str,
    prefix: &str,
    cookie: &[u8],
) -> Result<(Vec<String>, Vec<u8>), Status> {
    let mut cursor = parse_cookie(cookie)?;
    let size = inner.page_size;
    let started = Instant::now();
    let mut suffixes = Vec::with_capacity(size.min(1024));
    loop {
        let page = inner
            .store
            .scan_page(prefix, cursor.as_ref(), size - suffixes.len())
            .await
            .map_err(|e| match e.kind() {
                StoreErrorKind::InvalidInput if cursor.is_some() => Status::invalid_argument(
                    format!("coherence {op}: malformed cookie: not one this server issued"),
                ),
                _ => store_failed(op, &e),
            })?;
        suffixes.extend(
            page.keys
                .into_iter()
                .filter_map(|k| k.strip_prefix(prefix).map(str::to_string)),
        );
        cursor = page.next;
        if cursor.is_none() || suffixes.len() >= size || started.elapsed() >= PAGE_TIME {
            break;
        }
    }
    let next = cursor.map_or_else(Vec::new, |c| format!("c{}", c.as_token()).into_bytes());
    Ok((suffixes, next))
}

/// The store cursor a cookie carries; `None` for the empty cookie (the first page).
fn parse_cookie(cookie: &[u8]) -> Result<Option<Cursor>, Status> {
    if cookie.is_empty() {
        return Ok(None);
    }
    let malformed = || Status::invalid_argument("malformed cookie: not one this server issued");
    let text = std::str::from_utf8(cookie).map_err(|_| malformed())?;
    let token = text.strip_prefix('c').ok_or_else(malformed)?;
    Ok(Some(Cursor::from_token(token)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_carry_the_cursor_and_refuse_others() {
        assert_eq!(parse_cookie(b"").unwrap(), None);
        assert_eq!(
            parse_cookie(b"cabc").unwrap(),
            Some(Cursor::from_token("abc"))
        );
        for bad in [&b"\"k1\""[..], b"\xff", b"x"] {
            assert_eq!(
                parse_cookie(bad).unwrap_err().code(),
                tonic::Code::InvalidArgument
            );
        }
    }
}
