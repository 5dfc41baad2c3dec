//! [`Logged`]: every service of the server logs each call it refuses or fails, with the
//! method, the gRPC code and the peer's address only (never the request, a value, a token
//! or a session id: messages can name keys, so they are left to the client).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::server::NamedService;
use tonic::transport::server::TcpConnectInfo;

/// Wraps a service so that each reply with a gRPC status other than `OK` in its headers (a
/// refused or failed call) is logged: `warn` for the caller's errors, `error` for the
/// server's.
#[derive(Clone, Debug)]
pub(crate) struct Logged<S> {
    inner: S,
}

impl<S> Logged<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S: NamedService> NamedService for Logged<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tower_service::Service<http::Request<tonic::body::Body>> for Logged<S>
where
    S: tower_service::Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<B>,
            Error = Infallible,
        >,
    S::Future: Send + 'static,
{
    type Response = http::Response<B>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        // The URI shares its bytes with the request (no copy); read only if the call fails.
        let uri = request.uri().clone();
        let peer = request
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(TcpConnectInfo::remote_addr);
        let reply = self.inner.call(request);
        Box::pin(async move {
            let response = reply.await?;
            if let Some(code) = response
                .headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok())
                .map(tonic::Code::from)
                && code != tonic::Code::Ok
            {
                log(uri.path(), code, peer);
            }
            Ok(response)
        })
    }
}

fn log(method: &str, code: tonic::Code, peer: Option<std::net::SocketAddr>) {
    use tonic::Code::{DataLoss, Internal, Unavailable, Unknown};
    let peer = peer.map(|p| p.to_string()).unwrap_or_default();
    if matches!(code, Internal | Unknown | DataLoss | Unavailable) {
        tracing::error!(method, code = ?code, peer, "call failed (the server's side)");
    } else {
        tracing::warn!(method, code = ?code, peer, "call refused");
    }
}
