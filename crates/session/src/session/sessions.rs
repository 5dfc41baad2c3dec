//! [`Sessions`]: one kind of session over a store: creates, connects to and deletes.

use super::*;

/// One kind of session kept in a store through a codec: creates, connects to and deletes
/// sessions, and lists or deletes all sessions of an owner. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), satchel_store::StoreError> {
/// use std::sync::Arc;
/// use satchel::Codec;
/// use satchel_session::{SessionConfig, Sessions};
/// use satchel_store::MemoryStore;
///
/// let sessions = Sessions::new(Arc::new(MemoryStore::new()), Codec::json(), SessionConfig::default());
/// let mut s = sessions.create();
/// s.insert("user", &"ann")?;
/// s.save().await?;
/// let id = s.id().unwrap().to_string();
///
/// let again = sessions.connect(&id).await?;
/// assert_eq!(again.get::<String>("user")?.as_deref(), Some("ann"));
/// # Ok(()) }
/// ```
pub struct Sessions<S: ?Sized = dyn StoreObject, K = DynCodec> {
    pub(super) shared: Arc<Shared<S, K>>,
}

pub(super) struct Shared<S: ?Sized, K> {
    pub(super) codec: K,
    pub(super) config: SessionConfig,
    /// The store under the configured key prefix: sessions use it with their own keys
    /// (`{id}`, `owner:{owner}`).
    pub(super) store: Prefixed<Arc<S>>,
    /// The format the codec names in its header (`None` for a headerless codec, which
    /// then reads only what it writes).
    pub(super) own_format: Option<satchel::FormatId>,
    /// Whether the store tags keys with owners (`Capabilities::owned_keys`), so that the
    /// owner index is the store's own (`tags`) instead of the generic one (`owners`).
    pub(super) native_owners: bool,
}

impl<S: ?Sized, K> Clone for Sessions<S, K> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<S: Store + ?Sized, K: fmt::Debug> fmt::Debug for Sessions<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("backend", &self.shared.store.backend())
            .field("codec", &self.shared.codec)
            .field("config", &self.shared.config)
            .finish()
    }
}

