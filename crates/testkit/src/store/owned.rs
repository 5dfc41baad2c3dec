//! Keys tagged with an owner: [`OwnedKeys`](satchel_store::OwnedKeys), through
//! `StoreObject::try_set_owned`, `try_keys_of` and `try_delete_owner`. On a store without
//! the capability these check only that it says so (`capabilities_match_behaviour` checks
//! the rest).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use satchel_store::{
    Condition, MAX_OWNER_LEN, Prefixed, Store, StoreErrorKind, StoreObject, Version,
};

use super::{cleanup, scoped};

async fn set_owned<S: StoreObject + ?Sized>(
    s: &S,
    key: &str,
    ttl: Option<Duration>,
    condition: Condition,
    owner: Option<&str>,
) -> satchel_store::Result<Version> {
    // The value names the tag, so a reader can tell which owner a live key should have.
    let value = owner.unwrap_or("untagged").as_bytes();
    s.try_set_owned(key, value, ttl, condition, owner)
        .expect("the store reports owned_keys")
        .await
}

async fn keys_of<S: StoreObject + ?Sized>(s: &S, owner: &str) -> BTreeSet<String> {
    s.try_keys_of(owner)
        .expect("the store reports owned_keys")
        .await
        .unwrap()
        .into_iter()
        .collect()
}

async fn delete_owner<S: StoreObject + ?Sized>(s: &S, owner: &str) -> u64 {
    s.try_delete_owner(owner)
        .expect("the store reports owned_keys")
        .await
        .unwrap()
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| k.to_string()).collect()
}

/// A key's owner tag is written with its value: `keys_of` lists an owner's live keys, a
/// plain `set` leaves a key untagged, a new owner moves it, `touch` keeps the tag, a
/// refused conditional write changes nothing, and `delete_owner` removes exactly the
/// owner's keys (in its namespace: owners under two prefixes are two owners).
pub async fn owned_keys_are_listed_and_deleted_by_owner<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "owned");
    if s.try_keys_of("ann").is_none() {
        assert!(!store.capabilities().owned_keys, "{name}");
        return;
    }
    for key in ["a", "b", "c"] {
        set_owned(&s, key, None, Condition::Always, Some("ann"))
            .await
            .unwrap();
    }
    set_owned(&s, "d", None, Condition::Always, Some("bob"))
        .await
        .unwrap();
    set_owned(&s, "e", None, Condition::Always, None)
        .await
        .unwrap();
    set_owned(
        &s,
        "short",
        Some(Duration::from_millis(50)),
        Condition::Always,
        Some("ann"),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(keys_of(&s, "ann").await, set(&["a", "b", "c"]), "{name}");
    assert_eq!(keys_of(&s, "nobody").await, set(&[]), "{name}");

    // A plain set writes the key untagged; a new owner moves it; touch keeps the tag.
    s.set("b", b"plain", None, Condition::Always).await.unwrap();
    let v = set_owned(&s, "c", None, Condition::Always, Some("bob"))
        .await
        .unwrap();
    assert!(s.touch("a", Duration::from_secs(60)).await.unwrap());
    assert_eq!(keys_of(&s, "ann").await, set(&["a"]), "{name}");
    assert_eq!(keys_of(&s, "bob").await, set(&["c", "d"]), "{name}");

    // Refused conditional writes leave value and tag; accepted ones retag.
    let refused = set_owned(&s, "c", None, Condition::IfAbsent, Some("ann")).await;
    assert!(refused.is_err_and(|e| e.is_conflict()), "{name}");
    let stale = Version::new(v.get().saturating_sub(1));
    let refused = set_owned(&s, "c", None, Condition::IfVersion(stale), Some("ann")).await;
    assert!(refused.is_err_and(|e| e.is_conflict()), "{name}");
    assert_eq!(keys_of(&s, "bob").await, set(&["c", "d"]), "{name}");
    set_owned(&s, "c", None, Condition::IfVersion(v), Some("ann"))
        .await
        .unwrap();
    set_owned(&s, "f", None, Condition::IfAbsent, Some("ann"))
        .await
        .unwrap();
    assert_eq!(keys_of(&s, "ann").await, set(&["a", "c", "f"]), "{name}");

    // The same owner under another prefix is another owner.
    let other = Prefixed::new(store.clone(), format!("{}other:", s.prefix()));
    set_owned(&other, "a", None, Condition::Always, Some("ann"))
        .await
        .unwrap();

    assert_eq!(
        delete_owner(&s, "ann").await,
        3,
        "{name}: live keys removed"
    );
    for key in ["a", "c", "f"] {
        assert!(s.get(key).await.unwrap().is_none(), "{name}: {key} stays");
    }
    for key in ["b", "d", "e"] {
        assert!(s.get(key).await.unwrap().is_some(), "{name}: {key} went");
    }
    assert_eq!(keys_of(&s, "ann").await, set(&[]), "{name}");
    assert_eq!(delete_owner(&s, "ann").await, 0, "{name}");
    assert_eq!(
        keys_of(&other, "ann").await,
        set(&["a"]),
        "{name}: prefixes"
    );
    assert!(other.get("a").await.unwrap().is_some(), "{name}: prefixes");

    // A deleted key takes its tag with it.
    assert!(s.delete("d").await.unwrap());
    assert_eq!(keys_of(&s, "bob").await, set(&[]), "{name}");
    assert_eq!(delete_owner(&s, "bob").await, 0, "{name}");

    for bad in [
        String::new(),
        "a\0b".to_string(),
        "x".repeat(MAX_OWNER_LEN + 1),
    ] {
        let e = set_owned(&s, "g", None, Condition::Always, Some(&bad))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::InvalidInput, "{name}: {e}");
        let e = s.try_keys_of(&bad).unwrap().await.unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::InvalidInput, "{name}: {e}");
        let e = s.try_delete_owner(&bad).unwrap().await.unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::InvalidInput, "{name}: {e}");
    }
    assert!(s.get("g").await.unwrap().is_none(), "{name}");
    delete_owner(&other, "ann").await;
    cleanup(&s).await;
}

