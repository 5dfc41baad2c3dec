//! `RedisStore` against a live server: `SATCHEL_TEST_REDIS_URL=redis://127.0.0.1:6379`.
//!
//! Without that variable each test prints `skipped: …` and passes, unless
//! `SATCHEL_REQUIRE_SERVICES=1` (CI), where it fails. Every test writes under its own
//! random key prefix and deletes its keys at the end.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use satchel_redis::{
    Condition, Prefixed, RedisConfig, RedisStore, Scan, Store, StoreErrorKind, StoreObject, Version,
};

mod support;

use support::{Fixture, KILL_LOCK, cleanup, test_url, unique_prefix};

#[tokio::test]
async fn binary_values_round_trip() {
    let Some(fx) = Fixture::new("binary").await else {
        return;
    };
    let s = &fx.store;
    let all_bytes: Vec<u8> = (0..=255).collect();
    let mib: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(31) >> 3) as u8)
        .collect();
    for (key, value) in [("all", &all_bytes), ("empty", &Vec::new()), ("mib", &mib)] {
        let version = s.set(key, value, None, Condition::Always).await.unwrap();
        let entry = s.get(key).await.unwrap().unwrap();
        assert_eq!(&entry.value, value, "{key}");
        assert_eq!(entry.version, version);
        assert_eq!(entry.expires_at, None);
    }
    // Keys are bytes on the server: non-ASCII and glob characters are just characters.
    s.set("ключ/*?[x]", b"v", None, Condition::Always)
        .await
        .unwrap();
    assert_eq!(s.get("ключ/*?[x]").await.unwrap().unwrap().value, b"v");
    assert_eq!(s.get("missing").await.unwrap(), None);
    assert_eq!(s.backend(), "redis");
    // Redis expires keys by itself: it says so, and has no purge to call.
    let caps = s.capabilities();
    assert!(caps.scan && !caps.purge_expired, "{caps:?}");
    let object: &dyn StoreObject = s;
    let err = object.purge_expired().await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unsupported, "{err}");
    assert_eq!(err.backend(), Some("redis"), "{err}");
    fx.cleanup().await;
}

#[tokio::test]
async fn versions_increase_and_are_not_reused() {
    let Some(fx) = Fixture::new("versions").await else {
        return;
    };
    let s = &fx.store;
    let mut last = Version::new(0);
    for i in 0..50u32 {
        let v = s
            .set("k", &i.to_be_bytes(), None, Condition::Always)
            .await
            .unwrap();
        assert!(v > last, "{v} after {last}");
        last = v;
    }
    assert_eq!(s.get("k").await.unwrap().unwrap().version, last);
    assert!(s.delete("k").await.unwrap());
    assert!(!s.delete("k").await.unwrap());
    assert_eq!(s.get("k").await.unwrap(), None);
    let again = s
        .set("k", b"again", None, Condition::IfAbsent)
        .await
        .unwrap();
    assert!(again > last, "{again} after delete, last was {last}");
    // A compare-and-set against the old incarnation fails.
    let err = s
        .set("k", b"x", None, Condition::IfVersion(last))
        .await
        .unwrap_err();
    assert!(err.is_conflict(), "{err}");
    fx.cleanup().await;
}

