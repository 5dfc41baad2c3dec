//! The owner index: which sessions an owner has, kept under its own key with
//! compare-and-set.

use super::*;

impl<S, K> Sessions<S, K>
where
    S: Store + ?Sized + 'static,
    K: ValueCodec + Clone + 'static,
{
    /// The live sessions of `owner`. Ids of sessions that expired or were deleted are
    /// dropped from the owner's index on the way.
    ///
    /// # Errors
    /// Store errors.
    pub async fn sessions_of(&self, owner: &str) -> Result<Vec<SessionId>, StoreError> {
        let ids = self.load_index(owner).await?.0;
        let mut live = Vec::new();
        for id in &ids {
            if let Some(id) = SessionId::parse(id)
                && self.shared.store.get(&self.key(&id)).await?.is_some()
            {
                live.push(id);
            }
        }
        if live.len() != ids.len() {
            let keep: BTreeSet<String> = live.iter().map(|i| i.to_string()).collect();
            self.edit_index(owner, |set| set.retain(|i| keep.contains(i)))
                .await?;
        }
        Ok(live)
    }

    /// Deletes every session of `owner` ("log out everywhere"). Returns how many there were.
    ///
    /// # Errors
    /// Store errors.
    pub async fn delete_owner(&self, owner: &str) -> Result<usize, StoreError> {
        let ids = self.load_index(owner).await?.0;
        let mut deleted = 0;
        for id in &ids {
            if let Some(id) = SessionId::parse(id)
                && self.shared.store.delete(&self.key(&id)).await?
            {
                deleted += 1;
            }
        }
        self.shared.store.delete(&self.owner_key(owner)).await?;
        Ok(deleted)
    }

    pub(super) async fn load_index(
        &self,
        owner: &str,
    ) -> Result<(BTreeSet<String>, Option<Version>), StoreError> {
        match self.shared.store.get(&self.owner_key(owner)).await? {
            Some(e) => {
                let set = self.shared.codec.decode(&e.value).map_err(|err| {
                    StoreError::new(
                        StoreErrorKind::Corrupt,
                        format!("the session index of owner `{owner}` does not decode"),
                    )
                    .with_key(self.store_key(&self.owner_key(owner)))
                    .with_source(err)
                })?;
                Ok((set, Some(e.version)))
            }
            None => Ok((BTreeSet::new(), None)),
        }
    }

    /// Changes the owner index with compare-and-set, retrying when another writer wins.
    pub(super) async fn edit_index(
        &self,
        owner: &str,
        mut edit: impl FnMut(&mut BTreeSet<String>),
    ) -> Result<(), StoreError> {
        let key = self.owner_key(owner);
        let mut attempts = self.shared.config.retry_policy.attempts();
        loop {
            let (mut set, version) = self.load_index(owner).await?;
            let before = set.clone();
            edit(&mut set);
            if set == before {
                return Ok(());
            }
            let result = if set.is_empty() {
                self.shared.store.delete(&key).await.map(drop)
            } else {
                let bytes = self
                    .shared
                    .codec
                    .encode(&set)
                    .map_err(|e| codec_error("the owner index cannot be encoded", e))?;
                let condition = version.map_or(Condition::IfAbsent, Condition::IfVersion);
                self.shared
                    .store
                    .set(&key, &bytes, None, condition)
                    .await
                    .map(drop)
            };
            match result {
                Ok(()) => return Ok(()),
                Err(e) if e.is_conflict() => attempts.after_conflict(e).await?,
                Err(e) => return Err(e),
            }
        }
    }

    pub(super) async fn index(
        &self,
        owner: Option<&str>,
        id: &SessionId,
    ) -> Result<(), StoreError> {
        if let Some(owner) = owner {
            self.edit_index(owner, |set| {
                set.insert(id.to_string());
            })
            .await?;
        }
        Ok(())
    }

    pub(super) async fn unindex(
        &self,
        owner: Option<&str>,
        id: &SessionId,
    ) -> Result<(), StoreError> {
        if let Some(owner) = owner {
            self.edit_index(owner, |set| {
                set.remove(id.as_str());
            })
            .await?;
        }
        Ok(())
    }
}