/// `delete_owner` racing tagged writes: 16 tasks write, retag and delete keys of one owner
/// while `delete_owner` runs again and again; every key tagged before a `delete_owner`
/// started is gone when it returns, and once the writers stop `keys_of` lists exactly the
/// owner's live keys.
pub async fn delete_owner_races_tagged_writes<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "owned-race");
    if s.try_keys_of("racer").is_none() {
        assert!(!store.capabilities().owned_keys, "{name}");
        return;
    }
    let s = Arc::new(s);
    let counter = Arc::new(AtomicU64::new(0));
    for round in 0..4u64 {
        let mut tasks = Vec::new();
        for task in 0..16u64 {
            let (s, counter) = (s.clone(), counter.clone());
            tasks.push(tokio::spawn(async move {
                for step in 0..6u64 {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let key = format!("k{}", n % 40);
                    match (task + step + round) % 6 {
                        0 => {
                            // Tagged before this call: gone when it returns.
                            let written =
                                set_owned(&*s, &key, None, Condition::Always, Some("racer"))
                                    .await
                                    .unwrap();
                            delete_owner(&*s, "racer").await;
                            let after = s.get(&key).await.unwrap();
                            assert!(
                                after.is_none_or(|e| e.version != written),
                                "a key tagged before delete_owner is live after it"
                            );
                        }
                        1 => {
                            s.set(&key, b"untagged", None, Condition::Always)
                                .await
                                .unwrap();
                        }
                        2 => {
                            s.delete(&key)
                                .await
                                .unwrap_or_else(|e| panic!("delete: {e:?}"));
                        }
                        3 => {
                            set_owned(&*s, &key, None, Condition::Always, Some("other"))
                                .await
                                .unwrap();
                        }
                        _ => {
                            set_owned(&*s, &key, None, Condition::Always, Some("racer"))
                                .await
                                .unwrap();
                        }
                    }
                }
            }));
        }
        for t in tasks {
            t.await.expect("a racing task failed");
        }
        // Quiet now: each owner's listing is exactly its live keys.
        let (mut racer, mut other) = (BTreeSet::new(), BTreeSet::new());
        for i in 0..40 {
            let key = format!("k{i}");
            match s.get(&key).await.unwrap().map(|e| e.value) {
                Some(v) if v == b"racer" => racer.insert(key),
                Some(v) if v == b"other" => other.insert(key),
                _ => false,
            };
        }
        let listed = keys_of(&*s, "racer").await;
        assert_eq!(listed, racer, "{name} round {round}: keys_of(racer)");
        assert_eq!(keys_of(&*s, "other").await, other, "{name} round {round}");
        let n = delete_owner(&*s, "racer").await;
        assert_eq!(n as usize, listed.len(), "{name} round {round}");
        for key in &listed {
            assert!(s.get(key).await.unwrap().is_none(), "{name} round {round}");
        }
        assert_eq!(
            keys_of(&*s, "racer").await,
            set(&[]),
            "{name} round {round}"
        );
        assert_eq!(keys_of(&*s, "other").await, other, "{name} round {round}");
    }
    delete_owner(&*s, "other").await;
    cleanup(&*s).await;
}