#[tokio::test]
async fn conditional_writes_conflict() {
    let Some(fx) = Fixture::new("conditions").await else {
        return;
    };
    let s = &fx.store;
    let v1 = s.set("k", b"one", None, Condition::IfAbsent).await.unwrap();

    let err = s
        .set("k", b"two", None, Condition::IfAbsent)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict);
    assert_eq!(err.key(), Some("k"), "the key without the store's prefix");
    assert_eq!(err.backend(), Some("redis"));
    assert_eq!(err.message(), "the key already has a value (set if absent)");

    let v2 = s
        .set("k", b"two", None, Condition::IfVersion(v1))
        .await
        .unwrap();
    assert!(v2 > v1);
    let err = s
        .set("k", b"three", None, Condition::IfVersion(v1))
        .await
        .unwrap_err();
    assert!(err.is_conflict());
    assert_eq!(
        err.message(),
        format!(
            "the value changed since it was read ({v1} expected, {v2} stored): re-read and retry"
        )
    );
    let entry = s.get("k").await.unwrap().unwrap();
    assert_eq!((entry.value.as_slice(), entry.version), (&b"two"[..], v2));

    let err = s
        .set("gone", b"x", None, Condition::IfVersion(v2))
        .await
        .unwrap_err();
    assert!(err.is_conflict());
    assert_eq!(
        err.message(),
        format!(
            "the value changed, was deleted or expired since it was read ({v2} expected): \
             re-read and retry"
        )
    );
    assert_eq!(s.get("gone").await.unwrap(), None);

    // Refused before reaching the server.
    let err = s.set("", b"x", None, Condition::Always).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
    let err = s
        .set("k", b"x", Some(Duration::ZERO), Condition::Always)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
    let err = s.touch("k", Duration::ZERO).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
    assert_eq!(
        s.get("").await.unwrap_err().kind(),
        StoreErrorKind::InvalidInput
    );
    assert_eq!(s.get("k").await.unwrap().unwrap().version, v2);
    fx.cleanup().await;
}

