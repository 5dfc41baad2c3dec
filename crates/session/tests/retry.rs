//! A merging save retries as its `SessionConfig::retry_policy` says.

use std::sync::Arc;
use std::time::Duration;

use satchel::Codec;
use satchel_session::{SessionConfig, Sessions};
use satchel_store::{MemoryStore, RetryPolicy, StoreErrorKind};

async fn lost_race(policy: RetryPolicy) -> Result<(), satchel_store::StoreError> {
    let sessions = Sessions::new(
        Arc::new(MemoryStore::new()),
        Codec::json(),
        SessionConfig::default().with_retry_policy(policy),
    );
    let mut a = sessions.create();
    a.insert("n", &1)?;
    a.save().await?;
    let id = a.id().unwrap().to_string();
    let mut b = sessions.connect(&id).await?;
    a.insert("n", &2)?;
    a.save().await?;
    b.insert("theme", &"dark")?;
    // b's first attempt loses to a; merging needs a second attempt.
    b.save_merging().await
}

#[tokio::test]
async fn merging_save_follows_the_configured_retry_policy() {
    let no_backoff = |n| RetryPolicy::new(n).with_backoff(Duration::ZERO, Duration::ZERO);
    let err = lost_race(no_backoff(1)).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Conflict, "{err}");
    assert!(err.to_string().contains("after 1 attempts"), "{err}");
    lost_race(no_backoff(2)).await.unwrap();
    assert_eq!(
        SessionConfig::default().retry_policy,
        RetryPolicy::default()
    );
}
