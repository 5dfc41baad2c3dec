//! Time to live: expiry, `touch`, huge ttls, and `purge_expired`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use satchel_store::{Condition, Store, StoreErrorKind, StoreObject};

use super::{cleanup, scoped};

/// A value with a TTL reports its expiry; once expired it is never returned, never
/// revived by `touch`, not counted by `delete`, and absent for `IfAbsent`.
pub async fn expired_values_are_gone<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "ttl");
    let before = SystemTime::now();
    s.set(
        "ttl",
        b"short",
        Some(Duration::from_millis(300)),
        Condition::Always,
    )
    .await
    .unwrap();
    let e = s.get("ttl").await.unwrap().expect("live");
    let expires = e.expires_at.expect("has an expiry");
    assert!(
        expires > before && expires < before + Duration::from_secs(5),
        "{name}: expiry {expires:?}"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        s.get("ttl").await.unwrap().is_none(),
        "{name}: expired value returned"
    );
    assert!(
        !s.touch("ttl", Duration::from_secs(30)).await.unwrap(),
        "{name}: revived"
    );
    assert!(
        s.get("ttl").await.unwrap().is_none(),
        "{name}: touch revived it"
    );
    assert!(
        !s.delete("ttl").await.unwrap(),
        "{name}: expired counted as live"
    );
    s.set("ttl", b"new", None, Condition::IfAbsent)
        .await
        .unwrap();
    cleanup(&s).await;
}

/// `touch` on a live key pushes its expiry past the old one and keeps version and value.
pub async fn touch_extends_without_changing_the_version<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "touch");
    s.set(
        "extended",
        b"kept",
        Some(Duration::from_millis(300)),
        Condition::Always,
    )
    .await
    .unwrap();
    let kept = s.get("extended").await.unwrap().unwrap().version;
    assert!(
        s.touch("extended", Duration::from_secs(30)).await.unwrap(),
        "{name}"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let e = s.get("extended").await.unwrap().expect("touch extended it");
    assert_eq!(e.version, kept, "{name}: touch must not change the version");
    assert_eq!(e.value, b"kept", "{name}");
    cleanup(&s).await;
}

/// 0.1: `MemoryStore::set` with `Duration::MAX` panicked while holding its mutex, poisoning
/// the store for every later call, and each backend capped large ttls its own way. Every
/// store now follows one rule ([`satchel_store::MAX_TTL`]): a huge ttl is "effectively
/// no expiry", stored as [`MAX_TTL`](satchel_store::MAX_TTL) from now, and the store
/// keeps working.
pub async fn regression_huge_ttls_mean_no_expiry_everywhere<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "hugettl");
    let before = std::time::SystemTime::now();
    for ttl in [
        Duration::MAX,
        Duration::from_secs(u64::MAX),
        satchel_store::MAX_TTL * 3,
    ] {
        s.set("forever", b"v", Some(ttl), Condition::Always)
            .await
            .unwrap_or_else(|e| panic!("{name}: set with ttl {ttl:?}: {e}"));
        let e = s.get("forever").await.unwrap().expect("stored");
        let expires = e.expires_at.expect("a ttl was given");
        let ahead = expires.duration_since(before).expect("in the future");
        let max = satchel_store::MAX_TTL;
        assert!(
            ahead >= max - Duration::from_secs(60) && ahead <= max + Duration::from_secs(60),
            "{name}: {ttl:?} expires {ahead:?} from now, not MAX_TTL"
        );
        assert!(
            s.touch("forever", ttl).await.unwrap(),
            "{name}: touch with {ttl:?}"
        );
    }
    // Still usable afterwards (0.1's memory store was poisoned here).
    s.set("after", b"ok", None, Condition::Always)
        .await
        .unwrap();
    assert_eq!(
        s.get("after").await.unwrap().unwrap().value,
        b"ok",
        "{name}"
    );
    cleanup(&s).await;
}

/// `purge_expired` runs where the store has it (Redis does not: it expires values by
/// itself, and says so), and takes no live value.
pub async fn purge_keeps_live_values<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "purge");
    s.set(
        "live",
        b"kept",
        Some(Duration::from_secs(30)),
        Condition::Always,
    )
    .await
    .unwrap();
    s.set(
        "gone",
        b"x",
        Some(Duration::from_millis(50)),
        Condition::Always,
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    let object: &dyn StoreObject = &s;
    match object.purge_expired().await {
        Ok(_) => {}
        // No purge (`capabilities_match_behaviour` checks the refusal is reported).
        Err(e) if e.kind() == StoreErrorKind::Unsupported && !s.capabilities().purge_expired => {}
        Err(e) => panic!("{name}: purge_expired: {e}"),
    }
    assert!(
        s.get("live").await.unwrap().is_some(),
        "{name}: purge took a live value"
    );
    cleanup(&s).await;
}
