//! `Notifying`, the in-process change feed, over the memory store: what each write raises,
//! what a prefix sees, and the bounds.

use std::sync::Arc;
use std::time::Duration;

use satchel_store::{
    ChangeKind, Condition, KeyChange, MemoryStore, Notifying, Prefixed, Store, StoreErrorKind,
    StoreObject, Watch,
};

#[tokio::test]
async fn writes_through_the_wrapper_raise_notices_under_the_watched_prefix() {
    let store = Arc::new(Notifying::new(MemoryStore::new()));
    assert!(store.capabilities().watch);
    let mut all = store.watch("").await.unwrap();
    let app = Prefixed::new(store.clone(), "app:");
    let mut mine = app.watch("").await.unwrap();

    let v = app.set("a", b"1", None, Condition::Always).await.unwrap();
    store
        .set("other", b"x", None, Condition::Always)
        .await
        .unwrap();
    // A touch changes no value; a lost compare-and-set and a missing key change nothing.
    assert!(app.touch("a", Duration::from_secs(60)).await.unwrap());
    assert!(
        app.set("a", b"2", None, Condition::IfAbsent)
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert!(!app.delete("missing").await.unwrap());
    assert!(app.delete_if("a", v).await.unwrap());

    assert_eq!(
        mine.next().await,
        Some(KeyChange::new("a", ChangeKind::Set))
    );
    assert_eq!(
        mine.next().await,
        Some(KeyChange::new("a", ChangeKind::Deleted))
    );
    for want in [
        KeyChange::new("app:a", ChangeKind::Set),
        KeyChange::new("other", ChangeKind::Set),
        KeyChange::new("app:a", ChangeKind::Deleted),
    ] {
        assert_eq!(all.next().await, Some(want));
    }
    let quiet = tokio::time::timeout(Duration::from_millis(50), all.next()).await;
    assert!(quiet.is_err(), "nothing else: {quiet:?}");
}

#[tokio::test]
async fn a_store_chosen_at_run_time_offers_the_feed_only_when_wrapped() {
    let bare: Arc<dyn StoreObject> = Arc::new(MemoryStore::new());
    assert!(!bare.capabilities().watch);
    assert!(bare.try_watch("").is_none());
    let wrapped: Arc<dyn StoreObject> = Arc::new(Notifying::new(bare.clone()));
    let mut feed = wrapped.try_watch("k").expect("a feed").await.unwrap();
    wrapped
        .set("k1", b"v", None, Condition::Always)
        .await
        .unwrap();
    assert_eq!(
        feed.next().await,
        Some(KeyChange::new("k1", ChangeKind::Set))
    );
    // Writes to the store underneath, not through the wrapper, are not seen.
    bare.set("k2", b"v", None, Condition::Always).await.unwrap();
    wrapped.delete("k1").await.unwrap();
    assert_eq!(
        feed.next().await,
        Some(KeyChange::new("k1", ChangeKind::Deleted))
    );
}

#[tokio::test]
async fn a_subscriber_that_does_not_read_holds_a_bounded_number_of_notices() {
    let store = Notifying::new(MemoryStore::new());
    let mut feed = store.watch("").await.unwrap();
    let cap = satchel_store::CHANGE_STREAM_CAPACITY;
    for i in 0..cap + 500 {
        store
            .set(&format!("k{i}"), b"v", None, Condition::Always)
            .await
            .unwrap();
    }
    assert_eq!(feed.lost(), 500);
    for i in 0..cap {
        assert_eq!(feed.next().await.unwrap().key, format!("k{i}"));
    }
    // A dropped subscriber is let go of; the number of subscribers is bounded.
    drop(feed);
    let mut held = Vec::new();
    for _ in 0..satchel_store::MAX_WATCHERS {
        held.push(store.watch("").await.unwrap());
    }
    let err = store.watch("").await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);
    assert!(store.watch("a\0").await.is_err());
}
