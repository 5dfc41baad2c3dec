//! The checks, each on an empty table; `backend_tests!` runs each on every backend.

use super::*;

fn ttl(ms: u64) -> Option<Duration> {
    Some(Duration::from_millis(ms))
}

pub(super) async fn binary_round_trip(store: &SqlStore) {
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let mut big = vec![0u8; 1 << 20];
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    for b in &mut big {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    for (key, value) in [("bytes", &all_bytes), ("empty", &Vec::new()), ("big", &big)] {
        let v = store
            .set(key, value, None, Condition::Always)
            .await
            .unwrap();
        let entry = store.get(key).await.unwrap().expect(key);
        assert_eq!(&entry.value, value, "{key}");
        assert_eq!(entry.version, v);
        assert_eq!(entry.expires_at, None);
    }
    // Keys compare byte for byte: case, trailing spaces, non-ASCII.
    let keys = ["k", "K", "k ", "ké", "ke", "日本", "a\u{10FFFF}"];
    for key in keys {
        store
            .set(key, key.as_bytes(), None, Condition::IfAbsent)
            .await
            .unwrap_or_else(|e| panic!("{key:?}: {e:?}"));
    }
    for key in keys {
        assert_eq!(store.get(key).await.unwrap().unwrap().value, key.as_bytes());
    }
    // An expiry comes back (to the millisecond).
    let before = SystemTime::now();
    store
        .set("ttl", b"x", ttl(60_000), Condition::Always)
        .await
        .unwrap();
    let expires = store.get("ttl").await.unwrap().unwrap().expires_at.unwrap();
    let lower = before + Duration::from_millis(59_000);
    let upper = SystemTime::now() + Duration::from_millis(60_001);
    assert!(expires > lower && expires <= upper, "{expires:?}");
}

pub(super) async fn versions_increase(store: &SqlStore) {
    let mut seen = Vec::new();
    for i in 0..5u8 {
        let v = store.set("k", &[i], None, Condition::Always).await.unwrap();
        assert_eq!(store.get("k").await.unwrap().unwrap().version, v);
        seen.push(v);
    }
    let v = store
        .set(
            "k",
            b"cas",
            None,
            Condition::IfVersion(*seen.last().unwrap()),
        )
        .await
        .unwrap();
    seen.push(v);
    assert!(store.delete("k").await.unwrap());
    assert!(!store.delete("k").await.unwrap());
    assert_eq!(store.get("k").await.unwrap(), None);
    let v = store
        .set("k", b"again", None, Condition::IfAbsent)
        .await
        .unwrap();
    seen.push(v);
    assert!(store.delete("k").await.unwrap());
    let v = store
        .set("k", b"again", None, Condition::Always)
        .await
        .unwrap();
    seen.push(v);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
}

pub(super) async fn conditional_conflicts(store: &SqlStore) {
    let v1 = store
        .set("k", b"one", None, Condition::IfAbsent)
        .await
        .unwrap();
    let e = store
        .set("k", b"two", None, Condition::IfAbsent)
        .await
        .unwrap_err();
    assert!(e.is_conflict(), "{e:?}");
    assert_eq!(e.key(), Some("k"));
    assert_eq!(e.backend(), Some(store.backend()));
    for wrong in [
        Version::new(v1.get() - 1),
        Version::new(v1.get() + 1),
        Version::new(u64::MAX),
        Version::new(0),
    ] {
        let e = store
            .set("k", b"two", None, Condition::IfVersion(wrong))
            .await
            .unwrap_err();
        assert!(e.is_conflict(), "{wrong}: {e:?}");
    }
    let v2 = store
        .set("k", b"two", None, Condition::IfVersion(v1))
        .await
        .unwrap();
    assert!(v2 > v1);
    let e = store
        .set("k", b"three", None, Condition::IfVersion(v1))
        .await
        .unwrap_err();
    assert!(e.is_conflict(), "{e:?}");
    assert_eq!(store.get("k").await.unwrap().unwrap().value, b"two");
    let e = store
        .set("missing", b"x", None, Condition::IfVersion(v2))
        .await
        .unwrap_err();
    assert!(e.is_conflict(), "{e:?}");
    assert_eq!(store.get("missing").await.unwrap(), None);
}

pub(super) async fn expiry(store: &SqlStore) {
    let v = store
        .set("short", b"x", ttl(300), Condition::Always)
        .await
        .unwrap();
    for key in ["purge1", "purge2"] {
        store
            .set(key, b"x", ttl(300), Condition::Always)
            .await
            .unwrap();
    }
    store
        .set("forever", b"x", None, Condition::Always)
        .await
        .unwrap();
    store
        .set("long", b"x", ttl(60_000), Condition::Always)
        .await
        .unwrap();
    assert!(store.get("short").await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(store.get("short").await.unwrap(), None);
    assert!(!store.touch("short", Duration::from_secs(60)).await.unwrap());
    assert_eq!(store.get("short").await.unwrap(), None, "touch revived it");
    let e = store
        .set("short", b"y", None, Condition::IfVersion(v))
        .await
        .unwrap_err();
    assert!(e.is_conflict(), "{e:?}");
    let mut keys = store.scan("", 100).await.unwrap();
    keys.sort();
    assert_eq!(keys, ["forever", "long"]);

    let v2 = store
        .set("short", b"new", None, Condition::IfAbsent)
        .await
        .unwrap();
    assert!(v2 > v, "{v2} after {v}");
    let entry = store.get("short").await.unwrap().unwrap();
    assert_eq!(
        (entry.value.as_slice(), entry.expires_at),
        (&b"new"[..], None)
    );

    // Deleting an expired key reports nothing live (and removes it).
    assert!(!store.delete("purge2").await.unwrap());
    store
        .set("purge3", b"x", ttl(300), Condition::Always)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(store.purge_expired().await.unwrap(), 2); // purge1, purge3
    assert_eq!(store.purge_expired().await.unwrap(), 0);
    for key in ["forever", "long", "short"] {
        assert!(store.get(key).await.unwrap().is_some(), "{key}");
    }
}

pub(super) async fn touch_extends(store: &SqlStore) {
    let v = store
        .set("k", b"x", ttl(300), Condition::Always)
        .await
        .unwrap();
    let before = store.get("k").await.unwrap().unwrap().expires_at.unwrap();
    assert!(store.touch("k", Duration::from_secs(60)).await.unwrap());
    let entry = store.get("k").await.unwrap().unwrap();
    assert_eq!(entry.version, v);
    assert!(entry.expires_at.unwrap() > before);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let entry = store.get("k").await.unwrap().expect("touch extended it");
    assert_eq!((entry.value.as_slice(), entry.version), (&b"x"[..], v));
    // A compare-and-set still matches the untouched version.
    store
        .set("k", b"y", None, Condition::IfVersion(v))
        .await
        .unwrap();
    assert!(
        !store
            .touch("missing", Duration::from_secs(1))
            .await
            .unwrap()
    );
    let e = store.touch("k", Duration::ZERO).await.unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::InvalidInput);
}

pub(super) async fn scan_literal_prefix(store: &SqlStore) {
    let keys = [
        "a%b:1", "a%b:2", "axb:1", "aXYb:1", "a_b:1", "A%b:1", "a!b", "a\\b", "a%B:1",
    ];
    for key in keys {
        store.set(key, b"", None, Condition::Always).await.unwrap();
    }
    store
        .set("a%b:gone", b"", ttl(1), Condition::Always)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let scan = |prefix: &'static str| async move {
        let mut found = store.scan(prefix, 100).await.unwrap();
        found.sort();
        found
    };
    assert_eq!(scan("a%b").await, ["a%b:1", "a%b:2"]);
    assert_eq!(scan("a_b").await, ["a_b:1"]);
    assert_eq!(scan("a%").await, ["a%B:1", "a%b:1", "a%b:2"]);
    assert_eq!(scan("A").await, ["A%b:1"]);
    assert_eq!(scan("a!").await, ["a!b"]);
    assert_eq!(scan("a\\").await, ["a\\b"]);
    assert_eq!(scan("b").await, Vec::<String>::new());
    assert_eq!(scan("").await.len(), keys.len());
    assert_eq!(store.scan("a", 3).await.unwrap().len(), 3);
    assert!(store.scan("a", 0).await.unwrap().is_empty());
}

