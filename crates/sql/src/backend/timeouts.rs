//! The operation timeout.

use super::*;

impl Inner {
    /// Runs one operation under the operation timeout.
    pub(super) async fn timed<T>(
        &self,
        key: Option<&str>,
        write: bool,
        op: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(limit) = self.operation_timeout else {
            return op.await;
        };
        match tokio::time::timeout(limit, op).await {
            Ok(result) => result,
            Err(_) => {
                let e = StoreError::new(
                    StoreErrorKind::Timeout,
                    format!(
                        "no answer from the database within {limit:?} (SqlConfig::\
                         with_operation_timeout){}",
                        if write {
                            "; the write may or may not have been applied: re-read before \
                             retrying"
                        } else {
                            ""
                        }
                    ),
                )
                .with_backend(self.dialect.name());
                Err(match key {
                    Some(key) => e.with_key(key),
                    None => e,
                })
            }
        }
    }
}
