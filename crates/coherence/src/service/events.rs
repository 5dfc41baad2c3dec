//! The `events` stream: listener registrations, and the changes of the caches they listen
//! to, from the service's [`Bus`](super::bus::Bus).
//!
//! Each request is answered as Coherence's own proxy answers it: `subscribed{uid}` for a
//! subscription (and the INIT request every cache opens with), `unsubscribed{uid}`
//! otherwise. A stream then receives, for every cache it sent a request for:
//!
//! - `event` for each insert, update and delete made through this service that a
//!   registration matches: a key registration by the entry's key, a filter registration by
//!   its filter (the query language's, `crate::query`), evaluated on the entry's old and new
//!   values: a `filter.MapEventFilter` by its mask (inserted, updated, deleted, and the
//!   updates that enter, leave or stay within the filter), any other filter as a
//!   `MapEventFilter` with mask ALL (an insert whose new value matches, an update whose old
//!   or new value matches, a delete whose old value matches). A filter satchel cannot
//!   evaluate is acknowledged (the Python client waits for that without a timeout) and
//!   matches nothing, and the server logs why. `filterIds` lists the matching filter
//!   registrations; values are left out when every matching registration is `lite`.
//! - `truncated{cache}` and `destroyed{cache}` when the cache is truncated or destroyed.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::bus::Change;
use super::checks::namespace;
use super::{Inner, ReplyStream};
use crate::keys::key_suffix;
use crate::proto;
use crate::query::Filter;
use proto::map_listener_request::RequestType;
use proto::map_listener_response::ResponseType;

/// The most registrations one stream may hold (keys and filters together), so a client
/// cannot grow the server's memory without bound.
const MAX_REGISTRATIONS: usize = 10_000;

/// The most caches one stream may listen to (each INIT or registration names one).
const MAX_CACHES: usize = 1_000;

/// The most compiled patterns (`LikeFilter`, `RegexFilter`) the filter registrations of one
/// stream may hold, so a client cannot grow the server's memory by registering patterns.
const MAX_STREAM_PATTERNS: usize = 64;

pub(super) async fn events(
    inner: &Arc<Inner>,
    request: Request<Streaming<proto::MapListenerRequest>>,
) -> Result<Response<ReplyStream<proto::MapListenerResponse>>, Status> {
    super::feed::start(inner).await;
    let mut inbound = request.into_inner();
    let (tx, rx) = mpsc::channel(16);
    let closed = wait_closed(inner.closed.subscribe());
    let mut changes = inner.bus.subscribe();
    tokio::spawn(async move {
        tokio::pin!(closed);
        let mut reading = true;
        let mut listening = Listening::default();
        loop {
            let reply = tokio::select! {
                message = inbound.message(), if reading => match message {
                    Ok(Some(r)) => Some(listening.apply(r)),
                    // The client stopped sending: keep the stream open until it
                    // cancels (or the server shuts down).
                    Ok(None) => {
                        reading = false;
                        None
                    }
                    Err(_) => return,
                },
                change = changes.recv() => match change {
                    Ok(change) => listening.reply_to(&change),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "coherence events: a listener stream fell behind \
                            and lost the oldest changes");
                        None
                    }
                    Err(RecvError::Closed) => return,
                },
                () = &mut closed => return,
                () = tx.closed() => return,
            };
            if let Some(reply) = reply
                && tx.send(Ok(reply)).await.is_err()
            {
                return;
            }
        }
    });
    Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
}

pub(super) async fn wait_closed(mut closed: watch::Receiver<bool>) {
    loop {
        let now = *closed.borrow_and_update();
        if now {
            return;
        }
        if closed.changed().await.is_err() {
            // The service is gone; its streams end with the runtime.
            std::future::pending::<()>().await;
        }
    }
}

/// What one stream listens to, by cache (namespace).
#[derive(Debug, Default)]
struct Listening {
    caches: HashMap<String, Registrations>,
    count: usize,
    /// Compiled patterns held by the filter registrations.
    patterns: usize,
}

