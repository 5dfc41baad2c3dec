//! The bearer-token check every guarded service shares: the store service and whatever an
//! [`Extension`](crate::Extension) adds with [`Mount::add_service`](crate::Mount::add_service).

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
            Err(Status::unauthenticated(
                "a bearer token is required (`authorization: Bearer <token>`); the one sent is \
                 missing or wrong",
            ))
        }
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
