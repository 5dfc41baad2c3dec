//! Store errors to gRPC statuses and back: the one mapping both sides share.

#[cfg(feature = "client")]
use std::time::Duration;

use satchel_store_core::{StoreError, StoreErrorKind};
use tonic::{Code, Status};

/// The backend name a [`GrpcStore`](crate::GrpcStore) reports in its errors and spans.
#[cfg(feature = "client")]
pub(crate) const BACKEND: &str = "grpc";

/// The status a server answers for a store error: the mapping in the crate docs, shared
/// with the services an [`Extension`](crate::Extension) adds (so a Coherence call that hits
/// a conflict answers `ABORTED` like a store call does).
///
/// Only the error's own message crosses the wire (it never holds credentials: see
/// `satchel_store_core::Store`); its `source` chain, which can hold backend details, stays
/// in the server's log, and a backend's own failure becomes `INTERNAL` with no details.
///
/// ```
/// use satchel_store_core::{StoreError, StoreErrorKind};
/// let status = satchel_grpc::to_status(&StoreError::new(StoreErrorKind::Conflict, "changed"));
/// assert_eq!(status.code(), tonic::Code::Aborted);
/// ```
#[cfg(feature = "server")]
pub fn to_status(e: &StoreError) -> Status {
    let code = match e.kind() {
        StoreErrorKind::NotFound => Code::NotFound,
        StoreErrorKind::Conflict => Code::Aborted,
        StoreErrorKind::Codec | StoreErrorKind::InvalidInput => Code::InvalidArgument,
        StoreErrorKind::Corrupt => Code::DataLoss,
        StoreErrorKind::Timeout => Code::DeadlineExceeded,
        StoreErrorKind::Unavailable => Code::Unavailable,
        StoreErrorKind::Unsupported => Code::Unimplemented,
        _ => Code::Internal,
    };
    let message = match code {
        // A backend's own error says nothing a client can act on and may describe the
        // server's internals: the client gets a pointer to the server's log instead.
        Code::Internal => "the server's store failed; the server's log has the details".into(),
        _ => e.message().to_string(),
    };
    Status::new(code, message)
}

/// The store error a client reports for a status the server (or the transport) answered.
#[cfg(feature = "client")]
pub(crate) fn from_status(status: Status, key: Option<&str>, address: &str) -> StoreError {
    let (kind, message) = match status.code() {
        Code::NotFound => (StoreErrorKind::NotFound, status.message().to_string()),
        Code::Aborted => (StoreErrorKind::Conflict, status.message().to_string()),
        Code::InvalidArgument => (StoreErrorKind::InvalidInput, status.message().to_string()),
        // tonic answers OUT_OF_RANGE for a message over the size limit.
        Code::OutOfRange | Code::ResourceExhausted => (
            StoreErrorKind::InvalidInput,
            format!(
                "the request or its answer is larger than a message size limit ({}); raise \
                 `max_message_size` on the client and the server",
                status.message()
            ),
        ),
        Code::DataLoss => (StoreErrorKind::Corrupt, status.message().to_string()),
        // tonic's deadline (client or server side) is CANCELLED "Timeout expired"; any other
        // cancellation is a connection that went away.
        Code::DeadlineExceeded => timeout_kind(&status, address),
        Code::Cancelled if status.message() == "Timeout expired" => timeout_kind(&status, address),
        Code::Unknown if lost_connection(&status) => (
            StoreErrorKind::Unavailable,
            format!(
                "the connection to the server at {address} was lost ({})",
                status.message()
            ),
        ),
        Code::Unavailable | Code::Cancelled => (
            StoreErrorKind::Unavailable,
            format!(
                "the server at {address} or its store is unreachable ({})",
                status.message()
            ),
        ),
        Code::Unauthenticated | Code::PermissionDenied => (
            StoreErrorKind::Backend,
            format!(
                "the server at {address} refused the request's credentials ({}); set the \
                 token (SATCHEL_TOKEN) or client certificate it expects",
                status.message()
            ),
        ),
        // A store without the capability (Redis has no purge), or a server that does not
        // know the call.
        Code::Unimplemented => (
            StoreErrorKind::Unsupported,
            format!(
                "the server at {address} does not implement this call ({}); its store lacks \
                 the capability, or it is not a satchel server of the same protocol version \
                 (satchel.store.v1)",
                status.message()
            ),
        ),
        _ => (
            StoreErrorKind::Backend,
            format!("the server at {address} failed: {}", status.message()),
        ),
    };
    let mut e = StoreError::new(kind, message)
        .with_backend(BACKEND)
        .with_source(status);
    if let Some(key) = key {
        e = e.with_key(key);
    }
    e
}

/// Whether a status the client made itself stands for a broken connection (tonic reports
/// a connection reset mid-call as `UNKNOWN` "transport error").
#[cfg(feature = "client")]
fn lost_connection(status: &Status) -> bool {
    let mut cause = std::error::Error::source(status);
    while let Some(e) = cause {
        if e.is::<tonic::transport::Error>() || e.is::<std::io::Error>() {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(feature = "client")]
fn timeout_kind(status: &Status, address: &str) -> (StoreErrorKind, String) {
    (
        StoreErrorKind::Timeout,
        format!(
            "the server at {address} did not finish in time ({}); a write may or may not have \
             been applied: re-read before retrying",
            status.message()
        ),
    )
}

/// The error for a call that got no answer within the client's request timeout.
#[cfg(feature = "client")]
pub(crate) fn timed_out(key: Option<&str>, address: &str, timeout: Duration) -> StoreError {
    let e = StoreError::new(
        StoreErrorKind::Timeout,
        format!(
            "no answer from the server at {address} within {timeout:?} (the request timeout; \
             SATCHEL_REQUEST_TIMEOUT or GrpcConfig::with_request_timeout); a write may or may \
             not have been applied: re-read before retrying"
        ),
    )
    .with_backend(BACKEND);
    match key {
        Some(key) => e.with_key(key),
        None => e,
    }
}

#[cfg(all(test, feature = "client", feature = "server"))]
mod tests {
    use super::*;

    #[test]
    fn kinds_survive_the_round_trip() {
        for kind in [
            StoreErrorKind::NotFound,
            StoreErrorKind::Conflict,
            StoreErrorKind::Corrupt,
            StoreErrorKind::Timeout,
            StoreErrorKind::Unavailable,
            StoreErrorKind::InvalidInput,
        ] {
            let back = from_status(
                to_status(&StoreError::new(kind, "x")),
                Some("k"),
                "127.0.0.1:1",
            );
            assert_eq!(back.kind(), kind);
            assert_eq!(back.key(), Some("k"));
        }
    }

    #[test]
    fn backend_details_stay_on_the_server() {
        let e = StoreError::new(StoreErrorKind::Backend, "password=hunter2 in the DSN")
            .with_source(std::io::Error::other("stack"));
        let status = to_status(&e);
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }
}
