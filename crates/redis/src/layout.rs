//! How a value sits on the server: one Redis string per key, the bytes behind a small
//! envelope that carries the version, the expiry and the owner tag, so a read is one `GET`.
//!
//! ```text
//! C1 0F  version u64 BE  [expiry: ms since the epoch, u48 BE, if F & 1]
//!        [owner: length u16 BE + UTF-8 bytes, if F & 2]  the value's bytes
//! ```
//!
//! `C1 00`–`C1 03` is never the start of UTF-8 text, of MessagePack, or of a satchel codec
//! header (whose second byte is `FF` or has a format id of 1 to 14 in its high nibble), so
//! bytes another program wrote are not mistaken for an envelope by accident. Anything that
//! is not a whole envelope is a *foreign* value: its bytes are the value, and its version is
//! [`derived`] from them. The scripts ([`crate::scripts`]) read envelopes by the same rules.
//!
//! An untagged value costs 10 bytes over a plain `SET` of the same bytes, 16 with an expiry.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use satchel_store_core::Version;

/// The first byte of an envelope (the same byte satchel's codec header starts with).
pub(crate) const MAGIC: u8 = 0xC1;
/// Flag in the second byte: an expiry follows the version.
pub(crate) const HAS_EXPIRY: u8 = 0x01;
/// Flag in the second byte: an owner tag follows the version (and the expiry).
pub(crate) const HAS_OWNER: u8 = 0x02;
/// The bytes before the value of an untagged envelope without expiry.
pub(crate) const BASE_LEN: usize = 10;
/// The bytes of an expiry.
pub(crate) const EXPIRY_LEN: usize = 6;
/// The expiry kept for a value that expires after the year 10889 (a TTL near
/// [`MAX_TTL`](satchel_store_core::MAX_TTL)): a read asks the server for the key's TTL.
pub(crate) const FAR: u64 = (1 << 48) - 1;
/// The top bit of a version: set only on versions [`derived`] from foreign bytes.
pub(crate) const DERIVED: u64 = 1 << 63;

/// A value read from the server, taken apart.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    /// An envelope satchel wrote.
    Envelope {
        /// The bytes, envelope removed.
        value: Vec<u8>,
        version: Version,
        expires_at: Option<SystemTime>,
        /// The expiry is past what 48 bits hold ([`FAR`]): the key's own TTL tells it.
        far: bool,
    },
    /// Bytes another program wrote: all of them are the value.
    Foreign(Vec<u8>),
}

/// The parts of an envelope's head: what follows the version, and where the value starts.
struct Head {
    version: u64,
    expiry_ms: Option<u64>,
    value_at: usize,
}

