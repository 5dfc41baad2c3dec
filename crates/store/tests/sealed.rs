//! Sealed values through `CodecStore`: bound to their key at rest, under every `Prefixed`.

use std::sync::Arc;

use satchel::seal::KeyRing;
use satchel::{Codec, Zstd};
use satchel_store::{CodecExt, Condition, MemoryStore, Prefixed, Store, StoreErrorKind};

#[tokio::test]
async fn sealed_values_open_only_under_their_key_at_rest() {
    let keys = Arc::new(KeyRing::generate(1).unwrap());
    let codec = Codec::json().compress(Zstd).seal(keys);
    let memory = Arc::new(MemoryStore::new());
    let carts = codec.clone().wrap(Prefixed::new(memory.clone(), "cart:"));
    carts.set("ann", &vec![7, 9], None).await.unwrap();
    assert_eq!(carts.get::<Vec<u32>>("ann").await.unwrap().unwrap(), [7, 9]);

    // One user's value pasted under another's key does not open.
    let stolen = memory.get("cart:ann").await.unwrap().unwrap().value;
    memory
        .set("cart:bob", &stolen, None, Condition::Always)
        .await
        .unwrap();
    let err = carts.get::<Vec<u32>>("bob").await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
    assert_eq!(err.key(), Some("bob"));
    assert!(err.to_string().contains("does not open"), "{err}");

    // The bound key is the one at rest: a handle without the prefix, or with it split in
    // two, reads the same value.
    let whole = codec.clone().wrap(memory.clone());
    assert_eq!(
        whole.get::<Vec<u32>>("cart:ann").await.unwrap().unwrap(),
        [7, 9]
    );
    let nested = codec.wrap(Prefixed::new(Prefixed::new(memory.clone(), "ca"), "rt:"));
    assert_eq!(
        nested.get::<Vec<u32>>("ann").await.unwrap().unwrap(),
        [7, 9]
    );

    // A value written without the seal is refused, not trusted.
    Codec::json()
        .compress(Zstd)
        .wrap(memory.clone())
        .set("cart:eve", &vec![1], None)
        .await
        .unwrap();
    let err = carts.get::<Vec<u32>>("eve").await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Codec, "{err}");
    assert!(err.to_string().contains("not sealed"), "{err}");
}

#[tokio::test]
async fn a_key_missing_from_the_ring_is_named() {
    let memory = Arc::new(MemoryStore::new());
    let old = Codec::json().seal(Arc::new(KeyRing::generate(1).unwrap()));
    old.wrap(memory.clone()).set("k", &1, None).await.unwrap();
    let new = Codec::json().seal(Arc::new(KeyRing::generate(2).unwrap()));
    let err = new.wrap(memory).get::<u32>("k").await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Codec, "{err}");
    assert!(err.to_string().contains("key id 1"), "{err}");
}
