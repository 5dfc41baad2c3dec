//! Where a session is kept: under a hash of its id, so that the store never holds an id
//! that could be used as a cookie.
//!
//! The key of session `id` is `h_` and the base64url SHA-256 of the id (under
//! [`SessionConfig::key_prefix`]); the owner index lists those keys too. Sessions of 0.1
//! were kept under the id itself: such a key is read once and moved (claimed by
//! compare-and-set, written under the hash, removed), and its index entries are replaced
//! at the next change of the index.

use std::fmt;

use super::*;

/// A session as its store knows it: a hash of its id. Safe to log and to list, useless
/// as a cookie. [`Sessions::sessions_of`] lists these; [`Sessions::key_of`] and
/// [`Session::key`] give the one of a session.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionKey(pub(super) String);

impl SessionKey {
    /// The key under [`SessionConfig::key_prefix`].
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// [`SessionId::stored_key`], the one hash every satchel crate stores sessions under.
    pub(super) fn of(id: &SessionId) -> Self {
        Self(id.stored_key())
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionKey({})", self.0)
    }
}

impl<S, K> Sessions<S, K>
where
    S: StoreObject + ?Sized + 'static,
    K: ValueCodec + Clone + 'static,
{
    /// The key session `id` is kept under (its hash).
    pub fn key_of(&self, id: &SessionId) -> SessionKey {
        SessionKey::of(id)
    }

    /// The key of session `id`, under the prefix.
    pub(super) fn key(&self, id: &SessionId) -> String {
        SessionKey::of(id).0
    }

    /// Where 0.1 kept session `id`: under the id itself.
    pub(super) fn legacy_key(id: &SessionId) -> &str {
        id.as_str()
    }

    /// Moves a session 0.1 kept under its id to its hashed key, and returns it from there;
    /// `None` if there is none.
    pub(super) async fn move_legacy(
        &self,
        id: &SessionId,
    ) -> Result<Option<satchel_store::Entry>, StoreError> {
        let store = &self.shared.store;
        let (old, new) = (Self::legacy_key(id), self.key(id));
        let mut attempts = self.shared.config.retry_policy.attempts();
        loop {
            let Some(entry) = store.get(old).await? else {
                return Ok(None);
            };
            if entry.value == MOVED {
                // Someone else is moving it: read it where it goes.
                attempts
                    .after_conflict(StoreError::new(
                        StoreErrorKind::Conflict,
                        "a session of 0.1 is being moved",
                    ))
                    .await?;
                if let Some(moved) = store.get(&new).await? {
                    return Ok(Some(moved));
                }
                continue;
            }
            let ttl = match entry.expires_at {
                Some(at) => match at.duration_since(SystemTime::now()) {
                    Ok(left) if !left.is_zero() => Some(left),
                    _ => return Ok(None),
                },
                None => None,
            };
            let claim_ttl = ttl.unwrap_or(self.shared.config.idle_timeout);
            let claimed = match store
                .set(
                    old,
                    MOVED,
                    Some(claim_ttl),
                    Condition::IfVersion(entry.version),
                )
                .await
            {
                Ok(claimed) => claimed,
                Err(e) if e.is_conflict() => {
                    attempts.after_conflict(e).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let owner = self
                .decode_record(&entry.value, &new)
                .ok()
                .and_then(|record| record.owner);
            let version = self
                .write(
                    &new,
                    &entry.value,
                    ttl,
                    Condition::IfAbsent,
                    owner.as_deref(),
                )
                .await?;
            if let Some(owner) = owner.as_deref() {
                // Natively the new key carries its tag: the index only loses the old id.
                let native = self.native_owners();
                let hint = self.fresh_hint(claim_ttl);
                self.edit_index(owner, false, &mut |index| {
                    index.remove(id.as_str());
                    if !native {
                        index.insert(new.clone(), hint);
                    }
                    Ok(())
                })
                .await?;
            }
            // Only the claim: anything written there since is not this library's to remove
            // (and the claim expires by itself).
            store.delete_if(old, claimed).await?;
            return Ok(Some(satchel_store::Entry::new(
                entry.value,
                version,
                entry.expires_at,
            )));
        }
    }
}
