//! Compare-and-delete: [`Store::delete_if`](satchel_store::Store::delete_if).

use std::sync::Arc;
use std::time::Duration;

use satchel_store::{Condition, Store, StoreObject};

use super::{cleanup, scoped};

/// `delete_if` removes a key only at the version given: an older version (a concurrent
/// write won), a missing or an expired key is left alone and answers `false`; of eight
/// racing deletes at one version exactly one succeeds.
pub async fn delete_if_version_is_compare_and_delete<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "delete-if");
    let first = s.set("k", b"one", None, Condition::Always).await.unwrap();
    // Someone writes between our read and our delete: their write wins.
    let second = s.set("k", b"two", None, Condition::Always).await.unwrap();
    assert!(
        !s.delete_if("k", first).await.unwrap(),
        "{name}: deleted at a stale version"
    );
    let kept = s.get("k").await.unwrap().expect("the newer value stays");
    assert_eq!(
        (kept.value.as_slice(), kept.version),
        (&b"two"[..], second),
        "{name}"
    );
    assert!(
        s.delete_if("k", second).await.unwrap(),
        "{name}: delete at the current version"
    );
    assert!(s.get("k").await.unwrap().is_none(), "{name}: gone");
    assert!(
        !s.delete_if("k", second).await.unwrap(),
        "{name}: a deleted key is not deleted twice"
    );
    assert!(
        !s.delete_if("missing", second).await.unwrap(),
        "{name}: missing"
    );

    let short = s
        .set(
            "short",
            b"x",
            Some(Duration::from_millis(50)),
            Condition::Always,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert!(
        !s.delete_if("short", short).await.unwrap(),
        "{name}: an expired value is not there to delete"
    );

    let racing = s.set("race", b"x", None, Condition::Always).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.spawn(async move { s.delete_if("race", racing).await.unwrap() });
    }
    let mut won = 0;
    while let Some(done) = tasks.join_next().await {
        won += usize::from(done.unwrap());
    }
    assert_eq!(
        won, 1,
        "{name}: exactly one of the racing deletes removes the key"
    );
    assert!(
        s.delete_if("", racing).await.is_err(),
        "{name}: an empty key is refused"
    );
    cleanup(&s).await;
}
