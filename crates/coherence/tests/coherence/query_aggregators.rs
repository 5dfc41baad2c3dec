//! Aggregators through tonic: one test per aggregator, over keys and filters.

use super::query::*;
#[allow(unused_imports)]
use super::*;

fn agg(class: &str, property: &str) -> Value {
    json!({"@class": format!("aggregator.{class}"), "extractor": ux(property)})
}

fn big_dec(s: &str) -> Value {
    json!({"@class": "math.BigDec", "value": s})
}

macro_rules! aggregates_to {
    ($($name:ident: $agg:expr, $keys:expr, $filter:expr => $want:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (server, mut c) = people_server().await;
            let filter: Option<Value> = $filter;
            let got = aggregate(&mut c, &$agg, &$keys, filter.as_ref()).await.unwrap();
            assert_eq!(got, $want);
            server.stop().await;
        }
    )*};
}

aggregates_to! {
    aggregator_count: json!({"@class": "aggregator.Count"}), [], None => json!(3);
    aggregator_count_with_a_filter: json!({"@class": "aggregator.Count"}), [],
        Some(cmp("EqualsFilter", "gender", json!("M"))) => json!(2);
    aggregator_long_sum: agg("LongSum", "age"), [], None => json!(120);
    aggregator_double_sum: agg("DoubleSum", "age"), [], None => json!(120.0);
    aggregator_big_decimal_sum_of_keys: agg("BigDecimalSum", "age"), ["ann", "cy", "nobody"], None => big_dec("84");
    aggregator_min: agg("ComparableMin", "age"), [], None => json!(22);
    aggregator_max: agg("ComparableMax", "name"), [], None => json!("cy");
    aggregator_big_decimal_average: agg("BigDecimalAverage", "age"), [], None => big_dec("40");
    aggregator_double_average: agg("DoubleAverage", "age"), ["ann", "bob"], None => json!(29.0);
    aggregator_distinct_values: agg("DistinctValues", "gender"), [], None => json!(["F", "M"]);
    aggregator_top_n_by_a_comparator: json!({"@class": "aggregator.TopNAggregator", "results": 2, "inverse": true,
        "extractor": {"@class": "extractor.IdentityExtractor"},
        "comparator": {"@class": "comparator.InverseComparator", "comparator":
            {"@class": "comparator.ExtractorComparator", "extractor": ux("age")}}}), [], None
        => json!([people()[0].1, people()[1].1]);
    aggregator_top_n_of_extracted_values: json!({"@class": "aggregator.TopNAggregator", "results": 2,
        "inverse": false, "extractor": ux("age"), "comparator": null}), [], None => json!([62, 36]);
    aggregator_group: json!({"@class": "aggregator.GroupAggregator", "extractor": ux("gender"),
        "aggregator": agg("ComparableMax", "age"), "filter": always()}), [], None
        => json!({"entries": [{"key": "F", "value": 22}, {"key": "M", "value": 62}]});
    aggregator_group_filter_picks_groups_by_their_result: json!({"@class": "aggregator.GroupAggregator",
        "extractor": ux("gender"), "aggregator": agg("ComparableMax", "age"),
        "filter": {"@class": "filter.GreaterFilter", "extractor": {"@class": "extractor.IdentityExtractor"},
            "value": 30}}), [], None
        => json!({"entries": [{"key": "M", "value": 62}]});
    aggregator_top_n_skips_nulls: json!({"@class": "aggregator.TopNAggregator", "results": 2,
        "inverse": false, "extractor": ux("nickname"), "comparator": null}), [], None => json!([]);
    aggregator_priority_runs_its_aggregator: json!({"@class": "aggregator.PriorityAggregator",
        "aggregator": agg("BigDecimalSum", "age")}), [], None => big_dec("120");
    aggregator_reducer: agg("ReducerAggregator", "age"), [], Some(cmp("LessFilter", "age", json!(40)))
        => json!({"entries": [{"key": "ann", "value": 22}, {"key": "bob", "value": 36}]});
    aggregator_composite: json!({"@class": "aggregator.CompositeAggregator", "aggregators": [
        agg("ComparableMin", "age"), agg("ComparableMax", "age")]}), [], None => json!([22, 62]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregator_average_of_the_python_suites_ages_keeps_eight_places() {
    let server = serve(Arc::new(MemoryStore::new())).await;
    let mut c = client(&server).await;
    let ages = [62, 35, 25, 22, 36, 58, 29];
    let entries: Vec<(String, Value)> = ages
        .iter()
        .map(|a| (format!("p{a}"), json!({"age": a})))
        .collect();
    let refs: Vec<(&str, Value)> = entries
        .iter()
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect();
    fill(&mut c, &refs).await;
    let avg = aggregate(&mut c, &agg("BigDecimalAverage", "age"), &[], None)
        .await
        .unwrap();
    assert_eq!(avg, big_dec("38.14285714"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregator_sum_of_text_is_refused() {
    let (server, mut c) = people_server().await;
    let r = aggregate(&mut c, &agg("LongSum", "name"), &[], None).await;
    expect_code(
        "a sum of names",
        r.map(tonic::Response::new),
        Code::InvalidArgument,
        "not a number",
    )
    .await;
    server.stop().await;
}