#[tokio::test]
async fn compare_and_set_never_loses_an_update() {
    let Some(fx) = Fixture::new("cas").await else {
        return;
    };
    let (tasks, increments) = (8, 25);
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let s = fx.store.clone();
        handles.push(tokio::spawn(async move {
            for _ in 0..increments {
                loop {
                    let (n, condition) = match s.get("counter").await.unwrap() {
                        Some(e) => (
                            u32::from_be_bytes(e.value.try_into().unwrap()),
                            Condition::IfVersion(e.version),
                        ),
                        None => (0, Condition::IfAbsent),
                    };
                    match s
                        .set("counter", &(n + 1).to_be_bytes(), None, condition)
                        .await
                    {
                        Ok(_) => break,
                        Err(e) if e.is_conflict() => {}
                        Err(e) => panic!("{e:?}"),
                    }
                }
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let value = fx.store.get("counter").await.unwrap().unwrap().value;
    assert_eq!(
        u32::from_be_bytes(value.try_into().unwrap()),
        tasks * increments
    );
    fx.cleanup().await;
}

#[tokio::test]
async fn ttl_expiry() {
    let Some(fx) = Fixture::new("ttl").await else {
        return;
    };
    let s = &fx.store;
    let before = SystemTime::now();
    s.set(
        "k",
        b"short",
        Some(Duration::from_millis(300)),
        Condition::Always,
    )
    .await
    .unwrap();
    let expires_at = s.get("k").await.unwrap().unwrap().expires_at.unwrap();
    assert!(expires_at > before && expires_at <= SystemTime::now() + Duration::from_millis(300));

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.get("k").await.unwrap(), None);
    assert!(
        !s.touch("k", Duration::from_secs(5)).await.unwrap(),
        "never revived"
    );
    assert_eq!(s.get("k").await.unwrap(), None);
    assert!(!s.delete("k").await.unwrap());
    s.set("k", b"new", None, Condition::IfAbsent).await.unwrap();
    let entry = s.get("k").await.unwrap().unwrap();
    assert_eq!(
        (entry.value.as_slice(), entry.expires_at),
        (&b"new"[..], None)
    );

    // An unconditional set without ttl makes a value persistent again.
    s.set(
        "p",
        b"x",
        Some(Duration::from_millis(300)),
        Condition::Always,
    )
    .await
    .unwrap();
    s.set("p", b"y", None, Condition::Always).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.get("p").await.unwrap().unwrap().value, b"y");
    fx.cleanup().await;
}

#[tokio::test]
async fn touch_extends_without_changing_the_version() {
    let Some(fx) = Fixture::new("touch").await else {
        return;
    };
    let s = &fx.store;
    let v = s
        .set(
            "k",
            b"v",
            Some(Duration::from_millis(300)),
            Condition::Always,
        )
        .await
        .unwrap();
    assert!(s.touch("k", Duration::from_secs(5)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let entry = s.get("k").await.unwrap().unwrap();
    assert_eq!(entry.version, v);
    assert_eq!(entry.value, b"v");
    let left = entry
        .expires_at
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(
        left > Duration::from_secs(4) && left <= Duration::from_secs(5),
        "{left:?}"
    );
    assert!(!s.touch("missing", Duration::from_secs(5)).await.unwrap());
    assert_eq!(s.get("missing").await.unwrap(), None);
    fx.cleanup().await;
}

#[tokio::test]
async fn scan_matches_prefixes_literally() {
    let Some(fx) = Fixture::new("scan").await else {
        return;
    };
    let s = &fx.store;
    let keys = [
        "a*b:1", "a*b:2", "axb:3", "a*bc", "a?b:4", "a[*]b:5", r"a\*b:6", "other",
    ];
    for key in keys {
        s.set(key, b"v", None, Condition::Always).await.unwrap();
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(s.scan("a*b:", 100).await.unwrap()),
        ["a*b:1", "a*b:2"]
    );
    assert_eq!(s.scan("a?b", 100).await.unwrap(), ["a?b:4"]);
    assert_eq!(s.scan("a[*]", 100).await.unwrap(), ["a[*]b:5"]);
    assert_eq!(s.scan(r"a\*", 100).await.unwrap(), [r"a\*b:6"]);
    assert_eq!(
        sorted(s.scan("", 100).await.unwrap()),
        sorted(keys.map(String::from).to_vec())
    );
    assert_eq!(s.scan("a", 3).await.unwrap().len(), 3);
    assert!(s.scan("a", 0).await.unwrap().is_empty());
    assert!(s.scan("zzz", 10).await.unwrap().is_empty());

    // Expired keys are not listed.
    s.set(
        "a*b:short",
        b"v",
        Some(Duration::from_millis(100)),
        Condition::Always,
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.scan("a*b:", 100).await.unwrap().len(), 2);
    fx.cleanup().await;
}

#[tokio::test]
async fn many_keys_scan_past_one_batch() {
    let Some(fx) = Fixture::new("scan-many").await else {
        return;
    };
    let s = &fx.store;
    for i in 0..1500 {
        s.set(&format!("k{i}"), b"", None, Condition::Always)
            .await
            .unwrap();
    }
    let mut keys = s.scan("k", 5000).await.unwrap();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 1500);
    assert_eq!(s.scan("k", 1200).await.unwrap().len(), 1200);
    fx.cleanup().await;
}

#[tokio::test]
async fn recovers_after_client_kill() {
    let Some(url) = test_url() else {
        return;
    };
    let _alone = KILL_LOCK.write().await;
    let store = Prefixed::new(
        RedisStore::with_config(RedisConfig::new(&url))
            .await
            .unwrap(),
        unique_prefix("kill"),
    );
    let mut killer = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut kill = async || {
        let killed: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("normal")
            .query_async(&mut killer)
            .await
            .unwrap();
        assert!(killed >= 1, "the store's connection was killed");
        // Let the store's connection see the close.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    for round in 0..5u32 {
        let key = format!("k{round}");
        let v = store
            .set(&key, &round.to_be_bytes(), None, Condition::Always)
            .await
            .unwrap();
        kill().await;
        // A read first: retried once on the new connection.
        let entry = store.get(&key).await.unwrap().unwrap();
        assert_eq!(
            (entry.value, entry.version),
            (round.to_be_bytes().to_vec(), v)
        );

        kill().await;
        // A conditional write first: it either went through or reports Unavailable, never
        // a false conflict; then everything works.
        match store.set(&key, b"cas", None, Condition::IfVersion(v)).await {
            Ok(v2) => assert!(v2 > v),
            Err(e) => {
                assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{e:?}");
                assert!(e.source().is_some());
            }
        }
        let entry = store.get(&key).await.unwrap().unwrap();
        assert!(entry.value == b"cas" || entry.version == v);

        kill().await;
        assert!(store.touch(&key, Duration::from_secs(60)).await.unwrap());
        kill().await;
        store
            .set(&key, b"last", None, Condition::Always)
            .await
            .unwrap();
        kill().await;
        assert_eq!(
            store.scan("k", 100).await.unwrap().len(),
            round as usize + 1
        );
    }
    for round in 0..5u32 {
        assert_eq!(
            store
                .get(&format!("k{round}"))
                .await
                .unwrap()
                .unwrap()
                .value,
            b"last"
        );
    }
    cleanup(&store).await;
}

#[tokio::test]
async fn slow_replies_time_out_and_the_connection_stays_usable() {
    let Some(url) = test_url() else {
        return;
    };
    let _alone = KILL_LOCK.write().await;
    let store = Prefixed::new(
        RedisStore::with_config(
            RedisConfig::new(&url).with_response_timeout(Some(Duration::from_millis(100))),
        )
        .await
        .unwrap(),
        unique_prefix("timeout"),
    );
    let v = store
        .set("k", b"before", None, Condition::Always)
        .await
        .unwrap();
    let mut admin = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(400)
        .arg("ALL")
        .query_async(&mut admin)
        .await
        .unwrap();
    let err = store.get("k").await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Timeout, "{err:?}");
    assert_eq!(err.key(), Some("k"));
    let err = store
        .set("k", b"during", None, Condition::IfVersion(v))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Timeout, "{err:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The late replies are not mistaken for the answers to later commands. The timed-out
    // compare-and-set ran once the pause ended.
    let entry = store.get("k").await.unwrap().unwrap();
    assert_eq!(entry.value, b"during");
    assert!(entry.version > v);
    assert!(store.delete("k").await.unwrap());
    assert_eq!(store.get("k").await.unwrap(), None);
    cleanup(&store).await;
}

/// Needs no server: port 1 is closed.
#[tokio::test]
async fn connect_errors_are_unavailable_and_hide_the_password() {
    let url = "redis://:secretpw@127.0.0.1:1/";
    let config = RedisConfig::new(url);
    assert!(!format!("{config:?}").contains("secretpw"));

    let err = RedisStore::connect(url).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err:?}");
    assert!(err.is_transient());
    assert_eq!(err.backend(), Some("redis"));
    let display = err.to_string();
    let debug = format!("{err:?}");
    assert!(display.contains("redis://:***@127.0.0.1:1/"), "{display}");
    assert!(!display.contains("secretpw"), "{display}");
    assert!(!debug.contains("secretpw"), "{debug}");
    let mut source = err.source();
    assert!(source.is_some(), "the redis error is kept");
    while let Some(s) = source {
        assert!(!s.to_string().contains("secretpw"), "{s}");
        source = s.source();
    }

    let err = RedisStore::with_config(
        RedisConfig::new("redis://:secretpw@127.0.0.1:1/").with_reconnect_attempts(0),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);

    let err = RedisStore::connect("http://:secretpw@127.0.0.1:1/")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput, "{err:?}");
    assert!(!format!("{err} {err:?}").contains("secretpw"));
}

#[cfg(not(feature = "tls"))]
#[tokio::test]
async fn rediss_needs_the_tls_feature() {
    let err = RedisStore::connect("rediss://:secretpw@127.0.0.1:1/")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
    assert!(err.message().contains("`tls`"), "{err}");
    assert!(!format!("{err} {err:?}").contains("secretpw"));
}

/// A TLS client against a closed port and against the plain-text test server: errors, no
/// panic (a rustls crypto provider is installed), no password.
#[cfg(feature = "tls")]
#[tokio::test]
async fn rediss_connects_over_rustls() {
    let err = RedisStore::with_config(
        RedisConfig::new("rediss://:secretpw@127.0.0.1:1/").with_reconnect_attempts(0),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable, "{err:?}");
    assert!(!format!("{err} {err:?}").contains("secretpw"));

    let Some(url) = test_url() else {
        return;
    };
    let tls_url = url.replacen("redis://", "rediss://", 1);
    let err = RedisStore::with_config(
        RedisConfig::new(tls_url)
            .with_reconnect_attempts(0)
            .with_connection_timeout(Some(Duration::from_secs(2))),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout | StoreErrorKind::Backend
        ),
        "{err:?}"
    );
}
