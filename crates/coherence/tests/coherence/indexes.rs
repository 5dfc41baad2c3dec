//! Indexes (`addIndex`, `removeIndex`) and query plans (`aggregator.QueryRecorder`):
//! what a plan says, that an index narrows queries without changing their answers through
//! writes of every kind (this endpoint, the Store service, concurrent writers, `truncate`),
//! and that on stores other processes write an index is accepted and never used.

use super::query::*;
#[allow(unused_imports)]
use super::*;

fn explain() -> Value {
    json!({"@class": "aggregator.QueryRecorder", "type": {"enum": "EXPLAIN"}})
}

fn trace() -> Value {
    json!({"@class": "aggregator.QueryRecorder", "type": {"enum": "TRACE"}})
}

async fn add_index(c: &mut Client, property: &str) -> Result<(), tonic::Status> {
    c.add_index(cp::AddIndexRequest {
        cache: CACHE.into(),
        format: "json".into(),
        extractor: q(&ux(property)),
        ..Default::default()
    })
    .await
    .map(drop)
}

async fn remove_index(c: &mut Client, property: &str) {
    c.remove_index(cp::RemoveIndexRequest {
        cache: CACHE.into(),
        format: "json".into(),
        extractor: q(&ux(property)),
        ..Default::default()
    })
    .await
    .unwrap();
}

