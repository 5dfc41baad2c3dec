//! Session behaviours that broke once (issue 15, "Trust"), each named after what broke.

use super::*;

/// `cycle_id` revived sessions: a handle loaded before "log out everywhere", or whose
/// session idle-expired, could rotate it back to life; a rotation could drop a save made
/// by another handle meanwhile. Rotation now refuses all three.
pub async fn regression_cycle_id_revives<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    let sessions = Sessions::new(
        store.clone(),
        Codec::json(),
        config(&format!("{name}-revive")).with_idle_timeout(Duration::from_millis(400)),
    );
    // Logged out everywhere.
    let mut s = sessions.create();
    s.set_owner(Some("ann"));
    s.insert("k", &1).unwrap();
    s.save().await.unwrap();
    let old = s.id().unwrap().clone();
    assert_eq!(sessions.delete_owner("ann").await.unwrap(), 1, "{name}");
    let err = s.cycle_id().await.unwrap_err();
    assert!(
        err.is_not_found(),
        "{name}: rotated a logged-out session: {err}"
    );
    assert_eq!(
        s.id(),
        Some(&old),
        "{name}: a refused rotation keeps the old id"
    );
    assert!(
        sessions.sessions_of("ann").await.unwrap().is_empty(),
        "{name}"
    );
    assert!(
        sessions
            .connect(old.as_str())
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Idle-expired.
    let mut s = sessions.create();
    s.insert("k", &1).unwrap();
    s.save().await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let err = s.cycle_id().await.unwrap_err();
    assert!(
        err.is_not_found(),
        "{name}: rotated an expired session: {err}"
    );

    // Saved by another handle since: that save is kept, the rotation refused.
    let mut a = sessions.create();
    a.insert("k", &1).unwrap();
    a.save().await.unwrap();
    let id = a.id().unwrap().to_string();
    let mut b = sessions.connect(&id).await.unwrap();
    b.insert("k", &2).unwrap();
    b.save().await.unwrap();
    let err = a.cycle_id().await.unwrap_err();
    assert!(
        err.is_conflict(),
        "{name}: rotated over a newer save: {err}"
    );
    let kept = sessions.connect(&id).await.unwrap();
    assert_eq!(
        kept.get::<i32>("k").unwrap(),
        Some(2),
        "{name}: lost a save"
    );
    // A reloaded handle rotates, and the old id is gone.
    let mut c = sessions.connect(&id).await.unwrap();
    c.cycle_id().await.unwrap();
    assert!(sessions.connect(&id).await.unwrap_err().is_not_found());
    assert_eq!(
        sessions
            .connect(c.id().unwrap().as_str())
            .await
            .unwrap()
            .get::<i32>("k")
            .unwrap(),
        Some(2)
    );
    c.delete().await.unwrap();
}

/// A codec change stranded every session: a session written through one pipeline could not
/// be read through another. Now it is read in whatever pipeline wrote it (values included),
/// written in the configured one, and still read right by the first.
pub async fn regression_a_codec_change_strands_every_session<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    let prefix = unique_prefix(&format!("{name}-codecs"));
    let through = |spec: &str| {
        let codec: DynCodec = spec.parse().expect("a known pipeline");
        Sessions::new(
            store.clone(),
            codec,
            SessionConfig::default().with_key_prefix(prefix.clone()),
        )
    };
    for (first, then, third) in [
        ("json", "msgpack+zstd", "bincode+lz4"),
        ("msgpack+zstd", "bincode+lz4", "json"),
        ("bincode+lz4", "json", "msgpack+zstd"),
    ] {
        let (a, b, c) = (through(first), through(then), through(third));
        let mut s = a.create();
        s.set_owner(Some("carol"));
        s.insert("cart", &cart()).unwrap();
        s.insert("visits", &3u64).unwrap();
        s.save().await.unwrap();
        let id = s.id().unwrap().to_string();

        let mut moved = b
            .connect(&id)
            .await
            .unwrap_or_else(|e| panic!("{name}: {then} cannot read a session {first} wrote: {e}"));
        assert_eq!(
            moved.get::<Cart>("cart").unwrap(),
            Some(cart()),
            "{name} {first}->{then}"
        );
        moved.insert("visits", &4u64).unwrap();
        moved.insert("theme", "dark").unwrap();
        moved.save().await.unwrap();

        for (spec, sessions) in [(first, &a), (then, &b), (third, &c)] {
            let read = sessions.connect(&id).await.unwrap_or_else(|e| {
                panic!("{name}: {spec} cannot read a session {first} then {then} wrote: {e}")
            });
            let what = format!("{name}: {first} then {then}, read by {spec}");
            assert_eq!(read.get::<Cart>("cart").unwrap(), Some(cart()), "{what}");
            assert_eq!(read.get::<u64>("visits").unwrap(), Some(4), "{what}");
            assert_eq!(
                read.get::<String>("theme").unwrap().as_deref(),
                Some("dark"),
                "{what}"
            );
            assert_eq!(
                read.keys().collect::<Vec<_>>(),
                ["cart", "theme", "visits"],
                "{what}"
            );
        }
        assert_eq!(
            c.sessions_of("carol").await.unwrap().len(),
            1,
            "{name}: index read by {third}"
        );
        assert_eq!(c.delete_owner("carol").await.unwrap(), 1, "{name}");
    }
}

