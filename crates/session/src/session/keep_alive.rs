//! The keep-alive: an open session extends itself in the background with a store
//! `touch`.

use super::*;

impl<S, K> Session<S, K>
where
    S: StoreObject + ?Sized + 'static,
    K: ValueCodec + Clone + 'static,
{
    /// Keeps the saved session alive in the background: every
    /// [`SessionConfig::extend_interval`] its time to live is reset with a store `touch`
    /// (its data is not rewritten), until [`Session::close`] or drop. A session that has
    /// already expired or been deleted is never revived: extension stops and
    /// [`Session::keep_alive_status`] says so. Transient store errors are retried at the
    /// next tick; three in a row stop it and are reported the same way.
    ///
    /// Needs a tokio runtime.
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidInput`] if the session was never saved (it has no id yet),
    /// or if called outside a tokio runtime.
    pub fn open(&mut self) -> Result<(), StoreError> {
        let Some(id) = self.id.clone() else {
            return Err(StoreError::new(
                StoreErrorKind::InvalidInput,
                "save the session before opening it: it has no id yet",
            ));
        };
        if self.keep_alive.is_some() {
            return Ok(());
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(StoreError::new(
                StoreErrorKind::InvalidInput,
                format!(
                    "session {} cannot be opened outside a tokio runtime: its keep-alive runs \
                     as a tokio task; open it from async code running on tokio",
                    short(&id)
                ),
            ));
        };
        let status = Arc::new(Mutex::new(KeepAliveStatus::Running));
        let shared = self.sessions.shared.clone();
        let key = self.sessions.key(&id);
        let fingerprint = short(&id);
        let created_ms = self.record.created_ms;
        let task_status = status.clone();
        let task = runtime.spawn(async move {
            let interval = shared.config.interval();
            let mut failures = 0;
            loop {
                tokio::time::sleep(interval).await;
                let mut ttl = shared.config.idle_timeout;
                if let Some(abs) = shared.config.absolute_timeout {
                    let left = created_ms.saturating_add(millis(abs)) - now_ms();
                    if left <= 0 {
                        set_status(&task_status, KeepAliveStatus::Expired);
                        return;
                    }
                    ttl = ttl.min(Duration::from_millis(left as u64));
                }
                match shared.store.touch(&key, ttl).await {
                    Ok(true) => failures = 0,
                    Ok(false) => {
                        set_status(&task_status, KeepAliveStatus::Expired);
                        return;
                    }
                    Err(e) if e.is_transient() && failures < 2 => {
                        failures += 1;
                        tracing::warn!(session = %fingerprint, error = %e,
                            "session keep-alive failed; retrying");
                    }
                    Err(e) => {
                        tracing::error!(session = %fingerprint, error = %e,
                            "session keep-alive stopped");
                        set_status(
                            &task_status,
                            KeepAliveStatus::Failed {
                                kind: e.kind(),
                                message: e.to_string(),
                            },
                        );
                        return;
                    }
                }
            }
        });
        self.keep_alive = Some(KeepAlive { task, status });
        Ok(())
    }

    /// Stops keeping the session alive. It then expires after its idle timeout unless
    /// saved or opened again.
    pub fn close(&mut self) {
        self.keep_alive = None;
    }

    /// How background extension is going: `None` if the session is not open.
    pub fn keep_alive_status(&self) -> Option<KeepAliveStatus> {
        self.keep_alive.as_ref().map(|k| {
            k.status
                .lock()
                .map(|s| s.clone())
                .unwrap_or(KeepAliveStatus::Running)
        })
    }
}

pub(super) fn set_status(status: &Mutex<KeepAliveStatus>, new: KeepAliveStatus) {
    if let Ok(mut s) = status.lock() {
        *s = new;
    }
}

/// The state of an open session's background extension.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeepAliveStatus {
    /// Extending on schedule.
    Running,
    /// The session expired or was deleted; it is not revived.
    Expired,
    /// The store kept failing; extension stopped.
    Failed {
        /// The kind of the last error.
        kind: StoreErrorKind,
        /// Its message.
        message: String,
    },
}

pub(super) struct KeepAlive {
    pub(super) task: tokio::task::JoinHandle<()>,
    pub(super) status: Arc<Mutex<KeepAliveStatus>>,
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.task.abort();
    }
}
