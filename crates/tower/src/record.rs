//! The layout a session record is stored in, and the conversions to and from
//! tower-sessions' [`Record`].
//!
//! A [`Record`] holds `serde_json::Value`s, which only self-describing formats can decode
//! (bincode cannot: `Value` needs `deserialize_any`). So each value is kept as its JSON
//! text, and what the codec encodes is a plain struct of strings and an integer, which
//! every format reads back:
//!
//! ```text
//! { id: String,                      // `c_` + base64url of the first 8 bytes of the id's
//!                                    // SHA-256 (before: `h_` + all 32; 0.1: the id)
//!                                    // (the key: `k_` + the first 16 bytes)
//!   expiry_unix_ms: i64,             // expiry, milliseconds since the Unix epoch
//!   data: BTreeMap<String, String> } // each value as its JSON text, keys sorted
//! ```
//!
//! Fields are written in that order (bincode reads them positionally). The keys are
//! sorted, so the same record always encodes to the same bytes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tower_sessions_core::session::{Id, Record};

/// The stored layout, borrowing from the record being written.
#[derive(Serialize)]
pub(crate) struct StoredRef<'a> {
    id: String,
    expiry_unix_ms: i64,
    data: BTreeMap<&'a str, String>,
}

/// The stored layout, as read back.
#[derive(Deserialize)]
pub(crate) struct Stored {
    id: String,
    expiry_unix_ms: i64,
    data: BTreeMap<String, String>,
}

impl Stored {
    /// The expiry, in milliseconds since the Unix epoch.
    pub(crate) fn expiry_unix_ms(&self) -> i64 {
        self.expiry_unix_ms
    }
}

/// `t` in milliseconds since the Unix epoch, rounded down (the stored precision).
pub(crate) fn unix_ms(t: OffsetDateTime) -> i64 {
    let ms = t.unix_timestamp_nanos().div_euclid(1_000_000);
    i64::try_from(ms).unwrap_or(if ms < 0 { i64::MIN } else { i64::MAX })
}

/// The stored form of `record`.
pub(crate) fn to_stored(record: &Record) -> Result<StoredRef<'_>, serde_json::Error> {
    let data = record
        .data
        .iter()
        .map(|(k, v)| Ok((k.as_str(), serde_json::to_string(v)?)))
        .collect::<Result<_, serde_json::Error>>()?;
    Ok(StoredRef {
        id: id_check(&record.id),
        expiry_unix_ms: unix_ms(record.expiry_date),
        data,
    })
}

/// Why a decoded [`Stored`] is not a usable record. Never carries stored content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Invalid {
    /// The record names another session than the key it is stored under.
    OtherId,
    /// The expiry is outside the range `time` can represent.
    Expiry,
    /// A data value is not JSON text.
    Value,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::OtherId => "the record names another session id than its key",
            Self::Expiry => "the record's expiry is out of range",
            Self::Value => "a session value is not valid JSON text",
        })
    }
}

/// The SHA-256 of session `id` as the cookie writes it: what the key and the id check are
/// made of.
fn digest(id: &Id) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(id.to_string().as_bytes()).into()
}

/// What session `id` is kept under: `k_` and the base64url of the first 16 bytes of the
/// id's SHA-256 (24 characters), so that the store never holds an id usable as a cookie.
/// 128 bits keep both a guess of the id from the key (preimage) and two sessions sharing
/// a key (a collision among 2^64 sessions) out of reach, in 35 bytes fewer than the whole
/// hash: on Redis that takes a key under a smaller allocation.
pub(crate) fn key_of(id: &Id) -> String {
    format!(
        "k_{}",
        satchel_store_core::encode_base64url(&digest(id)[..KEY_BYTES])
    )
}

/// How many bytes of the id's SHA-256 the key keeps.
const KEY_BYTES: usize = 16;

/// The keys earlier versions kept session `id` under, newest first: `h_` and the whole
/// hash (before [`key_of`]), and 0.1's id itself. Read when the key has nothing, and
/// moved to it.
pub(crate) fn legacy_keys(id: &Id) -> [String; 2] {
    [hashed_of(&digest(id)), id.to_string()]
}

fn hashed_of(digest: &[u8; 32]) -> String {
    format!("h_{}", satchel_store_core::encode_base64url(digest))
}

/// What a record written for session `id` names (its id check): `c_` and the base64url of
/// the first 8 bytes of the id's SHA-256. The key already holds 128 bits of the hash; the record
/// only has to tell that it was written for this key and not copied from another one, and
/// 64 bits do that in 13 bytes where the whole hash took 45, on every session.
pub(crate) fn id_check(id: &Id) -> String {
    id_check_of(&digest(id))
}

fn id_check_of(digest: &[u8; 32]) -> String {
    format!(
        "c_{}",
        satchel_store_core::encode_base64url(&digest[..CHECK_BYTES])
    )
}

/// How many bytes of the id's SHA-256 a record's id check keeps.
const CHECK_BYTES: usize = 8;

/// The record stored for session `id`.
pub(crate) fn from_stored(stored: Stored, id: Id) -> Result<Record, Invalid> {
    // Records name their session by its id check; earlier ones by its whole hash, and
    // those of 0.1 by the id itself.
    let digest = digest(&id);
    if stored.id != id_check_of(&digest)
        && stored.id != hashed_of(&digest)
        && stored.id.parse::<Id>().ok() != Some(id)
    {
        return Err(Invalid::OtherId);
    }
    let expiry_date =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(stored.expiry_unix_ms) * 1_000_000)
            .map_err(|_| Invalid::Expiry)?;
    let data = stored
        .data
        .into_iter()
        .map(|(k, v)| Ok((k, serde_json::from_str(&v).map_err(|_| Invalid::Value)?)))
        .collect::<Result<HashMap<_, _>, Invalid>>()?;
    Ok(Record {
        id,
        data,
        expiry_date,
    })
}
