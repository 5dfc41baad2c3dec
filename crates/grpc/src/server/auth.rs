//! The checks every guarded service shares: the bearer token (the store service and whatever
//! an [`Extension`](crate::Extension) adds with [`Mount::add_service`](crate::Mount::add_service)),
//! and the client certificate (services for clients that cannot send a token, under mutual
//! TLS). Each is one interceptor per service, run before the request's message is decoded.

use std::fmt;
use std::sync::Arc;

use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Lets a call through if it carries `authorization: Bearer <token>` (compared in constant
/// time), or if the server has no token; `UNAUTHENTICATED` otherwise. Runs before the
/// request's message is decoded.
#[derive(Clone, Debug)]
pub(crate) struct TokenCheck {
    /// `Bearer <token>`.
    expected: Option<Arc<str>>,
}

impl TokenCheck {
    pub(crate) fn new(token: Option<&str>) -> Self {
        Self {
            expected: token.map(|t| Arc::from(format!("Bearer {t}"))),
        }
    }

    /// Whether calls need a token at all.
    pub(crate) fn is_on(&self) -> bool {
        self.expected.is_some()
    }
}

impl Interceptor for TokenCheck {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.expected else {
            return Ok(request);
        };
        let given = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if constant_time_eq(given, expected.as_bytes()) {
            Ok(request)
        } else {
            tracing::debug!(
                peer = ?request.remote_addr(),
                token_sent = !given.is_empty(),
                "refused a call: bearer token missing or wrong"
            );
            Err(Status::unauthenticated(
                "a bearer token is required (`authorization: Bearer <token>`); the one sent is \
                 missing or wrong",
            ))
        }
    }
}

/// Lets a call through only if its connection presented a client certificate the server
/// verified (mutual TLS); `UNAUTHENTICATED` otherwise.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ClientCertCheck;

impl Interceptor for ClientCertCheck {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        if request.peer_certs().is_some_and(|certs| !certs.is_empty()) {
            Ok(request)
        } else {
            tracing::debug!(
                peer = ?request.remote_addr(),
                "refused a call: no verified client certificate"
            );
            Err(Status::unauthenticated(
                "a client certificate is required (mutual TLS); the connection presented none",
            ))
        }
    }
}

/// How a service of a [`Server`](crate::Server) checks who calls it, as
/// [`ServiceInfo::protection`](crate::ServiceInfo::protection) reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protection {
    /// No check: the server has no token, or the service is the health service.
    Open,
    /// `authorization: Bearer <token>` on every call.
    Token,
    /// A verified client certificate on the connection (mutual TLS): for clients that
    /// cannot send the token.
    ClientCertificate,
    /// No check although the server has a token: the operator allowed it with
    /// [`ServerConfig::allow_open_service`](crate::ServerConfig::allow_open_service).
    OpenByChoice,
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Open => "no authentication",
            Self::Token => "bearer token",
            Self::ClientCertificate => "client certificate (mutual TLS)",
            Self::OpenByChoice => "NO AUTHENTICATION (allowed by the operator)",
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"Bearer a", b"Bearer a"));
        assert!(!constant_time_eq(b"Bearer a", b"Bearer b"));
        assert!(!constant_time_eq(b"Bearer", b"Bearer a"));
    }

    #[test]
    fn calls_need_the_token_only_when_one_is_set() {
        let with = |value: Option<&str>| {
            let mut r = Request::new(());
            if let Some(v) = value {
                r.metadata_mut()
                    .insert("authorization", v.parse().expect("ascii"));
            }
            r
        };
        let mut open = TokenCheck::new(None);
        assert!(!open.is_on());
        assert!(open.call(with(None)).is_ok());
        let mut guarded = TokenCheck::new(Some("s3cret"));
        assert!(guarded.is_on());
        assert!(guarded.call(with(Some("Bearer s3cret"))).is_ok());
        for wrong in [None, Some("Bearer guess"), Some("s3cret")] {
            let e = guarded.call(with(wrong)).unwrap_err();
            assert_eq!(e.code(), tonic::Code::Unauthenticated, "{wrong:?}");
            assert!(!e.message().contains("s3cret"), "{}", e.message());
        }
    }
}
