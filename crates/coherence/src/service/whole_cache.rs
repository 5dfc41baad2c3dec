//! Calls on a whole cache: `size`, `isEmpty`, `isReady`, `containsValue`, `keySet`,
//! `values`, `entrySet`, `clear`, `truncate`, `destroy` (with a filter or a comparator,
//! `keySet`, `values` and `entrySet` are `query.rs`'s).

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::bus::Change;
use super::checks::{namespace, parse_value, store_failed};
use super::query;
use super::store::stream_of;
use super::{Inner, ReplyStream};
use crate::keys::key_from_suffix;
use crate::proto;

pub(super) async fn clear(
    inner: &Arc<Inner>,
    request: Request<proto::ClearRequest>,
) -> Result<Response<()>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, None)?;
    inner.clear("clear", &prefix).await?;
    Ok(Response::new(()))
}

pub(super) async fn contains_value(
    inner: &Arc<Inner>,
    request: Request<proto::ContainsValueRequest>,
) -> Result<Response<bool>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    inner.check_json("value", &r.value)?;
    let wanted = parse_value(&r.value);
    for suffix in inner.list("containsValue", &prefix).await? {
        let key = format!("{prefix}{suffix}");
        if let Some(entry) = inner.get("containsValue", &key).await?
            && (entry.value == r.value || wanted.is_some() && parse_value(&entry.value) == wanted)
        {
            return Ok(Response::new(true));
        }
    }
    Ok(Response::new(false))
}

pub(super) async fn destroy(
    inner: &Arc<Inner>,
    request: Request<proto::DestroyRequest>,
) -> Result<Response<()>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, None)?;
    inner.clear("destroy", &prefix).await?;
    inner.indexes.drop_cache(&prefix);
    inner.bus.publish(Change::Destroyed {
        namespace: prefix,
        cache: r.cache,
    });
    Ok(Response::new(()))
}

pub(super) async fn entry_set(
    inner: &Arc<Inner>,
    request: Request<proto::EntrySetRequest>,
) -> Result<Response<ReplyStream<proto::Entry>>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    if !r.filter.is_empty() || !r.comparator.is_empty() {
        let (filter, comparator) = query::query_of("entrySet", &r.filter, &r.comparator)?;
        let stream = query::stream_matching(
            inner,
            "entrySet",
            prefix,
            filter,
            comparator,
            |key, value| proto::Entry { key, value },
        );
        return Ok(Response::new(stream.await?));
    }
    let suffixes = inner.list("entrySet", &prefix).await?;
    Ok(Response::new(inner.stream_entries(
        "entrySet",
        prefix,
        suffixes,
        None,
        |key, value| Ok(Some(proto::Entry { key, value })),
    )))
}

pub(super) async fn is_empty(
    inner: &Arc<Inner>,
    request: Request<proto::IsEmptyRequest>,
) -> Result<Response<bool>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, None)?;
    let keys = inner
        .store
        .scan(&prefix, 1)
        .await
        .map_err(|e| store_failed("isEmpty", &e))?;
    Ok(Response::new(keys.is_empty()))
}

/// Every cache is ready: the store is the server's, there is nothing to wait for.
pub(super) fn is_ready(request: Request<proto::IsReadyRequest>) -> Result<Response<bool>, Status> {
    let r = request.into_inner();
    namespace(&r.scope, &r.cache, None)?;
    Ok(Response::new(true))
}

pub(super) async fn key_set(
    inner: &Arc<Inner>,
    request: Request<proto::KeySetRequest>,
) -> Result<Response<ReplyStream<Vec<u8>>>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    if !r.filter.is_empty() {
        let (filter, _) = query::query_of("keySet", &r.filter, &[])?;
        let stream = query::stream_matching(inner, "keySet", prefix, filter, None, |key, _| key);
        return Ok(Response::new(stream.await?));
    }
    let keys = inner.list("keySet", &prefix).await?;
    Ok(Response::new(stream_of(
        keys.iter().filter_map(|s| key_from_suffix(s)).collect(),
    )))
}

pub(super) async fn size(
    inner: &Arc<Inner>,
    request: Request<proto::SizeRequest>,
) -> Result<Response<i32>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, None)?;
    let n = inner.list("size", &prefix).await?.len();
    Ok(Response::new(i32::try_from(n).unwrap_or(i32::MAX)))
}

pub(super) async fn truncate(
    inner: &Arc<Inner>,
    request: Request<proto::TruncateRequest>,
) -> Result<Response<()>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, None)?;
    inner.clear("truncate", &prefix).await?;
    inner.bus.publish(Change::Truncated {
        namespace: prefix,
        cache: r.cache,
    });
    Ok(Response::new(()))
}

pub(super) async fn values(
    inner: &Arc<Inner>,
    request: Request<proto::ValuesRequest>,
) -> Result<Response<ReplyStream<Vec<u8>>>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    if !r.filter.is_empty() || !r.comparator.is_empty() {
        let (filter, comparator) = query::query_of("values", &r.filter, &r.comparator)?;
        let stream =
            query::stream_matching(inner, "values", prefix, filter, comparator, |_, value| {
                value
            });
        return Ok(Response::new(stream.await?));
    }
    let suffixes = inner.list("values", &prefix).await?;
    Ok(Response::new(inner.stream_entries(
        "values",
        prefix,
        suffixes,
        None,
        |_, value| Ok(Some(value)),
    )))
}
