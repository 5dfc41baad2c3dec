//! `addIndex` and `removeIndex`, and building an index from the cache's entries
//! ([`index`](super::index) has the indexes themselves and the rule of when one is used).

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::Inner;
use super::checks::namespace;
use crate::proto;
use crate::query::{Budget, Extractor, QueryError, parse_json};

fn extractor_of(op: &str, bytes: &[u8]) -> Result<Extractor, Status> {
    let refused = |e: QueryError| match e {
        QueryError::Invalid(m) => Status::invalid_argument(format!("coherence {op}: {m}")),
        QueryError::Unsupported(m) => Status::unimplemented(format!("coherence {op}: {m}")),
    };
    if !bytes.is_empty() {
        super::checks::check_json("extractor", bytes)?;
    }
    match parse_json("extractor", bytes).map_err(refused)? {
        None => Err(Status::invalid_argument(format!(
            "coherence {op}: the request has no extractor"
        ))),
        Some(v) => Extractor::parse(&v, &mut Budget::default()).map_err(refused),
    }
}

pub(super) async fn add_index(
    inner: &Arc<Inner>,
    request: Request<proto::AddIndexRequest>,
) -> Result<Response<()>, Status> {
    let op = "addIndex";
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    let extractor = extractor_of(op, &r.extractor)?;
    let build = inner
        .indexes
        .add(&prefix, extractor, r.sorted)
        .map_err(|m| Status::resource_exhausted(format!("coherence {op}: {m}")))?;
    if build {
        // The feed must run before the entries are read, so no write is missed between
        // the reading and the feed: starting it builds what waits for it.
        super::feed::start(inner).await;
        build_now(inner, &prefix).await?;
    }
    Ok(Response::new(()))
}

pub(super) async fn remove_index(
    inner: &Arc<Inner>,
    request: Request<proto::RemoveIndexRequest>,
) -> Result<Response<()>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    let extractor = extractor_of("removeIndex", &r.extractor)?;
    // Removing an index that is not there is no error, as on Coherence.
    inner.indexes.remove(&prefix, &extractor);
    Ok(Response::new(()))
}

/// Builds `namespace`'s indexes that wait to be built: every entry is read (at most the
/// service's `max_entries`) and handed to them; writes made meanwhile reach them already.
pub(super) async fn build_now(inner: &Inner, namespace: &str) -> Result<(), Status> {
    let op = "addIndex";
    let extractors = inner.indexes.to_build(namespace);
    if extractors.is_empty() || !inner.feed_runs() {
        return Ok(());
    }
    let mut entries = Vec::new();
    for suffix in inner.list(op, namespace).await? {
        if let Some(entry) = inner.get(op, &format!("{namespace}{suffix}")).await? {
            // Parsed here, once for all the indexes, outside their lock.
            entries.push((suffix, entry.version, super::index::parsed(&entry.value)));
        }
    }
    for extractor in &extractors {
        inner.indexes.built(namespace, extractor, &entries);
    }
    Ok(())
}

/// Builds, in the background, every index that waits to be built (after the feed
/// started, or lost notices).
pub(super) fn build_pending(inner: &Arc<Inner>) {
    for namespace in inner.indexes.caches_to_build() {
        let inner = Arc::clone(inner);
        tokio::spawn(async move {
            if let Err(status) = build_now(&inner, &namespace).await {
                tracing::warn!(
                    cache = namespace,
                    error = status.message(),
                    "coherence index: building it failed; queries on it read every entry \
                     until it is built (the next addIndex, or the next lost notice)"
                );
            }
        });
    }
}
