//! [`Session::cycle_id`]: a new id for a session, without reviving it and without losing a
//! concurrent save.
//!
//! Rotation claims the old key first, with a compare-and-set at the version the handle
//! loaded: it writes an empty marker there, which every reader takes for "gone". So a
//! session deleted, expired, logged out or saved by someone else since the handle loaded it
//! is never rotated, and a save racing with the rotation either lands first (and the
//! rotation is refused) or finds the version changed (and is refused). Then the session is
//! written under a fresh id, listed under its owner in place of the old id (refused if a
//! "log out everywhere" took the old id out meanwhile), and the old key removed. With the
//! native owner index (`tags`) the marker and the new session carry their owner's tag, and
//! the rotation is refused if the marker is gone before it removes it.

use super::*;

/// What a rotation leaves under the old key until it removes it.
pub(super) const MOVED: &[u8] = b"";

impl<S, K> Session<S, K>
where
    S: StoreObject + ?Sized + 'static,
    K: ValueCodec + Clone + 'static,
{
    /// Gives the session a new id, keeping its data (do this when a user logs in): the
    /// session is saved under the new id, pending changes included, and the old id is
    /// deleted. A session never saved is simply saved (it gets its first id).
    ///
    /// # Errors
    /// [`StoreErrorKind::NotFound`] if the session was deleted, expired or logged out
    /// ([`Sessions::delete_owner`]) since it was loaded, or is past its absolute timeout;
    /// [`StoreErrorKind::Conflict`] if another handle saved it since it was loaded (reload
    /// it and rotate again); codec and store errors. On every error the handle keeps its
    /// old id and nothing is revived.
    pub async fn cycle_id(&mut self) -> Result<(), StoreError> {
        let (Some(old), Some(version)) = (self.id.clone(), self.version) else {
            return self.save().await;
        };
        let shared = self.sessions.shared.clone();
        let store = &shared.store;
        let ttl = self.ttl()?;
        let old_key = self.sessions.key(&old);
        // The marker keeps the old owner's tag: a "log out everywhere" meanwhile removes it.
        let was = self.saved.owner.as_deref();
        let claimed = match self
            .sessions
            .write(
                &old_key,
                MOVED,
                Some(ttl),
                Condition::IfVersion(version),
                was,
            )
            .await
        {
            Ok(v) => v,
            Err(e) if e.is_conflict() => return Err(self.refused(&old, &old_key, e).await),
            Err(e) => return Err(e),
        };
        let result = self.move_to_new_id(&old, claimed, ttl).await;
        let Err(e) = result else {
            // Only the marker, at the version the claim wrote (compare-and-delete); it
            // expires by itself if this fails.
            if let Err(e) = store.delete_if(&old_key, claimed).await {
                tracing::warn!(session = %short(&old), error = %e,
                    "the old key of a rotated session could not be removed; it expires by itself");
            }
            if let Some(ka) = self.keep_alive.take() {
                drop(ka);
                self.open()?;
            }
            return Ok(());
        };
        // Put the old session back as it was, unless it was logged out meanwhile.
        if !e.is_not_found() {
            let restored = match self.sessions.encode_record(&self.saved, &old_key) {
                Ok(bytes) => self
                    .sessions
                    .write(
                        &old_key,
                        &bytes,
                        Some(ttl),
                        Condition::IfVersion(claimed),
                        self.saved.owner.as_deref(),
                    )
                    .await
                    .map(|v| self.version = Some(v)),
                Err(c) => Err(c),
            };
            if let Err(r) = restored {
                tracing::error!(session = %short(&old), error = %r,
                    "a failed rotation could not restore the session");
            }
        } else if let Err(d) = store.delete_if(&old_key, claimed).await {
            tracing::warn!(session = %short(&old), error = %d,
                "the old key of a logged-out session could not be removed; it expires by itself");
        }
        Err(e)
    }

    /// Writes the session under a fresh id and lists it in place of `old` (claimed at
    /// version `claimed`).
    async fn move_to_new_id(
        &mut self,
        old: &SessionId,
        claimed: Version,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let shared = self.sessions.shared.clone();
        let store = &shared.store;
        let mut attempts = shared.config.retry_policy.attempts();
        let (new, new_key, version) = loop {
            let new = SessionId::generate()?;
            let new_key = self.sessions.key(&new);
            // Encoded for its key: a sealed record opens under that key only.
            let bytes = self.sessions.encode_record(&self.record, &new_key)?;
            let owner = self.record.owner.as_deref();
            match self
                .sessions
                .write(&new_key, &bytes, Some(ttl), Condition::IfAbsent, owner)
                .await
            {
                Ok(v) => break (new, new_key, v),
                // A fresh id collided (2^-128): draw another.
                Err(e) if e.is_conflict() => attempts.after_conflict(e).await?,
                Err(e) => return Err(e),
            }
        };
        if let Err(e) = self.relist(old, claimed, &new, ttl).await {
            // Only what this rotation wrote (compare-and-delete).
            if let Err(d) = store.delete_if(&new_key, version).await {
                tracing::error!(session = %short(&new), error = %d,
                    "a failed rotation could not remove the new session");
            }
            return Err(e);
        }
        self.id = Some(new);
        self.version = Some(version);
        self.saved = self.record.clone();
        Ok(())
    }

    /// Lists `new` in place of `old` under the owner(s). With an unchanged owner this is
    /// one compare-and-set, refused if `old` is no longer listed (logged out meanwhile).
    ///
    /// Natively `new` was tagged as it was written; what is left is to make sure `old` was
    /// not logged out meanwhile: its marker (tagged with the old owner) must still be there
    /// at `claimed`, and it is removed by compare-and-delete. Once it is gone, a "log out
    /// everywhere" that deleted it ran before `new` was written, or after, and then
    /// deleted `new` too.
    async fn relist(
        &self,
        old: &SessionId,
        claimed: Version,
        new: &SessionId,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let sessions = &self.sessions;
        let (was, is) = (self.saved.owner.as_deref(), self.record.owner.as_deref());
        if sessions.native_owners() {
            // An index of the generic form may still list the old id.
            sessions.unindex(was, old).await?;
            let old_key = sessions.key(old);
            if !sessions.shared.store.delete_if(&old_key, claimed).await? {
                return Err(StoreError::new(
                    StoreErrorKind::NotFound,
                    format!(
                        "session {} was logged out or expired while it was given a new id",
                        short(old)
                    ),
                ));
            }
            return Ok(());
        }
        match (was, is) {
            (Some(a), Some(b)) if a == b => {
                let hint = sessions.fresh_hint(ttl);
                sessions
                    .edit_index(a, false, &mut |index| {
                        let listed = index.remove(&sessions.key(old));
                        if listed.or(index.remove(old.as_str())).is_none() {
                            return Err(StoreError::new(
                                StoreErrorKind::NotFound,
                                format!(
                                    "session {} was logged out while it was given a new id",
                                    short(old)
                                ),
                            ));
                        }
                        index.insert(sessions.key(new), hint);
                        Ok(())
                    })
                    .await
                    .map(drop)
            }
            _ => {
                sessions.index(is, new, ttl).await?;
                sessions.unindex(was, old).await
            }
        }
    }

    /// The error for a refused claim of `key`: gone, or saved by someone else.
    pub(super) async fn refused(&self, id: &SessionId, key: &str, lost: StoreError) -> StoreError {
        let store_key = self.sessions.store_key(key);
        match self.sessions.shared.store.get(key).await {
            Ok(Some(e)) if e.value != MOVED => StoreError::new(
                StoreErrorKind::Conflict,
                format!(
                    "session {} was saved by another handle since it was loaded: reload it",
                    short(id)
                ),
            )
            .with_key(store_key)
            .with_source(lost),
            Ok(_) => StoreError::new(
                StoreErrorKind::NotFound,
                format!(
                    "session {} was deleted, expired or logged out since it was loaded",
                    short(id)
                ),
            )
            .with_key(store_key),
            Err(e) => e,
        }
    }
}
