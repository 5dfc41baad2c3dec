//! Calls that carry the query language (`crate::query`): `invoke`, `invokeAll`,
//! `aggregate`, and `keySet` / `values` / `entrySet` with a filter or a comparator.
//!
//! - A processor runs on one entry at a time, atomically: the entry is read, processed,
//!   and written back with a compare-and-set at the version read (a removal deletes at that
//!   version); when a concurrent writer wins, the processor runs again on the fresh entry
//!   (the one retry policy, [`cas`]), so no update is lost. `invokeAll` with a filter
//!   checks the filter in the same step. Changes are published to listeners.
//! - Filtered `keySet` / `values` / `entrySet` scan the cache (up to
//!   `CoherenceService::with_max_entries`), evaluating the filter on each value; with a
//!   comparator they sort what matched before replying.
//! - `aggregate` and sorted queries hold the values they work on: at most
//!   [`MAX_HELD_BYTES`] of them, or the call answers `RESOURCE_EXHAUSTED`.
//!
//! Values are parsed to evaluate them: one larger than [`MAX_QUERIED_VALUE`] answers
//! `RESOURCE_EXHAUSTED` naming its key rather than being skipped.

use std::sync::Arc;

use satchel_store_core::{Condition, Entry, StoreErrorKind};
use serde_json::Value;
use tonic::{Request, Response, Status};

use super::checks::{check_json, namespace, remaining, retry_or_busy, store_failed};
use super::entries::changed_meanwhile;
use super::store::stream_of;
use super::{Inner, ReplyStream, cas};
use crate::keys::{key_from_suffix, key_suffix};
use crate::proto;
use crate::query::{
    Aggregator, Comparator, EntryRef, Filter, Outcome, Processor, QueryError, Work,
};
use crate::value::MAGIC;

/// The largest value a query parses (1 MiB).
pub(super) const MAX_QUERIED_VALUE: usize = 1 << 20;

/// The most value bytes `aggregate` or a sorted query holds at once (64 MiB).
pub(super) const MAX_HELD_BYTES: usize = 64 << 20;

fn refused(op: &str, e: QueryError) -> Status {
    match e {
        QueryError::Invalid(m) => Status::invalid_argument(format!("coherence {op}: {m}")),
        QueryError::Unsupported(m) => Status::unimplemented(format!("coherence {op}: {m}")),
    }
}

/// Checks a request's query field (when not empty) as Coherence JSON, before parsing it.
fn checked(field: &str, bytes: &[u8]) -> Result<(), Status> {
    if bytes.is_empty() {
        Ok(())
    } else {
        check_json(field, bytes)
    }
}

/// The JSON of a stored key or value.
pub(super) fn json_of(op: &str, what: &str, bytes: &[u8]) -> Result<Value, Status> {
    if bytes.len() > MAX_QUERIED_VALUE {
        return Err(Status::resource_exhausted(format!(
            "coherence {op}: a {what} is {} bytes, more than satchel evaluates queries on \
             ({MAX_QUERIED_VALUE} bytes)",
            bytes.len()
        )));
    }
    match bytes.split_first() {
        Some((&MAGIC, json)) => serde_json::from_slice(json).map_err(|e| {
            Status::failed_precondition(format!(
                "coherence {op}: a stored {what} is not valid JSON ({e}); it was not written \
                 through this endpoint"
            ))
        }),
        _ => Err(Status::failed_precondition(format!(
            "coherence {op}: a stored {what} is not Coherence JSON (0x15 + JSON); it was not \
             written through this endpoint"
        ))),
    }
}

fn to_bytes(v: &Value) -> Vec<u8> {
    let mut out = vec![MAGIC];
    // Writing a `Value` to a Vec cannot fail.
    serde_json::to_writer(&mut out, v).unwrap_or_default();
    out
}

pub(super) async fn invoke(
    inner: &Arc<Inner>,
    request: Request<proto::InvokeRequest>,
) -> Result<Response<Vec<u8>>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    inner.check_json("key", &r.key)?;
    checked("processor", &r.processor)?;
    let processor = Processor::parse_field(&r.processor).map_err(|e| refused("invoke", e))?;
    let out = process(inner, "invoke", &prefix, &r.key, &processor, None).await?;
    Ok(Response::new(to_bytes(&out.unwrap_or(Value::Null))))
}