/// The first step of a plan.
fn step(record: &Value) -> &Value {
    &record["results"][0]["steps"][0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_plans_name_each_step_and_the_keys_it_saw() {
    let (server, mut c) = people_server().await;
    let filter = json!({"@class": "filter.AndFilter", "filters": [
        cmp("GreaterFilter", "age", json!(30)), cmp("EqualsFilter", "gender", json!("M"))]});
    let plan = aggregate(&mut c, &explain(), &[], Some(&filter))
        .await
        .unwrap();
    assert_eq!(plan["@class"], "util.SimpleQueryRecord", "{plan}");
    assert_eq!(plan["type"]["enum"], "EXPLAIN");
    assert!(plan["results"][0]["partitionSet"].is_object(), "{plan}");
    let and = step(&plan);
    assert_eq!(
        and["filter"],
        "AndFilter(GreaterFilter(.age, 30), EqualsFilter(.gender, M))"
    );
    assert_eq!(
        (
            and["keySetSizePre"].as_u64(),
            and["keySetSizePost"].as_u64()
        ),
        (Some(3), Some(0))
    );
    let subs = and["subSteps"].as_array().unwrap();
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0]["indexLookupRecords"][0]["extractor"], ".age");
    assert!(
        subs[0]["indexLookupRecords"][0].get("index").is_none(),
        "no index: {plan}"
    );
    assert_eq!(
        subs[0]["efficiency"], 3000,
        "1,000 per entry without an index"
    );

    let traced = aggregate(&mut c, &trace(), &[], Some(&filter))
        .await
        .unwrap();
    assert_eq!(traced["type"]["enum"], "TRACE");
    let and = step(&traced);
    assert_eq!(and["keySetSizePost"], 2, "bob and cy: {traced}");
    let subs = and["subSteps"].as_array().unwrap();
    assert_eq!(
        (
            subs[0]["keySetSizePre"].as_u64(),
            subs[0]["keySetSizePost"].as_u64()
        ),
        (Some(3), Some(2))
    );
    assert_eq!(
        subs[1]["keySetSizePre"], 2,
        "the second part sees what the first kept"
    );

    // Over named keys, and refused inside another aggregator.
    let some = aggregate(&mut c, &trace(), &["ann", "bob"], Some(&filter))
        .await
        .unwrap();
    assert_eq!(step(&some)["keySetSizePre"], 2);
    let nested = json!({"@class": "aggregator.CompositeAggregator", "aggregators": [explain()]});
    let r = aggregate(&mut c, &nested, &[], None).await;
    expect_code(
        "a nested recorder",
        r.map(tonic::Response::new),
        Code::InvalidArgument,
        "QueryRecorder",
    )
    .await;
    let bad = json!({"@class": "aggregator.QueryRecorder", "type": {"enum": "GUESS"}});
    let r = aggregate(&mut c, &bad, &[], None).await;
    expect_code(
        "an unknown record type",
        r.map(tonic::Response::new),
        Code::InvalidArgument,
        "EXPLAIN or TRACE",
    )
    .await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_index_narrows_queries_shows_in_plans_and_follows_every_write() {
    let (server, mut c) = people_server().await;
    let older = cmp("GreaterFilter", "age", json!(30));
    add_index(&mut c, "age").await.unwrap();
    add_index(&mut c, "age").await.unwrap();
    let plan = aggregate(&mut c, &explain(), &[], Some(&older))
        .await
        .unwrap();
    let record = &step(&plan)["indexLookupRecords"][0];
    assert!(
        record["index"].as_str().unwrap().contains("Size=3"),
        "{plan}"
    );
    assert_eq!(record["distinctValues"], 3);
    assert_eq!(
        step(&plan)["efficiency"],
        3,
        "each distinct age tested once"
    );
    assert_eq!(keys_where(&mut c, &older).await, set(&["bob", "cy"]));

    // Writes of every kind through this endpoint.
    fill(&mut c, &[("dee", json!({"name": "dee", "age": 45}))]).await;
    fill(&mut c, &[("cy", json!({"name": "cy", "age": 12}))]).await;
    c.remove(cp::RemoveRequest {
        cache: CACHE.into(),
        format: "json".into(),
        key: j("bob"),
        ..Default::default()
    })
    .await
    .unwrap();
    let incremented = json!({"@class": "processor.NumberIncrementor", "manipulator":
        {"@class": "processor.PropertyManipulator", "property_name": "age"}, "increment": 10, "postIncrement": false});
    invoke(&mut c, "ann", &incremented).await.unwrap();
    assert_eq!(
        keys_where(&mut c, &older).await,
        set(&["ann", "dee"]),
        "ann is 32 now"
    );
    let traced = aggregate(&mut c, &trace(), &[], Some(&older))
        .await
        .unwrap();
    assert_eq!(step(&traced)["keySetSizePost"], 2, "{traced}");

    // Through the satchel Store service of the same server: the feed brings it.
    let store = satchel_store::open(&server.url).await.unwrap();
    store
        .set(
            &store_key("", CACHE, &j("eve")),
            &j(&json!({"name": "eve", "age": 70})),
            None,
            satchel_store::Condition::Always,
        )
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !keys_where(&mut c, &older).await.contains("eve") {
        assert!(
            Instant::now() < deadline,
            "the Store service's write never reached the index"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    c.truncate(cp::TruncateRequest {
        cache: CACHE.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(keys_where(&mut c, &older).await, set(&[]));
    fill(&mut c, &[("fay", json!({"name": "fay", "age": 50}))]).await;
    assert_eq!(
        keys_where(&mut c, &older).await,
        set(&["fay"]),
        "indexed after a truncate"
    );

    remove_index(&mut c, "age").await;
    remove_index(&mut c, "age").await;
    let plan = aggregate(&mut c, &explain(), &[], Some(&older))
        .await
        .unwrap();
    assert!(
        step(&plan)["indexLookupRecords"][0].get("index").is_none(),
        "{plan}"
    );
    server.stop().await;
}

/// Writers move ages back and forth (and remove entries) while indexed queries run: the
/// entries no writer touches are in every answer that should hold them and in none that
/// should not, and once the writers stop, the indexed answer is exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_index_stays_exact_under_concurrent_writes() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let mut c = client(&server).await;
    let names: Vec<String> = (0..40).map(|i| format!("p{i:02}")).collect();
    let start: Vec<(&str, Value)> = names
        .iter()
        .map(|n| (n.as_str(), json!({"age": 10})))
        .collect();
    fill(&mut c, &start).await;
    // Untouched by the writers: s0, s2, … are old, s1, s3, … young, throughout.
    let stable: Vec<(String, Value)> = (0..10)
        .map(|i| {
            (
                format!("s{i}"),
                json!({"age": if i % 2 == 0 { 80 } else { 5 }}),
            )
        })
        .collect();
    let stable_refs: Vec<(&str, Value)> = stable
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    fill(&mut c, &stable_refs).await;
    let stable_old: BTreeSet<String> = (0..10).step_by(2).map(|i| format!("s{i}")).collect();
    add_index(&mut c, "age").await.unwrap();
    let mut writers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let mut c = client(&server).await;
        let names = names.clone();
        writers.spawn(async move {
            for round in 0..60 {
                let name = &names[(round * 7 + w * 3) % names.len()];
                let age = if (round + w) % 2 == 0 { 50 } else { 10 };
                if round % 11 == 5 {
                    c.remove(cp::RemoveRequest {
                        cache: CACHE.into(),
                        format: "json".into(),
                        key: j(name.as_str()),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                } else {
                    fill(&mut c, &[(name.as_str(), json!({"age": age}))]).await;
                }
            }
        });
    }
    let older = cmp("GreaterFilter", "age", json!(30));
    while !writers.is_empty() {
        let got = keys_where(&mut c, &older).await;
        let stable_got: BTreeSet<String> = got.into_iter().filter(|k| k.starts_with('s')).collect();
        assert_eq!(
            stable_got, stable_old,
            "untouched entries, while others churn"
        );
        if let Some(done) = writers.try_join_next() {
            done.unwrap();
        }
        tokio::task::yield_now().await;
    }
    // The exact answer, from every entry read one by one.
    let mut want = BTreeSet::new();
    for name in &names {
        if let Some(v) = get_value(&mut c, name).await
            && v["age"].as_i64() > Some(30)
        {
            want.insert(name.clone());
        }
    }
    want.extend(stable_old);
    assert_eq!(keys_where(&mut c, &older).await, want);
    let plan = aggregate(&mut c, &explain(), &[], Some(&older))
        .await
        .unwrap();
    assert!(
        step(&plan)["indexLookupRecords"][0].get("index").is_some(),
        "the index was used: {plan}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indexes_on_stores_other_processes_write_are_accepted_and_never_used() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("c.db").display());
    let server = serve(satchel_store::open(&url).await.unwrap()).await;
    let mut c = client(&server).await;
    fill(&mut c, &people()).await;
    add_index(&mut c, "age").await.unwrap();
    let older = cmp("GreaterFilter", "age", json!(30));
    let plan = aggregate(&mut c, &explain(), &[], Some(&older))
        .await
        .unwrap();
    let record = &step(&plan)["indexLookupRecords"][0];
    assert!(record.get("index").is_none(), "{plan}");
    assert_eq!(record["distinctValues"], -1);
    assert_eq!(keys_where(&mut c, &older).await, set(&["bob", "cy"]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_index_requests_are_refused() {
    let (server, mut c) = people_server().await;
    let r = c
        .add_index(cp::AddIndexRequest {
            cache: CACHE.into(),
            format: "json".into(),
            ..Default::default()
        })
        .await;
    expect_code("no extractor", r, Code::InvalidArgument, "no extractor").await;
    let r = c
        .add_index(cp::AddIndexRequest {
            cache: CACHE.into(),
            format: "json".into(),
            extractor: q(&json!({"@class": "extractor.ScriptValueExtractor"})),
            ..Default::default()
        })
        .await;
    expect_code("a script", r, Code::Unimplemented, "ScriptValueExtractor").await;
    for i in 0..64 {
        add_index(&mut c, &format!("p{i}")).await.unwrap();
    }
    let r = add_index(&mut c, "one-too-many").await;
    expect_code(
        "index 65",
        r.map(tonic::Response::new),
        Code::ResourceExhausted,
        "64 indexes",
    )
    .await;
    server.stop().await;
}
