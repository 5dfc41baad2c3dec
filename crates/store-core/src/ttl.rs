//! One rule for times to live, on every backend.
//!
//! A ttl is kept in whole milliseconds, rounded up (a ttl under a millisecond still gives
//! the value that millisecond), and capped at [`MAX_TTL`]: about 142,800 years, the most
//! Redis accepts (2^52 ms). A larger ttl — `Duration::MAX` included — means "effectively
//! no expiry" the same way on every store: the value expires [`MAX_TTL`] from now. Nothing
//! overflows, panics or is refused for being large.

use std::time::{Duration, SystemTime};

/// The longest time to live any store keeps: 2^52 ms, about 142,800 years.
pub const MAX_TTL: Duration = Duration::from_millis(1 << 52);

/// `ttl` in whole milliseconds, rounded up, at least 1, at most [`MAX_TTL`].
///
/// ```
/// use std::time::Duration;
/// use satchel_store_core::{MAX_TTL, ttl_millis};
/// assert_eq!(ttl_millis(Duration::from_micros(1)), 1);
/// assert_eq!(ttl_millis(Duration::from_millis(1500)), 1500);
/// assert_eq!(ttl_millis(Duration::MAX), MAX_TTL.as_millis() as u64);
/// ```
pub fn ttl_millis(ttl: Duration) -> u64 {
    let cap = 1u64 << 52;
    let millis = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(millis).unwrap_or(u64::MAX).clamp(1, cap)
}

/// When a value written at `now` with `ttl` expires, under the rule above.
pub fn expires_at(now: SystemTime, ttl: Duration) -> SystemTime {
    let ttl = Duration::from_millis(ttl_millis(ttl));
    // 142,800 years past any clock this runs on still fits a SystemTime; saturate anyway.
    now.checked_add(ttl).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_ttls_are_capped_never_overflow() {
        let now = SystemTime::now();
        for ttl in [
            Duration::MAX,
            Duration::from_secs(u64::MAX / 2),
            MAX_TTL * 2,
        ] {
            assert_eq!(expires_at(now, ttl), now + MAX_TTL);
        }
        assert_eq!(
            expires_at(now, Duration::from_nanos(1)),
            now + Duration::from_millis(1)
        );
    }
}
