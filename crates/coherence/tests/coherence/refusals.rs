//! Bad input, unsupported calls, and the endpoint turned off: clear statuses, and the
//! server keeps serving.

#[allow(unused_imports)]
use super::*;

/// The Python client's own `test_unary_error`: a Coherence server refuses a value naming a
/// class it has no alias for, "Could not deserialize"; so does satchel, by default, at any
/// depth and in keys too, while Coherence's own classes and the declared ones are stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_naming_unknown_classes_are_refused_as_coherence_refuses_them() {
    let any = ServerConfig::new("127.0.0.1:0".parse().unwrap());
    let server = serve_knowing(
        Arc::new(MemoryStore::new()),
        any.clone(),
        KnownClasses::coherence().with("app.Order").with("shop.*"),
    )
    .await;
    let mut c = client(&server).await;
    let refused = [
        serde_json::json!({"@class": "com.foo.Bar"}),
        serde_json::json!({"order": {"@class": "app.Orders"}}),
        serde_json::json!([1, {"x": [{"@class": "com.foo.Bar", "y": 2}]}]),
        serde_json::json!({"a": 1, "@class": "java.lang.Runtime"}),
    ];
    for value in &refused {
        let r = c.put(put("k", value, 0)).await;
        expect_code(
            "unknown class",
            r,
            Code::InvalidArgument,
            "Could not deserialize",
        )
        .await;
    }
    let r = c
        .put(cp::PutRequest {
            key: j(&serde_json::json!({"@class": "com.foo.Key", "id": 1})),
            ..put("k", &1, 0)
        })
        .await;
    expect_code(
        "unknown class in a key",
        r,
        Code::InvalidArgument,
        "com.foo.Key",
    )
    .await;
    // putAll refuses the whole batch.
    let r = c
        .put_all(cp::PutAllRequest {
            cache: CACHE.into(),
            entry: vec![
                cp::Entry {
                    key: j("ok"),
                    value: j(&1),
                },
                cp::Entry {
                    key: j("bad"),
                    value: j(&serde_json::json!({"@class": "com.foo.Bar"})),
                },
            ],
            ..Default::default()
        })
        .await;
    expect_code("putAll", r, Code::InvalidArgument, "Could not deserialize").await;
    assert_eq!(size(&mut c, CACHE).await, 0);
    let stored = [
        serde_json::json!({"@class": "math.BigInt", "value": "18446744073709551616"}),
        serde_json::json!({"@class": "app.Order", "lines": [{"@class": "shop.Line"}]}),
        serde_json::json!({"@class": 7, "text": "@class is only a class name when it is a string"}),
        serde_json::json!({"name": "@class", "n": "com.foo.Bar"}),
    ];
    for (i, value) in stored.iter().enumerate() {
        c.put(put(&format!("k{i}"), value, 0)).await.unwrap();
        assert_eq!(
            get_value(&mut c, &format!("k{i}")).await.as_ref(),
            Some(value)
        );
    }
    server.stop().await;

    // Told to accept any class, the endpoint stores them all (satchel 0.1's behaviour).
    let server = serve_knowing(Arc::new(MemoryStore::new()), any, KnownClasses::any()).await;
    let mut c = client(&server).await;
    for (i, value) in refused.iter().enumerate() {
        c.put(put(&format!("k{i}"), value, 0)).await.unwrap();
    }
    assert_eq!(size(&mut c, CACHE).await, refused.len() as i32);
    server.stop().await;
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
    // Processors and aggregators that need Java on the server name the call and the class.
    let script = b"\x15{\"@class\": \"processor.ScriptProcessor\", \"name\": \"s\"}".to_vec();
    let r = c
        .invoke(cp::InvokeRequest {
            cache: CACHE.into(),
            key: j("k"),
            processor: script.clone(),
            ..Default::default()
        })
        .await;
    expect_code("invoke", r, no, "invoke: processor.ScriptProcessor").await;
    let r = c
        .invoke_all(cp::InvokeAllRequest {
            cache: CACHE.into(),
            processor: script,
            ..Default::default()
        })
        .await;
    expect_code("invokeAll", r, no, "invokeAll: processor.ScriptProcessor").await;
    let r = c
        .aggregate(cp::AggregateRequest {
            cache: CACHE.into(),
            aggregator: b"\x15{\"@class\": \"aggregator.ScriptAggregator\"}".to_vec(),
            ..Default::default()
        })
        .await;
    expect_code("aggregate", r, no, "aggregate: aggregator.ScriptAggregator").await;
    // A filter that is not a filter (a JSON string) is the client's to fix.
    let r = c
        .key_set(cp::KeySetRequest {
            cache: CACHE.into(),
            filter: j("filter"),
            ..Default::default()
        })
        .await;
    expect_code(
        "keySet with a string filter",
        r,
        Code::InvalidArgument,
        "filter",
    )
    .await;

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
