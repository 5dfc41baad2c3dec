//! The session calls of `satchel.store.v1.Store` (CreateSession, OpenSession,
//! ExtendSession, CloseSession), over the store under the server's session prefix.
//!
//! A session is kept under [`SessionId::stored_key`] (`h_` and the base64url SHA-256 of
//! its id), the key satchel-session uses too, so a dump of the store or `satchel ls` yields
//! nothing usable as a session id. Servers before that kept a session under its id: such
//! a key is read once and moved (claimed by compare-and-set, written under the hash, the
//! claim removed by compare-and-delete). Logs name a session by its
//! [`SessionId::fingerprint`], never by its id; replies and errors name it not at all.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use satchel_store_core::{
    Condition, Entry, Prefixed, RetryPolicy, SessionId, Store, StoreError, StoreErrorKind,
    StoreObject, Version, unix_millis,
};
use tonic::Status;

use super::store_service::{check_value, entry_to_proto, ttl};
use crate::proto;
use crate::status::to_status;

/// What a move leaves under the unhashed key while it copies the session (the marker
/// satchel-session's moves and rotations use too): readers take it for "being moved".
const MOVED: &[u8] = b"";

/// How long a claim lives if the server stops between claiming an unhashed session that
/// had no expiry and moving it.
const CLAIM_TTL: Duration = Duration::from_secs(60);

/// The session calls, over the backing store under the session prefix.
pub(crate) struct SessionService {
    store: Prefixed<Arc<dyn StoreObject>>,
    check_header: bool,
}

impl SessionService {
    pub(crate) fn new(store: Arc<dyn StoreObject>, prefix: &str, check_header: bool) -> Self {
        Self {
            store: Prefixed::new(store, prefix),
            check_header,
        }
    }

    pub(crate) async fn create(
        &self,
        r: proto::CreateSessionRequest,
    ) -> Result<proto::CreateSessionResponse, Status> {
        let lifetime = ttl(r.ttl_ms)?;
        // 128 random bits never collide in practice; IfAbsent makes sure of it.
        let id = SessionId::generate().map_err(|e| failed("create_session", None, &e))?;
        let key = id.stored_key();
        check_value(self.check_header, &key, &r.value)?;
        let version = self
            .store
            .set(&key, &r.value, Some(lifetime), Condition::IfAbsent)
            .await
            .map_err(|e| failed("create_session", Some(&id), &e))?;
        Ok(proto::CreateSessionResponse {
            id: id.as_str().to_string(),
            entry: Some(proto::Entry {
                value: r.value,
                version: version.get(),
                expires_at_ms: Some(unix_millis(SystemTime::now() + lifetime)),
            }),
        })
    }

    pub(crate) async fn open(
        &self,
        r: proto::OpenSessionRequest,
    ) -> Result<proto::OpenSessionResponse, Status> {
        let id = parse(&r.id)?;
        let lifetime = r.ttl_ms.map(ttl).transpose()?;
        let op = "open_session";
        let mut entry = self.locate(op, &id).await?.ok_or_else(no_session)?;
        if let Some(lifetime) = lifetime {
            self.touch(op, &id, lifetime).await?;
            entry.expires_at = Some(SystemTime::now() + lifetime);
        }
        Ok(proto::OpenSessionResponse {
            entry: Some(entry_to_proto(entry)),
        })
    }

    pub(crate) async fn extend(
        &self,
        r: proto::ExtendSessionRequest,
    ) -> Result<proto::ExtendSessionResponse, Status> {
        let id = parse(&r.id)?;
        let lifetime = ttl(r.ttl_ms)?;
        self.touch("extend_session", &id, lifetime).await?;
        Ok(proto::ExtendSessionResponse {
            expires_at_ms: unix_millis(SystemTime::now() + lifetime),
        })
    }

    pub(crate) async fn close(
        &self,
        r: proto::CloseSessionRequest,
    ) -> Result<proto::CloseSessionResponse, Status> {
        let op = "close_session";
        let id = parse(&r.id)?;
        let key = id.stored_key();
        let lifetime = r.ttl_ms.map(ttl).transpose()?;
        let mut version = None;
        if let Some(value) = &r.value {
            check_value(self.check_header, &key, value)?;
            // The session must be live: the save is conditional on the version read here
            // (or the caller's `if_version`), so it can never revive an expired or destroyed
            // session, nor create one under an id the caller picked.
            let current = self.locate(op, &id).await?.ok_or_else(no_session)?;
            let lifetime = match lifetime {
                Some(l) => l,
                // Keep what is left of the session's lifetime.
                None => remaining(current.expires_at).ok_or_else(no_session)?,
            };
            let condition =
                Condition::IfVersion(r.if_version.map_or(current.version, Version::new));
            version = Some(
                self.store
                    .set(&key, value, Some(lifetime), condition)
                    .await
                    .map_err(|e| failed(op, Some(&id), &e))?
                    .get(),
            );
        } else if let Some(lifetime) = lifetime
            && !r.destroy
        {
            self.touch(op, &id, lifetime).await?;
        }
        if r.destroy {
            // Unconditional on purpose: destroying removes the session whatever was saved
            // since. Under its id only if it is not under its hash (never moved): the old
            // key names the id in the backend's spans, so it is touched only when needed.
            let delete = async {
                Ok::<_, StoreError>(
                    self.store.delete(&key).await? || self.store.delete(id.as_str()).await?,
                )
            };
            delete.await.map_err(|e| failed(op, Some(&id), &e))?;
        }
        Ok(proto::CloseSessionResponse { version })
    }