/// The registrations of one stream on one cache.
#[derive(Debug, Default)]
struct Registrations {
    /// Key listeners: store-key suffix → lite.
    keys: HashMap<String, bool>,
    /// Filter listeners by their filter as the client serialized it: Coherence keys a
    /// filter registration by the filter, not by its id (the Python client sends a new id
    /// with each request, its unsubscribe too).
    filters: HashMap<Vec<u8>, FilterRegistration>,
}

#[derive(Debug, Clone)]
struct FilterRegistration {
    /// The id of the latest subscription, what `filterIds` names.
    id: i64,
    /// The filter; `None` for one satchel cannot evaluate (matches nothing).
    filter: Option<Arc<Filter>>,
    lite: bool,
}

impl Listening {
    /// Applies a listener request and returns its answer.
    fn apply(&mut self, r: proto::MapListenerRequest) -> proto::MapListenerResponse {
        let response = |t| proto::MapListenerResponse {
            response_type: Some(t),
        };
        let subscribed = |uid| response(ResponseType::Subscribed(subscribed_uid(uid)));
        let init = r.r#type == RequestType::Init as i32;
        let Ok(ns) = namespace(&r.scope, &r.cache, Some(&r.format)) else {
            // Answered as the proxy answers; a cache it cannot name gets no events.
            return if r.subscribe || init {
                subscribed(r.uid)
            } else {
                response(ResponseType::Unsubscribed(
                    proto::MapListenerUnsubscribedResponse { uid: r.uid },
                ))
            };
        };
        if !self.caches.contains_key(&ns) && self.caches.len() >= MAX_CACHES {
            return error(r.uid, "too many caches listened to on one stream");
        }
        let regs = self.caches.entry(ns).or_default();
        if init {
            return subscribed(r.uid);
        }
        let is_key = r.r#type == RequestType::Key as i32;
        if r.subscribe {
            if self.count >= MAX_REGISTRATIONS {
                return error(r.uid, "too many listener registrations on one stream");
            }
            let added = if is_key {
                regs.keys.insert(key_suffix(&r.key), r.lite).is_none()
            } else {
                let filter = listener_filter(&r.filter);
                let patterns = |f: Option<&FilterRegistration>| {
                    f.and_then(|f| f.filter.as_ref())
                        .map_or(0, |f| f.patterns())
                };
                let held = self.patterns - patterns(regs.filters.get(&r.filter))
                    + filter.as_ref().map_or(0, |f| f.patterns());
                if held > MAX_STREAM_PATTERNS {
                    return error(
                        r.uid,
                        "too many LikeFilters and RegexFilters in the listener registrations \
                         of one stream",
                    );
                }
                self.patterns = held;
                regs.filters
                    .insert(
                        r.filter,
                        FilterRegistration {
                            id: r.filter_id,
                            filter,
                            lite: r.lite,
                        },
                    )
                    .is_none()
            };
            self.count += usize::from(added);
            subscribed(r.uid)
        } else {
            let removed = if is_key {
                regs.keys.remove(&key_suffix(&r.key)).is_some()
            } else {
                match regs.filters.remove(&r.filter) {
                    Some(f) => {
                        self.patterns -= f.filter.as_ref().map_or(0, |f| f.patterns());
                        true
                    }
                    None => false,
                }
            };
            self.count -= usize::from(removed);
            response(ResponseType::Unsubscribed(
                proto::MapListenerUnsubscribedResponse { uid: r.uid },
            ))
        }
    }

