//! Every call through the generated tonic client: what each does, paging over several
//! pages, ttls.

#[allow(unused_imports)]
use super::*;

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
