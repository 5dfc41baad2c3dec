//! The native owner index: on a store that tags keys with owners
//! ([`OwnedKeys`](satchel_store::OwnedKeys): SQL tables, Redis on one server), every session
//! record is written tagged with its owner in the same atomic write, so an owner's
//! sessions are listed by the store and "log out everywhere" is one operation of the
//! backend (one `DELETE`, one script). Other stores keep the generic index (`owners`).
//!
//! An index of the generic form left by an earlier version (or by this one before the
//! store had the capability) is still honoured: listed, pruned and deleted along with the
//! tagged sessions, and emptied as its sessions are saved, rotated or deleted.

use super::*;

impl<S, K> Sessions<S, K>
where
    S: StoreObject + ?Sized + 'static,
    K: ValueCodec + Clone + 'static,
{
    /// Whether sessions use the native owner index of the store.
    pub(super) fn native_owners(&self) -> bool {
        self.shared.native_owners
    }

    /// Writes a session record (or a rotation's marker) under `key`, tagged with `owner`
    /// where the store keeps owner tags.
    pub(super) async fn write(
        &self,
        key: &str,
        bytes: &[u8],
        ttl: Option<Duration>,
        condition: Condition,
        owner: Option<&str>,
    ) -> Result<Version, StoreError> {
        let store = &self.shared.store;
        if !self.native_owners() {
            return store.set(key, bytes, ttl, condition).await;
        }
        match store.try_set_owned(key, bytes, ttl, condition, owner) {
            Some(write) => write.await,
            // The store stopped reporting the capability it had: writing untagged would
            // hide the session from its owner.
            None => Err(satchel_store::unsupported(
                store.backend(),
                "tag keys with owners any more",
            )),
        }
    }

    /// The keys the store lists under `owner` (native form only).
    pub(super) async fn tagged_keys(&self, owner: &str) -> Result<Vec<SessionKey>, StoreError> {
        let store = &self.shared.store;
        match store.try_keys_of(owner) {
            Some(keys) => Ok(keys.await?.into_iter().map(SessionKey).collect()),
            None => Err(satchel_store::unsupported(
                store.backend(),
                "list the keys of an owner any more",
            )),
        }
    }

    /// Deletes every session tagged with `owner` in one operation of the store (native
    /// form only).
    pub(super) async fn delete_tagged(&self, owner: &str) -> Result<usize, StoreError> {
        let store = &self.shared.store;
        match store.try_delete_owner(owner) {
            Some(deleted) => Ok(usize::try_from(deleted.await?).unwrap_or(usize::MAX)),
            None => Err(satchel_store::unsupported(
                store.backend(),
                "delete the keys of an owner any more",
            )),
        }
    }
}