    /// The message `change` means for this stream, if any.
    fn reply_to(&self, change: &Change) -> Option<proto::MapListenerResponse> {
        let regs = self.caches.get(change.namespace())?;
        let response_type = match change {
            Change::Truncated { cache, .. } => {
                ResponseType::Truncated(proto::CacheTruncatedResponse {
                    cache: cache.clone(),
                })
            }
            Change::Destroyed { cache, .. } => {
                ResponseType::Destroyed(proto::CacheDestroyedResponse {
                    cache: cache.clone(),
                })
            }
            Change::Entry {
                change,
                key,
                suffix,
                old,
                new,
                ..
            } => {
                let by_key = regs.keys.get(suffix).copied();
                let matching: Vec<&FilterRegistration> = if regs.filters.is_empty() {
                    Vec::new()
                } else {
                    let json = |v: Option<&Vec<u8>>| v.map(|v| event_json(v));
                    let (old_json, new_json) = (json(old.as_ref()), json(new.as_ref()));
                    regs.filters
                        .values()
                        .filter(|f| {
                            f.filter.as_ref().is_some_and(|f| {
                                f.matches_change(
                                    *change as i32,
                                    old_json.as_ref(),
                                    new_json.as_ref(),
                                )
                            })
                        })
                        .collect()
                };
                if by_key.is_none() && matching.is_empty() {
                    return None;
                }
                let lite = by_key.unwrap_or(true) && matching.iter().all(|f| f.lite);
                let mut filter_ids: Vec<i64> = matching.iter().map(|f| f.id).collect();
                filter_ids.sort_unstable();
                let value = |v: &Option<Vec<u8>>| {
                    if lite {
                        Vec::new()
                    } else {
                        v.clone().unwrap_or_default()
                    }
                };
                ResponseType::Event(proto::MapEventResponse {
                    id: *change as i32,
                    key: key.clone(),
                    new_value: value(new),
                    old_value: value(old),
                    filter_ids,
                    ..Default::default()
                })
            }
        };
        Some(proto::MapListenerResponse {
            response_type: Some(response_type),
        })
    }
}

fn subscribed_uid(uid: String) -> proto::MapListenerSubscribedResponse {
    proto::MapListenerSubscribedResponse { uid }
}

fn error(uid: String, message: &str) -> proto::MapListenerResponse {
    proto::MapListenerResponse {
        response_type: Some(ResponseType::Error(proto::MapListenerErrorResponse {
            uid,
            message: message.to_string(),
            code: tonic::Code::ResourceExhausted as i32,
            stack: Vec::new(),
        })),
    }
}

/// A filter registration's filter, if satchel can evaluate it (empty is "always").
fn listener_filter(filter: &[u8]) -> Option<Arc<Filter>> {
    match Filter::parse_field("filter", filter) {
        Ok(f) => Some(Arc::new(f)),
        Err(e) => {
            tracing::info!(
                reason = e.message(),
                "coherence events: a listener with a filter satchel cannot evaluate was \
                 acknowledged; it receives no events"
            );
            None
        }
    }
}

