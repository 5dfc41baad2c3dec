//! zstd dictionaries kept in a store (feature `zstd`): [`load_dictionaries`] and
//! [`save_dictionary`].
//!
//! A trained dictionary (`satchel train --into-store`, or [`save_dictionary`]) is kept
//! under the reserved key `__satchel/dict/ID` ([`dict_key`]), its bytes as zstd writes
//! them. Every process that reads values written with it loads it from there once
//! ([`load_dictionaries`]) into the process's registry of [`ZstdDict`]s, where decoding
//! finds it by the id each value's zstd frame carries.

use satchel::{MAX_DICT_LEN, ZstdDict};
use satchel_store_core::{Condition, Result, Store, StoreError, StoreErrorKind, StoreObject};

/// The reserved prefix of the keys dictionaries are kept under (`__satchel/dict/ID`).
pub const DICT_PREFIX: &str = "__satchel/dict/";

/// The key dictionary `id` is kept under: [`DICT_PREFIX`] and the id in decimal.
pub fn dict_key(id: u32) -> String {
    format!("{DICT_PREFIX}{id}")
}

/// Whether `key` is reserved for a dictionary (under [`DICT_PREFIX`]): not a value, so
/// listings show it as a dictionary and conversions leave it alone.
pub fn is_dict_key(key: &str) -> bool {
    key.starts_with(DICT_PREFIX)
}

/// How much [`load_dictionaries_with`] reads from a store before refusing: each loaded
/// dictionary stays in memory for the life of the process, so a store holding more than
/// expected is refused, never loaded in part silently.
///
/// ```
/// use satchel_store::DictLimits;
///
/// let limits = DictLimits::default().with_max_count(16);
/// assert_eq!(limits.max_count, 16);
/// assert_eq!(limits.max_len, satchel::MAX_DICT_LEN);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DictLimits {
    /// The most dictionary keys a store may hold (default 256: years of weekly retraining).
    /// Counted when listing, before any value is read.
    pub max_count: usize,
    /// The largest dictionary, in bytes (default [`MAX_DICT_LEN`], 4 MiB, what
    /// [`ZstdDict::load`] accepts; zstd's trainer makes 110 KiB ones by default).
    pub max_len: usize,
    /// The most bytes all the dictionaries together may hold (default 64 MiB).
    pub max_total: usize,
}

impl DictLimits {
    /// The defaults (see each field).
    pub const DEFAULT: Self = Self {
        max_count: 256,
        max_len: MAX_DICT_LEN,
        max_total: 64 << 20,
    };

    /// These limits with [`DictLimits::max_count`] set to `n`.
    #[must_use]
    pub const fn with_max_count(mut self, n: usize) -> Self {
        self.max_count = n;
        self
    }

    /// These limits with [`DictLimits::max_len`] set to `bytes`.
    #[must_use]
    pub const fn with_max_len(mut self, bytes: usize) -> Self {
        self.max_len = bytes;
        self
    }

    /// These limits with [`DictLimits::max_total`] set to `bytes`.
    #[must_use]
    pub const fn with_max_total(mut self, bytes: usize) -> Self {
        self.max_total = bytes;
        self
    }
}

impl Default for DictLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Loads every zstd dictionary `store` keeps under [`DICT_PREFIX`] into this process's
/// registry (see [`ZstdDict::load`]), within [`DictLimits::DEFAULT`], and returns them in
/// key order. Loading the same dictionaries again costs a listing and a read per key, and
/// returns the ones already loaded.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use satchel::{Codec, Zstd, ZstdDict};
/// use satchel_store::{CodecExt, MemoryStore, load_dictionaries, save_dictionary};
///
/// let store = MemoryStore::new();
/// // One process keeps a trained dictionary in the store (`satchel train --into-store`
/// // does this)…
/// let dict = ZstdDict::load(include_bytes!("../../zstd/tests/data/sessions.dict"))?;
/// assert_eq!(save_dictionary(&store, dict).await?, format!("__satchel/dict/{}", dict.id()));
///
/// // …and every process loads what the store keeps before reading values written with it.
/// let loaded = load_dictionaries(&store).await?;
/// assert_eq!(loaded, [dict]);
/// let sessions = Codec::json().compress(Zstd.dict(loaded[0])).wrap(&store);
/// sessions.set("session:1", &vec!["ann"], None).await?;
/// assert_eq!(sessions.get::<Vec<String>>("session:1").await?.unwrap(), ["ann"]);
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`load_dictionaries_with`].
pub async fn load_dictionaries<S: StoreObject + ?Sized>(
    store: &S,
) -> Result<Vec<&'static ZstdDict>> {
    load_dictionaries_with(store, DictLimits::DEFAULT).await
}