/// Ids at rest: a dump of the store (or `satchel ls`) gave ids usable as cookies. The store
/// now holds a hash of each id, in session keys and owner indexes alike; a session 0.1
/// kept under its id is still read, and moved; errors name no full id.
pub async fn regression_ids_at_rest<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    let prefix = unique_prefix(&format!("{name}-at-rest"));
    let sessions = Sessions::new(
        store.clone(),
        Codec::json(),
        SessionConfig::default().with_key_prefix(prefix.clone()),
    );
    let mut s = sessions.create();
    s.set_owner(Some("dora"));
    s.insert("k", &1).unwrap();
    s.save().await.unwrap();
    let id = s.id().unwrap().clone();
    let key = format!("{prefix}{}", sessions.key_of(&id));
    assert!(!key.contains(id.as_str()));
    assert!(
        store.get(&key).await.unwrap().is_some(),
        "{name}: kept under its hash"
    );
    assert!(
        store.get(&format!("{prefix}{id}")).await.unwrap().is_none(),
        "{name}"
    );
    match store.try_keys_of(&format!("{prefix}dora")) {
        // The native owner index lists the store key, which holds no id.
        Some(tagged) => assert_eq!(tagged.await.unwrap(), std::slice::from_ref(&key), "{name}"),
        None => {
            let index = store
                .get(&format!("{prefix}owner:dora"))
                .await
                .unwrap()
                .unwrap();
            assert!(
                !String::from_utf8_lossy(&index.value).contains(id.as_str()),
                "{name}: the owner index holds the id"
            );
        }
    }
    if let Some(scan) = store.try_scan(&prefix, 100) {
        let keys = scan.await.unwrap();
        assert!(!keys.is_empty(), "{name}: the scan sees the session");
        for k in keys {
            assert!(
                !k.contains(id.as_str()),
                "{name}: store key `{k}` holds the id"
            );
        }
    }

    // An error about the session names no full id.
    let mut stale = sessions.connect(id.as_str()).await.unwrap();
    s.insert("k", &2).unwrap();
    s.save().await.unwrap();
    stale.insert("k", &3).unwrap();
    let err = stale.save().await.unwrap_err();
    assert!(err.is_conflict(), "{name}: {err}");
    assert!(
        !format!("{err} {err:?}").contains(id.as_str()),
        "{name}: `{err}` holds the id"
    );
    store
        .set(&key, b"\xC1 not a record", None, Condition::Always)
        .await
        .unwrap();
    let err = sessions.connect(id.as_str()).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{name}: {err}");
    assert!(
        !format!("{err} {err:?}").contains(id.as_str()),
        "{name}: `{err}` holds the id"
    );
    assert!(store.delete(&key).await.unwrap());
    assert_eq!(sessions.delete_owner("dora").await.unwrap(), 0, "{name}");

    // A session as 0.1 kept it: under its id, listed by id in a plain set.
    let mut old = sessions.create();
    old.insert("cart", &cart()).unwrap();
    old.set_owner(Some("eve"));
    old.save().await.unwrap();
    let old_id = old.id().unwrap().clone();
    let hashed = format!("{prefix}{}", sessions.key_of(&old_id));
    let bytes = store.get(&hashed).await.unwrap().unwrap().value;
    assert!(store.delete(&hashed).await.unwrap());
    let legacy = format!("{prefix}{old_id}");
    store
        .set(
            &legacy,
            &bytes,
            Some(Duration::from_secs(600)),
            Condition::Always,
        )
        .await
        .unwrap();
    let set: std::collections::BTreeSet<String> = [old_id.to_string()].into();
    store
        .set(
            &format!("{prefix}owner:eve"),
            &Codec::json().encode(&set).unwrap(),
            None,
            Condition::Always,
        )
        .await
        .unwrap();
    assert_eq!(
        sessions.sessions_of("eve").await.unwrap(),
        [sessions.key_of(&old_id)],
        "{name}: a 0.1 index entry is listed"
    );
    let mut read = sessions.connect(old_id.as_str()).await.unwrap();
    assert_eq!(read.get::<Cart>("cart").unwrap(), Some(cart()), "{name}");
    assert!(
        store.get(&legacy).await.unwrap().is_none(),
        "{name}: the 0.1 key stays"
    );
    assert!(
        store.get(&hashed).await.unwrap().is_some(),
        "{name}: not moved"
    );
    let index = store
        .get(&format!("{prefix}owner:eve"))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&index.value).contains(old_id.as_str()),
        "{name}"
    );
    read.insert("k", &5).unwrap();
    read.save().await.unwrap();
    assert_eq!(sessions.delete_owner("eve").await.unwrap(), 1, "{name}");
    assert!(
        sessions
            .connect(old_id.as_str())
            .await
            .unwrap_err()
            .is_not_found()
    );
}
