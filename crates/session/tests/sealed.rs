//! Sealed sessions: a record opens only under its own session's key.

use std::sync::Arc;

use satchel::seal::KeyRing;
use satchel::{Codec, Zstd};
use satchel_session::{SessionConfig, Sessions};
use satchel_store::{Condition, MemoryStore, Store, StoreErrorKind};

#[tokio::test]
async fn a_sealed_session_pasted_under_another_id_does_not_open() {
    let memory = Arc::new(MemoryStore::new());
    let keys = Arc::new(KeyRing::generate(3).unwrap());
    let sessions = Sessions::new(
        memory.clone(),
        Codec::json().compress(Zstd).seal(keys),
        SessionConfig::default().with_key_prefix("sealed:"),
    );
    let mut ann = sessions.create();
    ann.insert("user", &"ann").unwrap();
    ann.set_owner(Some("ann"));
    ann.save().await.unwrap();
    let mut bob = sessions.create();
    bob.insert("user", &"bob").unwrap();
    bob.save().await.unwrap();
    let (ann_id, bob_id) = (ann.id().unwrap().clone(), bob.id().unwrap().clone());

    let read = sessions.connect(ann_id.as_str()).await.unwrap();
    assert_eq!(read.get::<String>("user").unwrap().unwrap(), "ann");
    // Rotating the id re-seals the record under its new key.
    let mut read = read;
    read.cycle_id().await.unwrap();
    let cycled = read.id().unwrap().clone();
    let again = sessions.connect(cycled.as_str()).await.unwrap();
    assert_eq!(again.get::<String>("user").unwrap().unwrap(), "ann");

    let ann_key = format!("sealed:{}", sessions.key_of(&cycled));
    let bob_key = format!("sealed:{}", sessions.key_of(&bob_id));
    let stolen = memory.get(&ann_key).await.unwrap().unwrap().value;
    memory
        .set(&bob_key, &stolen, None, Condition::Always)
        .await
        .unwrap();
    let err = sessions.connect(bob_id.as_str()).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
}