/// [`load_dictionaries`] within `limits`.
///
/// The keys are listed first (at most one more than [`DictLimits::max_count`]), so a store
/// holding too many is refused before any value is read. Each value arrives whole from the
/// store (the `Store` trait has no size query) and its length is checked against
/// [`DictLimits::max_len`] and the running total against [`DictLimits::max_total`] before
/// it is copied and digested. A key deleted between the listing and the read is skipped.
///
/// # Errors
/// - [`StoreErrorKind::Unsupported`] if the store cannot list keys (a Redis cluster, a
///   store without `Scan`): load the dictionaries by id from elsewhere
///   ([`ZstdDict::load_file`]);
/// - [`StoreErrorKind::Corrupt`] naming the key ([`StoreError::key`]) if a key under
///   [`DICT_PREFIX`] does not end in a decimal id, holds no zstd dictionary (the
///   [`satchel::Error`] is the source), holds one with another id, or is over
///   [`DictLimits::max_len`] or the total over [`DictLimits::max_total`]; and, without a
///   key, if more than [`DictLimits::max_count`] keys are under [`DICT_PREFIX`];
/// - the store's own errors otherwise.
pub async fn load_dictionaries_with<S: StoreObject + ?Sized>(
    store: &S,
    limits: DictLimits,
) -> Result<Vec<&'static ZstdDict>> {
    let listing = store
        .try_scan(DICT_PREFIX, limits.max_count.saturating_add(1))
        .ok_or_else(|| {
            satchel_store_core::unsupported(
                store.backend(),
                "list keys (scan), so the dictionaries it keeps cannot be found",
            )
        })?;
    let mut keys = listing.await?;
    if keys.len() > limits.max_count {
        return Err(corrupt(
            store,
            format!(
                "more than {} keys under `{DICT_PREFIX}`, the most loaded (each dictionary \
                 stays in memory): delete the dictionaries no value uses, or raise \
                 DictLimits::max_count",
                limits.max_count
            ),
        ));
    }
    keys.sort_unstable();
    let mut loaded = Vec::with_capacity(keys.len());
    let mut total = 0usize;
    for key in keys {
        let refused = |message: String| corrupt(store, message).with_key(key.as_str());
        let Some(id) = key[DICT_PREFIX.len()..]
            .parse::<u32>()
            .ok()
            .filter(|id| dict_key(*id) == key)
        else {
            return Err(refused(format!(
                "reserved for zstd dictionaries (`{DICT_PREFIX}ID`, ID in decimal), and \
                 this key names no id"
            )));
        };
        let Some(entry) = store.get(&key).await? else {
            continue;
        };
        let len = entry.value.len();
        if len > limits.max_len {
            return Err(refused(format!(
                "holds {len} bytes, over the limit of {} bytes for a zstd dictionary",
                limits.max_len
            )));
        }
        total = total.saturating_add(len);
        if total > limits.max_total {
            return Err(refused(format!(
                "the dictionaries under `{DICT_PREFIX}` hold more than {} bytes together, \
                 the most loaded",
                limits.max_total
            )));
        }
        let dict = ZstdDict::load(&entry.value).map_err(|e| {
            refused("reserved for zstd dictionaries and does not hold one".to_string())
                .with_source(e)
        })?;
        if dict.id() != id {
            return Err(refused(format!(
                "holds zstd dictionary {}, not dictionary {id}",
                dict.id()
            )));
        }
        loaded.push(dict);
    }
    Ok(loaded)
}

/// Writes `dict` into `store` under [`dict_key`] (once: a key already there is the same
/// dictionary, since the id names it), returning the key.
///
/// # Errors
/// The store's errors.
pub async fn save_dictionary<S: Store + ?Sized>(store: &S, dict: &ZstdDict) -> Result<String> {
    let key = dict_key(dict.id());
    match store
        .set(&key, dict.as_bytes(), None, Condition::IfAbsent)
        .await
    {
        Ok(_) => Ok(key),
        Err(e) if e.is_conflict() => Ok(key),
        Err(e) => Err(e),
    }
}

fn corrupt<S: Store + ?Sized>(store: &S, message: String) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, message).with_backend(store.backend())
}
