//! Calls on one entry or a list of keys: `get`, `getAll`, `containsKey`, `containsEntry`,
//! `put`, `putAll`, `putIfAbsent`, `remove`, `removeMapping`, `replace`, `replaceMapping`.

use std::sync::Arc;

use satchel_store_core::{Condition, StoreErrorKind};
use tonic::{Request, Response, Status};

use super::checks::{namespace, remaining, retry_or_busy, same_value, store_failed, ttl};
use super::{Inner, ReplyStream, cas};
use crate::keys::key_suffix;
use crate::proto;

pub(super) async fn contains_entry(
    inner: &Arc<Inner>,
    request: Request<proto::ContainsEntryRequest>,
) -> Result<Response<bool>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    inner.check_json("key", &r.key)?;
    let key = format!("{prefix}{}", key_suffix(&r.key));
    let found = inner.get("containsEntry", &key).await?;
    Ok(Response::new(
        found.is_some_and(|e| same_value(&e.value, &r.value)),
    ))
}

pub(super) async fn contains_key(
    inner: &Arc<Inner>,
    request: Request<proto::ContainsKeyRequest>,
) -> Result<Response<bool>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    inner.check_json("key", &r.key)?;
    let key = format!("{prefix}{}", key_suffix(&r.key));
    Ok(Response::new(
        inner.get("containsKey", &key).await?.is_some(),
    ))
}

pub(super) async fn get(
    inner: &Arc<Inner>,
    request: Request<proto::GetRequest>,
) -> Result<Response<proto::OptionalValue>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    inner.check_json("key", &r.key)?;
    let key = format!("{prefix}{}", key_suffix(&r.key));
    Ok(Response::new(match inner.get("get", &key).await? {
        Some(entry) => proto::OptionalValue {
            present: true,
            value: entry.value,
        },
        None => proto::OptionalValue::default(),
    }))
}

pub(super) async fn get_all(
    inner: &Arc<Inner>,
    request: Request<proto::GetAllRequest>,
) -> Result<Response<ReplyStream<proto::Entry>>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    let mut suffixes = Vec::with_capacity(r.key.len());
    for key in &r.key {
        inner.check_json("key", key)?;
        suffixes.push(key_suffix(key));
    }
    // Each key once, whatever the request repeats.
    suffixes.sort_unstable();
    suffixes.dedup();
    Ok(Response::new(inner.stream_entries(
        "getAll",
        prefix,
        suffixes,
        None,
        |key, value| Ok(Some(proto::Entry { key, value })),
    )))
}

pub(super) async fn put(
    inner: &Arc<Inner>,
    request: Request<proto::PutRequest>,
) -> Result<Response<Vec<u8>>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    inner.check_json("key", &r.key)?;
    inner.check_json("value", &r.value)?;
    inner.check_fits(&r.key, &r.value)?;
    let ttl = ttl(r.ttl)?;
    let key = format!("{prefix}{}", key_suffix(&r.key));
    let previous = inner.put("put", &key, &r.value, ttl).await?;
    inner.published(&prefix, &r.key, &previous, &r.value);
    Ok(Response::new(previous))
}

pub(super) async fn put_all(
    inner: &Arc<Inner>,
    request: Request<proto::PutAllRequest>,
) -> Result<Response<()>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    let ttl = ttl(r.ttl)?;
    // Everything is checked before anything is written.
    for e in &r.entry {
        inner.check_json("key", &e.key)?;
        inner.check_json("value", &e.value)?;
        inner.check_fits(&e.key, &e.value)?;
    }
    for e in &r.entry {
        let key = format!("{prefix}{}", key_suffix(&e.key));
        if inner.bus.listened() {
            // A listener wants to know insert from update, and the old value: a
            // compare-and-set put tells both.
            let previous = inner.put("putAll", &key, &e.value, ttl).await?;
            inner.published(&prefix, &e.key, &previous, &e.value);
            continue;
        }
        inner
            .store
            .set(&key, &e.value, ttl, Condition::Always)
            .await
            .map_err(|err| store_failed("putAll", &err))?;
    }
    Ok(Response::new(()))
}

pub(super) async fn put_if_absent(
    inner: &Arc<Inner>,
    request: Request<proto::PutIfAbsentRequest>,
) -> Result<Response<Vec<u8>>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    inner.check_json("key", &r.key)?;
    inner.check_json("value", &r.value)?;
    inner.check_fits(&r.key, &r.value)?;
    let ttl = ttl(r.ttl)?;
    let key = format!("{prefix}{}", key_suffix(&r.key));
    let mut attempts = cas();
    loop {
        match inner
            .store
            .set(&key, &r.value, ttl, Condition::IfAbsent)
            .await
        {
            Ok(_) => {
                inner.published(&prefix, &r.key, &[], &r.value);
                return Ok(Response::new(Vec::new()));
            }
            Err(e) if e.kind() == StoreErrorKind::Conflict => {
                // Present: answer its value, unless it went away meanwhile (then retry).
                if let Some(entry) = inner.get("putIfAbsent", &key).await? {
                    return Ok(Response::new(entry.value));
                }
                retry_or_busy(&mut attempts, "putIfAbsent", e).await?;
            }
            Err(e) => return Err(store_failed("putIfAbsent", &e)),
        }
    }
}

