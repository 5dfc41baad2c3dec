//! Issue 15, owner index and deletions: session code read a session, then deleted its key
//! unconditionally, deleting whatever was saved in between. It deletes the version it read
//! now (`Store::delete_if`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use satchel_store::{BoxFuture, Entry, Result, Store, Version};

use super::*;

/// A store that, right before the first delete of one key, writes a value there: another
/// writer's save landing between a session's read and its delete.
#[derive(Debug)]
pub struct SaveBeforeDelete<S: ?Sized> {
    inner: Arc<S>,
    planted: Mutex<Option<(String, Vec<u8>)>>,
    fired: AtomicBool,
}

impl<S: StoreObject + ?Sized> SaveBeforeDelete<S> {
    /// `inner`, with nothing planted yet.
    pub fn new(inner: Arc<S>) -> Self {
        Self {
            inner,
            planted: Mutex::new(None),
            fired: AtomicBool::new(false),
        }
    }

    /// Before the next delete (or compare-and-delete) of `key`, write `value` there.
    pub fn plant(&self, key: &str, value: &[u8]) {
        *self.planted.lock().unwrap() = Some((key.to_string(), value.to_vec()));
    }

    /// Whether the planted write happened.
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    async fn before_delete(&self, key: &str) -> Result<()> {
        let planted = {
            let mut planted = self.planted.lock().unwrap();
            match planted.as_ref() {
                Some((k, _)) if k == key => planted.take(),
                _ => None,
            }
        };
        if let Some((key, value)) = planted {
            let ttl = Some(Duration::from_secs(600));
            self.inner.set(&key, &value, ttl, Condition::Always).await?;
            self.fired.store(true, Ordering::SeqCst);
        }
        Ok(())
    }
}

impl<S: StoreObject + ?Sized> Store for SaveBeforeDelete<S> {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
        self.inner.get(key)
    }
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
    ) -> BoxFuture<'a, Result<Version>> {
        self.inner.set(key, value, ttl, condition)
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            self.before_delete(key).await?;
            self.inner.delete(key).await
        })
    }
    fn delete_if<'a>(&'a self, key: &'a str, version: Version) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            self.before_delete(key).await?;
            self.inner.delete_if(key, version).await
        })
    }
    fn touch<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        self.inner.touch(key, ttl)
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
}

/// No optional capability (the session code uses the generic owner index here).
impl<S: StoreObject + ?Sized> StoreObject for SaveBeforeDelete<S> {
    fn try_scan_page<'a>(
        &'a self,
        _prefix: &'a str,
        _cursor: Option<&'a satchel_store::Cursor>,
        _limit: usize,
    ) -> Option<BoxFuture<'a, Result<satchel_store::Page>>> {
        None
    }
    fn try_purge_expired(&self) -> Option<BoxFuture<'_, Result<u64>>> {
        None
    }
    fn try_set_owned<'a>(
        &'a self,
        _key: &'a str,
        _value: &'a [u8],
        _ttl: Option<Duration>,
        _condition: Condition,
        _owner: Option<&'a str>,
    ) -> Option<BoxFuture<'a, Result<Version>>> {
        None
    }
    fn try_keys_of<'a>(&'a self, _owner: &'a str) -> Option<BoxFuture<'a, Result<Vec<String>>>> {
        None
    }
    fn try_delete_owner<'a>(&'a self, _owner: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
        None
    }
}

/// Purging a record that does not decode deleted its key after reading it, so a valid
/// session saved in between was deleted too. The purge deletes the version it read only:
/// the session saved in between is read again and returned.
pub async fn regression_purge_never_deletes_a_session_saved_after_its_read<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    let racing = Arc::new(SaveBeforeDelete::new(store.clone()));
    let prefix = unique_prefix(&format!("{name}-purge-race"));
    let sessions = Sessions::new(
        racing.clone(),
        Codec::json(),
        SessionConfig::default()
            .with_key_prefix(prefix.clone())
            .with_purge_corrupt(true),
    );
    let mut s = sessions.create();
    s.insert("k", &1).unwrap();
    s.save().await.unwrap();
    let id = s.id().unwrap().clone();
    let key = format!("{prefix}{}", sessions.key_of(&id));
    let good = store.get(&key).await.unwrap().unwrap().value;
    store
        .set(&key, b"\xC1 not a record", None, Condition::Always)
        .await
        .unwrap();
    // The good record is saved again between the purge's read and its delete.
    racing.plant(&key, &good);
    let read = sessions
        .connect(id.as_str())
        .await
        .unwrap_or_else(|e| panic!("{name}: the session saved meanwhile is lost: {e}"));
    assert!(racing.fired(), "{name}: the purge never deleted");
    assert_eq!(read.get::<i32>("k").unwrap(), Some(1), "{name}");
    assert_eq!(
        store.get(&key).await.unwrap().map(|e| e.value),
        Some(good),
        "{name}: the purge deleted a session saved after its read"
    );

    // Without a save in between, a corrupt record is still purged.
    store
        .set(&key, b"\xC1 not a record", None, Condition::Always)
        .await
        .unwrap();
    assert!(
        sessions
            .connect(id.as_str())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(store.get(&key).await.unwrap().is_none(), "{name}");
}
