//! The query language through tonic, as the Python client serializes it: one test per
//! filter, sorted queries, filter listeners, and hostile queries (deep nesting, unknown
//! classes, huge lists, patterns past the limits); the helpers `query_processors.rs` and
//! `query_aggregators.rs` share.

#[allow(unused_imports)]
use super::*;
pub(super) use serde_json::{Value, json};

/// A value as the client sends it: `0x15` + JSON.
pub(super) fn q(v: &Value) -> Vec<u8> {
    let mut out = vec![0x15];
    out.extend(serde_json::to_vec(v).unwrap());
    out
}

pub(super) fn back(bytes: &[u8]) -> Value {
    assert_eq!(bytes.first(), Some(&0x15), "{bytes:?}");
    serde_json::from_slice(&bytes[1..]).unwrap()
}

pub(super) fn ux(name: &str) -> Value {
    json!({"@class": "extractor.UniversalExtractor", "name": name, "params": null})
}

pub(super) fn cmp(class: &str, property: &str, value: Value) -> Value {
    json!({"@class": format!("filter.{class}"), "extractor": ux(property), "value": value})
}

/// Three people, as the Python client would write them.
pub(super) fn people() -> Vec<(&'static str, Value)> {
    vec![
        (
            "ann",
            json!({"name": "ann", "gender": "F", "age": 22, "nick": null,
                   "sports": ["golf", "tennis"], "address": {"city": "Phoenix"}}),
        ),
        (
            "bob",
            json!({"name": "bob", "gender": "M", "age": 36, "nick": "B",
                   "sports": ["soccer"], "address": {"city": "Boston"}}),
        ),
        (
            "cy",
            json!({"name": "cy", "gender": "M", "age": 62,
                   "sports": [], "address": {"city": "Carmel"}}),
        ),
    ]
}

pub(super) async fn fill(c: &mut Client, entries: &[(&str, Value)]) {
    c.put_all(cp::PutAllRequest {
        cache: CACHE.into(),
        format: "json".into(),
        entry: entries
            .iter()
            .map(|(k, v)| cp::Entry {
                key: j(*k),
                value: q(v),
            })
            .collect(),
        ..Default::default()
    })
    .await
    .unwrap();
}

pub(super) async fn people_server() -> (TestServer, Client) {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let mut c = client(&server).await;
    fill(&mut c, &people()).await;
    (server, c)
}

pub(super) async fn keys_where(c: &mut Client, filter: &Value) -> BTreeSet<String> {
    let r = c
        .key_set(cp::KeySetRequest {
            cache: CACHE.into(),
            format: "json".into(),
            filter: q(filter),
            ..Default::default()
        })
        .await
        .unwrap();
    drain(r.into_inner())
        .await
        .iter()
        .map(|k| back(k).as_str().unwrap().to_string())
        .collect()
}

pub(super) fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

macro_rules! filter_picks {
    ($($name:ident: $filter:expr => [$($key:literal),*];)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (server, mut c) = people_server().await;
            let filter: Value = $filter;
            assert_eq!(keys_where(&mut c, &filter).await, set(&[$($key),*]), "{filter}");
            server.stop().await;
        }
    )*};
}

