//! The compare-and-set loops under concurrent writers, pages that follow the store's
//! cursor, and `remove` as a compare-and-delete.

#[allow(unused_imports)]
use super::*;

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