    /// The session `id`, moved first if it is still under its id.
    async fn locate(&self, op: &str, id: &SessionId) -> Result<Option<Entry>, Status> {
        let found = match self.store.get(&id.stored_key()).await {
            Ok(Some(entry)) => Ok(Some(entry)),
            Ok(None) => self.move_unhashed(id).await,
            Err(e) => Err(e),
        };
        found.map_err(|e| failed(op, Some(id), &e))
    }

    /// Extends session `id` (moved first if it is still under its id); `NOT_FOUND` if it
    /// is not live.
    async fn touch(&self, op: &str, id: &SessionId, lifetime: Duration) -> Result<(), Status> {
        let key = id.stored_key();
        let touched = async {
            if self.store.touch(&key, lifetime).await? {
                return Ok(true);
            }
            match self.move_unhashed(id).await? {
                Some(_) => self.store.touch(&key, lifetime).await,
                None => Ok(false),
            }
        };
        match touched.await {
            Ok(true) => Ok(()),
            Ok(false) => Err(no_session()),
            Err(e) => Err(failed(op, Some(id), &e)),
        }
    }

    /// Moves a session an older server kept under its id to its hashed key, and returns
    /// it from there; `None` if there is none.
    async fn move_unhashed(&self, id: &SessionId) -> Result<Option<Entry>, StoreError> {
        let (old, new) = (id.as_str(), id.stored_key());
        let store = &self.store;
        let mut attempts = RetryPolicy::default().attempts();
        loop {
            let Some(entry) = store.get(old).await? else {
                return Ok(None);
            };
            if entry.value == MOVED {
                // Another call is moving it: read it where it goes.
                attempts
                    .after_conflict(StoreError::new(
                        StoreErrorKind::Conflict,
                        format!(
                            "session {} is being moved to its hashed key",
                            id.fingerprint()
                        ),
                    ))
                    .await?;
                if let Some(moved) = store.get(&new).await? {
                    return Ok(Some(moved));
                }
                continue;
            }
            let ttl = match entry.expires_at {
                Some(at) => match remaining(Some(at)) {
                    Some(left) => Some(left),
                    None => return Ok(None),
                },
                None => None,
            };
            let condition = Condition::IfVersion(entry.version);
            let claimed = match store
                .set(old, MOVED, Some(ttl.unwrap_or(CLAIM_TTL)), condition)
                .await
            {
                Ok(v) => v,
                Err(e) if e.is_conflict() => {
                    attempts.after_conflict(e).await?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let moved = match store
                .set(&new, &entry.value, ttl, Condition::IfAbsent)
                .await
            {
                Ok(version) => Entry::new(entry.value, version, entry.expires_at),
                // A session is already under the hash: it is the newer one.
                Err(e) if e.is_conflict() => match store.get(&new).await? {
                    Some(newer) => newer,
                    None => return Err(e),
                },
                Err(e) => {
                    // Put it back as it was, so that a failed move loses nothing.
                    let back = Condition::IfVersion(claimed);
                    if let Err(r) = store.set(old, &entry.value, ttl, back).await {
                        tracing::error!(session = %id.fingerprint(), error = %r,
                            "a session that could not be moved to its hashed key could not be put back");
                    }
                    return Err(e);
                }
            };
            // Only the claim (compare-and-delete); it expires by itself if this fails.
            if let Err(e) = store.delete_if(old, claimed).await {
                tracing::warn!(session = %id.fingerprint(), error = %e,
                    "the old key of a moved session could not be removed; it expires by itself");
            }
            return Ok(Some(moved));
        }
    }
}

fn parse(id: &str) -> Result<SessionId, Status> {
    SessionId::parse(id).ok_or_else(|| {
        Status::invalid_argument(
            "not a session id: ids are the 22 characters CreateSession returned",
        )
    })
}

/// What is left of a lifetime ending `at`; `None` if it has ended (or never ends).
fn remaining(at: Option<SystemTime>) -> Option<Duration> {
    at.and_then(|at| at.duration_since(SystemTime::now()).ok())
        .filter(|d| !d.is_zero())
}

/// The status of a failed session call, logged with the session's fingerprint.
fn failed(op: &str, id: Option<&SessionId>, e: &StoreError) -> Status {
    let session = id.map(SessionId::fingerprint);
    let session = session.as_deref();
    match e.kind() {
        StoreErrorKind::Conflict | StoreErrorKind::NotFound | StoreErrorKind::InvalidInput => {
            tracing::debug!(op, session, error = %e, "session call refused");
        }
        _ => {
            tracing::warn!(op, session, error = %e,
                source = ?std::error::Error::source(e), "session call failed");
        }
    }
    to_status(e)
}

fn no_session() -> Status {
    Status::not_found("no live session has this id (it expired, was closed, or never existed)")
}
