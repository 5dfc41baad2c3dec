//! The Coherence endpoint (`coherence.NamedCacheService`, v0): every call through the
//! generated tonic client against the in-process server, then the real Python
//! `coherence-client` end to end (`tests/py/coherence_e2e.py`) against SQLite, Redis (when
//! `SATCHEL_TEST_REDIS_URL` is set) and TLS, with what it wrote read back through satchel's
//! own store API. Everything talks to 127.0.0.1 on ephemeral ports.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use satchel_coherence::proto::{
    self as cp, map_listener_request::RequestType, map_listener_response::ResponseType,
    named_cache_service_client::NamedCacheServiceClient,
};
use satchel_coherence::{BigInt, Classed, CoherenceClass, from_slice, to_vec};
use satchel_coherence::{Coherence, cache_prefix, parse_store_key, store_key};
use satchel_grpc::{Protection, ServerConfig};
use satchel_store::{MemoryStore, Scan, Store, StoreObject};
use satchel_testkit::grpc::TestServer;
use serde::{Deserialize, Serialize};
use tonic::Code;
use tonic::transport::Channel;

type Client = NamedCacheServiceClient<Channel>;

/// A satchel server over `store` with the Coherence endpoint mounted, as `satchel serve`
/// runs it.
async fn serve(store: Arc<dyn StoreObject>) -> TestServer {
    serve_with(store, ServerConfig::new("127.0.0.1:0".parse().unwrap())).await
}

/// [`serve`] with `config` (its address replaced by an ephemeral loopback port).
async fn serve_with(store: Arc<dyn StoreObject>, config: ServerConfig) -> TestServer {
    satchel_testkit::grpc::serve_with(store, config.with_extension(Coherence::new())).await
}

async fn connect(addr: impl std::fmt::Display) -> Client {
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    NamedCacheServiceClient::new(channel)
}

async fn client(server: &TestServer) -> Client {
    connect(server.addr).await
}

/// A value as the Python client serializes it.
fn j<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
    to_vec(v).unwrap()
}

const CACHE: &str = "c";

fn get(key: &str) -> cp::GetRequest {
    cp::GetRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j(key),
        ..Default::default()
    }
}

fn put<T: Serialize + ?Sized>(key: &str, value: &T, ttl: i64) -> cp::PutRequest {
    cp::PutRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j(key),
        value: j(value),
        ttl,
        ..Default::default()
    }
}

async fn get_value(c: &mut Client, key: &str) -> Option<serde_json::Value> {
    let r = c.get(get(key)).await.unwrap().into_inner();
    r.present.then(|| from_slice(&r.value).unwrap())
}

