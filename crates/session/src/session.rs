//! [`Sessions`] (one kind of session over a store) and [`Session`] (one session).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use satchel::{DynCodec, Format, ValueCodec};
use satchel_store::{
    Condition, RetryPolicy, Store, StoreError, StoreErrorKind, StoreObject, Version,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::SessionId;
use crate::record::{Blob, Record};

/// How sessions of one kind live and expire.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionConfig {
    /// A session not saved or extended for this long expires (default 30 minutes).
    pub idle_timeout: Duration,
    /// A session expires this long after it was created, however active (default none).
    pub absolute_timeout: Option<Duration>,
    /// Store keys are `{key_prefix}{id}` (default `session:`).
    pub key_prefix: String,
    /// How often an open session extends itself (default: a third of the idle timeout,
    /// so it is extended well before it could expire, and never more often).
    pub extend_interval: Option<Duration>,
    /// Delete a stored session that fails to decode when connecting to it (default
    /// false: the error names the session and its bytes stay for inspection).
    pub purge_corrupt: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: None,
            key_prefix: "session:".to_string(),
            extend_interval: None,
            purge_corrupt: false,
        }
    }
}

impl SessionConfig {
    /// Sets [`SessionConfig::idle_timeout`].
    #[must_use]
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`SessionConfig::absolute_timeout`].
    #[must_use]
    pub fn absolute_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.absolute_timeout = timeout;
        self
    }

    /// Sets [`SessionConfig::key_prefix`].
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Sets [`SessionConfig::extend_interval`].
    #[must_use]
    pub fn extend_interval(mut self, interval: Option<Duration>) -> Self {
        self.extend_interval = interval;
        self
    }

    /// Sets [`SessionConfig::purge_corrupt`].
    #[must_use]
    pub fn purge_corrupt(mut self, purge: bool) -> Self {
        self.purge_corrupt = purge;
        self
    }

    fn interval(&self) -> Duration {
        self.extend_interval
            .unwrap_or(self.idle_timeout / 3)
            .max(Duration::from_millis(10))
    }
}

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
    shared: Arc<Shared<S, K>>,
}

