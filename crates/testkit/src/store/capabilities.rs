//! What a store says it can do ([`Store::capabilities`]) against what it does.

use std::sync::Arc;
use std::time::Duration;

use satchel_store::{Condition, Store, StoreErrorKind, StoreObject};

use super::scoped;

/// The capabilities a store reports ([`Store::capabilities`]) are the ones it has: a
/// reported capability works (a purge really removes an expired value), a missing one is
/// `None` from [`StoreObject`] and an `Unsupported` error naming the backend from
/// `dyn StoreObject`. A store that forwards to a server (gRPC) may learn on first use
/// that the server's store lacks one; it must then stop reporting it.
pub async fn capabilities_match_behaviour<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "caps");
    let caps = store.capabilities();
    let object: &dyn StoreObject = &s;
    assert_eq!(
        s.capabilities(),
        caps,
        "{name}: Prefixed reports what it wraps"
    );

    s.set("listed", b"x", None, Condition::Always)
        .await
        .unwrap();
    assert_eq!(
        s.try_scan_page("", None, 10).is_some(),
        caps.scan,
        "{name}: pages exactly when it reports scan"
    );
    match s.try_scan("", 10) {
        Some(scan) => {
            assert!(caps.scan, "{name}: scans but does not report scan");
            assert_eq!(scan.await.unwrap(), ["listed"], "{name}: scan");
        }
        None => {
            assert!(!caps.scan, "{name}: reports scan but has none");
            let err = object.scan("", 10).await.unwrap_err();
            assert_eq!(err.kind(), StoreErrorKind::Unsupported, "{name}: {err}");
            assert_eq!(err.backend(), Some(name), "{name}: {err}");
        }
    }
    s.delete("listed").await.unwrap();

    assert_eq!(
        s.try_keys_of("ann").is_some(),
        caps.owned_keys,
        "{name}: lists an owner's keys exactly when it reports owned_keys"
    );
    assert_eq!(
        s.try_delete_owner("ann").is_some(),
        caps.owned_keys,
        "{name}"
    );
    assert_eq!(
        s.try_set_owned("tagged", b"x", None, Condition::Always, Some("ann"))
            .is_some(),
        caps.owned_keys,
        "{name}"
    );

    match s.try_purge_expired() {
        Some(_) => {
            assert!(caps.purge_expired, "{name}: purges but does not report it");
            // Backends share one table between the tests that run at once, and a purge
            // removes every expired key: another test's purge may take this one first. So
            // a purge that removed nothing is tried again (5 times); one that never removes
            // an expired value fails every time.
            let mut purged = Ok(0);
            for _ in 0..5 {
                s.set(
                    "expiring",
                    b"x",
                    Some(Duration::from_millis(50)),
                    Condition::Always,
                )
                .await
                .unwrap();
                tokio::time::sleep(Duration::from_millis(150)).await;
                purged = s
                    .try_purge_expired()
                    .expect("offers purge_expired every time")
                    .await;
                if !matches!(purged, Ok(0)) {
                    break;
                }
            }
            match purged {
                Ok(removed) => assert!(
                    removed >= 1,
                    "{name}: reports purge_expired, but an expired value was not purged \
                     (5 times)"
                ),
                Err(e) if e.kind() == StoreErrorKind::Unsupported => assert!(
                    !s.capabilities().purge_expired,
                    "{name}: refused a purge it reports, and still reports it: {e}"
                ),
                Err(e) => panic!("{name}: purge_expired: {e}"),
            }
        }
        None => {
            assert!(
                !caps.purge_expired,
                "{name}: reports purge_expired but has none"
            );
            let err = object.purge_expired().await.unwrap_err();
            assert_eq!(err.kind(), StoreErrorKind::Unsupported, "{name}: {err}");
            assert_eq!(err.backend(), Some(name), "{name}: {err}");
        }
    }
    assert!(s.get("expiring").await.unwrap().is_none(), "{name}");
}
