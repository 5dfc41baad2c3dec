//! Typed access through `CodecStore`: corrupt values, other pipelines' values, and no lost
//! update under concurrent `update`s.

use std::sync::Arc;

use satchel::Codec;
use satchel_store::{CodecExt, Condition, Prefixed, Store, StoreErrorKind, StoreObject};

use super::{cleanup, scoped, unique_prefix};

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