filter_picks! {
    filter_equals: cmp("EqualsFilter", "age", json!(36)) => ["bob"];
    filter_not_equals: cmp("NotEqualsFilter", "age", json!(36)) => ["ann", "cy"];
    filter_greater: cmp("GreaterFilter", "age", json!(36)) => ["cy"];
    filter_greater_equals: cmp("GreaterEqualsFilter", "age", json!(36)) => ["bob", "cy"];
    filter_less: cmp("LessFilter", "age", json!(36)) => ["ann"];
    filter_less_equals: cmp("LessEqualsFilter", "age", json!(36.0)) => ["ann", "bob"];
    filter_between_as_the_client_sends_it: json!({"@class": "filter.BetweenFilter", "filters": [
        cmp("GreaterEqualsFilter", "age", json!(22)), cmp("LessFilter", "age", json!(62))]}) => ["ann", "bob"];
    filter_on_a_chained_extractor: json!({"@class": "filter.EqualsFilter", "value": "Boston",
        "extractor": {"@class": "extractor.ChainedExtractor", "extractors": [ux("address"), ux("city")]}}) => ["bob"];
    filter_on_a_method_of_a_string: json!({"@class": "filter.EqualsFilter", "value": 3,
        "extractor": {"@class": "extractor.ChainedExtractor", "extractors": [ux("name"), ux("length()")]}}) => ["ann", "bob"];
    filter_like: json!({"@class": "filter.LikeFilter", "extractor": ux("name"), "value": "b_b%",
        "escapeChar": "0", "ignoreCase": false}) => ["bob"];
    filter_like_ignoring_case: json!({"@class": "filter.LikeFilter", "extractor": ux("name"), "value": "A%",
        "escapeChar": "0", "ignoreCase": true}) => ["ann"];
    filter_regex_matches_the_whole_string: cmp("RegexFilter", "name", json!("[abc].")) => ["cy"];
    filter_in: cmp("InFilter", "age", json!([22, 62, "36"])) => ["ann", "cy"];
    filter_contains: cmp("ContainsFilter", "sports", json!("golf")) => ["ann"];
    filter_contains_any: cmp("ContainsAnyFilter", "sports", json!(["soccer", "curling"])) => ["bob"];
    filter_contains_all: cmp("ContainsAllFilter", "sports", json!(["tennis", "golf"])) => ["ann"];
    filter_present: json!({"@class": "filter.PresentFilter"}) => ["ann", "bob", "cy"];
    filter_is_null_counts_missing_properties: cmp("IsNullFilter", "nick", Value::Null) => ["ann", "cy"];
    filter_is_not_null: cmp("IsNotNullFilter", "nick", Value::Null) => ["bob"];
    filter_and: json!({"@class": "filter.AndFilter", "filters": [
        cmp("EqualsFilter", "gender", json!("M")), cmp("LessFilter", "age", json!(40))]}) => ["bob"];
    filter_or: json!({"@class": "filter.OrFilter", "filters": [
        cmp("EqualsFilter", "age", json!(22)), cmp("EqualsFilter", "age", json!(62))]}) => ["ann", "cy"];
    filter_not: json!({"@class": "filter.NotFilter", "filter": cmp("EqualsFilter", "age", json!(36))}) => ["ann", "cy"];
    filter_xor: json!({"@class": "filter.XorFilter", "filters": [
        cmp("EqualsFilter", "gender", json!("M")), cmp("GreaterFilter", "age", json!(40))]}) => ["bob"];
    filter_all: json!({"@class": "filter.AllFilter", "filters": [
        cmp("EqualsFilter", "gender", json!("M")), cmp("GreaterFilter", "age", json!(30)),
        cmp("ContainsFilter", "sports", json!("soccer"))]}) => ["bob"];
    filter_any: json!({"@class": "filter.AnyFilter", "filters": [
        cmp("EqualsFilter", "name", json!("cy")), cmp("ContainsFilter", "sports", json!("golf"))]}) => ["ann", "cy"];
    filter_always: json!({"@class": "filter.AlwaysFilter"}) => ["ann", "bob", "cy"];
    filter_never: json!({"@class": "filter.NeverFilter"}) => [];
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filtered_values_and_entries_sorted_by_a_comparator() {
    let (server, mut c) = people_server().await;
    let filter = cmp("GreaterFilter", "age", json!(30));
    let r = c
        .values(cp::ValuesRequest {
            cache: CACHE.into(),
            format: "json".into(),
            filter: q(&filter),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut names: Vec<String> = drain(r.into_inner())
        .await
        .iter()
        .map(|v| back(v)["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["bob", "cy"]);
    let oldest_first = json!({"@class": "comparator.InverseComparator",
        "comparator": {"@class": "comparator.ExtractorComparator", "extractor": ux("age")}});
    let r = c
        .entry_set(cp::EntrySetRequest {
            cache: CACHE.into(),
            format: "json".into(),
            filter: q(&json!({"@class": "filter.AlwaysFilter"})),
            comparator: q(&oldest_first),
            ..Default::default()
        })
        .await
        .unwrap();
    let keys: Vec<Value> = drain(r.into_inner())
        .await
        .iter()
        .map(|e| back(&e.key))
        .collect();
    assert_eq!(keys, [json!("cy"), json!("bob"), json!("ann")]);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Shared with query_processors.rs and query_aggregators.rs

pub(super) async fn invoke(
    c: &mut Client,
    key: &str,
    processor: &Value,
) -> Result<Value, tonic::Status> {
    c.invoke(cp::InvokeRequest {
        cache: CACHE.into(),
        format: "json".into(),
        processor: q(processor),
        key: j(key),
        ..Default::default()
    })
    .await
    .map(|r| back(&r.into_inner()))
}

pub(super) fn always() -> Value {
    json!({"@class": "filter.AlwaysFilter"})
}

pub(super) fn never() -> Value {
    json!({"@class": "filter.NeverFilter"})
}

pub(super) async fn aggregate(
    c: &mut Client,
    agg: &Value,
    keys: &[&str],
    filter: Option<&Value>,
) -> Result<Value, tonic::Status> {
    c.aggregate(cp::AggregateRequest {
        cache: CACHE.into(),
        format: "json".into(),
        aggregator: q(agg),
        keys: keys.iter().map(|k| j(*k)).collect(),
        filter: filter.map(q).unwrap_or_default(),
        ..Default::default()
    })
    .await
    .map(|r| back(&r.into_inner()))
}

// ---------------------------------------------------------------------------------------
// Filter listeners

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_listeners_receive_the_changes_their_filter_matches() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let mut c = client(&server).await;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tx.send(cp::MapListenerRequest {
        cache: CACHE.into(),
        format: "json".into(),
        uid: "f-1".into(),
        r#type: RequestType::Filter as i32,
        subscribe: true,
        filter: q(&cmp("LessFilter", "age", json!(30))),
        filter_id: 9,
        ..Default::default()
    })
    .await
    .unwrap();
    let mut events = c
        .events(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .unwrap()
        .into_inner();
    let first = events.message().await.unwrap().unwrap().response_type;
    assert!(
        matches!(first, Some(ResponseType::Subscribed(_))),
        "{first:?}"
    );
    fill(&mut c, &[("old", json!({"age": 58}))]).await;
    fill(&mut c, &[("young", json!({"age": 29}))]).await;
    let next = tokio::time::timeout(Duration::from_secs(10), events.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match next.response_type {
        Some(ResponseType::Event(e)) => {
            assert_eq!(
                back(&e.key),
                json!("young"),
                "the first event is the young one's"
            );
            assert_eq!(e.filter_ids, vec![9]);
        }
        other => panic!("expected an event, got {other:?}"),
    }
    drop(tx);
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Hostile queries

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_deep_nesting_is_refused() {
    let (server, mut c) = people_server().await;
    let mut f = always();
    for _ in 0..40 {
        f = json!({"@class": "filter.NotFilter", "filter": f});
    }
    let r = c
        .key_set(cp::KeySetRequest {
            cache: CACHE.into(),
            format: "json".into(),
            filter: q(&f),
            ..Default::default()
        })
        .await;
    expect_code("a filter 40 deep", r, Code::InvalidArgument, "32 levels").await;
    server.stop().await;
}

/// A chain of 30 two-way MultiExtractors is 91 query objects, 3 levels deep, and would copy
/// each value 2^30 times: refused when parsed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_extractor_fan_out_is_refused() {
    let (server, mut c) = people_server().await;
    let identity = json!({"@class": "extractor.IdentityExtractor"});
    let multi = json!({"@class": "extractor.MultiExtractor", "extractors": [identity, identity]});
    let chain = json!({"@class": "extractor.ChainedExtractor",
        "extractors": vec![multi; 30]});
    let f = json!({"@class": "filter.EqualsFilter", "extractor": chain, "value": 0});
    let r = c
        .key_set(cp::KeySetRequest {
            cache: CACHE.into(),
            format: "json".into(),
            filter: q(&f),
            ..Default::default()
        })
        .await;
    expect_code(
        "an extractor copying each value 2^30 times",
        r,
        Code::InvalidArgument,
        "1024 times",
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_unknown_classes_are_named() {
    let (server, mut c) = people_server().await;
    let r = aggregate(&mut c, &json!({"@class": "aggregator.Mystery"}), &[], None).await;
    expect_code(
        "an unknown aggregator",
        r.map(tonic::Response::new),
        Code::InvalidArgument,
        "aggregator.Mystery",
    )
    .await;
    let r = invoke(&mut c, "ann", &json!({"@class": "processor.Mystery"})).await;
    expect_code(
        "an unknown processor",
        r.map(tonic::Response::new),
        Code::InvalidArgument,
        "processor.Mystery",
    )
    .await;
    let r = invoke(
        &mut c,
        "ann",
        &json!({"@class": "processor.ConditionalRemove", "filter": {"@class": "filter.Mystery"}}),
    )
    .await;
    expect_code(
        "an unknown filter",
        r.map(tonic::Response::new),
        Code::InvalidArgument,
        "filter.Mystery",
    )
    .await;
    let r = invoke(
        &mut c,
        "ann",
        &json!({"@class": "processor.ScriptProcessor", "name": "s", "language": "js"}),
    )
    .await;
    expect_code(
        "a script",
        r.map(tonic::Response::new),
        Code::Unimplemented,
        "processor.ScriptProcessor",
    )
    .await;
    let e = json!({"@class": "processor.ExtractorProcessor", "extractor": ux("hashCode()")});
    let r = invoke(&mut c, "ann", &e).await;
    expect_code(
        "a Java method",
        r.map(tonic::Response::new),
        Code::Unimplemented,
        "hashCode()",
    )
    .await;
    let r = invoke(&mut c, "ann", &json!({"no": "class"})).await;
    expect_code(
        "no @class",
        r.map(tonic::Response::new),
        Code::InvalidArgument,
        "@class",
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_huge_in_list_is_refused() {
    let (server, mut c) = people_server().await;
    let values: Vec<Value> = (0..20_000).map(Value::from).collect();
    let r = c
        .key_set(cp::KeySetRequest {
            cache: CACHE.into(),
            format: "json".into(),
            filter: q(&cmp("InFilter", "age", Value::Array(values))),
            ..Default::default()
        })
        .await;
    expect_code("an in list of 20,000", r, Code::InvalidArgument, "10000").await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_patterns_are_bounded() {
    let (server, c) = people_server().await;
    let keys = |f: Value| {
        let mut c = c.clone();
        async move {
            c.key_set(cp::KeySetRequest {
                cache: CACHE.into(),
                format: "json".into(),
                filter: q(&f),
                ..Default::default()
            })
            .await
        }
    };
    let long = "a".repeat(1_001);
    let r = keys(cmp("RegexFilter", "name", json!(long))).await;
    expect_code(
        "a 1,001-character regex",
        r,
        Code::InvalidArgument,
        "1000 characters",
    )
    .await;
    let r = keys(cmp("RegexFilter", "name", json!("(?:a{1000}){1000}"))).await;
    expect_code(
        "a regex past the size limit",
        r,
        Code::InvalidArgument,
        "cannot be compiled",
    )
    .await;
    let r = keys(cmp("RegexFilter", "name", json!("(a)\\1"))).await;
    expect_code(
        "a back-reference",
        r,
        Code::InvalidArgument,
        "cannot be compiled",
    )
    .await;
    let many: Vec<Value> = (0..17)
        .map(|i| cmp("RegexFilter", "name", json!(format!("a{i}"))))
        .collect();
    let r = keys(json!({"@class": "filter.AnyFilter", "filters": many})).await;
    expect_code("17 patterns", r, Code::InvalidArgument, "more than 16").await;
    // Nested stars, exponential for a backtracking engine on a run of `a`s with no `b`
    // (2^40 paths here), are linear here.
    let mut c2 = c.clone();
    fill(&mut c2, &[("aaa", json!({"name": "a".repeat(40)}))]).await;
    let started = Instant::now();
    let evil = keys(cmp("RegexFilter", "name", json!("(a*)*b")))
        .await
        .unwrap();
    assert!(drain(evil.into_inner()).await.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    server.stop().await;
}
