//! [`Session`]: one session, a dict-like bag of typed values with change tracking.

use super::*;
use crate::session::keep_alive::KeepAlive;

/// One session: a dict-like bag of typed values with change tracking.
///
/// Values of any serde type sit under string keys. Changes stay local until
/// [`Session::save`], which refuses to overwrite a session someone else saved since this
/// one was loaded ([`StoreErrorKind::Conflict`]; [`Session::save_merging`] merges
/// instead). [`Session::open`] keeps a saved session alive in the background until it is
/// closed or dropped.
pub struct Session<S: ?Sized = dyn StoreObject, K = DynCodec> {
    pub(super) sessions: Sessions<S, K>,
    pub(super) id: Option<SessionId>,
    pub(super) version: Option<Version>,
    pub(super) record: Record,
    pub(super) saved: Record,
    pub(super) keep_alive: Option<KeepAlive>,
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
    S: StoreObject + ?Sized + 'static,
    K: ValueCodec + Clone + 'static,
{
    /// The id, once the session has been saved.
    pub fn id(&self) -> Option<&SessionId> {
        self.id.as_ref()
    }

    /// The key the session is kept under (a hash of its id), once it has been saved.
    pub fn key(&self) -> Option<SessionKey> {
        self.id.as_ref().map(SessionKey::of)
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
        if key == pipeline::FORMATS_KEY {
            return Err(StoreError::new(
                StoreErrorKind::InvalidInput,
                "this session key is reserved by satchel: pick another",
            ));
        }
        let mut bytes = Vec::new();
        self.sessions
            .shared
            .codec
            .format()
            .serialize_into(value, &mut bytes)
            .map_err(|e| codec_error(&format!("session value `{key}` cannot be encoded"), e))?;
        self.record.data.insert(key.to_string(), Blob(bytes));
        self.record.formats.remove(key);
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
        self.sessions
            .decode_value(&self.record, key, bytes)
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
        self.record.formats.remove(key);
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
        self.record.formats.clear();
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
}