fn head(bytes: &[u8]) -> Option<Head> {
    let [MAGIC, flags, ..] = *bytes else {
        return None;
    };
    if flags & !(HAS_EXPIRY | HAS_OWNER) != 0 {
        return None;
    }
    let version = u64::from_be_bytes(bytes.get(2..10)?.try_into().ok()?);
    let mut at = BASE_LEN;
    let mut expiry_ms = None;
    if flags & HAS_EXPIRY != 0 {
        let raw = bytes.get(at..at + EXPIRY_LEN)?;
        let mut be = [0u8; 8];
        be[2..].copy_from_slice(raw);
        expiry_ms = Some(u64::from_be_bytes(be));
        at += EXPIRY_LEN;
    }
    if flags & HAS_OWNER != 0 {
        let len = usize::from(u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
        bytes.get(at + 2..at + 2 + len)?;
        at += 2 + len;
    }
    Some(Head {
        version,
        expiry_ms,
        value_at: at,
    })
}

/// Takes `bytes` (a string's whole content) apart.
pub(crate) fn parse(mut bytes: Vec<u8>) -> Stored {
    let Some(head) = head(&bytes) else {
        return Stored::Foreign(bytes);
    };
    bytes.drain(..head.value_at);
    Stored::Envelope {
        value: bytes,
        version: Version::new(head.version),
        expires_at: head
            .expiry_ms
            .and_then(|ms| UNIX_EPOCH.checked_add(Duration::from_millis(ms))),
        far: head.expiry_ms == Some(FAR),
    }
}

/// Writes the envelope of `value` into `out` (cleared first).
pub(crate) fn encode_into(
    out: &mut Vec<u8>,
    value: &[u8],
    version: Version,
    expiry_ms: Option<u64>,
    owner: Option<&str>,
) {
    out.clear();
    let mut flags = 0;
    if expiry_ms.is_some() {
        flags |= HAS_EXPIRY;
    }
    if owner.is_some() {
        flags |= HAS_OWNER;
    }
    let owner_len = owner.map_or(0, |o| 2 + o.len());
    out.reserve(BASE_LEN + EXPIRY_LEN + owner_len + value.len());
    out.extend_from_slice(&[MAGIC, flags]);
    out.extend_from_slice(&version.get().to_be_bytes());
    if let Some(ms) = expiry_ms {
        out.extend_from_slice(&expiry_bytes(ms));
    }
    if let Some(owner) = owner {
        // Owner tags are at most MAX_OWNER_LEN (1020) bytes, checked before any write.
        let len = u16::try_from(owner.len()).unwrap_or(u16::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&owner.as_bytes()[..usize::from(len)]);
    }
    out.extend_from_slice(value);
}

/// The envelope of `value`.
pub(crate) fn encode(
    value: &[u8],
    version: Version,
    expiry_ms: Option<u64>,
    owner: Option<&str>,
) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(&mut out, value, version, expiry_ms, owner);
    out
}

/// An expiry as the envelope keeps it: 48 bits of milliseconds (until the year 10889;
/// anything later is [`FAR`]).
pub(crate) fn expiry_bytes(ms: u64) -> [u8; EXPIRY_LEN] {
    let be = ms.min(FAR).to_be_bytes();
    let mut out = [0u8; EXPIRY_LEN];
    out.copy_from_slice(&be[2..]);
    out
}

/// When a value written now with `ttl_ms` expires, in milliseconds since the epoch (by this
/// process's clock; the server's own expiry is set from the same time to live).
pub(crate) fn expiry_ms(ttl_ms: u64) -> u64 {
    now_ms().saturating_add(ttl_ms)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The version of bytes another program wrote: the first 63 bits of their SHA-1 with the
/// top bit set, so it never equals a version satchel writes. Compare-and-set against it
/// succeeds only while the key holds the same bytes (the scripts derive it the same way).
pub(crate) fn derived(bytes: &[u8]) -> Version {
    let digest = sha1_smol::Sha1::from(bytes).digest().bytes();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    Version::new(u64::from_be_bytes(first) | DERIVED)
}

/// The last version this process handed out (versions it writes only grow).
static LAST: AtomicU64 = AtomicU64::new(0);
/// Mixed into the random part, so two calls never hash the same input.
static CALLS: AtomicU64 = AtomicU64::new(0);

/// A new version for a write that replaces `replaced` (if known): 42 bits of the clock in
/// milliseconds (until the year 2109) then 21 random bits, and in any case above every
/// version this process wrote before and above `replaced` (unless that was derived from
/// foreign bytes, which have no order). Two processes writing one key in the same
/// millisecond draw their low bits independently.
pub(crate) fn next_version(replaced: Option<Version>) -> Version {
    thread_local!(static SEED: RandomState = RandomState::new());
    let random = SEED.with(|s| s.hash_one(CALLS.fetch_add(1, Ordering::Relaxed)));
    let candidate = ((now_ms() & ((1 << 42) - 1)) << 21) | (random & ((1 << 21) - 1));
    let floor = replaced
        .map(Version::get)
        .filter(|v| v & DERIVED == 0)
        .map_or(0, |v| v.saturating_add(1));
    let mut version = candidate.max(floor);
    let _ = LAST.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
        version = version.max(last.saturating_add(1));
        Some(version)
    });
    if version & DERIVED != 0 {
        // Only a crafted envelope near 2^63 gets here: start again from the clock.
        version = candidate;
    }
    Version::new(version.max(1))
}

