//! The conformance suite for [`Store`] adapters, written once and run against each.
//!
//! Each behaviour of the contract is its own `pub async fn` here, taking the store under
//! test and working on keys under a fresh prefix of it. [`store_suite!`](crate::store_suite)
//! turns the list into one named `#[tokio::test]` per behaviour for a backend, so a broken
//! rule fails its own test and never hides the others.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use satchel::Codec;
use satchel_store::{
    CodecExt, Condition, Prefixed, Store, StoreError, StoreErrorKind, StoreObject,
};

mod conditional;
mod listing;
mod owned;
pub use conditional::delete_if_version_is_compare_and_delete;
pub use listing::{scan_pages_survive_concurrent_writes, scan_pages_through_every_key};
pub use owned::{delete_owner_races_tagged_writes, owned_keys_are_listed_and_deleted_by_owner};

/// A prefix no other run uses, so suites can share a live server and leave no traces.
pub fn unique_prefix(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("satchel-test:{tag}:{}:{nanos}:", std::process::id())
}

/// Reads a service URL from the environment for a service test.
///
/// Returns `None` (after saying on stderr which test is skipped) when the variable is
/// unset, unless `SATCHEL_REQUIRE_SERVICES=1`, which `.ci/run` sets so that a service
/// test that cannot run fails the build instead of passing silently.
pub fn service_url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("SATCHEL_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "{test}: {var} is not set, and SATCHEL_REQUIRE_SERVICES=1 requires it"
            );
            // Written past the test harness's output capture, so a plain `cargo test` shows it.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("skipped: {test} ({var} not set)\n").as_bytes(),
            );
            None
        }
    }
}

/// The store under test seen through a fresh prefix, and the backend's name for messages.
fn scoped<S>(store: &Arc<S>, behaviour: &str) -> (Prefixed<Arc<S>>, &'static str)
where
    S: Store + ?Sized + 'static,
{
    let name = store.backend();
    let prefix = unique_prefix(&format!("{name}-{behaviour}"));
    (Prefixed::new(store.clone(), prefix), name)
}

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

    s.set(
        "expiring",
        b"x",
        Some(Duration::from_millis(50)),
        Condition::Always,
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    match s.try_purge_expired() {
        Some(purge) => {
            assert!(caps.purge_expired, "{name}: purges but does not report it");
            match purge.await {
                Ok(removed) => assert!(
                    removed >= 1,
                    "{name}: reports purge_expired, but an expired value was not purged"
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

/// Typed access and corrupt data: garbage under a key is a `Corrupt` error naming it, its
/// bytes stay, other keys are unaffected.
pub async fn corrupt_values_are_named_and_left_in_place<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "corrupt");
    let typed = Codec::json().compress(satchel::Zstd).wrap(s.clone());
    typed.set("good", &vec![1, 2, 3], None).await.unwrap();
    s.set("bad", b"\xC1\x11garbage", None, Condition::Always)
        .await
        .unwrap();
    let err = typed.get::<Vec<u32>>("bad").await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{name}: {err}");
    assert_eq!(err.key(), Some("bad"), "{name}: {err}");
    assert!(err.to_string().contains("`bad`"), "{name}: {err}");
    assert_eq!(
        s.get("bad").await.unwrap().unwrap().value,
        b"\xC1\x11garbage",
        "{name}"
    );
    assert_eq!(
        typed.get::<Vec<u32>>("good").await.unwrap().unwrap(),
        [1, 2, 3]
    );
    cleanup(&s).await;
}

/// A value another pipeline wrote is a `Codec` error, not corruption.
pub async fn other_pipelines_values_are_codec_errors<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let (s, name) = scoped(&store, "pipeline");
    let typed = Codec::json().compress(satchel::Zstd).wrap(s.clone());
    let other = Codec::msgpack().wrap(s.clone());
    other.set("msgpack", &1u8, None).await.unwrap();
    let err = typed.get::<u8>("msgpack").await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Codec, "{name}: {err}");
    cleanup(&s).await;
}

/// No lost update: 16 tasks × 200 typed `update`s of one counter end at exactly 3200.
pub async fn no_lost_update<S>(store: Arc<S>)
where
    S: Store + ?Sized + 'static,
{
    concurrent_updates(store, 16, 200).await;
}

/// No lost update: `tasks` tasks × `increments` typed `update`s of one counter end at
/// exactly `tasks × increments`.
pub async fn concurrent_updates<S>(store: Arc<S>, tasks: u64, increments: u64)
where
    S: Store + ?Sized + 'static,
{
    let name = store.backend();
    let prefix = unique_prefix(&format!("{name}-race"));
    let counter = Arc::new(Codec::json().wrap(Prefixed::new(store, prefix)));
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let counter = counter.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..increments {
                counter
                    .update("n", None, |n: Option<u64>| n.unwrap_or(0) + 1)
                    .await
                    .expect("update");
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    let n: u64 = counter.get("n").await.unwrap().unwrap();
    assert_eq!(n, tasks * increments, "{name}: lost updates");
    counter.delete("n").await.unwrap();
}

async fn cleanup<T: StoreObject>(s: &T) {
    let s: &dyn StoreObject = s;
    for key in s.scan("", 10_000).await.unwrap() {
        s.delete(&key).await.unwrap();
    }
    assert!(s.scan("", 10).await.unwrap().is_empty(), "cleanup");
}
