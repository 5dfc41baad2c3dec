//! Saving a session: compare-and-set, merging on conflict, new ids, deletion.

use super::*;

impl<S, K> Session<S, K>
where
    S: StoreObject + ?Sized + 'static,
    K: ValueCodec + Clone + 'static,
{
    pub(super) fn ttl(&self) -> Result<Duration, StoreError> {
        let config = &self.sessions.shared.config;
        let mut ttl = config.idle_timeout;
        if let Some(abs) = config.absolute_timeout {
            let left = self.record.created_ms.saturating_add(millis(abs)) - now_ms();
            if left <= 0 {
                return Err(StoreError::new(
                    StoreErrorKind::NotFound,
                    "the session is past its absolute timeout",
                ));
            }
            ttl = ttl.min(Duration::from_millis(left as u64));
        }
        Ok(ttl)
    }

    /// Writes the session, assigning an id on the first save. Fails rather than overwrite
    /// a version saved by someone else since this one was loaded.
    ///
    /// # Errors
    /// [`StoreErrorKind::Conflict`] if another handle saved the session since it was
    /// loaded (re-connect, or use [`Session::save_merging`]); [`StoreErrorKind::NotFound`]
    /// if it was deleted or expired meanwhile, or is past its absolute timeout; codec and
    /// store errors.
    pub async fn save(&mut self) -> Result<(), StoreError> {
        self.save_inner(false).await
    }

    /// Like [`Session::save`], but on a conflict merges: the stored session is re-read and
    /// this handle's changes (keys inserted, changed or removed since it was loaded, and
    /// the owner) are applied on top of it, key by key, then saved again.
    ///
    /// # Errors
    /// As [`Session::save`], without conflicts (unless the merge loses every attempt of its
    /// retry policy, 100 by default).
    pub async fn save_merging(&mut self) -> Result<(), StoreError> {
        self.save_inner(true).await
    }

    pub(super) async fn save_inner(&mut self, merge: bool) -> Result<(), StoreError> {
        let shared = self.sessions.shared.clone();
        let mut attempts = shared.config.retry_policy.attempts();
        loop {
            let ttl = self.ttl()?;
            let (id, condition) = match (&self.id, self.version) {
                (Some(id), Some(v)) => (id.clone(), Condition::IfVersion(v)),
                (Some(id), None) => (id.clone(), Condition::IfAbsent),
                (None, _) => (SessionId::generate()?, Condition::IfAbsent),
            };
            let key = self.sessions.key(&id);
            let bytes = self.sessions.encode_record(&self.record, &key)?;
            let owner = self.record.owner.as_deref();
            match self
                .sessions
                .write(&key, &bytes, Some(ttl), condition, owner)
                .await
            {
                Ok(version) => {
                    let new = self.id.is_none();
                    self.list_written(&id, &key, version, new, ttl).await?;
                    let old_owner = self.saved.owner.take();
                    self.id = Some(id.clone());
                    self.version = Some(version);
                    self.saved = self.record.clone();
                    if !new && old_owner != self.record.owner {
                        self.sessions.unindex(old_owner.as_deref(), &id).await?;
                    }
                    return Ok(());
                }
                // A fresh id collided (2^-128): draw another.
                Err(e) if e.is_conflict() && self.id.is_none() => {
                    attempts.after_conflict(e).await?;
                }
                Err(e) if e.is_conflict() => {
                    // A merging save backs off before it re-reads, so that it merges onto
                    // the freshest value.
                    let lost = if merge {
                        attempts.after_conflict(e).await?;
                        None
                    } else {
                        Some(e)
                    };
                    let theirs = match self.sessions.connect(id.as_str()).await {
                        Ok(theirs) => theirs,
                        Err(nf) if nf.is_not_found() => {
                            return Err(StoreError::new(
                                StoreErrorKind::NotFound,
                                format!(
                                    "session {} was deleted or expired since it was loaded",
                                    short(&id)
                                ),
                            )
                            .with_key(self.sessions.store_key(&key)));
                        }
                        Err(other) => return Err(other),
                    };
                    if let Some(e) = lost {
                        return Err(StoreError::new(
                            StoreErrorKind::Conflict,
                            format!(
                                "session {} was saved by another handle since it was loaded: \
                                 reload it, or save with save_merging",
                                short(&id)
                            ),
                        )
                        .with_key(self.sessions.store_key(&key))
                        .with_source(e));
                    }
                    self.merge_onto(theirs);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Lists a session just written at `version` under its owner when it is new or its
    /// owner changed. If that fails the write is undone (a new session is deleted, a
    /// changed one is put back as it was), so that no live session is missing from its
    /// owner's index.
    async fn list_written(
        &self,
        id: &SessionId,
        key: &str,
        version: Version,
        new: bool,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let owner = self.record.owner.as_deref();
        if owner.is_none() || !(new || self.saved.owner != self.record.owner) {
            return Ok(());
        }
        let Err(e) = self.sessions.index(owner, id, ttl).await else {
            return Ok(());
        };
        let store = &self.sessions.shared.store;
        let undone = if new {
            // Only the version written here (compare-and-delete).
            store.delete_if(key, version).await.map(drop)
        } else {
            match self.sessions.encode_record(&self.saved, key) {
                Ok(bytes) => self
                    .sessions
                    .write(
                        key,
                        &bytes,
                        Some(ttl),
                        Condition::IfVersion(version),
                        self.saved.owner.as_deref(),
                    )
                    .await
                    .map(drop),
                Err(c) => Err(c),
            }
        };
        if let Err(u) = undone {
            tracing::error!(session = %short(id), error = %u,
                "a session could not be listed under its owner nor be undone");
        }
        Err(e)
    }

    pub(super) fn merge_onto(&mut self, theirs: Session<S, K>) {
        let mut merged = theirs.record.clone();
        let keys: BTreeSet<&String> = self
            .record
            .data
            .keys()
            .chain(self.saved.data.keys())
            .collect();
        for key in keys {
            let mine = self.record.data.get(key);
            if mine != self.saved.data.get(key) {
                match mine {
                    Some(v) => merged.data.insert(key.clone(), v.clone()),
                    None => merged.data.remove(key),
                };
                match self.record.formats.get(key) {
                    Some(&f) => merged.formats.insert(key.clone(), f),
                    None => merged.formats.remove(key),
                };
            }
        }
        if self.record.owner != self.saved.owner {
            merged.owner.clone_from(&self.record.owner);
        }
        self.saved = theirs.record;
        self.version = theirs.version;
        self.record = merged;
    }

    /// Deletes the session from the store.
    ///
    /// # Errors
    /// Store errors.
    pub async fn delete(mut self) -> Result<bool, StoreError> {
        self.close();
        match &self.id {
            Some(id) => {
                // Unconditional on purpose: deleting (logging out) removes the session
                // whatever another handle saved since this one loaded it.
                let existed = self
                    .sessions
                    .shared
                    .store
                    .delete(&self.sessions.key(id))
                    .await?;
                self.sessions
                    .unindex(self.saved.owner.as_deref(), id)
                    .await?;
                Ok(existed)
            }
            None => Ok(false),
        }
    }
}
