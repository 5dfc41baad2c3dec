//! The string layout against a live server (`SATCHEL_TEST_REDIS_URL`): values other
//! programs wrote are values, keys of other Redis types are per-key errors, satchel 0.1's
//! HASH values are read and moved, and a value costs little more than a plain `SET`.

use std::time::{Duration, SystemTime};

use redis::AsyncCommands;
use satchel_redis::{Condition, OwnedKeys, Scan, Store, StoreErrorKind, Version};

mod support;

use support::Fixture;

const MIN: Duration = Duration::from_secs(60);

/// kvdb-py's framing, tower-sessions' MessagePack, text, and bytes that start like an
/// envelope but are not a whole one: each reads back as it is, under a version derived from
/// its bytes, which compare-and-set and `delete_if` accept while the bytes stay the same.
#[tokio::test]
async fn strings_other_programs_wrote_are_values() {
    let Some(mut fx) = Fixture::new("foreign").await else {
        return;
    };
    let samples: [&[u8]; 5] = [
        b"_kvdbenc_0000000000{\"py/object\": \"x\"}",
        &[
            0x82, 0xA2, b'i', b'd', 0x01, 0xA4, b'd', b'a', b't', b'a', 0xC0,
        ],
        b"set by redis-cli",
        &[0xC1, 0x00, 0x01, 0x02],
        &[
            0xC1, 0x03, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 1, 0, 9, b'x',
        ],
    ];
    let s = &fx.store;
    for (i, bytes) in samples.iter().enumerate() {
        let key = format!("k{i}");
        let _: () = fx
            .raw
            .set(format!("{}{key}", fx.prefix), *bytes)
            .await
            .unwrap();
        let e = s
            .get(&key)
            .await
            .unwrap()
            .expect("a foreign value is a value");
        assert_eq!(e.value, *bytes, "{key}: the bytes as written");
        assert_eq!(e.expires_at, None, "{key}");
        assert_ne!(
            e.version.get() >> 63,
            0,
            "{key}: derived versions have the top bit"
        );
        assert_eq!(s.get(&key).await.unwrap().unwrap().version, e.version);

        // The script derives the same version: compare-and-set and delete_if accept it.
        let lost = s
            .set(&key, b"x", None, Condition::IfAbsent)
            .await
            .unwrap_err();
        assert!(lost.is_conflict(), "{key}: {lost}");
        let stale = Version::new(e.version.get() ^ 1);
        let lost = s.set(&key, b"x", None, Condition::IfVersion(stale)).await;
        assert!(lost.unwrap_err().is_conflict(), "{key}");
        assert!(!s.delete_if(&key, stale).await.unwrap(), "{key}");
        if i % 2 == 0 {
            let v = s
                .set(&key, b"mine", Some(MIN), Condition::IfVersion(e.version))
                .await
                .unwrap();
            let now = s.get(&key).await.unwrap().unwrap();
            assert_eq!((now.value.as_slice(), now.version), (&b"mine"[..], v));
            assert!(now.expires_at.is_some());
        } else {
            assert!(s.delete_if(&key, e.version).await.unwrap(), "{key}");
            assert!(s.get(&key).await.unwrap().is_none());
        }
    }

    // Another program rewrites the bytes: the version read before no longer matches.
    let raw_key = format!("{}shared", fx.prefix);
    let _: () = fx.raw.set(&raw_key, "one").await.unwrap();
    let read = s.get("shared").await.unwrap().unwrap();
    let _: () = fx.raw.set(&raw_key, "two").await.unwrap();
    let lost = s
        .set("shared", b"mine", None, Condition::IfVersion(read.version))
        .await;
    assert!(
        lost.unwrap_err().is_conflict(),
        "a different value must not be replaced"
    );
    let still: String = fx.raw.get(&raw_key).await.unwrap();
    assert_eq!(still, "two");

    // Its expiry is the key's, and touch extends it without touching the bytes.
    let _: () = fx.raw.pexpire(&raw_key, 30_000).await.unwrap();
    let e = s.get("shared").await.unwrap().unwrap();
    let left = e
        .expires_at
        .unwrap()
        .duration_since(SystemTime::now())
        .unwrap();
    assert!(left > Duration::from_secs(25) && left <= Duration::from_secs(30));
    assert!(s.touch("shared", 5 * MIN).await.unwrap());
    let ttl: i64 = fx.raw.pttl(&raw_key).await.unwrap();
    assert!(ttl > 290_000, "touched: {ttl}");
    let still: String = fx.raw.get(&raw_key).await.unwrap();
    assert_eq!(still, "two");
    assert_eq!(s.get("shared").await.unwrap().unwrap().version, e.version);
    fx.cleanup().await;
}

