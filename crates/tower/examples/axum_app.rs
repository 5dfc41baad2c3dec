//! An axum app keeping a counter in its session, with sessions in a satchel store.
//!
//! ```text
//! cargo run -p satchel-tower --example axum_app
//! curl -c jar -b jar http://127.0.0.1:3000/   # 1, 2, 3, … ; restart the app: it goes on
//! ```
//!
//! - `SATCHEL_STORE_URL`: the store (default `sqlite://satchel-sessions.db`; also
//!   `memory://`, `redis://…`, `postgres://…` with the matching satchel-store feature).
//! - `SATCHEL_LISTEN`: the address to listen on (default `127.0.0.1:3000`).
//!
//! Ctrl-C stops it gracefully: requests in flight are finished first.

use std::error::Error;
use std::time::Duration;

use satchel::{Codec, Zstd};
use satchel_store::Store;
use satchel_tower::{ExpiredDeletion, SatchelSessionStore};
use tokio::net::TcpListener;

#[path = "support/counter_app.rs"]
mod counter_app;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("SATCHEL_STORE_URL")
        .unwrap_or_else(|_| "sqlite://satchel-sessions.db".to_string());
    let listen = std::env::var("SATCHEL_LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".to_string());

    let store = satchel_store::open(&url).await?;
    let store_purges = store.capabilities().purge_expired;
    // The one line that picks satchel: any store, any codec.
    let sessions = SatchelSessionStore::new(store, Codec::msgpack().compress(Zstd));

    // SQL stores keep expired sessions until purged (Redis expires them by itself).
    let purge = store_purges.then(|| {
        tokio::spawn(
            sessions
                .clone()
                .continuously_delete_expired(Duration::from_secs(60)),
        )
    });

    let listener = TcpListener::bind(&listen).await?;
    eprintln!(
        "listening on http://{} (sessions in {})",
        listener.local_addr()?,
        satchel_store::redact_url(&url)
    );
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("shutting down");
    };
    counter_app::serve(listener, sessions, ctrl_c).await?;
    if let Some(purge) = purge {
        purge.abort();
    }
    Ok(())
}
