//! The events stream: acknowledgements, and events reaching the listeners whose
//! registration matches.

#[allow(unused_imports)]
use super::*;

pub(super) fn listen(uid: &str, ty: RequestType, subscribe: bool) -> cp::MapListenerRequest {
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
pub(super) fn listen_filter(
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

pub(super) type Events = tonic::Streaming<cp::MapListenerResponse>;

pub(super) async fn open_events(
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

pub(super) async fn next_event(events: &mut Events) -> ResponseType {
    tokio::time::timeout(Duration::from_secs(10), events.message())
        .await
        .expect("an event within 10 s")
        .unwrap()
        .unwrap()
        .response_type
        .unwrap()
}

pub(super) fn entry_event(
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
