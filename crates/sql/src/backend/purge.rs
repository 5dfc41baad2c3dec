//! The background task that deletes expired rows.

use super::*;

/// Deletes expired rows every `interval` while a clone of the store is alive.
pub(super) async fn purge_loop(store: Weak<Inner>, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        let Some(inner) = store.upgrade() else {
            return;
        };
        match inner.purge().await {
            Ok(n) => tracing::debug!(
                backend = inner.dialect.name(),
                table = %inner.table,
                purged = n,
                "purged expired rows"
            ),
            Err(e) => tracing::warn!(
                backend = inner.dialect.name(),
                table = %inner.table,
                error = %e,
                "background purge of expired rows failed"
            ),
        }
    }
}