pub(super) async fn invoke_all(
    inner: &Arc<Inner>,
    request: Request<proto::InvokeAllRequest>,
) -> Result<Response<ReplyStream<proto::Entry>>, Status> {
    let op = "invokeAll";
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    checked("processor", &r.processor)?;
    checked("filter", &r.filter)?;
    let processor = Processor::parse_field(&r.processor).map_err(|e| refused(op, e))?;
    let filter = Filter::parse_field("filter", &r.filter).map_err(|e| refused(op, e))?;
    // Named keys are processed whether present or not (a processor may insert); a filter
    // picks among the entries present.
    let (keys, filtered) = if r.keys.is_empty() {
        let keys = inner
            .candidates(op, &prefix, &filter)
            .await?
            .iter()
            .filter_map(|s| key_from_suffix(s))
            .collect::<Vec<_>>();
        (keys, true)
    } else {
        for k in &r.keys {
            inner.check_json("key", k)?;
        }
        let mut keys = r.keys;
        keys.sort_unstable();
        keys.dedup();
        (keys, !r.filter.is_empty())
    };
    // The results are streamed as each entry is processed, a few at a time (the channel's
    // bound), so a processor whose results are large (an identity ExtractorProcessor over a
    // big cache) never holds them all; a client that goes away stops the run at the next
    // entry. What was processed before an error stays processed, as on Coherence.
    let (tx, rx) = tokio::sync::mpsc::channel(INVOKE_ALL_IN_FLIGHT);
    let inner = Arc::clone(inner);
    tokio::spawn(async move {
        let only = filtered.then_some(&filter);
        for key in keys {
            let reply = match process(&inner, op, &prefix, &key, &processor, only).await {
                Ok(None) => continue,
                Ok(Some(out)) => Ok(proto::Entry {
                    value: to_bytes(&out),
                    key,
                }),
                Err(status) => Err(status),
            };
            let failed = reply.is_err();
            if tx.send(reply).await.is_err() || failed {
                break;
            }
        }
    });
    Ok(Response::new(Box::pin(
        tokio_stream::wrappers::ReceiverStream::new(rx),
    )))
}

/// How many `invokeAll` results may wait for the client at once.
const INVOKE_ALL_IN_FLIGHT: usize = 16;

/// Runs `processor` on the entry `key` of `prefix` atomically (see the module docs); with
/// `only`, on an entry present that matches it (else no result).
async fn process(
    inner: &Inner,
    op: &str,
    prefix: &str,
    key: &[u8],
    processor: &Processor,
    only: Option<&Filter>,
) -> Result<Outcome, Status> {
    let store_key = format!("{prefix}{}", key_suffix(key));
    let key_json = json_of(op, "key", key)?;
    let mut attempts = cas();
    loop {
        let current = inner.get(op, &store_key).await?;
        let value = match &current {
            Some(e) => Some(json_of(op, "value", &e.value)?),
            None => None,
        };
        if let Some(f) = only
            && (value.is_none()
                || !f.matches(EntryRef {
                    value: value.as_ref(),
                }))
        {
            return Ok(None);
        }
        let mut work = Work {
            key: &key_json,
            value,
            changed: false,
        };
        let out = processor.apply(&mut work).map_err(|e| refused(op, e))?;
        if !work.changed {
            return Ok(out);
        }
        let old = current.as_ref().map(|e| e.value.as_slice()).unwrap_or(&[]);
        let conflict = match (work.value, &current) {
            (None, None) => return Ok(out),
            (None, Some(entry)) => {
                if inner
                    .store
                    .delete_if(&store_key, entry.version)
                    .await
                    .map_err(|e| store_failed(op, &e))?
                {
                    inner.published(prefix, key, old, &[]);
                    return Ok(out);
                }
                changed_meanwhile(&store_key)
            }
            (Some(v), current) => {
                let bytes = to_bytes(&v);
                inner.check_fits(key, &bytes)?;
                let (condition, ttl) = match current {
                    Some(e) => (Condition::IfVersion(e.version), kept_ttl(e)),
                    None => (Condition::IfAbsent, None),
                };
                match inner.store.set(&store_key, &bytes, ttl, condition).await {
                    Ok(_) => {
                        inner.published(prefix, key, old, &bytes);
                        return Ok(out);
                    }
                    Err(e) if e.kind() == StoreErrorKind::Conflict => e,
                    Err(e) => return Err(store_failed(op, &e)),
                }
            }
        };
        retry_or_busy(&mut attempts, op, conflict).await?;
    }
}

/// What is left of an entry's time to live (an update keeps it); an entry expiring just
/// now keeps none, and its compare-and-set then loses and reads again.
fn kept_ttl(e: &Entry) -> Option<std::time::Duration> {
    remaining(e).ok().flatten()
}