/// The version as the scripts compare it: 16 lowercase hex digits.
pub(crate) fn version_hex(version: Version) -> String {
    format!("{:016x}", version.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip() {
        for (expiry, owner) in [
            (None, None),
            (Some(1_790_000_000_123), None),
            (None, Some("ann")),
            (Some(5), Some("")),
        ] {
            for value in [&b""[..], b"x", &[0xC1, 0x00, 0x01][..], &vec![7u8; 3000]] {
                let bytes = encode(value, Version::new(42), expiry, owner);
                let overhead =
                    BASE_LEN + expiry.map_or(0, |_| EXPIRY_LEN) + owner.map_or(0, |o| 2 + o.len());
                assert_eq!(bytes.len(), value.len() + overhead);
                let Stored::Envelope {
                    value: back,
                    version,
                    expires_at,
                    far,
                } = parse(bytes)
                else {
                    panic!("not read back as an envelope");
                };
                assert_eq!((back.as_slice(), version), (value, Version::new(42)));
                assert!(!far);
                assert_eq!(
                    expires_at,
                    expiry.map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
                );
            }
        }
    }

    #[test]
    fn what_is_not_a_whole_envelope_is_foreign() {
        for bytes in [
            &b""[..],
            b"_kvdbenc_00000000",
            b"plain text",
            &[0xC1],
            &[0xC1, 0x00, 1, 2, 3],
            &[0xC1, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 9],
            &[0xC1, 0x02, 0, 0, 0, 0, 0, 0, 0, 1, 0, 4, b'a'],
            &[0xC1, 0x04, 0, 0, 0, 0, 0, 0, 0, 1],
            &[0xC1, 0x12, 0, 0, 0, 0, 0, 0, 0, 1],
            &[0xC1, 0xFF, 1, 0, 0],
            &[0x82, 0xA1, b'a', 1],
        ] {
            assert_eq!(parse(bytes.to_vec()), Stored::Foreign(bytes.to_vec()));
        }
    }

    #[test]
    fn derived_versions_follow_the_bytes_and_never_meet_written_ones() {
        let a = derived(b"one");
        assert_eq!(a, derived(b"one"));
        assert_ne!(a, derived(b"two"));
        assert_ne!(a.get() & DERIVED, 0);
        // SHA-1("abc") = a9993e36 4706816a …: the top bit is already set.
        assert_eq!(derived(b"abc").get(), 0xa999_3e36_4706_816a);
        // SHA-1("") = da39a3ee 5e6b4b0d …
        assert_eq!(derived(b"").get(), 0xda39_a3ee_5e6b_4b0d);
        assert_eq!(next_version(None).get() & DERIVED, 0);
    }

    #[test]
    fn versions_grow_past_what_they_replace() {
        let mut last = next_version(None);
        for _ in 0..10_000 {
            let v = next_version(None);
            assert!(v > last);
            last = v;
        }
        let ahead = Version::new(last.get() + (1 << 40));
        assert!(next_version(Some(ahead)) > ahead);
        // A derived version sets no floor.
        let v = next_version(Some(derived(b"x")));
        assert_eq!(v.get() & DERIVED, 0);
    }

    #[test]
    fn expiries_keep_48_bits() {
        assert_eq!(expiry_bytes(0x0102_0304_0506), [1, 2, 3, 4, 5, 6]);
        assert_eq!(expiry_bytes(u64::MAX), [0xFF; 6]);
        let far = encode(b"v", Version::new(1), Some(expiry_ms(1 << 52)), None);
        assert!(matches!(parse(far), Stored::Envelope { far: true, .. }));
        assert_eq!(version_hex(Version::new(0xab)), "00000000000000ab");
    }
}
