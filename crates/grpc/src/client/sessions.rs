//! The session calls of [`GrpcStore`]: sessions the server keeps (create, open, extend,
//! close).

#[allow(unused_imports)]
use super::*;

impl GrpcStore {
    /// Starts a session on the server under a fresh random id, holding `value` for `ttl`
    /// (its idle lifetime: extend it with [`GrpcStore::extend_session`] or by opening it).
    ///
    /// # Errors
    /// As [`Store::set`]; [`StoreErrorKind::InvalidInput`] for a zero `ttl`.
    pub async fn create_session(&self, value: &[u8], ttl: Duration) -> Result<(SessionId, Entry)> {
        let message = proto::CreateSessionRequest {
            value: value.to_vec(),
            ttl_ms: millis(ttl)?,
        };
        let r = self
            .call(None, self.client().create_session(self.request(message)))
            .await?;
        let id = SessionId::parse(&r.id).ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::Backend,
                "the server answered a malformed session id",
            )
            .with_backend(BACKEND)
        })?;
        Ok((id, entry_from_proto(r.entry)?))
    }

    /// Loads a live session, extending its lifetime to `ttl` from now if given.
    ///
    /// # Errors
    /// [`StoreErrorKind::NotFound`] when the session expired, was closed or never existed.
    pub async fn open_session(&self, id: &SessionId, ttl: Option<Duration>) -> Result<Entry> {
        let message = proto::OpenSessionRequest {
            id: id.as_str().to_string(),
            ttl_ms: ttl.map(millis).transpose()?,
        };
        let r = self
            .call(None, self.client().open_session(self.request(message)))
            .await?;
        entry_from_proto(r.entry)
    }

    /// Extends a live session's lifetime to `ttl` from now; an expired one stays expired.
    ///
    /// # Errors
    /// [`StoreErrorKind::NotFound`] when the session is not live.
    pub async fn extend_session(&self, id: &SessionId, ttl: Duration) -> Result<()> {
        let message = proto::ExtendSessionRequest {
            id: id.as_str().to_string(),
            ttl_ms: millis(ttl)?,
        };
        self.call(None, self.client().extend_session(self.request(message)))
            .await?;
        Ok(())
    }

    /// Ends a session: saves `last` (value and the version it was read at, compare-and-set)
    /// if given, then deletes the session if `destroy`, else keeps it until it expires.
    /// Returns the saved value's version.
    ///
    /// # Errors
    /// [`StoreErrorKind::Conflict`] if the session changed since `last`'s version was read;
    /// [`StoreErrorKind::NotFound`] when it is not live.
    pub async fn close_session(
        &self,
        id: &SessionId,
        last: Option<(&[u8], Version)>,
        destroy: bool,
    ) -> Result<Option<Version>> {
        let message = proto::CloseSessionRequest {
            id: id.as_str().to_string(),
            value: last.map(|(v, _)| v.to_vec()),
            if_version: last.map(|(_, v)| v.get()),
            ttl_ms: None,
            destroy,
        };
        let r = self
            .call(None, self.client().close_session(self.request(message)))
            .await?;
        Ok(r.version.map(Version::new))
    }
}
