//! The owner index, generic form: which sessions an owner has, kept under its own key and
//! changed only with compare-and-set. Stores that tag keys with owners use their own
//! index instead (`tags`); an index of this form left there is still honoured.
//!
//! The index maps each id to a hint of when its session may have expired (Unix ms). Every
//! change of the index also drops the ids whose hint has passed and whose session is gone,
//! so the index stays as small as the owner's live sessions. The order of writes keeps it
//! complete: a session is written first and listed right after (a failed listing deletes
//! the session again), and "log out everywhere" takes ids out of the index before it deletes
//! their sessions. A
//! removal never deletes the index key (a concurrent login could be listed meanwhile): it
//! writes the smaller index at the version it read.

use super::*;

/// Session keys (hashed ids; ids in a 0.1 index) by the Unix millisecond after which their session may have expired.
pub(super) type Index = BTreeMap<String, i64>;

/// Whether an index change may go ahead: `Err` aborts it without writing.
pub(super) type Edit<'a> = dyn FnMut(&mut Index) -> Result<(), StoreError> + Send + 'a;

impl<S, K> Sessions<S, K>
where
    S: StoreObject + ?Sized + 'static,
    K: ValueCodec + Clone + 'static,
{
    /// The live sessions of `owner`. On a store that tags keys with owners
    /// ([`Capabilities::owned_keys`](satchel_store::Capabilities::owned_keys): SQL tables, Redis on one server)
    /// the store lists them; elsewhere the generic index does, and ids of sessions that
    /// expired or were deleted are dropped from it on the way (with compare-and-set).
    ///
    /// # Errors
    /// Store errors; [`StoreErrorKind::Corrupt`] if the index does not decode.
    pub async fn sessions_of(&self, owner: &str) -> Result<Vec<SessionKey>, StoreError> {
        let index = self.edit_index(owner, true, &mut |_| Ok(())).await?;
        let mut keys = if self.native_owners() {
            self.tagged_keys(owner).await?
        } else {
            Vec::new()
        };
        keys.extend(index.keys().map(|entry| match SessionId::parse(entry) {
            Some(legacy) => SessionKey::of(&legacy),
            None => SessionKey(entry.clone()),
        }));
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// Deletes every session of `owner` ("log out everywhere"). Returns how many there were.
    ///
    /// On a store that tags keys with owners this is one operation of the backend (one
    /// SQL `DELETE … WHERE owner = ?`). Elsewhere it works in rounds
    /// until the owner's generic index is empty: each round takes every listed id out of
    /// the index (compare-and-set) and then deletes those sessions. When it returns,
    /// no session of `owner` that existed when it was called is live, and a handle loaded
    /// before can neither save nor [`Session::cycle_id`] it back.
    ///
    /// # Errors
    /// Store errors; [`StoreErrorKind::Conflict`] if concurrent writers kept the index
    /// changing through every attempt of the retry policy.
    pub async fn delete_owner(&self, owner: &str) -> Result<usize, StoreError> {
        // An index of the generic form first: a session it lists that is saved meanwhile
        // is tagged by that save, and then deleted with the tagged ones.
        let listed = self.delete_indexed(owner).await?;
        if !self.native_owners() {
            return Ok(listed);
        }
        Ok(listed.saturating_add(self.delete_tagged(owner).await?))
    }

    /// [`Sessions::delete_owner`] through the generic index.
    async fn delete_indexed(&self, owner: &str) -> Result<usize, StoreError> {
        let key = self.owner_key(owner);
        let mut attempts = self.shared.config.retry_policy.attempts();
        let mut deleted = 0;
        loop {
            let (index, version) = self.load_index(owner).await?;
            let Some(version) = version.filter(|_| !index.is_empty()) else {
                return Ok(deleted);
            };
            let bytes = self.encode_index(&Index::new(), &key)?;
            let ttl = self.index_ttl();
            match self
                .shared
                .store
                .set(&key, &bytes, ttl, Condition::IfVersion(version))
                .await
            {
                Ok(_) => {}
                Err(e) if e.is_conflict() => {
                    attempts.after_conflict(e).await?;
                    continue;
                }
                Err(e) => return Err(e),
            }
            // Unconditional on purpose: "log out everywhere" removes each session whatever
            // its version (a save since the index was read must not keep it alive).
            for entry in index.keys() {
                let existed = match SessionId::parse(entry) {
                    // A 0.1 entry: the session may not have been moved yet.
                    Some(id) => {
                        let moved = self.shared.store.delete(&self.key(&id)).await?;
                        self.shared.store.delete(Self::legacy_key(&id)).await? || moved
                    }
                    None => self.shared.store.delete(entry).await?,
                };
                if existed {
                    deleted += 1;
                }
            }
        }
    }

    pub(super) async fn load_index(
        &self,
        owner: &str,
    ) -> Result<(Index, Option<Version>), StoreError> {
        let key = self.owner_key(owner);
        let Some(e) = self.shared.store.get(&key).await? else {
            return Ok((Index::new(), None));
        };
        // 0.1 indexes were a plain set of ids: every one is checked at the next change.
        let index = self
            .decode_stored::<Index>(&e.value, &key)
            .map(|(i, _)| i)
            .or_else(|err| {
                self.decode_stored::<BTreeSet<String>>(&e.value, &key)
                    .map(|(set, _)| set.into_iter().map(|id| (id, 0)).collect())
                    .map_err(|_| {
                        StoreError::new(
                            StoreErrorKind::Corrupt,
                            format!("the session index of owner `{owner}` does not decode"),
                        )
                        .with_key(self.store_key(&key))
                        .with_source(err)
                    })
            })?;
        Ok((index, Some(e.version)))
    }

    fn encode_index(&self, index: &Index, key: &str) -> Result<Vec<u8>, StoreError> {
        self.shared
            .codec
            .encode_keyed(index, &self.at_rest(key))
            .map_err(|e| codec_error("the owner index cannot be encoded", e))
    }

    /// The index outlives every session it lists: with an absolute timeout, by that
    /// timeout (plus an idle timeout) from its last change; without one, sessions can be
    /// kept alive forever, and so is the index (pruning keeps it small).
    fn index_ttl(&self) -> Option<Duration> {
        let config = &self.shared.config;
        config
            .absolute_timeout
            .map(|abs| abs.saturating_add(config.idle_timeout))
    }

    /// Applies `edit` to the owner index and prunes it, with compare-and-set, retrying when
    /// another writer wins. Pruning checks the store for ids whose hint has passed (every
    /// id if `check_all`) and drops those whose session is gone. Returns the index as
    /// written (or found, if nothing changed).
    pub(super) async fn edit_index(
        &self,
        owner: &str,
        check_all: bool,
        edit: &mut Edit<'_>,
    ) -> Result<Index, StoreError> {
        let key = self.owner_key(owner);
        let mut attempts = self.shared.config.retry_policy.attempts();
        loop {
            let (mut index, version) = self.load_index(owner).await?;
            let before = index.clone();
            edit(&mut index)?;
            let now = now_ms();
            let mut dead = Vec::new();
            for (id, hint) in &mut index {
                if !check_all && *hint > now {
                    continue;
                }
                let entry = match SessionId::parse(id) {
                    // A 0.1 entry: the session may not have been moved yet.
                    Some(id) => match self.shared.store.get(&self.key(&id)).await? {
                        Some(e) => Some(e),
                        None => self.shared.store.get(Self::legacy_key(&id)).await?,
                    },
                    None => self.shared.store.get(id).await?,
                };
                match entry {
                    // A rotation in progress claims its old key with an empty value.
                    Some(e) => {
                        if *hint <= now {
                            *hint = e.expires_at.map_or(i64::MAX, satchel_store::unix_millis);
                        }
                    }
                    None => dead.push(id.clone()),
                }
            }
            for id in &dead {
                index.remove(id);
            }
            if index == before {
                return Ok(index);
            }
            let bytes = self.encode_index(&index, &key)?;
            let condition = version.map_or(Condition::IfAbsent, Condition::IfVersion);
            match self
                .shared
                .store
                .set(&key, &bytes, self.index_ttl(), condition)
                .await
            {
                Ok(_) => return Ok(index),
                Err(e) if e.is_conflict() => attempts.after_conflict(e).await?,
                Err(e) => return Err(e),
            }
        }
    }

    /// The hint for a session written now.
    pub(super) fn fresh_hint(&self, ttl: Duration) -> i64 {
        now_ms().saturating_add(millis(ttl))
    }

    /// Lists `id` under `owner`.
    pub(super) async fn index(
        &self,
        owner: Option<&str>,
        id: &SessionId,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        // Natively, the session was tagged with its owner as it was written.
        if let Some(owner) = owner.filter(|_| !self.native_owners()) {
            let hint = self.fresh_hint(ttl);
            self.edit_index(owner, false, &mut |index| {
                index.insert(self.key(id), hint);
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Takes `id` out of `owner`'s index.
    pub(super) async fn unindex(
        &self,
        owner: Option<&str>,
        id: &SessionId,
    ) -> Result<(), StoreError> {
        if let Some(owner) = owner {
            self.edit_index(owner, false, &mut |index| {
                index.remove(&self.key(id));
                index.remove(id.as_str());
                Ok(())
            })
            .await?;
        }
        Ok(())
    }
}