struct Shared<S: ?Sized, K> {
    codec: K,
    config: SessionConfig,
    store: Arc<S>,
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

fn now_ms() -> i64 {
    satchel_store::unix_millis(SystemTime::now())
}

fn codec_error(what: &str, e: satchel::Error) -> StoreError {
    StoreError::new(StoreErrorKind::Codec, what.to_string()).with_source(e)
}

impl<S, K> Sessions<S, K>
where
    S: Store + ?Sized + 'static,
    K: ValueCodec + Clone + 'static,
{
    /// Sessions kept in `store` through `codec`.
    pub fn new(store: Arc<S>, codec: K, config: SessionConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                codec,
                config,
                store,
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.shared.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<S> {
        &self.shared.store
    }

    fn key(&self, id: &SessionId) -> String {
        format!("{}{id}", self.shared.config.key_prefix)
    }

    fn owner_key(&self, owner: &str) -> String {
        format!("{}owner:{owner}", self.shared.config.key_prefix)
    }

    /// A new, empty session. It has no id until it is first saved.
    pub fn create(&self) -> Session<S, K> {
        let record = Record {
            created_ms: now_ms(),
            owner: None,
            data: BTreeMap::new(),
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
        let Some(entry) = self.shared.store.get(&key).await? else {
            return Err(not_found(&id));
        };
        let record: Record = match self.shared.codec.decode(&entry.value) {
            Ok(r) => r,
            Err(e) => {
                if self.shared.config.purge_corrupt {
                    self.shared.store.delete(&key).await?;
                    tracing::warn!(session = %short(&id), "purged a session that did not decode");
                    return Err(not_found(&id));
                }
                return Err(StoreError::new(
                    StoreErrorKind::Corrupt,
                    format!(
                        "session {} does not decode ({}); its bytes are left in the store",
                        short(&id),
                        e.message()
                    ),
                )
                .with_key(key)
                .with_source(e));
            }
        };
        if let Some(abs) = self.shared.config.absolute_timeout
            && record.created_ms.saturating_add(millis(abs)) <= now_ms()
        {
            self.shared.store.delete(&key).await?;
            self.unindex(record.owner.as_deref(), &id).await?;
            return Err(not_found(&id));
        }
        Ok(Session {
            sessions: self.clone(),
            id: Some(id),
            version: Some(entry.version),
            saved: record.clone(),
            record,
            keep_alive: None,
        })
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
        let owner = match self.shared.store.get(&self.key(&id)).await? {
            Some(e) => self
                .shared
                .codec
                .decode::<Record>(&e.value)
                .ok()
                .and_then(|r| r.owner),
            None => None,
        };
        let existed = self.shared.store.delete(&self.key(&id)).await?;
        self.unindex(owner.as_deref(), &id).await?;
        Ok(existed)
    }

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

    async fn load_index(
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
                    .with_key(self.owner_key(owner))
                    .with_source(err)
                })?;
                Ok((set, Some(e.version)))
            }
            None => Ok((BTreeSet::new(), None)),
        }
    }

    /// Changes the owner index with compare-and-set, retrying when another writer wins.
    async fn edit_index(
        &self,
        owner: &str,
        mut edit: impl FnMut(&mut BTreeSet<String>),
    ) -> Result<(), StoreError> {
        let key = self.owner_key(owner);
        let mut attempts = RetryPolicy::default().attempts();
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

    async fn index(&self, owner: Option<&str>, id: &SessionId) -> Result<(), StoreError> {
        if let Some(owner) = owner {
            self.edit_index(owner, |set| {
                set.insert(id.to_string());
            })
            .await?;
        }
        Ok(())
    }

    async fn unindex(&self, owner: Option<&str>, id: &SessionId) -> Result<(), StoreError> {
        if let Some(owner) = owner {
            self.edit_index(owner, |set| {
                set.remove(id.as_str());
            })
            .await?;
        }
        Ok(())
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn short(id: &SessionId) -> String {
    format!("{}…", &id.as_str()[..4])
}

fn not_found(id: &SessionId) -> StoreError {
    StoreError::new(
        StoreErrorKind::NotFound,
        format!("session {} does not exist or has expired", short(id)),
    )
}

/// One session: a dict-like bag of typed values with change tracking.
///
/// Values of any serde type sit under string keys. Changes stay local until
/// [`Session::save`], which refuses to overwrite a session someone else saved since this
/// one was loaded ([`StoreErrorKind::Conflict`]; [`Session::save_merging`] merges
/// instead). [`Session::open`] keeps a saved session alive in the background until it is
/// closed or dropped.
pub struct Session<S: ?Sized = dyn StoreObject, K = DynCodec> {
    sessions: Sessions<S, K>,
    id: Option<SessionId>,
    version: Option<Version>,
    record: Record,
    saved: Record,
    keep_alive: Option<KeepAlive>,
}

impl<S: Store + ?Sized, K: fmt::Debug> fmt::Debug for Session<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("keys", &self.record.data.keys().collect::<Vec<_>>())
            .field("changed", &(self.record != self.saved))
            .field("open", &self.keep_alive.is_some())
            .finish()
    }
}