/// An entry's value as JSON for a listener's filter: `null` when it is larger than
/// queries parse or not JSON (an "always" filter still matches it).
fn event_json(bytes: &[u8]) -> serde_json::Value {
    if bytes.len() > super::query::MAX_QUERIED_VALUE {
        return serde_json::Value::Null;
    }
    crate::query::parse_json("value", bytes)
        .ok()
        .flatten()
        .unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::super::bus::EntryChange;
    use super::*;

    fn json(s: &str) -> Vec<u8> {
        let mut v = vec![crate::value::MAGIC];
        v.extend_from_slice(s.as_bytes());
        v
    }

    /// A stream that names a new cache in every request (INITs hold no registration)
    /// grew its table without bound.
    #[test]
    fn regression_one_stream_cannot_listen_to_unbounded_caches() {
        let mut listening = Listening::default();
        let init = |cache: String| proto::MapListenerRequest {
            cache,
            format: "json".into(),
            uid: "init".into(),
            r#type: RequestType::Init as i32,
            subscribe: true,
            ..Default::default()
        };
        for i in 0..MAX_CACHES + 50 {
            let reply = listening.apply(init(format!("c{i}")));
            let refused = matches!(reply.response_type, Some(ResponseType::Error(_)));
            assert_eq!(refused, i >= MAX_CACHES, "request {i}");
        }
        assert_eq!(listening.caches.len(), MAX_CACHES);
        // A cache already listened to is still answered.
        let again = listening.apply(init("c0".into()));
        assert!(matches!(
            again.response_type,
            Some(ResponseType::Subscribed(_))
        ));
    }

    /// Each pattern filter compiles an automaton: a stream cannot register without bound.
    #[test]
    fn regression_one_stream_holds_a_bounded_number_of_patterns() {
        let mut listening = Listening::default();
        let like = |i: usize, subscribe: bool| proto::MapListenerRequest {
            cache: "c".into(),
            format: "json".into(),
            uid: format!("u{i}"),
            r#type: RequestType::Filter as i32,
            subscribe,
            filter: json(&format!(
                r#"{{"@class": "filter.LikeFilter", "extractor": {{"@class": "extractor.UniversalExtractor", "name": "s"}}, "value": "{i}%"}}"#
            )),
            ..Default::default()
        };
        let refused =
            |r: proto::MapListenerResponse| matches!(r.response_type, Some(ResponseType::Error(_)));
        for i in 0..MAX_STREAM_PATTERNS {
            assert!(!refused(listening.apply(like(i, true))), "registration {i}");
        }
        // The same filter again replaces its registration.
        assert!(!refused(listening.apply(like(0, true))));
        assert!(refused(listening.apply(like(MAX_STREAM_PATTERNS, true))));
        // Unsubscribing frees room.
        assert!(!refused(listening.apply(like(0, false))));
        assert!(!refused(listening.apply(like(MAX_STREAM_PATTERNS, true))));
    }

    #[test]
    fn filter_registrations_match_by_their_filter() {
        let mut listening = Listening::default();
        let subscribe = |filter: Vec<u8>, id: i64| proto::MapListenerRequest {
            cache: "c".into(),
            format: "json".into(),
            uid: format!("u{id}"),
            r#type: RequestType::Filter as i32,
            subscribe: true,
            filter,
            filter_id: id,
            ..Default::default()
        };
        let less = r#"{"@class": "filter.LessFilter", "extractor": {"@class": "extractor.UniversalExtractor", "name": "age"}, "value": 30}"#;
        listening.apply(subscribe(json(less), 1));
        listening.apply(subscribe(json(r#"{"@class": "filter.MapEventFilter", "mask": 4, "filter": {"@class": "filter.AlwaysFilter"}}"#), 2));
        listening.apply(subscribe(json(r#"{"@class": "filter.Unknown"}"#), 3));
        let ns = crate::keys::cache_prefix("", "c");
        let change = |change, old: Option<&str>, new: Option<&str>| Change::Entry {
            namespace: ns.clone(),
            change,
            key: json("\"k\""),
            suffix: crate::keys::key_suffix(&json("\"k\"")),
            old: old.map(json),
            new: new.map(json),
        };
        let ids = |c: &Change| match listening.reply_to(c).and_then(|r| r.response_type) {
            Some(ResponseType::Event(e)) => e.filter_ids,
            _ => Vec::new(),
        };
        assert_eq!(
            ids(&change(EntryChange::Inserted, None, Some(r#"{"age": 29}"#))),
            vec![1]
        );
        assert!(ids(&change(EntryChange::Inserted, None, Some(r#"{"age": 58}"#))).is_empty());
        assert_eq!(
            ids(&change(EntryChange::Deleted, Some(r#"{"age": 58}"#), None)),
            vec![2]
        );
        assert_eq!(
            ids(&change(EntryChange::Deleted, Some(r#"{"age": 3}"#), None)),
            vec![1, 2]
        );
        assert_eq!(EntryChange::Deleted as i32, 3);
    }
}