/// A list, a set or a hash of other fields holds no value: each operation on it is a
/// `Corrupt` error naming the key and the type, it is left in place (touch does not give it
/// a ttl), listing goes on past it, and an unconditional set replaces it.
#[tokio::test]
async fn keys_of_other_types_are_errors_per_key() {
    let Some(mut fx) = Fixture::new("types").await else {
        return;
    };
    let p = fx.prefix.clone();
    let _: () = fx.raw.rpush(format!("{p}list"), "a").await.unwrap();
    let _: () = fx.raw.sadd(format!("{p}set"), "a").await.unwrap();
    let _: () = fx.raw.hset(format!("{p}hash"), "n", "1e9").await.unwrap();
    let _: () = fx.raw.set(format!("{p}fine"), "text").await.unwrap();
    let s = &fx.store;
    for (key, what) in [
        ("list", "a Redis list"),
        ("set", "a Redis set"),
        ("hash", "hash"),
    ] {
        let err = s.get(key).await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
        assert_eq!(err.key(), Some(key));
        assert!(err.to_string().contains(what), "{err}");
        for cond in [Condition::IfAbsent, Condition::IfVersion(Version::new(1))] {
            let err = s.set(key, b"x", None, cond).await.unwrap_err();
            assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{key}: {err}");
        }
        let err = s.touch(key, MIN).await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
        let err = s.delete_if(key, Version::new(1)).await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
        let ttl: i64 = fx.raw.pttl(format!("{p}{key}")).await.unwrap();
        assert_eq!(ttl, -1, "{key}: left alone");
    }
    let mut listed = s.scan("", 100).await.unwrap();
    listed.sort();
    assert_eq!(listed, ["fine", "hash", "list", "set"]);
    s.set("list", b"mine", None, Condition::Always)
        .await
        .unwrap();
    assert_eq!(s.get("list").await.unwrap().unwrap().value, b"mine");
    fx.cleanup().await;
}

