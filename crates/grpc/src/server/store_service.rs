//! The `satchel.store.v1.Store` service: each call translated into one or two `Store` calls.

use std::sync::Arc;
use std::time::Duration;

use satchel_store_core::{
    Condition, Cursor, Entry, StoreError, StoreErrorKind, StoreObject, Version, unix_millis,
};
use tonic::{Request, Response, Status};

use super::sessions::SessionService;
use crate::proto::{self, store_server};
use crate::status::to_status;

/// The service implementation: thin translation between messages and `Store` calls. The
/// bearer token is checked before a call gets here ([`TokenCheck`](super::auth::TokenCheck)).
pub(crate) struct StoreService {
    pub(crate) store: Arc<dyn StoreObject>,
    pub(crate) check_header: bool,
    /// The session calls (`server/sessions.rs`), under the session prefix.
    pub(crate) sessions: SessionService,
    pub(crate) scan_cap: u32,
}

impl StoreService {
    /// A scan from a client before paging: at most `limit` keys, and an error rather
    /// than fewer keys than asked when the cap cuts the listing short.
    async fn scan_unpaged(
        &self,
        prefix: &str,
        asked: u32,
        limit: usize,
    ) -> Result<Response<proto::ScanResponse>, Status> {
        let capped = asked == 0 || asked > self.scan_cap;
        let want = if capped { limit + 1 } else { limit };
        let mut keys = self
            .store
            .scan(prefix, want)
            .await
            .map_err(|e| failed("scan", &e))?;
        if capped && keys.len() > limit {
            return Err(Status::failed_precondition(format!(
                "scan: more than {limit} keys start with the prefix (this server's cap); \
                 the listing would be truncated, so nothing is returned: use a client that \
                 pages (sends page_token), or ask for at most {limit} keys"
            )));
        }
        keys.truncate(limit);
        Ok(Response::new(proto::ScanResponse {
            keys,
            next_page_token: None,
            paged: false,
        }))
    }
}

/// Refuses a value that is not satchel pipeline output when the server checks headers.
pub(crate) fn check_value(check_header: bool, key: &str, value: &[u8]) -> Result<(), Status> {
    if check_header && let Err(e) = satchel_core::sniff(value) {
        return Err(Status::invalid_argument(format!(
            "key `{key}`: the value is not satchel pipeline output ({e}); this server \
             stores only values that start with a satchel header"
        )));
    }
    Ok(())
}

fn failed(op: &str, e: &StoreError) -> Status {
    match e.kind() {
        StoreErrorKind::Conflict | StoreErrorKind::NotFound | StoreErrorKind::InvalidInput => {
            tracing::debug!(op, error = %e, "store call refused");
        }
        _ => {
            tracing::warn!(op, error = %e, source = ?std::error::Error::source(e), "store call failed")
        }
    }
    to_status(e)
}

pub(crate) fn ttl(ms: u64) -> Result<Duration, Status> {
    if ms == 0 {
        return Err(Status::invalid_argument(
            "a ttl of 0 ms would write a value that is already gone; leave it unset to keep \
             the value until deleted",
        ));
    }
    Ok(Duration::from_millis(ms))
}

pub(crate) fn entry_to_proto(e: Entry) -> proto::Entry {
    proto::Entry {
        value: e.value,
        version: e.version.get(),
        expires_at_ms: e.expires_at.map(unix_millis),
    }
}

#[tonic::async_trait]
impl store_server::Store for StoreService {
    async fn get(
        &self,
        request: Request<proto::GetRequest>,
    ) -> Result<Response<proto::GetResponse>, Status> {
        let key = request.into_inner().key;
        let entry = self.store.get(&key).await.map_err(|e| failed("get", &e))?;
        Ok(Response::new(proto::GetResponse {
            entry: entry.map(entry_to_proto),
        }))
    }

