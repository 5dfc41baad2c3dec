//! Reads, writes and conditions: missing keys, awkward bytes, compare-and-set, versions
//! after a delete, and the one rule for bad keys and ttls.

use std::sync::Arc;
use std::time::Duration;

use satchel_store::{Condition, Store, StoreError, StoreErrorKind, StoreObject};

use super::{cleanup, scoped};

/// Missing keys: `get` finds nothing, `delete` and `touch` report that nothing was there.
pub async fn missing_keys_are_absent<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "missing");
    assert!(s.get("missing").await.unwrap().is_none(), "{name}");
    assert!(!s.delete("missing").await.unwrap(), "{name}");
    assert!(
        !s.touch("missing", Duration::from_secs(5)).await.unwrap(),
        "{name}"
    );
    cleanup(&s).await;
}

/// Every byte value, an empty value, 1 MiB and bytes that are not UTF-8 come back exactly,
/// under versions that only grow and with no expiry.
pub async fn awkward_bytes_round_trip_with_growing_versions<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "bytes");
    let all_bytes: Vec<u8> = (0..=255).collect();
    let big: Vec<u8> = (0..(1 << 20))
        .map(|i: u32| (i.wrapping_mul(31) >> 3) as u8)
        .collect();
    let mut last = 0;
    for value in [&all_bytes[..], &[][..], &big[..], b"\x00\xC1\xFF"] {
        let v = s
            .set("bytes", value, None, Condition::Always)
            .await
            .unwrap();
        assert!(v.get() > last, "{name}: version {v} after v{last}");
        last = v.get();
        let e = s.get("bytes").await.unwrap().expect("just written");
        assert_eq!(e.value, value, "{name}: {} bytes", value.len());
        assert_eq!(e.version, v, "{name}");
        assert_eq!(e.expires_at, None, "{name}");
    }
    cleanup(&s).await;
}

/// `IfAbsent` on a live key is a `Conflict` naming the key.
pub async fn set_if_absent_refuses_live_value<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "absent");
    s.set("cas", b"one", None, Condition::IfAbsent)
        .await
        .unwrap();
    let err = s
        .set("cas", b"two", None, Condition::IfAbsent)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict, "{name}: {err}");
    assert_eq!(err.key(), Some("cas"), "{name}: the error names the key");
    assert_eq!(s.get("cas").await.unwrap().unwrap().value, b"one", "{name}");
    cleanup(&s).await;
}

/// `IfVersion` writes over the version it names, and a stale version is a `Conflict`
/// that leaves the value alone.
pub async fn set_if_version_is_compare_and_set<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "cas");
    let v1 = s
        .set("cas", b"one", None, Condition::IfAbsent)
        .await
        .unwrap();
    let v2 = s
        .set("cas", b"two", None, Condition::IfVersion(v1))
        .await
        .unwrap();
    assert!(v2 > v1, "{name}");
    let err = s
        .set("cas", b"three", None, Condition::IfVersion(v1))
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        StoreErrorKind::Conflict,
        "{name}: stale version"
    );
    assert_eq!(s.get("cas").await.unwrap().unwrap().value, b"two", "{name}");
    cleanup(&s).await;
}

/// Delete then recreate: the old version is never valid again (no ABA), and the new
/// version is above every earlier one.
pub async fn versions_of_deleted_keys_never_match_again<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "aba");
    let v1 = s
        .set("cas", b"one", None, Condition::IfAbsent)
        .await
        .unwrap();
    let v2 = s
        .set("cas", b"two", None, Condition::IfVersion(v1))
        .await
        .unwrap();
    assert!(s.delete("cas").await.unwrap(), "{name}");
    assert!(s.get("cas").await.unwrap().is_none(), "{name}");
    let err = s
        .set("cas", b"x", None, Condition::IfVersion(v2))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict, "{name}: deleted key");
    let v3 = s
        .set("cas", b"again", None, Condition::IfAbsent)
        .await
        .unwrap();
    assert!(
        v3 > v2,
        "{name}: version reused after delete ({v3} <= {v2})"
    );
    let err = s
        .set("cas", b"x", None, Condition::IfVersion(v2))
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        StoreErrorKind::Conflict,
        "{name}: ABA after recreate"
    );
    cleanup(&s).await;
}

/// An empty key and a zero TTL are `InvalidInput`.
pub async fn bad_input_is_invalid<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "input");
    let err = s.set("", b"x", None, Condition::Always).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput, "{name}");
    let err = s
        .set("zero", b"x", Some(Duration::ZERO), Condition::Always)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput, "{name}");
    cleanup(&s).await;
}

/// 0.1: a NUL in a key was `Internal` on PostgreSQL and stored elsewhere; a 1 MiB key was
/// `Internal` on PostgreSQL; a NUL in a scan prefix matched nothing on SQLite and matched on
/// the others. One rule now: a NUL is invalid input in every key and prefix, everywhere;
/// a key a backend cannot hold is invalid input there, never another kind of error.
pub async fn regression_keys_are_refused_the_same_way_everywhere<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "keys");
    let invalid = |what: &str, r: Result<(), StoreError>| match r {
        Err(e) => assert_eq!(
            e.kind(),
            StoreErrorKind::InvalidInput,
            "{name}: {what}: {e}"
        ),
        Ok(()) => panic!("{name}: {what} was accepted"),
    };
    let nul = "a\0b";
    invalid(
        "set",
        s.set(nul, b"x", None, Condition::Always).await.map(drop),
    );
    invalid("get", s.get(nul).await.map(drop));
    invalid("delete", s.delete(nul).await.map(drop));
    invalid(
        "touch",
        s.touch(nul, Duration::from_secs(1)).await.map(drop),
    );
    if store.capabilities().scan {
        let object: &dyn StoreObject = &s;
        invalid("scan", object.scan("a\0", 10).await.map(drop));
    }
    // Incompressible, so PostgreSQL cannot squeeze it into its index.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ u64::from(std::process::id());
    let huge: String = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'a' + (x % 26) as u8)
        })
        .collect();
    match s.set(&huge, b"x", None, Condition::Always).await {
        Ok(_) => assert!(s.get(&huge).await.unwrap().is_some(), "{name}"),
        Err(e) => assert_eq!(
            e.kind(),
            StoreErrorKind::InvalidInput,
            "{name}: 1 MiB key: {e}"
        ),
    }
    cleanup(&s).await;
}
