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
    /// SQLite was busy, or chosen as a deadlock's victim (MariaDB: a `DELETE … WHERE owner
    /// = ?` locks index ranges that single-key writes lock in another order), are run
    /// again (they did nothing: the database rolled them back), and if `idempotent`, one
    /// attempt that lost its connection is run again on another. `attempt` must be one
    /// statement outside a transaction.
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
        let backoff = busy_backoff();
        let mut refused = 0;
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
                Err(e)
                    if (error::is_busy(&e, self.dialect) || deadlocked(&e))
                        && Instant::now() < busy_until =>
                {
                    tracing::debug!(backend = self.dialect.name(), error = %e,
                        "database busy or deadlocked; retrying");
                    refused += 1;
                    tokio::time::sleep(backoff.pause(refused)).await;
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

/// A MySQL/MariaDB deadlock victim (rolled back, so safe to run again).
fn deadlocked(e: &sqlx::Error) -> bool {
    #[cfg(feature = "mysql")]
    return error::is_deadlock(e);
    #[cfg(not(feature = "mysql"))]
    {
        let _ = e;
        false
    }
}