/// satchel 0.1 kept a value as a HASH (`v`, `n`, `o`): it reads as before (version `n`,
/// its ttl, its owner), and the next write, conditional on that version, moves it to the
/// string layout with a version above the old one.
#[tokio::test]
async fn values_in_the_0_1_layout_are_read_and_moved_by_the_next_write() {
    let Some(mut fx) = Fixture::new("legacy").await else {
        return;
    };
    let (p, s) = (fx.prefix.clone(), fx.store.clone());
    let old = 1_780_000_000_000_000u64;
    let _: () = redis::cmd("HSET")
        .arg(format!("{p}old"))
        .arg("v")
        .arg(&b"\xC1\x10{}"[..])
        .arg("n")
        .arg(old.to_string())
        .query_async(&mut fx.raw)
        .await
        .unwrap();
    let _: () = fx.raw.pexpire(format!("{p}old"), 60_000).await.unwrap();
    let e = s.get("old").await.unwrap().unwrap();
    assert_eq!(
        (e.value.as_slice(), e.version),
        (&b"\xC1\x10{}"[..], Version::new(old))
    );
    assert!(e.expires_at.is_some());
    assert!(s.touch("old", 2 * MIN).await.unwrap());
    let stale = Version::new(old - 1);
    let lost = s
        .set("old", b"new", None, Condition::IfVersion(stale))
        .await;
    assert!(
        lost.unwrap_err()
            .message()
            .contains(&format!("v{old} stored"))
    );
    let v = s
        .set("old", b"new", None, Condition::IfVersion(e.version))
        .await
        .unwrap();
    assert!(v > e.version, "versions keep growing across the move");
    let kind: String = redis::cmd("TYPE")
        .arg(format!("{p}old"))
        .query_async(&mut fx.raw)
        .await
        .unwrap();
    assert_eq!(kind, "string");
    assert_eq!(s.get("old").await.unwrap().unwrap().value, b"new");

    // A tagged 0.1 value is its owner's until moved.
    let owner = format!("{p}ann");
    let _: () = redis::cmd("HSET")
        .arg(format!("{p}tagged"))
        .arg("v")
        .arg("x")
        .arg("n")
        .arg("5")
        .arg("o")
        .arg(&owner)
        .query_async(&mut fx.raw)
        .await
        .unwrap();
    let _: () = fx
        .raw
        .sadd(format!("\0satchel:owner:{owner}"), format!("{p}tagged"))
        .await
        .unwrap();
    assert_eq!(s.keys_of("ann").await.unwrap(), ["tagged"]);
    assert_eq!(s.delete_owner("ann").await.unwrap(), 1);
    assert!(s.get("tagged").await.unwrap().is_none());
    fx.cleanup().await;
}

/// `MEMORY USAGE` of a value is that of a plain `SET` of the same bytes plus the envelope
/// (10 bytes, 16 with an expiry), give or take the allocator's size class: over a sweep of
/// sizes the mean stays within 16 bytes, and no size costs more than one class step.
#[tokio::test]
async fn a_value_costs_about_a_plain_set() {
    let Some(mut fx) = Fixture::new("memory").await else {
        return;
    };
    let (p, s) = (fx.prefix.clone(), fx.store.clone());
    let mut extra = Vec::new();
    for size in [
        0usize, 20, 60, 100, 200, 408, 750, 1000, 2000, 4096, 10_000, 65_536,
    ] {
        for ttl in [None, Some(MIN)] {
            let value = vec![b'v'; size];
            let (ours, theirs) = (format!("s{size:06}"), format!("r{size:06}"));
            s.set(&ours, &value, ttl, Condition::Always).await.unwrap();
            let mut cmd = redis::cmd("SET");
            cmd.arg(format!("{p}{theirs}")).arg(&value);
            if ttl.is_some() {
                cmd.arg("PX").arg(60_000);
            }
            let _: () = cmd.query_async(&mut fx.raw).await.unwrap();
            let usage = |key: String| {
                redis::cmd("MEMORY")
                    .arg("USAGE")
                    .arg(key)
                    .arg("SAMPLES")
                    .arg(0)
                    .clone()
            };
            let a: i64 = usage(format!("{p}{ours}"))
                .query_async(&mut fx.raw)
                .await
                .unwrap();
            let b: i64 = usage(format!("{p}{theirs}"))
                .query_async(&mut fx.raw)
                .await
                .unwrap();
            // jemalloc's size classes are a quarter of a power of two apart (16 bytes
            // below 128): a value just under a class boundary may cost one step more.
            let step = if size < 128 {
                16
            } else {
                1i64 << (61 - (size as u64).leading_zeros())
            };
            assert!(
                a - b <= 16.max(step),
                "{size} B, ttl {ttl:?}: {a} against {b}"
            );
            extra.push(a - b);
        }
    }
    let mean = extra.iter().sum::<i64>() as f64 / extra.len() as f64;
    eprintln!("MEMORY USAGE over a plain SET, by size (no ttl, ttl): {extra:?}, mean {mean}");
    assert!(
        mean <= 16.0,
        "mean {mean} bytes over a plain SET: {extra:?}"
    );
    fx.cleanup().await;
}
