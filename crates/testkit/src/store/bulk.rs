//! Deleting by prefix ([`Scan::delete_prefix`](satchel_store::Scan::delete_prefix)) through
//! `dyn StoreObject`: what `clear`, `truncate` and `satchel rm --prefix` rely on.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use satchel_store::{Condition, Prefixed, Store, StoreErrorKind, StoreObject};

use super::{cleanup, scoped, unique_prefix};

/// 2,500 keys under a prefix are deleted and counted; keys beside it (a longer prefix's
/// sibling, another case, wildcard look-alikes, another scope's keys) stay, an expired
/// value under it is not counted, and a prefix with a NUL is refused.
pub async fn delete_prefix_removes_the_prefix_and_nothing_else<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "bulk");
    let doomed: Vec<String> = (0..2500).map(|i| format!("d/{i:05}")).collect();
    super::listing::write_all(&s, doomed.clone()).await;
    let kept = ["d", "e/1", "D/1", "dd/1", "w%_*?[1x", "wX_*?[1"];
    for key in kept {
        s.set(key, b"x", None, Condition::Always).await.unwrap();
    }
    s.set(
        "d/expiring",
        b"x",
        Some(Duration::from_millis(50)),
        Condition::Always,
    )
    .await
    .unwrap();
    s.set("w%_*?[1", b"x", None, Condition::Always)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    // Another scope of the same store, with keys of the same names.
    let other = Prefixed::new(store.clone(), unique_prefix(&format!("{name}-bulk-other")));
    other
        .set("d/00001", b"x", None, Condition::Always)
        .await
        .unwrap();

    let object: &dyn StoreObject = &s;
    assert_eq!(
        object.delete_prefix("d/").await.unwrap(),
        2500,
        "{name}: every live key under the prefix, counted once (the expired one is not)"
    );
    assert_eq!(
        object.scan("d/", 10).await.unwrap(),
        Vec::<String>::new(),
        "{name}: nothing is left under the prefix"
    );
    assert_eq!(object.get("d/expiring").await.unwrap(), None, "{name}");
    assert_eq!(
        object.delete_prefix("w%_*?[1").await.unwrap(),
        2,
        "{name}: the prefix is literal (`w%_*?[1` and `w%_*?[1x`, not `wX_*?[1`)"
    );
    let left: BTreeSet<String> = object.scan("", 100).await.unwrap().into_iter().collect();
    let want: BTreeSet<String> = ["d", "e/1", "D/1", "dd/1", "wX_*?[1"]
        .map(String::from)
        .into();
    assert_eq!(
        left, want,
        "{name}: only the keys under the prefixes are gone"
    );
    assert_eq!(
        object.delete_prefix("d/").await.unwrap(),
        0,
        "{name}: nothing left to delete"
    );
    let err = object.delete_prefix("d\0").await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput, "{name}: {err}");

    // The empty prefix of a scoped store: its own keys, never the other scope's.
    assert_eq!(object.delete_prefix("").await.unwrap(), 5, "{name}");
    assert!(object.scan("", 10).await.unwrap().is_empty(), "{name}");
    assert!(
        other.get("d/00001").await.unwrap().is_some(),
        "{name}: another scope's key survived"
    );
    cleanup(&other).await;
}

/// Writers keep adding keys under a prefix while it is deleted: every key that lived
/// before the call is gone, the count covers those and at most the writers' keys, and
/// keys written after it returned stay.
pub async fn delete_prefix_races_writes<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "bulk-race");
    let old: Vec<String> = (0..1500).map(|i| format!("r/old-{i:05}")).collect();
    super::listing::write_all(&s, old.clone()).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (s, stop) = (s.clone(), stop.clone());
        tokio::spawn(async move {
            let mut written = 0usize;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && written < 20_000 {
                s.set(
                    &format!("r/new-{written:05}"),
                    b"x",
                    None,
                    Condition::Always,
                )
                .await
                .unwrap();
                written += 1;
            }
            written
        })
    };
    tokio::time::sleep(Duration::from_millis(5)).await;
    let object: &dyn StoreObject = &s;
    let deleted = object.delete_prefix("r/").await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written = writer.await.unwrap();
    s.set("r/after", b"x", None, Condition::Always)
        .await
        .unwrap();
    let left = object.scan("r/", usize::MAX).await.unwrap();
    assert!(
        !left.iter().any(|k| k.starts_with("r/old-")),
        "{name}: a key that lived before the deletion survived it"
    );
    assert!(
        left.iter().any(|k| k == "r/after"),
        "{name}: a key written after the deletion is kept"
    );
    let deleted = usize::try_from(deleted).unwrap();
    assert!(
        (old.len()..=old.len() + written).contains(&deleted),
        "{name}: deleted {deleted}, with {} old keys and {written} written meanwhile",
        old.len()
    );
    cleanup(&s).await;
}
