//! Versions, write stamps and expiry times.

use super::*;

/// Milliseconds since the epoch, now.
pub(super) fn now_millis() -> i64 {
    unix_millis(SystemTime::now())
}

/// When a value written at `now` (ms) with `ttl` expires, under the one rule every store
/// follows ([`satchel_store_core::ttl_millis`]: rounded up, capped at 2^52 ms).
pub(super) fn expiry(now: i64, ttl: Duration) -> i64 {
    let millis = satchel_store_core::ttl_millis(ttl);
    now.saturating_add(i64::try_from(millis).unwrap_or(i64::MAX))
}

/// The smallest version a write may take now: microseconds since the epoch, and above every
/// stamp this process handed out before (so two writes in one microsecond differ too).
pub(super) fn next_stamp() -> i64 {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    let next = |last: i64| now.max(last.saturating_add(1));
    match LAST.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
        Some(next(last))
    }) {
        Ok(last) | Err(last) => next(last),
    }
}

/// What a `set` writes, worked out once before any attempt.
#[derive(Clone, Copy)]
pub(super) struct Write<'a> {
    pub(super) key: &'a str,
    pub(super) value: &'a [u8],
    /// Unix ms, `None`: never.
    pub(super) expires_at: Option<i64>,
    /// The owner tag, `None`: untagged.
    pub(super) owner: Option<&'a str>,
    /// The lowest version this write may take ([`next_stamp`]).
    pub(super) stamp: i64,
    /// Unix ms: rows expiring at or before this are gone.
    pub(super) now: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(super) fn stamps_strictly_increase() {
        let mut last = 0;
        for _ in 0..10_000 {
            let s = next_stamp();
            assert!(s > last);
            last = s;
        }
    }

    #[test]
    pub(super) fn expiry_rounds_up_and_saturates() {
        assert_eq!(expiry(1_000, Duration::from_millis(300)), 1_300);
        assert_eq!(expiry(1_000, Duration::from_nanos(1)), 1_001);
        assert_eq!(expiry(1_000, Duration::MAX), 1_000 + (1 << 52));
    }
}
