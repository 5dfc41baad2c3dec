//! `nextKeySetPage` / `nextEntrySetPage`: pages of a cache's sorted keys, the cookie being
//! the last key of the page.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::checks::namespace;
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
    let all = inner.list("nextEntrySetPage", &prefix).await?;
    let (items, cookie) = page(all, &r.cookie, inner.page_size)?;
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
        |key, value| proto::EntryResult {
            key,
            value,
            cookie: Vec::new(),
        },
    )))
}

pub(super) async fn next_key_set_page(
    inner: &Arc<Inner>,
    request: Request<proto::PageRequest>,
) -> Result<Response<ReplyStream<Vec<u8>>>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    let all = inner.list("nextKeySetPage", &prefix).await?;
    let (items, cookie) = page(all, &r.cookie, inner.page_size)?;
    let mut out = Vec::with_capacity(items.len() + 1);
    out.push(cookie);
    out.extend(items.iter().filter_map(|s| key_from_suffix(s)));
    Ok(Response::new(stream_of(out)))
}

/// One page of `suffixes` (sorted) after `cookie`: the items and the next cookie (empty on
/// the last page).
pub(super) fn page(
    suffixes: Vec<String>,
    cookie: &[u8],
    size: usize,
) -> Result<(Vec<String>, Vec<u8>), Status> {
    let after = std::str::from_utf8(cookie)
        .map_err(|_| Status::invalid_argument("malformed cookie: not one this server issued"))?;
    let start = if after.is_empty() {
        0
    } else {
        suffixes.partition_point(|s| s.as_str() <= after)
    };
    let rest = &suffixes[start..];
    let items: Vec<String> = rest.iter().take(size).cloned().collect();
    let next = if rest.len() > size {
        items
            .last()
            .map(|s| s.clone().into_bytes())
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Ok((items, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_every_key_once() {
        let all: Vec<String> = (0..7).map(|i| format!("\"k{i}\"")).collect();
        let mut cookie = Vec::new();
        let mut seen = Vec::new();
        loop {
            let (items, next) = page(all.clone(), &cookie, 3).unwrap();
            seen.extend(items);
            if next.is_empty() {
                break;
            }
            cookie = next;
        }
        assert_eq!(seen, all);
        let (items, next) = page(Vec::new(), b"", 3).unwrap();
        assert!(items.is_empty() && next.is_empty());
    }
}