impl<S, K> Session<S, K>
where
    S: Store + ?Sized + 'static,
    K: ValueCodec + Clone + 'static,
{
    /// The id, once the session has been saved.
    pub fn id(&self) -> Option<&SessionId> {
        self.id.as_ref()
    }

    /// The stored version this session was loaded or last saved at.
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// Puts `value` under `key`.
    ///
    /// # Errors
    /// [`StoreErrorKind::Codec`] if the value cannot be encoded in the session's format.
    pub fn insert<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let mut bytes = Vec::new();
        self.sessions
            .shared
            .codec
            .format()
            .serialize_into(value, &mut bytes)
            .map_err(|e| codec_error(&format!("session value `{key}` cannot be encoded"), e))?;
        self.record.data.insert(key.to_string(), Blob(bytes));
        Ok(())
    }

    /// The value under `key`, if any.
    ///
    /// # Errors
    /// [`StoreErrorKind::Codec`] if it is not a `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        let Some(Blob(bytes)) = self.record.data.get(key) else {
            return Ok(None);
        };
        let codec = &self.sessions.shared.codec;
        codec
            .format()
            .deserialize(bytes, codec.decode_limits())
            .map(Some)
            .map_err(|e| {
                codec_error(
                    &format!("session value `{key}` is not of the requested type"),
                    e,
                )
            })
    }

    /// Removes `key`. Returns whether it was there.
    pub fn remove(&mut self, key: &str) -> bool {
        self.record.data.remove(key).is_some()
    }

    /// Whether `key` has a value.
    pub fn contains(&self, key: &str) -> bool {
        self.record.data.contains_key(key)
    }

    /// The keys, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.record.data.keys().map(String::as_str)
    }

    /// How many values the session holds.
    pub fn len(&self) -> usize {
        self.record.data.len()
    }

    /// True if the session holds no values.
    pub fn is_empty(&self) -> bool {
        self.record.data.is_empty()
    }

    /// Removes every value.
    pub fn clear(&mut self) {
        self.record.data.clear();
    }

    /// The owner (a user id) the session is tied to.
    pub fn owner(&self) -> Option<&str> {
        self.record.owner.as_deref()
    }

    /// Ties the session to `owner` (or unties it), effective at the next save.
    pub fn set_owner(&mut self, owner: Option<&str>) {
        self.record.owner = owner.map(str::to_string);
    }

    /// True if anything changed since the session was loaded or last saved.
    pub fn was_changed(&self) -> bool {
        self.record != self.saved
    }

    /// Drops every change since the session was loaded or last saved.
    pub fn revert(&mut self) {
        self.record = self.saved.clone();
    }

    fn ttl(&self) -> Result<Duration, StoreError> {
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

    async fn save_inner(&mut self, merge: bool) -> Result<(), StoreError> {
        let shared = self.sessions.shared.clone();
        let mut attempts = RetryPolicy::default().attempts();
        loop {
            let ttl = self.ttl()?;
            let (id, condition) = match (&self.id, self.version) {
                (Some(id), Some(v)) => (id.clone(), Condition::IfVersion(v)),
                (Some(id), None) => (id.clone(), Condition::IfAbsent),
                (None, _) => (SessionId::generate()?, Condition::IfAbsent),
            };
            let bytes = shared
                .codec
                .encode(&self.record)
                .map_err(|e| codec_error("the session cannot be encoded", e))?;
            let key = self.sessions.key(&id);
            match shared.store.set(&key, &bytes, Some(ttl), condition).await {
                Ok(version) => {
                    // The owner index changes only when the owner does, or when the
                    // session is first written under this id (new, or after cycle_id).
                    let owner_changed = self.saved.owner != self.record.owner;
                    if owner_changed && self.id.is_some() {
                        self.sessions
                            .unindex(self.saved.owner.as_deref(), &id)
                            .await?;
                    }
                    if owner_changed || condition == Condition::IfAbsent {
                        self.sessions
                            .index(self.record.owner.as_deref(), &id)
                            .await?;
                    }
                    self.id = Some(id);
                    self.version = Some(version);
                    self.saved = self.record.clone();
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
                            .with_key(key));
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
                        .with_key(key)
                        .with_source(e));
                    }
                    self.merge_onto(theirs);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn merge_onto(&mut self, theirs: Session<S, K>) {
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
            }
        }
        if self.record.owner != self.saved.owner {
            merged.owner.clone_from(&self.record.owner);
        }
        self.saved = theirs.record;
        self.version = theirs.version;
        self.record = merged;
    }

    /// Gives the session a new id, keeping its data (do this when a user logs in): the
    /// session is saved under the new id, pending changes included, and the old id is
    /// deleted.
    ///
    /// # Errors
    /// As [`Session::save`].
    pub async fn cycle_id(&mut self) -> Result<(), StoreError> {
        let old = self.id.take();
        let old_version = self.version.take();
        if let Err(e) = self.save().await {
            self.id = old;
            self.version = old_version;
            return Err(e);
        }
        if let Some(old) = old {
            let shared = &self.sessions.shared;
            shared.store.delete(&self.sessions.key(&old)).await?;
            self.sessions
                .unindex(self.saved.owner.as_deref(), &old)
                .await?;
        }
        if let Some(ka) = self.keep_alive.take() {
            drop(ka);
            self.open()?;
        }
        Ok(())
    }

    /// Deletes the session from the store.
    ///
    /// # Errors
    /// Store errors.
    pub async fn delete(mut self) -> Result<bool, StoreError> {
        self.close();
        match &self.id {
            Some(id) => {
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

    /// Keeps the saved session alive in the background: every
    /// [`SessionConfig::extend_interval`] its time to live is reset with a store `touch`
    /// (its data is not rewritten), until [`Session::close`] or drop. A session that has
    /// already expired or been deleted is never revived: extension stops and
    /// [`Session::keep_alive_status`] says so. Transient store errors are retried at the
    /// next tick; three in a row stop it and are reported the same way.
    ///
    /// Needs a tokio runtime.
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidInput`] if the session was never saved (it has no id yet).
    pub fn open(&mut self) -> Result<(), StoreError> {
        let Some(id) = self.id.clone() else {
            return Err(StoreError::new(
                StoreErrorKind::InvalidInput,
                "save the session before opening it: it has no id yet",
            ));
        };
        if self.keep_alive.is_some() {
            return Ok(());
        }
        let status = Arc::new(Mutex::new(KeepAliveStatus::Running));
        let shared = self.sessions.shared.clone();
        let key = self.sessions.key(&id);
        let created_ms = self.record.created_ms;
        let task_status = status.clone();
        let task = tokio::spawn(async move {
            let interval = shared.config.interval();
            let mut failures = 0;
            loop {
                tokio::time::sleep(interval).await;
                let mut ttl = shared.config.idle_timeout;
                if let Some(abs) = shared.config.absolute_timeout {
                    let left = created_ms.saturating_add(millis(abs)) - now_ms();
                    if left <= 0 {
                        set_status(&task_status, KeepAliveStatus::Expired);
                        return;
                    }
                    ttl = ttl.min(Duration::from_millis(left as u64));
                }
                match shared.store.touch(&key, ttl).await {
                    Ok(true) => failures = 0,
                    Ok(false) => {
                        set_status(&task_status, KeepAliveStatus::Expired);
                        return;
                    }
                    Err(e) if e.is_transient() && failures < 2 => {
                        failures += 1;
                        tracing::warn!(error = %e, "session keep-alive failed; retrying");
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "session keep-alive stopped");
                        set_status(
                            &task_status,
                            KeepAliveStatus::Failed {
                                kind: e.kind(),
                                message: e.to_string(),
                            },
                        );
                        return;
                    }
                }
            }
        });
        self.keep_alive = Some(KeepAlive { task, status });
        Ok(())
    }

    /// Stops keeping the session alive. It then expires after its idle timeout unless
    /// saved or opened again.
    pub fn close(&mut self) {
        self.keep_alive = None;
    }

    /// How background extension is going: `None` if the session is not open.
    pub fn keep_alive_status(&self) -> Option<KeepAliveStatus> {
        self.keep_alive.as_ref().map(|k| {
            k.status
                .lock()
                .map(|s| s.clone())
                .unwrap_or(KeepAliveStatus::Running)
        })
    }

    /// Opens the session and returns a guard that closes it when dropped (at the end of
    /// the scope, on early return and on error alike).
    ///
    /// # Errors
    /// As [`Session::open`].
    pub fn scope(&mut self) -> Result<OpenSession<'_, S, K>, StoreError> {
        self.open()?;
        Ok(OpenSession { session: self })
    }
}

fn set_status(status: &Mutex<KeepAliveStatus>, new: KeepAliveStatus) {
    if let Ok(mut s) = status.lock() {
        *s = new;
    }
}

/// The state of an open session's background extension.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeepAliveStatus {
    /// Extending on schedule.
    Running,
    /// The session expired or was deleted; it is not revived.
    Expired,
    /// The store kept failing; extension stopped.
    Failed {
        /// The kind of the last error.
        kind: StoreErrorKind,
        /// Its message.
        message: String,
    },
}

struct KeepAlive {
    task: tokio::task::JoinHandle<()>,
    status: Arc<Mutex<KeepAliveStatus>>,
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A session opened by [`Session::scope`]: used like the session itself, closed when
/// dropped.
pub struct OpenSession<'a, S: Store + ?Sized + 'static, K: ValueCodec + Clone + 'static> {
    session: &'a mut Session<S, K>,
}

impl<S: Store + ?Sized + 'static, K: ValueCodec + Clone + 'static> Deref for OpenSession<'_, S, K> {
    type Target = Session<S, K>;
    fn deref(&self) -> &Self::Target {
        self.session
    }
}

impl<S: Store + ?Sized + 'static, K: ValueCodec + Clone + 'static> DerefMut
    for OpenSession<'_, S, K>
{
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.session
    }
}

impl<S: Store + ?Sized + 'static, K: ValueCodec + Clone + 'static> Drop for OpenSession<'_, S, K> {
    fn drop(&mut self) {
        self.session.close();
    }
}
