//! [`RetryPolicy`]: the one compare-and-set retry loop, bounded, with jittered backoff.

use std::future::Future;
use std::time::Duration;

use crate::{Result, StoreError, StoreErrorKind};

/// How a read-modify-write that lost a compare-and-set race is retried: at most
/// `max_attempts` attempts in all, sleeping a random time between attempts (up to
/// `initial_backoff`, doubling each time, never above `max_backoff`), so writers that
/// collided spread out instead of colliding again.
///
/// Every compare-and-set loop of satchel (typed `update`, session saves and the owner
/// index, the tower-sessions adapter) runs through [`RetryPolicy::run`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use std::time::Duration;
/// use satchel_store_core::{RetryPolicy, StoreError, StoreErrorKind};
///
/// let policy = RetryPolicy::new(3).with_backoff(Duration::from_millis(1), Duration::from_millis(4));
/// let err = policy
///     .run(|_attempt| async {
///         Err::<(), _>(StoreError::new(StoreErrorKind::Conflict, "lost").with_key("k"))
///     })
///     .await
///     .unwrap_err();
/// assert_eq!(err.kind(), StoreErrorKind::Conflict);
/// assert!(err.to_string().contains("3 attempts"), "{err}");
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 100 attempts, backoff from 1 ms up to 50 ms.
    fn default() -> Self {
        Self {
            max_attempts: 100,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(50),
        }
    }
}

impl RetryPolicy {
    /// At most `max_attempts` attempts (at least one is always made), with the default
    /// backoff.
    pub fn new(max_attempts: u32) -> Self {
        Self {
            max_attempts: max_attempts.max(1),
            ..Self::default()
        }
    }

    /// This policy, sleeping up to `initial` after the first lost race, doubling up to
    /// `max` (each sleep a uniformly random fraction of that bound). Zero for both: retry
    /// at once.
    #[must_use]
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// How many attempts are made in all before a conflict is returned.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The bound of the first sleep.
    pub fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// The largest bound a sleep grows to.
    pub fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// The jittered sleep after `failures` lost attempts (1 for the first): a uniformly
    /// random duration up to the bound that starts at [`RetryPolicy::initial_backoff`] and
    /// doubles up to [`RetryPolicy::max_backoff`]. For loops that retry something other
    /// than a [`StoreErrorKind::Conflict`] (a database deadlock victim, say) with the same
    /// spreading-out.
    ///
    /// ```
    /// use std::time::Duration;
    /// use satchel_store_core::RetryPolicy;
    ///
    /// let policy = RetryPolicy::default().with_backoff(Duration::from_millis(2), Duration::from_millis(8));
    /// assert!(policy.pause(1) <= Duration::from_millis(2));
    /// assert!(policy.pause(10) <= Duration::from_millis(8));
    /// ```
    pub fn pause(&self, failures: u32) -> Duration {
        jitter(self.backoff_bound(failures))
    }

    /// The bound of the sleep after `failures` lost races (1 for the first).
    fn backoff_bound(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.initial_backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }

    /// Runs `op` (given the attempt number, from 1) until it returns anything but a
    /// [`StoreErrorKind::Conflict`], at most [`RetryPolicy::max_attempts`] times, with a
    /// jittered sleep between attempts.
    ///
    /// # Errors
    /// The first error that is not a conflict, as `op` returned it; after the last
    /// attempt lost, a [`StoreErrorKind::Conflict`] with the same key and backend that
    /// says how many attempts were made, the last conflict kept as its source.
    pub async fn run<T, Op, Fut>(&self, mut op: Op) -> Result<T>
    where
        Op: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempts = self.attempts();
        loop {
            match op(attempts.attempt()).await {
                Err(e) if e.kind() == StoreErrorKind::Conflict => {
                    attempts.after_conflict(e).await?
                }
                other => return other,
            }
        }
    }

    /// The attempts of one operation, for a loop whose body [`RetryPolicy::run`]'s closure
    /// cannot hold (one that borrows mutable state across its awaits): call
    /// [`Attempts::after_conflict`] each time it loses.
    pub fn attempts(&self) -> Attempts {
        Attempts {
            policy: *self,
            attempt: 1,
        }
    }
}

