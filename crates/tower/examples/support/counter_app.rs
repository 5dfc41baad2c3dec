//! The counter app of `examples/axum_app.rs`, shared with the HTTP tests
//! (`tests/http.rs` includes this file), so both run exactly the same code.

use std::future::Future;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_sessions::{Session, SessionManagerLayer, SessionStore};

/// The session key the count is kept under.
const COUNTER: &str = "counter";

/// `GET /`: increments the count in the session and answers it as text.
async fn count(session: Session) -> Result<String, (StatusCode, String)> {
    let internal =
        |e: tower_sessions::session::Error| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let n = session
        .get::<u64>(COUNTER)
        .await
        .map_err(internal)?
        .unwrap_or(0)
        + 1;
    session.insert(COUNTER, n).await.map_err(internal)?;
    Ok(n.to_string())
}

/// The app: one route, sessions in `store`.
pub(crate) fn router<S: SessionStore + Clone>(store: S) -> Router {
    // Plain HTTP in this example: a `Secure` cookie would not be sent back over it by
    // browsers other than for localhost. Behind TLS, leave the default (secure).
    let sessions = SessionManagerLayer::new(store).with_secure(false);
    Router::new().route("/", get(count)).layer(sessions)
}

/// Serves the app on `listener` until `shutdown` completes, then finishes the requests
/// in flight.
pub(crate) async fn serve<S: SessionStore + Clone>(
    listener: TcpListener,
    store: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(store))
        .with_graceful_shutdown(shutdown)
        .await
}