    async fn set(
        &self,
        request: Request<proto::SetRequest>,
    ) -> Result<Response<proto::SetResponse>, Status> {
        let r = request.into_inner();
        check_value(self.check_header, &r.key, &r.value)?;
        let ttl = r.ttl_ms.map(ttl).transpose()?;
        let condition = match r.condition {
            None | Some(proto::set_request::Condition::IfAbsent(false)) => Condition::Always,
            Some(proto::set_request::Condition::IfAbsent(true)) => Condition::IfAbsent,
            Some(proto::set_request::Condition::IfVersion(v)) => {
                Condition::IfVersion(Version::new(v))
            }
        };
        let version = self
            .store
            .set(&r.key, &r.value, ttl, condition)
            .await
            .map_err(|e| failed("set", &e))?;
        Ok(Response::new(proto::SetResponse {
            version: version.get(),
        }))
    }

    async fn delete(
        &self,
        request: Request<proto::DeleteRequest>,
    ) -> Result<Response<proto::DeleteResponse>, Status> {
        let key = request.into_inner().key;
        let existed = self
            .store
            .delete(&key)
            .await
            .map_err(|e| failed("delete", &e))?;
        Ok(Response::new(proto::DeleteResponse { existed }))
    }

    async fn delete_if(
        &self,
        request: Request<proto::DeleteIfRequest>,
    ) -> Result<Response<proto::DeleteIfResponse>, Status> {
        let r = request.into_inner();
        let deleted = self
            .store
            .delete_if(&r.key, Version::new(r.version))
            .await
            .map_err(|e| failed("delete_if", &e))?;
        Ok(Response::new(proto::DeleteIfResponse { deleted }))
    }

    async fn touch(
        &self,
        request: Request<proto::TouchRequest>,
    ) -> Result<Response<proto::TouchResponse>, Status> {
        let r = request.into_inner();
        let found = self
            .store
            .touch(&r.key, ttl(r.ttl_ms)?)
            .await
            .map_err(|e| failed("touch", &e))?;
        Ok(Response::new(proto::TouchResponse { found }))
    }

    async fn scan(
        &self,
        request: Request<proto::ScanRequest>,
    ) -> Result<Response<proto::ScanResponse>, Status> {
        let r = request.into_inner();
        let limit = match r.limit {
            0 => self.scan_cap,
            n => n.min(self.scan_cap),
        } as usize;
        let Some(token) = r.page_token else {
            return self.scan_unpaged(&r.prefix, r.limit, limit).await;
        };
        let cursor = (!token.is_empty()).then(|| Cursor::from_token(token));
        let page = self
            .store
            .scan_page(&r.prefix, cursor.as_ref(), limit)
            .await
            .map_err(|e| failed("scan", &e))?;
        Ok(Response::new(proto::ScanResponse {
            keys: page.keys,
            next_page_token: page.next.map(Cursor::into_token),
            paged: true,
        }))
    }

    async fn purge_expired(
        &self,
        _request: Request<proto::PurgeExpiredRequest>,
    ) -> Result<Response<proto::PurgeExpiredResponse>, Status> {
        let removed = self
            .store
            .purge_expired()
            .await
            .map_err(|e| failed("purge_expired", &e))?;
        Ok(Response::new(proto::PurgeExpiredResponse { removed }))
    }

    async fn delete_prefix(
        &self,
        request: Request<proto::DeletePrefixRequest>,
    ) -> Result<Response<proto::DeletePrefixResponse>, Status> {
        let prefix = request.into_inner().prefix;
        let deleted = self
            .store
            .delete_prefix(&prefix)
            .await
            .map_err(|e| failed("delete_prefix", &e))?;
        Ok(Response::new(proto::DeletePrefixResponse { deleted }))
    }

    async fn create_session(
        &self,
        request: Request<proto::CreateSessionRequest>,
    ) -> Result<Response<proto::CreateSessionResponse>, Status> {
        self.sessions
            .create(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn open_session(
        &self,
        request: Request<proto::OpenSessionRequest>,
    ) -> Result<Response<proto::OpenSessionResponse>, Status> {
        self.sessions
            .open(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn extend_session(
        &self,
        request: Request<proto::ExtendSessionRequest>,
    ) -> Result<Response<proto::ExtendSessionResponse>, Status> {
        self.sessions
            .extend(request.into_inner())
            .await
            .map(Response::new)
    }

    async fn close_session(
        &self,
        request: Request<proto::CloseSessionRequest>,
    ) -> Result<Response<proto::CloseSessionResponse>, Status> {
        self.sessions
            .close(request.into_inner())
            .await
            .map(Response::new)
    }
}