impl<S, K> Sessions<S, K>
where
    S: StoreObject + ?Sized + 'static,
    K: ValueCodec + Clone + 'static,
{
    /// Sessions kept in `store` through `codec`.
    pub fn new(store: Arc<S>, codec: K, config: SessionConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                own_format: pipeline::own_format(&codec),
                native_owners: store.capabilities().owned_keys,
                codec,
                store: Prefixed::new(store, config.key_prefix.clone()),
                config,
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.shared.config
    }

    /// The store (keys there carry [`SessionConfig::key_prefix`]).
    pub fn store(&self) -> &Arc<S> {
        self.shared.store.inner()
    }

    /// The key of the owner index of `owner`, under the prefix.
    pub(super) fn owner_key(&self, owner: &str) -> String {
        format!("owner:{owner}")
    }

    /// `key` as the store sees it, prefix included, for messages.
    pub(super) fn store_key(&self, key: &str) -> String {
        format!("{}{key}", self.shared.store.prefix())
    }

    /// A new, empty session. It has no id until it is first saved.
    pub fn create(&self) -> Session<S, K> {
        let record = Record {
            created_ms: now_ms(),
            owner: None,
            data: BTreeMap::new(),
            formats: BTreeMap::new(),
        };
        Session {
            sessions: self.clone(),
            id: None,
            version: None,
            saved: record.clone(),
            record,
            keep_alive: None,
        }
    }

    /// Loads the session `id`.
    ///
    /// # Errors
    /// [`StoreErrorKind::NotFound`] if `id` is malformed, unknown, expired or past its
    /// absolute timeout; [`StoreErrorKind::Corrupt`] naming the session if its record does
    /// not decode (its bytes stay in the store unless [`SessionConfig::purge_corrupt`]);
    /// store errors.
    pub async fn connect(&self, id: &str) -> Result<Session<S, K>, StoreError> {
        let Some(id) = SessionId::parse(id) else {
            return Err(StoreError::new(
                StoreErrorKind::NotFound,
                "not a session id this server issued",
            ));
        };
        let key = self.key(&id);
        let mut attempts = self.shared.config.retry_policy.attempts();
        loop {
            let entry = match self.shared.store.get(&key).await? {
                Some(entry) => entry,
                None => match self.move_legacy(&id).await? {
                    Some(entry) => entry,
                    None => return Err(not_found(&id)),
                },
            };
            if entry.value == MOVED {
                // A rotation claimed this id: it is gone.
                return Err(not_found(&id));
            }
            // Purges delete the version read here only (compare-and-delete): a session
            // saved in between is read again, never deleted.
            let record: Record = match self.decode_record(&entry.value, &key) {
                Ok(r) => r,
                Err(e) if self.shared.config.purge_corrupt => {
                    if self.shared.store.delete_if(&key, entry.version).await? {
                        tracing::warn!(session = %short(&id), "purged a session that did not decode");
                        return Err(not_found(&id));
                    }
                    attempts
                        .after_conflict(self.changed_meanwhile(&id, &key).with_source(e))
                        .await?;
                    continue;
                }
                Err(e) => {
                    return Err(StoreError::new(
                        StoreErrorKind::Corrupt,
                        format!(
                            "session {} does not decode ({}); its bytes are left in the store",
                            short(&id),
                            e.message()
                        ),
                    )
                    .with_key(self.store_key(&key))
                    .with_source(e));
                }
            };
            if let Some(abs) = self.shared.config.absolute_timeout
                && record.created_ms.saturating_add(millis(abs)) <= now_ms()
            {
                if !self.shared.store.delete_if(&key, entry.version).await? {
                    attempts
                        .after_conflict(self.changed_meanwhile(&id, &key))
                        .await?;
                    continue;
                }
                self.unindex(record.owner.as_deref(), &id).await?;
                return Err(not_found(&id));
            }
            return Ok(Session {
                sessions: self.clone(),
                id: Some(id),
                version: Some(entry.version),
                saved: record.clone(),
                record,
                keep_alive: None,
            });
        }
    }

    /// The error of a purge that found session `id` changed since it read it (what a
    /// retry policy that runs out of attempts returns).
    fn changed_meanwhile(&self, id: &SessionId, key: &str) -> StoreError {
        StoreError::new(
            StoreErrorKind::Conflict,
            format!(
                "session {} kept changing while it was being purged; connect again",
                short(id)
            ),
        )
        .with_key(self.store_key(key))
    }

    /// Loads the session `id` if it exists, or starts a new one otherwise, which gets a
    /// NEW id when saved: an id the server did not issue is never adopted (no session
    /// fixation).
    ///
    /// # Errors
    /// As [`Sessions::connect`], except that unknown and expired sessions are not errors.
    pub async fn connect_or_create(&self, id: Option<&str>) -> Result<Session<S, K>, StoreError> {
        match id {
            Some(id) => match self.connect(id).await {
                Ok(s) => Ok(s),
                Err(e) if e.is_not_found() => Ok(self.create()),
                Err(e) => Err(e),
            },
            None => Ok(self.create()),
        }
    }

    /// Deletes the session `id`. Returns whether it existed.
    ///
    /// # Errors
    /// Store errors.
    pub async fn delete(&self, id: &str) -> Result<bool, StoreError> {
        let Some(id) = SessionId::parse(id) else {
            return Ok(false);
        };
        let legacy = Self::legacy_key(&id);
        let entry = match self.shared.store.get(&self.key(&id)).await? {
            Some(e) => Some(e),
            None => self.shared.store.get(legacy).await?,
        };
        let owner = entry
            .filter(|e| e.value != MOVED)
            .and_then(|e| self.decode_record(&e.value, &self.key(&id)).ok())
            .and_then(|r| r.owner);
        // Unconditional on purpose: deleting a session (logging out) must remove it whatever
        // was saved since it was read; the owner read above only steers the index cleanup.
        let hashed = self.shared.store.delete(&self.key(&id)).await?;
        let existed = self.shared.store.delete(legacy).await? || hashed;
        self.unindex(owner.as_deref(), &id).await?;
        Ok(existed)
    }
}