pub(super) async fn contention(store: &SqlStore) {
    const TASKS: u64 = 16;
    const INCREMENTS: u64 = 200;
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut conflicts = 0u64;
                for _ in 0..INCREMENTS {
                    loop {
                        let current = store.get("counter").await.unwrap();
                        let (next, condition) = match &current {
                            Some(entry) => {
                                let n: u64 =
                                    std::str::from_utf8(&entry.value).unwrap().parse().unwrap();
                                (n + 1, Condition::IfVersion(entry.version))
                            }
                            None => (1, Condition::IfAbsent),
                        };
                        match store
                            .set("counter", next.to_string().as_bytes(), None, condition)
                            .await
                        {
                            Ok(_) => break,
                            Err(e) if e.is_conflict() => conflicts += 1,
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    let entry = store.get("counter").await.unwrap().unwrap();
    assert_eq!(entry.value, (TASKS * INCREMENTS).to_string().as_bytes());
    eprintln!("{}: {conflicts} conflicts retried", store.backend());
}

pub(super) async fn invalid_input(store: &SqlStore) {
    let invalid = |e: satchel_sql::StoreError| {
        assert_eq!(e.kind(), StoreErrorKind::InvalidInput, "{e:?}");
    };
    invalid(store.get("").await.unwrap_err());
    invalid(
        store
            .set("", b"", None, Condition::Always)
            .await
            .unwrap_err(),
    );
    invalid(store.delete("").await.unwrap_err());
    invalid(store.touch("", Duration::from_secs(1)).await.unwrap_err());
    invalid(
        store
            .set("k", b"", Some(Duration::ZERO), Condition::Always)
            .await
            .unwrap_err(),
    );
    if store.backend() == "mysql" {
        let longest = "\u{10FFFF}".repeat(255);
        store
            .set(&longest, b"x", None, Condition::Always)
            .await
            .unwrap();
        assert!(store.get(&longest).await.unwrap().is_some());
        let too_long = "k".repeat(256);
        invalid(
            store
                .set(&too_long, b"x", None, Condition::Always)
                .await
                .unwrap_err(),
        );
        assert_eq!(store.get(&too_long).await.unwrap(), None);
    } else {
        let long = "k".repeat(10_000);
        store
            .set(&long, b"x", None, Condition::Always)
            .await
            .unwrap();
        assert!(store.get(&long).await.unwrap().is_some());
    }
}
