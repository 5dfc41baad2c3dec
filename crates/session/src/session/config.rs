//! [`SessionConfig`]: how sessions of one kind live and expire.

use super::*;

/// How sessions of one kind live and expire.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionConfig {
    /// A session not saved or extended for this long expires (default 30 minutes).
    pub idle_timeout: Duration,
    /// A session expires this long after it was created, however active (default none).
    pub absolute_timeout: Option<Duration>,
    /// Store keys are `{key_prefix}{id}` (default `session:`).
    pub key_prefix: String,
    /// How often an open session extends itself (default: a third of the idle timeout,
    /// so it is extended well before it could expire, and never more often).
    pub extend_interval: Option<Duration>,
    /// Delete a stored session that fails to decode when connecting to it (default
    /// false: the error names the session and its bytes stay for inspection).
    pub purge_corrupt: bool,
    /// How saves that lose a compare-and-set race (merging saves, new ids, the owner
    /// index) are retried (default [`RetryPolicy::default`]: 100 attempts, jittered
    /// backoff).
    pub retry_policy: RetryPolicy,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: None,
            key_prefix: "session:".to_string(),
            extend_interval: None,
            purge_corrupt: false,
            retry_policy: RetryPolicy::default(),
        }
    }
}

impl SessionConfig {
    /// Sets [`SessionConfig::retry_policy`].
    #[must_use]
    pub fn with_retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// Sets [`SessionConfig::idle_timeout`].
    #[must_use]
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets [`SessionConfig::absolute_timeout`].
    #[must_use]
    pub fn with_absolute_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.absolute_timeout = timeout;
        self
    }

    /// Sets [`SessionConfig::key_prefix`].
    #[must_use]
    pub fn with_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// Sets [`SessionConfig::extend_interval`].
    #[must_use]
    pub fn with_extend_interval(mut self, interval: Option<Duration>) -> Self {
        self.extend_interval = interval;
        self
    }

    /// Sets [`SessionConfig::purge_corrupt`].
    #[must_use]
    pub fn with_purge_corrupt(mut self, purge: bool) -> Self {
        self.purge_corrupt = purge;
        self
    }

    pub(super) fn interval(&self) -> Duration {
        self.extend_interval
            .unwrap_or(self.idle_timeout / 3)
            .max(Duration::from_millis(10))
    }
}
