//! Statements run again when SQLite was busy or a connection was lost.

use super::*;

impl Inner {
    pub(super) fn err(&self, err: sqlx::Error, op: Op) -> StoreError {
        error::from_sqlx(err, op, self.dialect)
    }

    pub(super) fn version(&self, key: &str, version: i64) -> Result<Version> {
        u64::try_from(version)
            .map(Version::new)
            .map_err(|_| error::bad_version(key, version, self.dialect))
    }

    /// Runs `attempt` until it succeeds or fails for good: statements refused because
    /// SQLite was busy are run again (they did nothing), and if `idempotent`, one attempt
    /// that lost its connection is run again on another.
    pub(super) async fn retry<T, F, Fut>(
        &self,
        idempotent: bool,
        mut attempt: F,
    ) -> Result<T, sqlx::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        let busy_until = Instant::now() + BUSY_RETRY_FOR;
        let mut pause = Duration::from_millis(1);
        let mut reconnected = false;
        loop {
            let result = attempt().await;
            if let Err(e) = &result
                && error::is_connection_lost(e, self.dialect)
            {
                self.suspect_until
                    .store(now_millis() + SUSPECT_FOR_MS, Ordering::Relaxed);
            }
            match result {
                Err(e) if error::is_busy(&e, self.dialect) && Instant::now() < busy_until => {
                    tracing::debug!(backend = self.dialect.name(), "database busy; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e)
                    if idempotent
                        && !reconnected
                        && error::is_connection_lost(&e, self.dialect) =>
                {
                    tracing::debug!(
                        backend = self.dialect.name(),
                        error = %e,
                        "connection lost; retrying once"
                    );
                    reconnected = true;
                }
                other => return other,
            }
        }
    }
}
