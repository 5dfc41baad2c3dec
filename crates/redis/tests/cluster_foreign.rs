//! Values other programs wrote, on a Redis Cluster (`SATCHEL_TEST_REDIS_CLUSTER_URL`, a
//! `redis-cluster://` URL; `.ci/run` starts one with `scripts/redis-cluster.sh`): plain
//! strings under keys in different slots read back as values (a `GET`, then a `MULTI` of
//! `GET` and `PTTL` routed to the key's primary), with the key's expiry, replaceable by
//! compare-and-set, deletable by `delete_if`, and listed across every primary.

#![cfg(feature = "cluster")]

use std::time::{Duration, SystemTime};

use satchel_redis::{Condition, Prefixed, RedisStore, Scan, Store, Version};

mod support;

/// The cluster's URL, or `None` (after saying so) when it is not set.
fn cluster_url() -> Option<String> {
    match std::env::var("SATCHEL_TEST_REDIS_CLUSTER_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("SATCHEL_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "SATCHEL_TEST_REDIS_CLUSTER_URL not set and SATCHEL_REQUIRE_SERVICES=1"
            );
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                b"skipped: a Redis Cluster test (SATCHEL_TEST_REDIS_CLUSTER_URL not set)\n",
            );
            None
        }
    }
}

/// `redis://host:port` of every node the URL names, for a raw cluster client.
fn nodes(url: &str) -> Vec<String> {
    let rest = url.trim_start_matches("redis-cluster://");
    let (first, query) = rest.split_once('?').unwrap_or((rest, ""));
    std::iter::once(first)
        .chain(query.split('&').filter_map(|p| p.strip_prefix("node=")))
        .map(|node| format!("redis://{node}"))
        .collect()
}

async fn raw(
    conn: &mut redis::cluster_async::ClusterConnection,
    cmd: &mut redis::Cmd,
) -> redis::Value {
    cmd.query_async(conn).await.expect("the cluster answers")
}

#[tokio::test]
async fn strings_other_programs_wrote_are_values_on_a_cluster() {
    let Some(url) = cluster_url() else {
        return;
    };
    let prefix = support::unique_prefix("cluster-foreign");
    let store = Prefixed::new(
        RedisStore::connect(&url).await.expect("connect"),
        prefix.clone(),
    );
    let mut conn = redis::cluster::ClusterClient::new(nodes(&url))
        .unwrap()
        .get_async_connection()
        .await
        .unwrap();

    // Twelve keys: with three primaries they fall into every one of them.
    let keys: Vec<String> = (0..12).map(|i| format!("k{i}")).collect();
    for (i, key) in keys.iter().enumerate() {
        let full = format!("{prefix}{key}");
        raw(
            &mut conn,
            redis::cmd("SET")
                .arg(&full)
                .arg(format!("written by another program {i}")),
        )
        .await;
    }
    let expiring = format!("{prefix}{}", keys[0]);
    raw(&mut conn, redis::cmd("PEXPIRE").arg(&expiring).arg(30_000)).await;

    let mut listed = store.scan("", usize::MAX).await.unwrap();
    listed.sort();
    let mut want = keys.clone();
    want.sort();
    assert_eq!(listed, want, "listed across every primary");

    for (i, key) in keys.iter().enumerate() {
        let e = store
            .get(key)
            .await
            .unwrap()
            .expect("a foreign value is a value");
        assert_eq!(
            e.value,
            format!("written by another program {i}").into_bytes(),
            "{key}"
        );
        assert_ne!(e.version.get() >> 63, 0, "{key}: a derived version");
        if i == 0 {
            let left = e
                .expires_at
                .expect("the key's expiry")
                .duration_since(SystemTime::now())
                .unwrap();
            assert!(
                left > Duration::from_secs(25) && left <= Duration::from_secs(30),
                "{left:?}"
            );
        } else {
            assert_eq!(e.expires_at, None, "{key}");
        }
        let stale = Version::new(e.version.get() ^ 1);
        assert!(
            store
                .set(key, b"x", None, Condition::IfVersion(stale))
                .await
                .unwrap_err()
                .is_conflict(),
            "{key}"
        );
        if i % 2 == 0 {
            let v = store
                .set(key, b"mine", None, Condition::IfVersion(e.version))
                .await
                .unwrap();
            let now = store.get(key).await.unwrap().unwrap();
            assert_eq!((now.value.as_slice(), now.version), (&b"mine"[..], v));
        } else {
            assert!(store.delete_if(key, e.version).await.unwrap(), "{key}");
            assert!(store.get(key).await.unwrap().is_none(), "{key}");
        }
    }
    for key in store.scan("", usize::MAX).await.unwrap() {
        store.delete(&key).await.unwrap();
    }
    assert!(store.scan("", usize::MAX).await.unwrap().is_empty());
}
