//! Entry processors through tonic: one test per processor, and concurrent increments
//! that lose no update.

use super::query::*;
#[allow(unused_imports)]
use super::*;

async fn invoke_all(
    c: &mut Client,
    processor: &Value,
    keys: &[&str],
    filter: Option<&Value>,
) -> Vec<(Value, Value)> {
    let r = c
        .invoke_all(cp::InvokeAllRequest {
            cache: CACHE.into(),
            format: "json".into(),
            processor: q(processor),
            keys: keys.iter().map(|k| j(*k)).collect(),
            filter: filter.map(q).unwrap_or_default(),
            ..Default::default()
        })
        .await
        .unwrap();
    drain(r.into_inner())
        .await
        .iter()
        .map(|e| (back(&e.key), back(&e.value)))
        .collect()
}

fn incrementor(property: &str, by: Value, post: bool) -> Value {
    json!({"@class": "processor.NumberIncrementor",
        "manipulator": {"@class": "extractor.CompositeUpdater", "extractor": ux(property),
            "updater": {"@class": "extractor.UniversalUpdater", "name": property}},
        "increment": by, "postInc": post})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_conditional_put() {
    let (server, mut c) = people_server().await;
    let put = |f: Value, ret: bool| json!({"@class": "processor.ConditionalPut", "filter": f, "value": "new", "return": ret});
    let r = invoke(&mut c, "ann", &put(never(), true)).await.unwrap();
    assert_eq!(
        r["name"], "ann",
        "a failed condition answers the current value"
    );
    assert_eq!(
        invoke(&mut c, "ann", &put(never(), false)).await.unwrap(),
        Value::Null
    );
    assert_eq!(
        invoke(&mut c, "ann", &put(always(), true)).await.unwrap(),
        Value::Null
    );
    assert_eq!(get_value(&mut c, "ann").await, Some(json!("new")));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_conditional_remove() {
    let (server, mut c) = people_server().await;
    let remove =
        |f: Value| json!({"@class": "processor.ConditionalRemove", "filter": f, "return": true});
    let r = invoke(&mut c, "bob", &remove(cmp("LessFilter", "age", json!(30))))
        .await
        .unwrap();
    assert_eq!(r["age"], 36);
    assert!(get_value(&mut c, "bob").await.is_some());
    let r = invoke(
        &mut c,
        "bob",
        &remove(cmp("GreaterFilter", "age", json!(30))),
    )
    .await
    .unwrap();
    assert_eq!(r, Value::Null);
    assert_eq!(get_value(&mut c, "bob").await, None);
    assert_eq!(size(&mut c, CACHE).await, 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_conditional_put_all_inserts_only_where_the_filter_holds() {
    let (server, mut c) = people_server().await;
    let absent =
        json!({"@class": "filter.NotFilter", "filter": {"@class": "filter.PresentFilter"}});
    let p = json!({"@class": "processor.ConditionalPutAll", "filter": absent,
        "entries": {"entries": [{"key": "ann", "value": "x"}, {"key": "dee", "value": {"age": 5}}]}});
    let results = invoke_all(&mut c, &p, &["ann", "dee"], None).await;
    assert!(results.is_empty(), "{results:?}");
    assert_eq!(get_value(&mut c, "ann").await.unwrap()["age"], 22);
    assert_eq!(get_value(&mut c, "dee").await, Some(json!({"age": 5})));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_versioned_put_and_put_all() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let mut c = client(&server).await;
    fill(
        &mut c,
        &[
            ("v", json!({"@version": 1, "s": "a"})),
            ("w", json!({"@version": 7})),
        ],
    )
    .await;
    let vp = |v: Value| json!({"@class": "processor.VersionedPut", "value": v, "allowInsert": false, "return": true});
    assert_eq!(
        invoke(&mut c, "v", &vp(json!({"@version": 1, "s": "b"})))
            .await
            .unwrap(),
        Value::Null
    );
    assert_eq!(
        get_value(&mut c, "v").await,
        Some(json!({"@version": 2, "s": "b"}))
    );
    let stale = invoke(&mut c, "v", &vp(json!({"@version": 1, "s": "c"})))
        .await
        .unwrap();
    assert_eq!(
        stale,
        json!({"@version": 2, "s": "b"}),
        "a stale version answers the current value"
    );
    assert_eq!(
        invoke(&mut c, "none", &vp(json!({"@version": 1})))
            .await
            .unwrap(),
        Value::Null
    );
    assert_eq!(
        get_value(&mut c, "none").await,
        None,
        "no insert without allowInsert"
    );
    let all = json!({"@class": "processor.VersionedPutAll", "allowInsert": false, "return": false,
        "entries": {"entries": [{"key": "v", "value": {"@version": 2, "s": "d"}},
                                {"key": "w", "value": {"@version": 7, "s": "e"}}]}});
    invoke_all(&mut c, &all, &[], None).await;
    assert_eq!(
        get_value(&mut c, "v").await,
        Some(json!({"@version": 3, "s": "d"}))
    );
    assert_eq!(
        get_value(&mut c, "w").await,
        Some(json!({"@version": 8, "s": "e"}))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_number_incrementor_and_multiplier() {
    let (server, mut c) = people_server().await;
    assert_eq!(
        invoke(&mut c, "ann", &incrementor("age", json!(2), false))
            .await
            .unwrap(),
        json!(24)
    );
    assert_eq!(
        invoke(&mut c, "ann", &incrementor("age", json!(1), true))
            .await
            .unwrap(),
        json!(24)
    );
    assert_eq!(get_value(&mut c, "ann").await.unwrap()["age"], 25);
    let multiply = json!({"@class": "processor.NumberMultiplier",
        "manipulator": {"@class": "processor.PropertyManipulator", "property_name": "age", "useIsPrefix": false},
        "multiplier": 1.5, "postMultiplication": false});
    assert_eq!(invoke(&mut c, "bob", &multiply).await.unwrap(), json!(54.0));
    let on_text = invoke(&mut c, "bob", &incrementor("name", json!(1), false)).await;
    expect_code(
        "incrementing a string",
        on_text.map(tonic::Response::new),
        Code::InvalidArgument,
        "not a number",
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_concurrent_increments_lose_no_update() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let mut c = client(&server).await;
    fill(&mut c, &[("n", json!({"count": 0}))]).await;
    let (tasks_n, each) = (8, 25);
    let mut tasks = Vec::new();
    for _ in 0..tasks_n {
        let mut c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..each {
                let r = invoke(&mut c, "n", &incrementor("count", json!(1), false))
                    .await
                    .unwrap();
                seen.push(r.as_i64().unwrap());
            }
            seen
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort_unstable();
    let want: Vec<i64> = (1..=tasks_n * each).collect();
    assert_eq!(all, want, "every increment answered a distinct new value");
    assert_eq!(
        get_value(&mut c, "n").await,
        Some(json!({"count": tasks_n * each}))
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_updater_extractor_composite_conditional_null() {
    let (server, mut c) = people_server().await;
    let update = json!({"@class": "processor.UpdaterProcessor", "value": "Tempe",
        "updater": {"@class": "extractor.CompositeUpdater",
            "extractor": {"@class": "extractor.ChainedExtractor", "extractors": [ux("address")]},
            "updater": {"@class": "extractor.UniversalUpdater", "name": "city"}}});
    let extract = |e: Value| json!({"@class": "processor.ExtractorProcessor", "extractor": e});
    let city =
        json!({"@class": "extractor.ChainedExtractor", "extractors": [ux("address"), ux("city")]});
    let composite = json!({"@class": "processor.CompositeProcessor",
        "processors": [update, extract(city.clone()), extract(ux("name"))]});
    assert_eq!(
        invoke(&mut c, "ann", &composite).await.unwrap(),
        json!([true, "Tempe", "ann"])
    );
    assert_eq!(
        get_value(&mut c, "ann").await.unwrap()["address"]["city"],
        "Tempe"
    );
    let when = |f: Value| json!({"@class": "processor.ConditionalProcessor", "filter": f, "processor": extract(ux("age"))});
    assert_eq!(
        invoke(
            &mut c,
            "bob",
            &when(cmp("EqualsFilter", "name", json!("bob")))
        )
        .await
        .unwrap(),
        json!(36)
    );
    assert_eq!(
        invoke(&mut c, "bob", &when(never())).await.unwrap(),
        Value::Null
    );
    assert_eq!(
        invoke(&mut c, "bob", &json!({"@class": "util.NullEntryProcessor"}))
            .await
            .unwrap(),
        json!(true)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_method_invocation_on_json_types() {
    let (server, mut c) = people_server().await;
    let call = |m: &str, mutator: bool, args: Value| {
        json!({"@class": "processor.MethodInvocationProcessor",
        "methodName": m, "mutator": mutator, "args": args})
    };
    assert_eq!(
        invoke(&mut c, "cy", &call("size", false, json!([])))
            .await
            .unwrap(),
        json!(5)
    );
    assert_eq!(
        invoke(&mut c, "cy", &call("get", false, json!(["age"])))
            .await
            .unwrap(),
        json!(62)
    );
    assert_eq!(
        invoke(&mut c, "cy", &call("remove", true, json!(["age"])))
            .await
            .unwrap(),
        json!(62)
    );
    assert_eq!(get_value(&mut c, "cy").await.unwrap().get("age"), None);
    let r = invoke(&mut c, "cy", &call("wait", true, json!([]))).await;
    expect_code(
        "a Java-only mutator",
        r.map(tonic::Response::new),
        Code::Unimplemented,
        "wait",
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_invoke_all_by_filter_answers_the_matching_entries() {
    let (server, mut c) = people_server().await;
    let extract = json!({"@class": "processor.ExtractorProcessor", "extractor": ux("length()")});
    let by_name = json!({"@class": "processor.ExtractorProcessor", "extractor": {"@class": "extractor.ChainedExtractor", "extractors": [ux("name"), ux("length()")]}});
    let r = invoke_all(
        &mut c,
        &by_name,
        &[],
        Some(&cmp("EqualsFilter", "gender", json!("M"))),
    )
    .await;
    assert_eq!(r, vec![(json!("bob"), json!(3)), (json!("cy"), json!(2))]);
    // A named key that is absent is still processed (here: extracts null).
    let r = invoke_all(&mut c, &extract, &["ann", "zed"], None).await;
    assert_eq!(
        r,
        vec![(json!("ann"), Value::Null), (json!("zed"), Value::Null)]
    );
    server.stop().await;
}

/// Results stream as entries are processed (a few in flight at once): more entries than
/// that all answer, each processed once, and an error stops the stream with its status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_invoke_all_streams_every_result_and_stops_at_an_error() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let mut c = client(&server).await;
    let names: Vec<String> = (0..100).map(|i| format!("n{i:03}")).collect();
    let entries: Vec<(&str, Value)> = names
        .iter()
        .map(|n| (n.as_str(), json!({"n": 1})))
        .collect();
    fill(&mut c, &entries).await;
    let r = invoke_all(&mut c, &incrementor("n", json!(1), false), &[], None).await;
    assert_eq!(r.len(), 100);
    assert!(r.iter().all(|(_, v)| *v == json!(2)), "{r:?}");

    // One value that is not a number: the stream ends with INVALID_ARGUMENT.
    fill(&mut c, &[("n050", json!({"n": "text"}))]).await;
    let stream = c
        .invoke_all(cp::InvokeAllRequest {
            cache: CACHE.into(),
            format: "json".into(),
            processor: q(&incrementor("n", json!(1), false)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let mut stream = std::pin::pin!(stream);
    let mut answered = 0;
    let status = loop {
        match tokio_stream::StreamExt::next(&mut stream).await {
            Some(Ok(_)) => answered += 1,
            Some(Err(status)) => break status,
            None => panic!("the stream ended without the error ({answered} answered)"),
        }
    };
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(answered < 100, "{answered}");
    server.stop().await;
}