pub(super) async fn aggregate(
    inner: &Arc<Inner>,
    request: Request<proto::AggregateRequest>,
) -> Result<Response<Vec<u8>>, Status> {
    let op = "aggregate";
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    checked("aggregator", &r.aggregator)?;
    checked("filter", &r.filter)?;
    let aggregator = Aggregator::parse_field(&r.aggregator).map_err(|e| refused(op, e))?;
    let filter = Filter::parse_field("filter", &r.filter).map_err(|e| refused(op, e))?;
    let keys = if r.keys.is_empty() {
        None
    } else {
        for k in &r.keys {
            inner.check_json("key", k)?;
        }
        Some(r.keys)
    };
    if let Some(trace) = aggregator.recorder() {
        let record = super::plan::record(inner, op, &prefix, &filter, keys, trace).await?;
        return Ok(Response::new(to_bytes(&record)));
    }
    let selected = select(inner, op, &prefix, &filter, keys).await?;
    let entries: Vec<(Value, Value)> = selected.into_iter().map(|s| (s.key_json, s.json)).collect();
    let result = aggregator.aggregate(&entries).map_err(|e| refused(op, e))?;
    Ok(Response::new(to_bytes(&result)))
}

/// An entry a query selected, as stored and as JSON.
struct Selected {
    key: Vec<u8>,
    value: Vec<u8>,
    key_json: Value,
    json: Value,
}

/// The entries of `prefix` (or of `keys`, those present) that match `filter`, holding at
/// most [`MAX_HELD_BYTES`] of values.
async fn select(
    inner: &Inner,
    op: &str,
    prefix: &str,
    filter: &Filter,
    keys: Option<Vec<Vec<u8>>>,
) -> Result<Vec<Selected>, Status> {
    let suffixes = match keys {
        None => inner.candidates(op, prefix, filter).await?,
        Some(keys) => {
            let mut s: Vec<String> = keys.iter().map(|k| key_suffix(k)).collect();
            s.sort_unstable();
            s.dedup();
            s
        }
    };
    let mut held = 0usize;
    let mut selected = Vec::new();
    for suffix in suffixes {
        let Some(key) = key_from_suffix(&suffix) else {
            continue;
        };
        let Some(entry) = inner.get(op, &format!("{prefix}{suffix}")).await? else {
            continue;
        };
        let key_json = json_of(op, "key", &key)?;
        let json = json_of(op, "value", &entry.value)?;
        if !filter.matches(EntryRef { value: Some(&json) }) {
            continue;
        }
        held += entry.value.len() + key.len();
        if held > MAX_HELD_BYTES {
            return Err(Status::resource_exhausted(format!(
                "coherence {op}: the entries it works on hold more than {MAX_HELD_BYTES} bytes, \
                 more than satchel holds for one call; narrow it with a filter or keys"
            )));
        }
        selected.push(Selected {
            key,
            value: entry.value,
            key_json,
            json,
        });
    }
    Ok(selected)
}

/// The parsed filter and comparator of a `keySet` / `values` / `entrySet` request.
pub(super) fn query_of(
    op: &str,
    filter: &[u8],
    comparator: &[u8],
) -> Result<(Arc<Filter>, Option<Comparator>), Status> {
    checked("filter", filter)?;
    checked("comparator", comparator)?;
    let f = Filter::parse_field("filter", filter).map_err(|e| refused(op, e))?;
    let c = Comparator::parse_field(comparator).map_err(|e| refused(op, e))?;
    Ok((Arc::new(f), c))
}

/// The entries of `prefix` matching `filter` as `f(key, value)`: streamed as they are
/// read, or sorted by `comparator` first.
pub(super) async fn stream_matching<T, F>(
    inner: &Arc<Inner>,
    op: &'static str,
    prefix: String,
    filter: Arc<Filter>,
    comparator: Option<Comparator>,
    f: F,
) -> Result<ReplyStream<T>, Status>
where
    T: Send + 'static,
    F: Fn(Vec<u8>, Vec<u8>) -> T + Send + 'static,
{
    if let Some(comparator) = comparator {
        let mut selected = select(inner, op, &prefix, &filter, None).await?;
        selected.sort_by(|a, b| comparator.compare(&a.json, &b.json));
        return Ok(stream_of(
            selected.into_iter().map(|s| f(s.key, s.value)).collect(),
        ));
    }
    let suffixes = inner.candidates(op, &prefix, &filter).await?;
    Ok(
        inner.stream_entries(op, prefix, suffixes, None, move |key, value| {
            let json = json_of(op, "value", &value)?;
            Ok(filter
                .matches(EntryRef { value: Some(&json) })
                .then(|| f(key, value)))
        }),
    )
}