/// The attempts of one operation under a [`RetryPolicy`] (from [`RetryPolicy::attempts`]).
#[derive(Debug)]
pub struct Attempts {
    policy: RetryPolicy,
    attempt: u32,
}

impl Attempts {
    /// The number of the attempt under way, from 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// After the attempt under way lost with `conflict`: sleeps the jittered backoff and
    /// returns `Ok` if another attempt is allowed.
    ///
    /// # Errors
    /// When it was the last attempt: a [`StoreErrorKind::Conflict`] with the key and
    /// backend of `conflict` that says how many attempts were made, `conflict` kept as
    /// its source.
    pub async fn after_conflict(&mut self, conflict: StoreError) -> Result<()> {
        if self.attempt >= self.policy.max_attempts {
            return Err(gave_up(conflict, self.attempt));
        }
        let pause = self.policy.pause(self.attempt);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        self.attempt += 1;
        Ok(())
    }
}

fn gave_up(last: StoreError, attempts: u32) -> StoreError {
    let mut e = StoreError::new(
        StoreErrorKind::Conflict,
        format!(
            "{} (gave up after {attempts} attempts: other writers kept changing the value; \
             retry later or raise RetryPolicy::max_attempts)",
            last.message()
        ),
    );
    if let Some(key) = last.key() {
        e = e.with_key(key.to_string());
    }
    if let Some(backend) = last.backend() {
        e = e.with_backend(backend);
    }
    e.with_source(last)
}

/// A uniformly random duration in `[0, bound]`, from the operating system's random source
/// (the bound itself if it has none to give).
fn jitter(bound: Duration) -> Duration {
    let nanos = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    match getrandom::u64() {
        Ok(r) => Duration::from_nanos(r % (nanos + 1).max(1)),
        Err(_) => bound,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn conflict() -> StoreError {
        StoreError::new(StoreErrorKind::Conflict, "lost the race")
            .with_key("counter")
            .with_backend("memory")
    }

    #[tokio::test]
    async fn retries_conflicts_until_success() {
        let calls = AtomicU32::new(0);
        let policy = RetryPolicy::new(5).with_backoff(Duration::ZERO, Duration::ZERO);
        let n = policy
            .run(|attempt| {
                calls.fetch_add(1, Ordering::Relaxed);
                async move {
                    if attempt < 3 {
                        Err(conflict())
                    } else {
                        Ok(attempt)
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(n, 3);
        assert_eq!(calls.load(Ordering::Relaxed), 3);
    }

    #[tokio::test]
    async fn gives_up_after_the_bound_naming_the_attempts() {
        let calls = AtomicU32::new(0);
        let policy =
            RetryPolicy::new(4).with_backoff(Duration::from_micros(10), Duration::from_micros(40));
        let err = policy
            .run(|_| {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Err::<(), _>(conflict()) }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::Relaxed), 4);
        assert_eq!(err.kind(), StoreErrorKind::Conflict);
        assert_eq!(err.key(), Some("counter"));
        assert_eq!(err.backend(), Some("memory"));
        assert!(err.to_string().contains("after 4 attempts"), "{err}");
        assert!(std::error::Error::source(&err).is_some());
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let err = RetryPolicy::default()
            .run(|_| {
                calls.fetch_add(1, Ordering::Relaxed);
                async { Err::<(), _>(StoreError::new(StoreErrorKind::Timeout, "slow")) }
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Timeout);
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_below_it() {
        let p =
            RetryPolicy::new(10).with_backoff(Duration::from_millis(1), Duration::from_millis(5));
        let bounds: Vec<_> = (1..=5).map(|f| p.backoff_bound(f).as_millis()).collect();
        assert_eq!(bounds, [1, 2, 4, 5, 5]);
        assert_eq!(p.backoff_bound(u32::MAX), Duration::from_millis(5));
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..200 {
            let j = jitter(Duration::from_millis(5));
            assert!(j <= Duration::from_millis(5));
            distinct.insert(j);
        }
        assert!(
            distinct.len() > 100,
            "jitter is random: {} distinct",
            distinct.len()
        );
        assert_eq!(RetryPolicy::new(0).max_attempts(), 1);
    }
}