async fn size(c: &mut Client, cache: &str) -> i32 {
    c.size(cp::SizeRequest {
        cache: cache.into(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
}

async fn drain<T>(mut s: tonic::Streaming<T>) -> Vec<T> {
    let mut out = Vec::new();
    while let Some(item) = s.message().await.unwrap() {
        out.push(item);
    }
    out
}

fn none() -> Vec<u8> {
    Vec::new()
}

// ---------------------------------------------------------------------------------------
// Every call

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cache_call_does_what_coherence_does() {
    let store = Arc::new(MemoryStore::new());
    let server = serve(store.clone()).await;
    let mut c = client(&server).await;
    let ready = c
        .is_ready(cp::IsReadyRequest {
            cache: CACHE.into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(ready.into_inner());
    let empty = |c: &mut Client| {
        let mut c = c.clone();
        async move {
            c.is_empty(cp::IsEmptyRequest {
                cache: CACHE.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
        }
    };
    assert!(empty(&mut c).await);

    // put / get, put answering the previous value.
    assert_eq!(
        c.put(put("a", "one", 0)).await.unwrap().into_inner(),
        none()
    );
    assert_eq!(
        c.put(put("a", "two", -1)).await.unwrap().into_inner(),
        j("one")
    );
    assert_eq!(get_value(&mut c, "a").await, Some("two".into()));
    assert_eq!(get_value(&mut c, "missing").await, None);
    assert!(!empty(&mut c).await);
    // The entry is where the docs say, bytes as sent.
    let at = store_key("", CACHE, &j("a"));
    assert_eq!(at, "coherence::c:\"a\"");
    assert_eq!(store.get(&at).await.unwrap().unwrap().value, j("two"));

    // putIfAbsent.
    let pia = |k: &str, v: &str| cp::PutIfAbsentRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j(k),
        value: j(v),
        ..Default::default()
    };
    assert_eq!(
        c.put_if_absent(pia("p", "x")).await.unwrap().into_inner(),
        none()
    );
    assert_eq!(
        c.put_if_absent(pia("p", "y")).await.unwrap().into_inner(),
        j("x")
    );
    assert_eq!(get_value(&mut c, "p").await, Some("x".into()));

    // replace / replaceMapping.
    let replace = |k: &str, v: &str| cp::ReplaceRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j(k),
        value: j(v),
        ..Default::default()
    };
    assert_eq!(
        c.replace(replace("r", "x")).await.unwrap().into_inner(),
        none()
    );
    assert_eq!(get_value(&mut c, "r").await, None, "replace never creates");
    assert_eq!(
        c.replace(replace("a", "three")).await.unwrap().into_inner(),
        j("two")
    );
    let rm = |k: &str, old: &[u8], new: &str| cp::ReplaceMappingRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j(k),
        previous_value: old.to_vec(),
        new_value: j(new),
        ..Default::default()
    };
    assert!(
        !c.replace_mapping(rm("a", &j("two"), "four"))
            .await
            .unwrap()
            .into_inner()
    );
    // The same JSON spelled differently matches.
    assert!(
        c.replace_mapping(rm("a", b"\x15\"three\"  ", "four"))
            .await
            .unwrap()
            .into_inner()
    );
    assert_eq!(get_value(&mut c, "a").await, Some("four".into()));

    // containsKey / containsValue / containsEntry.
    let ck = |k: &str| cp::ContainsKeyRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j(k),
        ..Default::default()
    };
    assert!(c.contains_key(ck("a")).await.unwrap().into_inner());
    assert!(!c.contains_key(ck("zz")).await.unwrap().into_inner());
    c.put(cp::PutRequest {
        value: b"\x15{\"k\": [1, 2]}".to_vec(),
        ..put("obj", "", 0)
    })
    .await
    .unwrap();
    let cv = |v: &[u8]| cp::ContainsValueRequest {
        cache: CACHE.into(),
        format: "json".into(),
        value: v.to_vec(),
        ..Default::default()
    };
    assert!(c.contains_value(cv(&j("four"))).await.unwrap().into_inner());
    assert!(
        c.contains_value(cv(b"\x15{\"k\":[1,2]}"))
            .await
            .unwrap()
            .into_inner()
    );
    assert!(!c.contains_value(cv(&j("nope"))).await.unwrap().into_inner());
    let ce = |k: &str, v: &str| cp::ContainsEntryRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j(k),
        value: j(v),
        ..Default::default()
    };
    assert!(
        c.contains_entry(ce("a", "four"))
            .await
            .unwrap()
            .into_inner()
    );
    assert!(!c.contains_entry(ce("a", "x")).await.unwrap().into_inner());

    // remove / removeMapping.
    let remove = |k: &str| cp::RemoveRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j(k),
        ..Default::default()
    };
    assert_eq!(c.remove(remove("p")).await.unwrap().into_inner(), j("x"));
    assert_eq!(c.remove(remove("p")).await.unwrap().into_inner(), none());
    let rmm = |k: &str, v: &str| cp::RemoveMappingRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j(k),
        value: j(v),
        ..Default::default()
    };
    assert!(!c.remove_mapping(rmm("a", "x")).await.unwrap().into_inner());
    assert!(
        c.remove_mapping(rmm("a", "four"))
            .await
            .unwrap()
            .into_inner()
    );
    assert_eq!(get_value(&mut c, "a").await, None);

    // putAll / getAll (absent keys skipped, repeats answered once) / size.
    c.put_all(cp::PutAllRequest {
        cache: CACHE.into(),
        format: "json".into(),
        entry: (0..5)
            .map(|i| cp::Entry {
                key: j(&format!("b{i}")),
                value: j(&i),
            })
            .collect(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(size(&mut c, CACHE).await, 6);
    let all = drain(
        c.get_all(cp::GetAllRequest {
            cache: CACHE.into(),
            format: "json".into(),
            key: vec![j("b1"), j("b3"), j("b3"), j("nope")],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner(),
    )
    .await;
    let got: Vec<(Vec<u8>, Vec<u8>)> = all.into_iter().map(|e| (e.key, e.value)).collect();
    assert_eq!(got, vec![(j("b1"), j(&1)), (j("b3"), j(&3))]);

    // keySet / values / entrySet.
    let keys = drain(
        c.key_set(cp::KeySetRequest {
            cache: CACHE.into(),
            format: "json".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner(),
    )
    .await;
    let want: BTreeSet<Vec<u8>> = ["b0", "b1", "b2", "b3", "b4", "obj"]
        .iter()
        .map(|k| j(*k))
        .collect();
    assert_eq!(keys.into_iter().collect::<BTreeSet<_>>(), want);
    let values = drain(
        c.values(cp::ValuesRequest {
            cache: CACHE.into(),
            format: "json".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner(),
    )
    .await;
    assert_eq!(values.len(), 6);
    assert!(values.contains(&j(&4)));
    let entries = drain(
        c.entry_set(cp::EntrySetRequest {
            cache: CACHE.into(),
            format: "json".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner(),
    )
    .await;
    assert!(entries.iter().any(|e| e.key == j("b2") && e.value == j(&2)));
    assert_eq!(entries.len(), 6);

    // Caches and scopes are separate namespaces.
    c.put(cp::PutRequest {
        scope: "s:1".into(),
        ..put("a", "scoped", 0)
    })
    .await
    .unwrap();
    c.put(cp::PutRequest {
        cache: "c2".into(),
        ..put("a", "other", 0)
    })
    .await
    .unwrap();
    assert_eq!(get_value(&mut c, "a").await, None);
    assert_eq!(size(&mut c, "c2").await, 1);
    assert_eq!(
        store
            .get(&store_key("s:1", CACHE, &j("a")))
            .await
            .unwrap()
            .unwrap()
            .value,
        j("scoped")
    );

    // clear / truncate / destroy empty one cache only.
    c.clear(cp::ClearRequest {
        cache: CACHE.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(size(&mut c, CACHE).await, 0);
    assert_eq!(size(&mut c, "c2").await, 1);
    c.put(put("t", &1, 0)).await.unwrap();
    c.truncate(cp::TruncateRequest {
        cache: CACHE.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(size(&mut c, CACHE).await, 0);
    c.destroy(cp::DestroyRequest {
        cache: "c2".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(size(&mut c, "c2").await, 0);
    let left = store.scan("coherence:", 100).await.unwrap();
    assert_eq!(left, vec![store_key("s:1", CACHE, &j("a"))]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_visits_every_entry_once_over_several_pages() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let mut c = client(&server).await;
    let n = 450; // 3 pages of 200
    c.put_all(cp::PutAllRequest {
        cache: CACHE.into(),
        format: "json".into(),
        entry: (0..n)
            .map(|i| cp::Entry {
                key: j(&format!("k{i:04}")),
                value: j(&i),
            })
            .collect(),
        ..Default::default()
    })
    .await
    .unwrap();
    let page = |cookie: Vec<u8>| cp::PageRequest {
        cache: CACHE.into(),
        format: "json".into(),
        cookie,
        ..Default::default()
    };

    let (mut keys, mut cookie, mut pages) = (Vec::new(), Vec::new(), 0);
    loop {
        let mut items = drain(
            c.next_key_set_page(page(cookie.clone()))
                .await
                .unwrap()
                .into_inner(),
        )
        .await;
        pages += 1;
        cookie = items.remove(0);
        keys.extend(items);
        if cookie.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 3);
    let want: Vec<Vec<u8>> = (0..n).map(|i| j(&format!("k{i:04}"))).collect();
    assert_eq!(keys, want, "every key once, in order");

    let (mut entries, mut cookie, mut pages) = (Vec::new(), Vec::new(), 0);
    loop {
        let mut items = drain(
            c.next_entry_set_page(page(cookie.clone()))
                .await
                .unwrap()
                .into_inner(),
        )
        .await;
        pages += 1;
        let first = items.remove(0);
        assert!(first.key.is_empty() && first.value.is_empty());
        cookie = first.cookie;
        entries.extend(items.into_iter().map(|e| (e.key, e.value)));
        if cookie.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(entries.len(), n);
    assert!(
        entries
            .iter()
            .enumerate()
            .all(|(i, (k, v))| *k == want[i] && *v == j(&i))
    );

    // An empty cache: one page holding only the (empty) cookie.
    let empty = cp::PageRequest {
        cache: "empty".into(),
        ..page(Vec::new())
    };
    let items = drain(
        c.next_key_set_page(empty.clone())
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert_eq!(items, vec![Vec::<u8>::new()]);
    let items = drain(c.next_entry_set_page(empty).await.unwrap().into_inner()).await;
    assert_eq!(items, vec![cp::EntryResult::default()]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_expires_entries_and_replace_keeps_it() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let mut c = client(&server).await;
    c.put(put("short", "x", 300)).await.unwrap();
    c.put_if_absent(cp::PutIfAbsentRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j("pia"),
        value: j("x"),
        ttl: 300,
        ..Default::default()
    })
    .await
    .unwrap();
    c.put(put("kept", "x", 0)).await.unwrap();
    c.put(put("never", "x", -1)).await.unwrap();
    // replace keeps the entry's remaining time to live.
    c.replace(cp::ReplaceRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j("short"),
        value: j("y"),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(get_value(&mut c, "short").await, Some("y".into()));
    assert_eq!(size(&mut c, CACHE).await, 4);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(get_value(&mut c, "short").await, None);
    assert_eq!(get_value(&mut c, "pia").await, None);
    assert_eq!(get_value(&mut c, "kept").await, Some("x".into()));
    assert_eq!(
        size(&mut c, CACHE).await,
        2,
        "expired entries are not counted"
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Concurrency: the compare-and-set loops

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_see_a_consistent_history() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let c = client(&server).await;
    let writers = 12;

    // putIfAbsent: exactly one winner, everyone else sees the winner's value.
    let mut tasks = Vec::new();
    for i in 0..writers {
        let mut c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.put_if_absent(cp::PutIfAbsentRequest {
                cache: CACHE.into(),
                format: "json".into(),
                key: j("once"),
                value: j(&i),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
        }));
    }
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    let winners = answers.iter().filter(|a| a.is_empty()).count();
    assert_eq!(winners, 1, "{answers:?}");
    let stored = j(&get_value(&mut c.clone(), "once").await.unwrap());
    assert!(answers.iter().all(|a| a.is_empty() || *a == stored));

    // put answering the previous value: the answers chain every write exactly once.
    let mut tasks = Vec::new();
    for i in 0..writers {
        let mut c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.put(put("chain", &i, 0)).await.unwrap().into_inner()
        }));
    }
    let mut previous = Vec::new();
    for t in tasks {
        previous.push(t.await.unwrap());
    }
    let last = j(&get_value(&mut c.clone(), "chain").await.unwrap());
    previous.push(last);
    previous.sort();
    let mut want: Vec<Vec<u8>> = (0..writers).map(|i| j(&i)).collect();
    want.push(Vec::new());
    want.sort();
    assert_eq!(previous, want, "each value replaced exactly once");
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Bad input, unsupported calls

async fn expect_code<T: std::fmt::Debug>(
    what: &str,
    r: Result<tonic::Response<T>, tonic::Status>,
    code: Code,
    mention: &str,
) {
    let status = r.expect_err(what);
    assert_eq!(status.code(), code, "{what}: {status:?}");
    assert!(
        status
            .message()
            .to_lowercase()
            .contains(&mention.to_lowercase()),
        "{what}: {:?} does not mention {mention:?}",
        status.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_statuses_and_the_server_keeps_serving() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let mut c = client(&server).await;
    let bad = Code::InvalidArgument;
    let r = c
        .put(cp::PutRequest {
            format: "pof".into(),
            ..put("k", "v", 0)
        })
        .await;
    expect_code("unknown format", r, bad, "\"pof\"").await;
    for (what, key, mention) in [
        ("no marker", &b"\x00garbage"[..], "0x15"),
        ("bad JSON", b"\x15{not json", "JSON"),
        ("empty", b"", "empty"),
        ("not UTF-8", b"\x15\"\xff\"", "UTF-8"),
    ] {
        let r = c
            .get(cp::GetRequest {
                key: key.to_vec(),
                ..get("k")
            })
            .await;
        expect_code(what, r, bad, mention).await;
    }
    let r = c
        .put(cp::PutRequest {
            value: b"plain".to_vec(),
            ..put("k", "v", 0)
        })
        .await;
    expect_code("malformed value", r, bad, "value").await;
    let r = c.put(put("k", "v", -5)).await;
    expect_code("negative ttl", r, bad, "ttl").await;
    let r = c
        .get(cp::GetRequest {
            cache: String::new(),
            ..get("k")
        })
        .await;
    expect_code("missing cache", r, bad, "cache").await;
    let r = c.size(cp::SizeRequest::default()).await;
    expect_code("missing cache (size)", r, bad, "cache").await;
    let r = c
        .next_key_set_page(cp::PageRequest {
            cache: CACHE.into(),
            cookie: vec![0xff],
            ..Default::default()
        })
        .await;
    expect_code("foreign cookie", r, bad, "cookie").await;
    // A bad entry in putAll: nothing written.
    let r = c
        .put_all(cp::PutAllRequest {
            cache: CACHE.into(),
            entry: vec![
                cp::Entry {
                    key: j("ok"),
                    value: j(&1),
                },
                cp::Entry {
                    key: b"bad".to_vec(),
                    value: j(&2),
                },
            ],
            ..Default::default()
        })
        .await;
    expect_code("putAll with a bad key", r, bad, "key").await;
    assert_eq!(size(&mut c, CACHE).await, 0);

    // Still serving.
    c.put(put("k", "v", 0)).await.unwrap();
    assert_eq!(get_value(&mut c, "k").await, Some("v".into()));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_calls_answer_unimplemented_naming_themselves() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let mut c = client(&server).await;
    let no = Code::Unimplemented;
    let key = j("k");
    let r = c
        .invoke(cp::InvokeRequest {
            cache: CACHE.into(),
            key: key.clone(),
            ..Default::default()
        })
        .await;
    expect_code("invoke", r, no, "invoke").await;
    let r = c
        .invoke_all(cp::InvokeAllRequest {
            cache: CACHE.into(),
            ..Default::default()
        })
        .await;
    expect_code("invokeAll", r, no, "invokeAll").await;
    let r = c
        .aggregate(cp::AggregateRequest {
            cache: CACHE.into(),
            ..Default::default()
        })
        .await;
    expect_code("aggregate", r, no, "aggregate").await;
    let r = c
        .add_index(cp::AddIndexRequest {
            cache: CACHE.into(),
            ..Default::default()
        })
        .await;
    expect_code("addIndex", r, no, "addIndex").await;
    let r = c
        .remove_index(cp::RemoveIndexRequest {
            cache: CACHE.into(),
            ..Default::default()
        })
        .await;
    expect_code("removeIndex", r, no, "removeIndex").await;
    let filter = j("filter");
    let r = c
        .key_set(cp::KeySetRequest {
            cache: CACHE.into(),
            filter: filter.clone(),
            ..Default::default()
        })
        .await;
    expect_code("keySet with a filter", r, no, "keySet").await;
    let r = c
        .values(cp::ValuesRequest {
            cache: CACHE.into(),
            comparator: filter.clone(),
            ..Default::default()
        })
        .await;
    expect_code("values with a comparator", r, no, "values").await;
    let r = c
        .entry_set(cp::EntrySetRequest {
            cache: CACHE.into(),
            filter,
            ..Default::default()
        })
        .await;
    expect_code("entrySet with a filter", r, no, "entrySet").await;

    // The v1 protocol is not served: the clients' handshake needs UNIMPLEMENTED.
    let channel = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let r: Result<tonic::Response<()>, _> = grpc
        .unary(
            tonic::Request::new(()),
            "/coherence.proxy.v1.ProxyService/subChannel"
                .parse()
                .unwrap(),
            tonic_prost::ProstCodec::<(), ()>::default(),
        )
        .await;
    assert_eq!(r.unwrap_err().code(), no);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_can_be_turned_off_and_health_reports_it() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let channel = Channel::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "coherence.NamedCacheService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    server.stop().await;

    // A satchel server without the extension.
    let server = satchel_testkit::grpc::serve(Arc::new(MemoryStore::new())).await;
    let r = client(&server).await.get(get("k")).await;
    assert_eq!(r.unwrap_err().code(), Code::Unimplemented);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// The events stream

fn listen(uid: &str, ty: RequestType, subscribe: bool) -> cp::MapListenerRequest {
    cp::MapListenerRequest {
        cache: CACHE.into(),
        format: "json".into(),
        uid: uid.into(),
        r#type: ty as i32,
        subscribe,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_acknowledged_and_the_stream_stays_open_until_shutdown() {
    // A request time limit far below how long the stream stays open.
    let server = serve_with(
        Arc::new(MemoryStore::new()),
        ServerConfig::new("127.0.0.1:0".parse().unwrap())
            .with_max_request_time(Duration::from_millis(300)),
    )
    .await;
    let mut c = client(&server).await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(listen("init-c-1", RequestType::Init, true))
        .await
        .unwrap();
    let mut events = c
        .events(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let first = events.message().await.unwrap().unwrap().response_type;
    assert_eq!(
        first,
        Some(ResponseType::Subscribed(
            cp::MapListenerSubscribedResponse {
                uid: "init-c-1".into()
            }
        ))
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    tx.send(listen("key-c-2", RequestType::Key, true))
        .await
        .unwrap();
    tx.send(listen("key-c-2", RequestType::Key, false))
        .await
        .unwrap();
    let a = events.message().await.unwrap().unwrap().response_type;
    let b = events.message().await.unwrap().unwrap().response_type;
    assert!(matches!(a, Some(ResponseType::Subscribed(s)) if s.uid == "key-c-2"));
    assert!(matches!(b, Some(ResponseType::Unsubscribed(s)) if s.uid == "key-c-2"));

    // A graceful stop ends the stream instead of waiting for the client.
    tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .expect("shutdown is not held up by an open events stream");
    assert!(matches!(events.message().await, Ok(None) | Err(_)));
    drop(tx);
}

/// A listener registration as the Python client sends it (`MapEventFilter` around `filter`).
fn listen_filter(
    uid: &str,
    filter_id: i64,
    mask: i64,
    filter: &str,
    lite: bool,
) -> cp::MapListenerRequest {
    let json =
        format!(r#"{{"@class": "filter.MapEventFilter", "mask": {mask}, "filter": {filter}}}"#);
    let mut bytes = vec![0x15];
    bytes.extend_from_slice(json.as_bytes());
    cp::MapListenerRequest {
        filter: bytes,
        filter_id,
        lite,
        ..listen(uid, RequestType::Filter, true)
    }
}

type Events = tonic::Streaming<cp::MapListenerResponse>;

async fn open_events(
    c: &mut Client,
    requests: Vec<cp::MapListenerRequest>,
) -> (tokio::sync::mpsc::Sender<cp::MapListenerRequest>, Events) {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let n = requests.len();
    for r in requests {
        tx.send(r).await.unwrap();
    }
    let mut events = c
        .events(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    for _ in 0..n {
        let ack = next_event(&mut events).await;
        assert!(matches!(ack, ResponseType::Subscribed(_)), "{ack:?}");
    }
    (tx, events)
}

async fn next_event(events: &mut Events) -> ResponseType {
    tokio::time::timeout(Duration::from_secs(10), events.message())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .unwrap()
        .response_type
        .unwrap()
}

fn entry_event(
    id: i32,
    key: &str,
    old: Option<i32>,
    new: Option<i32>,
    filter_ids: Vec<i64>,
) -> ResponseType {
    ResponseType::Event(cp::MapEventResponse {
        id,
        key: j(key),
        old_value: old.map(|v| j(&v)).unwrap_or_default(),
        new_value: new.map(|v| j(&v)).unwrap_or_default(),
        filter_ids,
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_the_listeners_whose_registration_matches() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let mut c = client(&server).await;
    const ALWAYS: &str = r#"{"@class": "filter.AlwaysFilter"}"#;
    // Stream A: every change (filter 1), inserts only and lite (filter 2), and a filter
    // satchel cannot evaluate (filter 3: acknowledged, matches nothing).
    let (a_tx, mut a) = open_events(
        &mut c,
        vec![
            listen("init-a", RequestType::Init, true),
            listen_filter("filter-a-1", 1, 7, ALWAYS, false),
            listen_filter("filter-a-2", 2, 1, ALWAYS, true),
            listen_filter(
                "filter-a-3",
                3,
                7,
                r#"{"@class": "filter.LessFilter", "extractor": {"@class": "extractor.UniversalExtractor", "name": "age", "params": null}, "value": 30}"#,
                false,
            ),
        ],
    )
    .await;
    // Stream B: the key "b" only.
    let (_b_tx, mut b) = open_events(
        &mut c,
        vec![
            listen("init-b", RequestType::Init, true),
            cp::MapListenerRequest {
                key: j("b"),
                ..listen("key-b", RequestType::Key, true)
            },
        ],
    )
    .await;

    c.put(put("a", &1, 0)).await.unwrap();
    c.put(put("a", &2, 0)).await.unwrap();
    c.remove(cp::RemoveRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j("a"),
        ..Default::default()
    })
    .await
    .unwrap();
    c.put(put("b", &1, 0)).await.unwrap();
    // Another cache's changes reach neither stream.
    c.put(cp::PutRequest {
        cache: "other".into(),
        ..put("a", &1, 0)
    })
    .await
    .unwrap();
    c.truncate(cp::TruncateRequest {
        cache: CACHE.into(),
        ..Default::default()
    })
    .await
    .unwrap();

    let truncated = ResponseType::Truncated(cp::CacheTruncatedResponse {
        cache: CACHE.into(),
    });
    for want in [
        entry_event(1, "a", None, Some(1), vec![1, 2]),
        entry_event(2, "a", Some(1), Some(2), vec![1]),
        entry_event(3, "a", Some(2), None, vec![1]),
        entry_event(1, "b", None, Some(1), vec![1, 2]),
        truncated.clone(),
    ] {
        assert_eq!(next_event(&mut a).await, want);
    }
    for want in [entry_event(1, "b", None, Some(1), vec![]), truncated] {
        assert_eq!(next_event(&mut b).await, want);
    }

    // Filter 1 removed (by its filter, under a new id, as the Python client does): what is
    // left on A is the lite inserts-only filter (no values).
    let mut unsubscribe = listen_filter("unfilter-a-1", 4, 7, ALWAYS, false);
    unsubscribe.subscribe = false;
    a_tx.send(unsubscribe).await.unwrap();
    assert!(matches!(
        next_event(&mut a).await,
        ResponseType::Unsubscribed(_)
    ));
    c.put(put("c", &1, 0)).await.unwrap();
    c.put(put("c", &2, 0)).await.unwrap();
    c.put(put("d", &1, 0)).await.unwrap();
    let lite = |key: &str| {
        ResponseType::Event(cp::MapEventResponse {
            id: 1,
            key: j(key),
            filter_ids: vec![2],
            ..Default::default()
        })
    };
    assert_eq!(next_event(&mut a).await, lite("c"));
    assert_eq!(
        next_event(&mut a).await,
        lite("d"),
        "the update of c matched nothing"
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// End to end: the real Python client

/// Skips the test (or fails it under `SATCHEL_REQUIRE_SERVICES=1`).
fn skip(test: &str, reason: &str) {
    assert!(
        std::env::var("SATCHEL_REQUIRE_SERVICES").as_deref() != Ok("1"),
        "{test}: {reason}, and SATCHEL_REQUIRE_SERVICES=1 requires it (build it with \
         `scripts/py-venv.sh coherence`)"
    );
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("skipped: {test} ({reason})\n").as_bytes(),
    );
}

fn python(test: &str) -> Option<PathBuf> {
    // Built on first use (scripts/py-venv.sh coherence), or SATCHEL_COHERENCE_PYTHON.
    match satchel_testkit::python::venv("coherence", "SATCHEL_COHERENCE_PYTHON") {
        Ok(p) => Some(p),
        Err(e) => {
            skip(test, &e);
            None
        }
    }
}

fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// Runs `coherence_e2e.py` against `addr` with `env`; answers its output, panicking unless
/// it exits 0 within 180 s.
async fn run_e2e(python: PathBuf, addr: String, env: Vec<(String, String)>) -> String {
    run_script(python, "coherence_e2e.py", addr, env).await
}

/// Runs `tests/py/<script>` against `addr` with `env`, killing it (our own child, by its
/// PID) after 180 s; answers its output, panicking unless it exits 0.
async fn run_script(
    python: PathBuf,
    script: &'static str,
    addr: String,
    env: Vec<(String, String)>,
) -> String {
    let (status, out, err) = run_script_status(python, script, addr, env).await;
    match status {
        Some(s) if s.success() => {
            // Shown with --nocapture.
            eprintln!("{out}");
            out
        }
        Some(s) => panic!("{script} failed ({s}):\n{out}\n{err}"),
        None => panic!("{script} did not finish in 180 s:\n{out}\n{err}"),
    }
}

/// [`run_script`], answering how it ended (`None`: killed after 180 s), its stdout and its
/// stderr.
async fn run_script_status(
    python: PathBuf,
    script: &'static str,
    addr: String,
    env: Vec<(String, String)>,
) -> (Option<std::process::ExitStatus>, String, String) {
    tokio::task::spawn_blocking(move || {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/py")
            .join(script);
        let mut child = Command::new(&python)
            .arg(&script)
            .env("COHERENCE_SERVER_ADDRESS", &addr)
            .env("COHERENCE_CLIENT_REQUEST_TIMEOUT", "10")
            .env("SATCHEL_E2E_TIMEOUT", "170")
            // No __pycache__ left in the source tree.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            // Only what this run sets: nothing from the caller's environment.
            .env_remove("COHERENCE_TLS_CERTS_PATH")
            .env_remove("COHERENCE_TLS_CLIENT_CERT")
            .env_remove("COHERENCE_TLS_CLIENT_KEY")
            .env_remove("SATCHEL_E2E_SKIP_BAD_INPUT")
            .env_remove("SATCHEL_E2E_PAGING_ENTRIES")
            .envs(env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python runs");
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stdout.read_to_string(&mut s);
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let deadline = Instant::now() + Duration::from_secs(180);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                // Our own child, by its PID.
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        (status, out.join().unwrap(), err.join().unwrap())
    })
    .await
    .unwrap()
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Person {
    name: String,
    age: u32,
    tags: Vec<String>,
}

impl CoherenceClass for Person {
    const CLASS: &'static str = "test.Person";
}

/// Reads what the script left in its readback cache through satchel's own store API, and
/// checks every byte and every decoded value.
async fn check_readback(store: &dyn StoreObject, output: &str) {
    let line = output
        .lines()
        .find_map(|l| l.strip_prefix("READBACK "))
        .unwrap_or_else(|| panic!("no READBACK line in:\n{output}"));
    let readback: serde_json::Value = serde_json::from_str(line).unwrap();
    let cache = readback["cache"].as_str().unwrap();
    let scope = readback["scope"].as_str().unwrap();
    let hex = |s: &serde_json::Value| -> Vec<u8> {
        let s = s.as_str().unwrap();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let entries = readback["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 10);
    let mut wanted_keys = BTreeSet::new();
    for e in entries {
        let name = e["key"].as_str().unwrap();
        let key = hex(&e["key_hex"]);
        let value = hex(&e["value_hex"]);
        let at = store_key(scope, cache, &key);
        let entry = store
            .get(&at)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{name}: nothing under {at:?}"));
        assert_eq!(entry.value, value, "{name}: bytes as the client sent them");
        assert_eq!(from_slice::<String>(&key).unwrap(), name);
        let v = &entry.value;
        match name {
            "str" => assert_eq!(from_slice::<String>(v).unwrap(), "hello"),
            "str_unicode" => assert_eq!(from_slice::<String>(v).unwrap(), "h\u{e9}llo \u{2603}"),
            "int" => assert_eq!(from_slice::<i64>(v).unwrap(), 42),
            "int_big" => assert_eq!(from_slice::<BigInt>(v).unwrap(), BigInt(1 << 64)),
            "float" => assert_eq!(from_slice::<f64>(v).unwrap(), 3.25),
            "bool" => assert!(from_slice::<bool>(v).unwrap()),
            "none" => assert_eq!(from_slice::<Option<i32>>(v).unwrap(), None),
            "list" => assert_eq!(
                from_slice::<serde_json::Value>(v).unwrap(),
                serde_json::json!([1, "two", 3.0, null, true])
            ),
            "dict" => assert_eq!(
                from_slice::<serde_json::Value>(v).unwrap(),
                serde_json::json!({"a": 1, "b": [1, 2]})
            ),
            "person" => assert_eq!(
                from_slice::<Classed<Person>>(v).unwrap().into_inner(),
                Person {
                    name: "ann".into(),
                    age: 30,
                    tags: vec!["a".into(), "b".into()],
                }
            ),
            other => panic!("unexpected readback entry {other}"),
        }
        wanted_keys.insert(key);
    }
    // The store keys of the cache give back exactly the keys the client sent.
    let prefix = cache_prefix(scope, cache);
    let listed: BTreeSet<Vec<u8>> = store
        .scan(&prefix, 1000)
        .await
        .unwrap()
        .iter()
        .map(|k| {
            let (s, c, key) = parse_store_key(k).unwrap();
            assert_eq!((s.as_str(), c.as_str()), (scope, cache));
            key
        })
        .collect();
    assert_eq!(listed, wanted_keys);
}

async fn e2e_against(test: &str, store: Arc<dyn StoreObject>, python: PathBuf, scope: &str) {
    let server = serve(store.clone()).await;
    let readback = unique("readback");
    let env = vec![
        ("SATCHEL_E2E_CACHE".to_string(), unique("e2e")),
        ("SATCHEL_E2E_READBACK_CACHE".to_string(), readback.clone()),
        ("SATCHEL_E2E_SCOPE".to_string(), scope.to_string()),
    ];
    let out = run_e2e(python, server.addr.to_string(), env).await;
    assert!(out.contains("\nOK all checks passed"), "{test}:\n{out}");
    check_readback(&*store, &out).await;
    // Leave nothing behind in shared stores.
    for k in store
        .scan(&cache_prefix(scope, &readback), 1000)
        .await
        .unwrap()
    {
        store.delete(&k).await.unwrap();
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_end_to_end_on_sqlite() {
    const TEST: &str = "python_client_end_to_end_on_sqlite";
    let Some(python) = python(TEST) else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("coherence.db").display());
    let store = satchel_store::open(&url).await.unwrap();
    e2e_against(TEST, store, python, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_end_to_end_on_redis() {
    const TEST: &str = "python_client_end_to_end_on_redis";
    let Some(url) = satchel_testkit::store::service_url("SATCHEL_TEST_REDIS_URL", TEST) else {
        return;
    };
    let Some(python) = python(TEST) else { return };
    let store = satchel_store::open(&url).await.unwrap();
    // A scope of its own, so parallel runs never share a namespace.
    e2e_against(TEST, store, python, &unique("scope:redis")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_end_to_end_over_mutual_tls() {
    const TEST: &str = "python_client_end_to_end_over_mutual_tls";
    let Some(python) = python(TEST) else { return };
    let pki = pki();
    let tls = satchel_grpc::ServerTls::from_files(pki.path("server.pem"), pki.path("server.key"))
        .unwrap()
        .with_client_ca_file(pki.path("ca.pem"))
        .unwrap();
    let store: Arc<dyn StoreObject> = Arc::new(MemoryStore::new());
    let server = serve_with(
        store.clone(),
        ServerConfig::new("127.0.0.1:0".parse().unwrap()).with_tls(tls),
    )
    .await;
    let path = |n: &str| pki.path(n).display().to_string();
    let env = vec![
        ("COHERENCE_TLS_CERTS_PATH".to_string(), path("ca.pem")),
        ("COHERENCE_TLS_CLIENT_CERT".to_string(), path("client.pem")),
        ("COHERENCE_TLS_CLIENT_KEY".to_string(), path("client.key")),
        ("SATCHEL_E2E_CACHE".to_string(), unique("tls")),
        // The paging checks are covered in plaintext; keep the TLS run short.
        ("SATCHEL_E2E_PAGING_ENTRIES".to_string(), "450".to_string()),
    ];
    let out = run_e2e(python, server.addr.to_string(), env).await;
    assert!(out.contains("tls=True"), "{out}");
    check_readback(&*store, &out).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_example_runs() {
    const TEST: &str = "readme_example_runs";
    let Some(python) = python(TEST) else { return };
    let store: Arc<dyn StoreObject> = Arc::new(MemoryStore::new());
    let server = serve(store.clone()).await;
    let out = run_script(
        python,
        "readme_example.py",
        server.addr.to_string(),
        Vec::new(),
    )
    .await;
    assert_eq!(out.trim(), "{'items': [1, 2], 'note': 'hello'}");
    // What the README ("Using Coherence clients") says satchel keeps.
    let entry = store
        .get("coherence::carts:\"ann\"")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        entry.value,
        b"\x15{\"items\": [1, 2], \"note\": \"hello\"}".to_vec()
    );
    server.stop().await;
}

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate it signed.
fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let dir = tempfile::tempdir().unwrap();
    let mut params = CertificateParams::new(Vec::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "satchel coherence test CA");
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate().unwrap();
    let ca = params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(params, ca_key);
    let leaf = |names: &[&str]| {
        let mut p = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
        p.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = leaf(&["localhost", "127.0.0.1"]);
    let (client_cert, client_key) = leaf(&["client.test"]);
    for (name, pem) in [
        ("ca.pem", ca.pem()),
        ("server.pem", server_cert),
        ("server.key", server_key),
        ("client.pem", client_cert),
        ("client.key", client_key),
    ] {
        std::fs::write(dir.path().join(name), pem).unwrap();
    }
    Pki { dir }
}

// ---------------------------------------------------------------------------------------
// Options

fn with_token(request: impl tonic::IntoRequest<cp::PutRequest>) -> tonic::Request<cp::PutRequest> {
    let mut request = request.into_request();
    request
        .metadata_mut()
        .insert("authorization", "Bearer s3cret".parse().unwrap());
    request
}

fn protection_of(server: &satchel_grpc::BoundServer, name: &str) -> Protection {
    server
        .services()
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} is not served"))
        .protection
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_the_coherence_endpoint_is_no_side_door_when_a_token_is_set() {
    // It used to be mounted open: a client without the token could put, read, clear and
    // destroy caches. Now it is behind the token unless mutual TLS or the operator says
    // otherwise.
    let config = ServerConfig::new("127.0.0.1:0".parse().unwrap()).with_token("s3cret");
    let bound = satchel_grpc::Server::new(
        Arc::new(MemoryStore::new()),
        config.clone().with_extension(Coherence::new()),
    )
    .bind()
    .await
    .unwrap();
    assert_eq!(
        protection_of(&bound, "coherence.NamedCacheService"),
        Protection::Token
    );
    assert_eq!(
        protection_of(&bound, "satchel.store.v1.Store"),
        Protection::Token
    );
    drop(bound);

    let store: Arc<dyn StoreObject> = Arc::new(MemoryStore::new());
    let server = serve_with(store.clone(), config).await;
    let mut c = client(&server).await;
    let r = c.put(put("k", "v", 0)).await;
    expect_code("a put without the token", r, Code::Unauthenticated, "token").await;
    let r = c
        .clear(cp::ClearRequest {
            scope: String::new(),
            cache: CACHE.into(),
        })
        .await;
    expect_code(
        "a clear without the token",
        r,
        Code::Unauthenticated,
        "token",
    )
    .await;
    assert!(
        store.scan("coherence:", 10).await.unwrap().is_empty(),
        "nothing was written"
    );
    // With the token, it works.
    c.put(with_token(put("k", "v", 0))).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coherence_endpoint_is_open_with_a_token_only_when_the_operator_allows_it() {
    let config = ServerConfig::new("127.0.0.1:0".parse().unwrap())
        .with_token("s3cret")
        .allow_open_service("coherence.NamedCacheService");
    let bound = satchel_grpc::Server::new(
        Arc::new(MemoryStore::new()),
        config.clone().with_extension(Coherence::new()),
    )
    .bind()
    .await
    .unwrap();
    assert_eq!(
        protection_of(&bound, "coherence.NamedCacheService"),
        Protection::OpenByChoice
    );
    drop(bound);
    let server = serve_with(Arc::new(MemoryStore::new()), config).await;
    let mut c = client(&server).await;
    c.put(put("k", "v", 0)).await.unwrap();
    assert_eq!(get_value(&mut c, "k").await, Some("v".into()));
    // satchel's own service still requires the token.
    let mut own =
        satchel_grpc::proto::store_client::StoreClient::connect(format!("http://{}", server.addr))
            .await
            .unwrap();
    let r = own
        .get(satchel_grpc::proto::GetRequest { key: "k".into() })
        .await;
    assert_eq!(r.unwrap_err().code(), Code::Unauthenticated);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_the_python_client_without_the_token_is_refused() {
    const TEST: &str = "regression_the_python_client_without_the_token_is_refused";
    let Some(python) = python(TEST) else { return };
    let store: Arc<dyn StoreObject> = Arc::new(MemoryStore::new());
    let server = serve_with(
        store.clone(),
        ServerConfig::new("127.0.0.1:0".parse().unwrap()).with_token("s3cret"),
    )
    .await;
    let (status, out, err) = run_script_status(
        python,
        "readme_example.py",
        server.addr.to_string(),
        Vec::new(),
    )
    .await;
    assert!(
        status.is_some_and(|s| !s.success()),
        "the client without the token was let in ({status:?}):\n{out}\n{err}"
    );
    // The refusal is UNAUTHENTICATED. The client opens its events stream first and writes
    // to it at once; when the refusal (a trailers-only response) arrives before that write
    // leaves, grpc-core fails the write and reports the call as INTERNAL "Internal error
    // from Core" instead: a race inside the client, seen about once in fifty runs.
    let refused = err.contains("UNAUTHENTICATED")
        || (err.contains("_ensure_stream") && err.contains("Internal error from Core"));
    assert!(refused, "not refused for want of credentials:\n{err}");
    assert!(
        store.scan("coherence:", 10).await.unwrap().is_empty(),
        "nothing was written"
    );
    // The same call without the race: the server's answer is UNAUTHENTICATED.
    let refusal = client(&server)
        .await
        .size(cp::SizeRequest {
            cache: "carts".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refusal.code(), Code::Unauthenticated, "{refusal:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_with_a_token_set_gets_in_by_its_client_certificate() {
    const TEST: &str = "python_client_with_a_token_set_gets_in_by_its_client_certificate";
    let Some(python) = python(TEST) else { return };
    let pki = pki();
    let tls = satchel_grpc::ServerTls::from_files(pki.path("server.pem"), pki.path("server.key"))
        .unwrap()
        .with_client_ca_file(pki.path("ca.pem"))
        .unwrap();
    let config = ServerConfig::new("127.0.0.1:0".parse().unwrap())
        .with_tls(tls)
        .with_token("s3cret");
    let bound = satchel_grpc::Server::new(
        Arc::new(MemoryStore::new()),
        config.clone().with_extension(Coherence::new()),
    )
    .bind()
    .await
    .unwrap();
    assert_eq!(
        protection_of(&bound, "coherence.NamedCacheService"),
        Protection::ClientCertificate
    );
    drop(bound);
    let store: Arc<dyn StoreObject> = Arc::new(MemoryStore::new());
    let server = serve_with(store.clone(), config).await;
    let path = |n: &str| pki.path(n).display().to_string();
    let env = vec![
        ("COHERENCE_TLS_CERTS_PATH".to_string(), path("ca.pem")),
        ("COHERENCE_TLS_CLIENT_CERT".to_string(), path("client.pem")),
        ("COHERENCE_TLS_CLIENT_KEY".to_string(), path("client.key")),
        ("SATCHEL_E2E_CACHE".to_string(), unique("tls-token")),
        ("SATCHEL_E2E_PAGING_ENTRIES".to_string(), "450".to_string()),
    ];
    let out = run_e2e(python, server.addr.to_string(), env).await;
    assert!(out.contains("tls=True"), "{out}");
    check_readback(&*store, &out).await;
    server.stop().await;
}

/// The same service mounted with `Mount::add_service` instead: behind the server's token,
/// like `satchel.store.v1.Store`.
struct GuardedCoherence;

impl satchel_grpc::Extension for GuardedCoherence {
    fn name(&self) -> &str {
        "guarded-coherence"
    }

    fn mount(&self, mount: &mut satchel_grpc::Mount<'_>) {
        let service = satchel_coherence::CoherenceService::new(mount.store().clone());
        mount.add_service(service.into_server());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extension_mounted_guarded_needs_the_bearer_token() {
    let server = satchel_testkit::grpc::serve_with(
        Arc::new(MemoryStore::new()),
        ServerConfig::new("127.0.0.1:0".parse().unwrap())
            .with_token("s3cret")
            .with_extension(GuardedCoherence),
    )
    .await;
    let mut c = client(&server).await;
    let r = c.put(put("k", "v", 0)).await;
    expect_code(
        "a call without the token",
        r,
        Code::Unauthenticated,
        "token",
    )
    .await;
    let mut with_token = tonic::Request::new(put("k", "v", 0));
    with_token
        .metadata_mut()
        .insert("authorization", "Bearer s3cret".parse().unwrap());
    assert_eq!(c.put(with_token).await.unwrap().into_inner(), none());
    let mut read = tonic::Request::new(get("k"));
    read.metadata_mut()
        .insert("authorization", "Bearer s3cret".parse().unwrap());
    assert!(c.get(read).await.unwrap().into_inner().present);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_pages_follow_a_cursor_past_the_entry_limit() {
    use satchel_coherence::CoherenceService;
    let service = CoherenceService::new(Arc::new(MemoryStore::new()))
        .with_max_entries(10)
        .with_page_size(4);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service.clone().into_server())
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async move {
                    let _ = stopped.await;
                    service.close_streams();
                },
            ),
    );
    let mut c = connect(addr).await;
    let fill = |n: usize| cp::PutAllRequest {
        cache: CACHE.into(),
        format: "json".into(),
        entry: (0..n)
            .map(|i| cp::Entry {
                key: j(&i),
                value: j(&i),
            })
            .collect(),
        ..Default::default()
    };
    c.put_all(fill(10)).await.unwrap();
    assert_eq!(size(&mut c, CACHE).await, 10);
    let page = cp::PageRequest {
        cache: CACHE.into(),
        ..Default::default()
    };
    let first = drain(
        c.next_key_set_page(page.clone())
            .await
            .unwrap()
            .into_inner(),
    )
    .await;
    assert_eq!(first.len(), 5, "the cookie and 4 keys");

    c.put_all(fill(25)).await.unwrap();
    let r = c
        .size(cp::SizeRequest {
            cache: CACHE.into(),
            ..Default::default()
        })
        .await;
    expect_code("size past the limit", r, Code::ResourceExhausted, "10").await;
    // Pages follow the store's cursor: they read past the limit, each costing its own size.
    let mut cookie = Vec::new();
    let (mut keys, mut pages) = (std::collections::BTreeSet::new(), 0);
    loop {
        let mut items = drain(
            c.next_key_set_page(cp::PageRequest {
                cookie: cookie.clone(),
                ..page.clone()
            })
            .await
            .unwrap()
            .into_inner(),
        )
        .await;
        pages += 1;
        cookie = items.remove(0);
        assert!(items.len() <= 4, "a page holds at most the page size");
        keys.extend(items);
        if cookie.is_empty() {
            break;
        }
    }
    assert_eq!(keys.len(), 25, "every entry, past the listing limit");
    assert_eq!(pages, 7, "25 keys in pages of 4");
    // A cookie this server did not issue (the last key, as 0.1 issued them) is refused.
    let r = c
        .next_key_set_page(cp::PageRequest {
            cookie: j(&3),
            ..page
        })
        .await;
    expect_code("a foreign cookie", r, Code::InvalidArgument, "cookie").await;
    // Emptying works at any size.
    c.clear(cp::ClearRequest {
        cache: CACHE.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(size(&mut c, CACHE).await, 0);
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
}

/// A memory store that, once armed, lets "another client" write a new value under a key
/// right before the next compare-and-delete on it: the interleaving 0.1's read-then-delete
/// `remove` and `removeMapping` lost a write to.
#[derive(Debug, Default)]
struct WriteBeforeDelete {
    inner: MemoryStore,
    armed: std::sync::Mutex<Option<(String, Vec<u8>)>>,
}

impl Store for WriteBeforeDelete {
    fn get<'a>(
        &'a self,
        key: &'a str,
    ) -> satchel_store::BoxFuture<'a, satchel_store::Result<Option<satchel_store::Entry>>> {
        self.inner.get(key)
    }
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: satchel_store::Condition,
    ) -> satchel_store::BoxFuture<'a, satchel_store::Result<satchel_store::Version>> {
        self.inner.set(key, value, ttl, condition)
    }
    fn delete<'a>(
        &'a self,
        key: &'a str,
    ) -> satchel_store::BoxFuture<'a, satchel_store::Result<bool>> {
        self.inner.delete(key)
    }
    fn delete_if<'a>(
        &'a self,
        key: &'a str,
        version: satchel_store::Version,
    ) -> satchel_store::BoxFuture<'a, satchel_store::Result<bool>> {
        Box::pin(async move {
            self.interleave().await?;
            self.inner.delete_if(key, version).await
        })
    }
    fn touch<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> satchel_store::BoxFuture<'a, satchel_store::Result<bool>> {
        self.inner.touch(key, ttl)
    }
    fn backend(&self) -> &'static str {
        "memory"
    }
}
satchel_store::store_object!(WriteBeforeDelete);

impl WriteBeforeDelete {
    /// The other client's write, once, right before a delete of either kind.
    async fn interleave(&self) -> satchel_store::Result<()> {
        let armed = self.armed.lock().unwrap().take();
        if let Some((k, v)) = armed {
            self.inner
                .set(&k, &v, None, satchel_store::Condition::Always)
                .await?;
        }
        Ok(())
    }
}

/// 0.1's `remove` and `removeMapping` read, then deleted unconditionally: a value another
/// client wrote in between was deleted too (and `removeMapping` deleted a value that no
/// longer matched). Both are compare-and-delete now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_remove_never_deletes_a_write_that_landed_after_its_read() {
    let store = Arc::new(WriteBeforeDelete::default());
    let server = serve(store.clone()).await;
    let mut c = client(&server).await;
    let key = |k: &str| store_key("", CACHE, &j(k));
    c.put(put("m", "old", 0)).await.unwrap();
    // removeMapping("m", "old") races a write of "new": the new value survives.
    *store.armed.lock().unwrap() = Some((key("m"), j("new")));
    let removed = c
        .remove_mapping(cp::RemoveMappingRequest {
            cache: CACHE.into(),
            format: "json".into(),
            key: j("m"),
            value: j("old"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        !removed,
        "the value no longer matched: nothing may be removed"
    );
    assert_eq!(get_value(&mut c, "m").await, Some(serde_json::json!("new")));
    // remove("m") races a write of "newer": it removes what is there and answers it.
    *store.armed.lock().unwrap() = Some((key("m"), j("newer")));
    let answered = c
        .remove(cp::RemoveRequest {
            cache: CACHE.into(),
            format: "json".into(),
            key: j("m"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answered, j("newer"), "remove answers the value it removed");
    assert_eq!(get_value(&mut c, "m").await, None);
    server.stop().await;
}