pub(super) async fn remove(
    inner: &Arc<Inner>,
    request: Request<proto::RemoveRequest>,
) -> Result<Response<Vec<u8>>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    inner.check_json("key", &r.key)?;
    let key = format!("{prefix}{}", key_suffix(&r.key));
    // Atomic: the value read is deleted only if it is still the one there
    // (`Store::delete_if`); a write in between makes this read again, so the answer is
    // always the value that was removed.
    let mut attempts = cas();
    loop {
        let Some(entry) = inner.get("remove", &key).await? else {
            return Ok(Response::new(Vec::new()));
        };
        if inner
            .store
            .delete_if(&key, entry.version)
            .await
            .map_err(|e| store_failed("remove", &e))?
        {
            inner.published(&prefix, &r.key, &entry.value, &[]);
            return Ok(Response::new(entry.value));
        }
        retry_or_busy(&mut attempts, "remove", changed_meanwhile(&key)).await?;
    }
}

pub(super) async fn remove_mapping(
    inner: &Arc<Inner>,
    request: Request<proto::RemoveMappingRequest>,
) -> Result<Response<bool>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    inner.check_json("key", &r.key)?;
    inner.check_json("value", &r.value)?;
    let key = format!("{prefix}{}", key_suffix(&r.key));
    // Atomic: deleted only at the version whose value matched (`Store::delete_if`).
    let mut attempts = cas();
    loop {
        let entry = match inner.get("removeMapping", &key).await? {
            Some(entry) if same_value(&entry.value, &r.value) => entry,
            _ => return Ok(Response::new(false)),
        };
        if inner
            .store
            .delete_if(&key, entry.version)
            .await
            .map_err(|e| store_failed("removeMapping", &e))?
        {
            inner.published(&prefix, &r.key, &entry.value, &[]);
            return Ok(Response::new(true));
        }
        retry_or_busy(&mut attempts, "removeMapping", changed_meanwhile(&key)).await?;
    }
}

pub(super) async fn replace(
    inner: &Arc<Inner>,
    request: Request<proto::ReplaceRequest>,
) -> Result<Response<Vec<u8>>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    inner.check_json("key", &r.key)?;
    inner.check_json("value", &r.value)?;
    inner.check_fits(&r.key, &r.value)?;
    let key = format!("{prefix}{}", key_suffix(&r.key));
    let mut attempts = cas();
    loop {
        let Some(entry) = inner.get("replace", &key).await? else {
            return Ok(Response::new(Vec::new()));
        };
        // The entry keeps what is left of its time to live.
        let Ok(ttl) = remaining(&entry) else {
            return Ok(Response::new(Vec::new()));
        };
        match inner
            .store
            .set(&key, &r.value, ttl, Condition::IfVersion(entry.version))
            .await
        {
            Ok(_) => {
                inner.published(&prefix, &r.key, &entry.value, &r.value);
                return Ok(Response::new(entry.value));
            }
            Err(e) if e.kind() == StoreErrorKind::Conflict => {
                retry_or_busy(&mut attempts, "replace", e).await?;
            }
            Err(e) => return Err(store_failed("replace", &e)),
        }
    }
}

pub(super) async fn replace_mapping(
    inner: &Arc<Inner>,
    request: Request<proto::ReplaceMappingRequest>,
) -> Result<Response<bool>, Status> {
    let r = request.into_inner();
    let prefix = namespace(&r.scope, &r.cache, Some(&r.format))?;
    inner.check_json("key", &r.key)?;
    inner.check_json("previousValue", &r.previous_value)?;
    inner.check_json("newValue", &r.new_value)?;
    inner.check_fits(&r.key, &r.new_value)?;
    let key = format!("{prefix}{}", key_suffix(&r.key));
    let mut attempts = cas();
    loop {
        let Some(entry) = inner.get("replaceMapping", &key).await? else {
            return Ok(Response::new(false));
        };
        if !same_value(&entry.value, &r.previous_value) {
            return Ok(Response::new(false));
        }
        let Ok(ttl) = remaining(&entry) else {
            return Ok(Response::new(false));
        };
        match inner
            .store
            .set(&key, &r.new_value, ttl, Condition::IfVersion(entry.version))
            .await
        {
            Ok(_) => {
                inner.published(&prefix, &r.key, &entry.value, &r.new_value);
                return Ok(Response::new(true));
            }
            Err(e) if e.kind() == StoreErrorKind::Conflict => {
                retry_or_busy(&mut attempts, "replaceMapping", e).await?;
            }
            Err(e) => return Err(store_failed("replaceMapping", &e)),
        }
    }
}

/// The conflict a compare-and-delete lost: the entry changed between the read and the
/// delete.
pub(super) fn changed_meanwhile(key: &str) -> satchel_store_core::StoreError {
    satchel_store_core::StoreError::new(
        StoreErrorKind::Conflict,
        "the entry changed between the read and the delete",
    )
    .with_key(key)
}
