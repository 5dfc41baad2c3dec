//! Listing behaviours: prefixes match literally, and paged listing
//! ([`Scan::scan_page`](satchel_store::Scan::scan_page)) through `dyn StoreObject`.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use satchel_store::{Condition, Cursor, Store, StoreObject};

use super::{cleanup, scoped};

/// Every key of a listing, page by page (`limit` keys at most per page), counting how
/// often each key came back.
async fn page_through(s: &dyn StoreObject, prefix: &str, limit: usize) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    let mut cursor: Option<Cursor> = None;
    let mut pages = 0;
    loop {
        let page = s.scan_page(prefix, cursor.as_ref(), limit).await.unwrap();
        assert!(page.keys.len() <= limit, "a page holds at most its limit");
        for key in page.keys {
            *seen.entry(key).or_insert(0) += 1;
        }
        pages += 1;
        assert!(pages < 100_000, "the listing never ends");
        match page.next {
            Some(next) => cursor = Some(next),
            None => return seen,
        }
    }
}

/// 2,500 keys listed in pages of 100: every key exactly once, none from outside the
/// prefix, and a limit of zero is refused.
pub async fn scan_pages_through_every_key<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "pages");
    let want: BTreeSet<String> = (0..2500).map(|i| format!("p/{i:05}")).collect();
    write_all(&s, want.iter().cloned().collect()).await;
    s.set("q/outside", b"x", None, Condition::Always)
        .await
        .unwrap();
    let object: &dyn StoreObject = &s;
    let seen = page_through(object, "p/", 100).await;
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{name}: keys on two pages: {twice:?}");
    let got: BTreeSet<String> = seen.into_keys().collect();
    assert_eq!(got.len(), want.len(), "{name}: every key, once");
    assert_eq!(got, want, "{name}: exactly the prefix's keys");
    assert_eq!(
        object.scan("p/", usize::MAX).await.unwrap().len(),
        2500,
        "{name}: scan collects every page"
    );
    let err = object.scan_page("p/", None, 0).await.unwrap_err();
    assert_eq!(
        err.kind(),
        satchel_store::StoreErrorKind::InvalidInput,
        "{name}: a page of zero keys"
    );
    cleanup(&s).await;
}

/// Keys written and deleted between pages: every key that lived for the whole listing
/// comes back exactly once, and no deleted-before-listing key comes back.
pub async fn scan_pages_survive_concurrent_writes<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "churn");
    let stable: BTreeSet<String> = (0..400).map(|i| format!("c/{:04}", i * 2)).collect();
    let doomed: Vec<String> = (0..200).map(|i| format!("c/{:04}", i * 4 + 1)).collect();
    write_all(
        &s,
        stable
            .iter()
            .cloned()
            .chain(doomed.iter().cloned())
            .collect(),
    )
    .await;
    s.set("c/gone", b"x", None, Condition::Always)
        .await
        .unwrap();
    s.delete("c/gone").await.unwrap();
    let object: &dyn StoreObject = &s;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut cursor: Option<Cursor> = None;
    let mut round = 0usize;
    loop {
        let page = object.scan_page("c/", cursor.as_ref(), 50).await.unwrap();
        for key in page.keys {
            *seen.entry(key).or_insert(0) += 1;
        }
        // Between pages: delete some keys that are not stable, add new ones on both sides
        // of the cursor.
        for i in 0..10 {
            if let Some(key) = doomed.get(round * 10 + i) {
                s.delete(key).await.unwrap();
            }
            let fresh = format!("c/{:04}", (round * 10 + i) * 4 + 3);
            s.set(&fresh, b"new", None, Condition::Always)
                .await
                .unwrap();
        }
        round += 1;
        assert!(round < 10_000, "{name}: the listing never ends");
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    for key in &stable {
        assert_eq!(
            seen.get(key).copied(),
            Some(1),
            "{name}: `{key}` lived throughout and must be listed exactly once"
        );
    }
    assert!(
        !seen.contains_key("c/gone"),
        "{name}: a deleted key was listed"
    );
    cleanup(&s).await;
}

/// Writes `keys` (value `x`) from 16 tasks.
pub(super) async fn write_all<T>(s: &T, keys: Vec<String>)
where
    T: Store + Clone + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    for (n, chunk) in keys.chunks(keys.len().div_ceil(16).max(1)).enumerate() {
        let (s, chunk) = (s.clone(), chunk.to_vec());
        tasks.spawn(async move {
            for key in chunk {
                if let Err(e) = s.set(&key, b"x", None, Condition::Always).await {
                    panic!("writer {n}: set `{key}`: {e}");
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

/// `scan` matches its prefix literally (`%`, `_`, `*`, `?`, `[` are no wildcards) and
/// honours its limit.
pub async fn scan_matches_prefixes_literally<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "scan");
    for key in [
        "scan/a%_*?[1]",
        "scan/a%_*?[2]",
        "scan/ab",
        "scan/aXY",
        "other",
    ] {
        s.set(key, b"x", None, Condition::Always).await.unwrap();
    }
    let object: &dyn StoreObject = &s;
    let mut keys = object.scan("scan/a%_*?[", 100).await.unwrap();
    keys.sort();
    assert_eq!(
        keys,
        ["scan/a%_*?[1]", "scan/a%_*?[2]"],
        "{name}: scan is literal"
    );
    let keys = object.scan("scan/", 2).await.unwrap();
    assert_eq!(keys.len(), 2, "{name}: scan honours its limit");
    cleanup(&s).await;
}
