//! zstd dictionaries kept in a store: under reserved keys `__satchel/dict/ID` (the
//! dictionary's bytes as zstd writes them), loaded whenever a command opens the store, so
//! values written with any of them read back and a spec may name one by id.

use satchel::{DynCodec, ErrorKind, ZstdDict};
use satchel_store::{Condition, DynStore, StoreErrorKind};

use crate::error::{CliError, CliResult, chain, code};
use crate::store::StoreArg;

/// The reserved prefix of the keys dictionaries are kept under.
pub(crate) const DICT_PREFIX: &str = "__satchel/dict/";

/// At most this many dictionary keys are read (more than one process may load).
const SCAN_LIMIT: usize = 4096;

/// The key dictionary `id` is kept under.
pub(crate) fn dict_key(id: u32) -> String {
    format!("{DICT_PREFIX}{id}")
}

/// Whether `key` is a reserved dictionary key (not a value: listed as a dictionary, never
/// converted).
pub(crate) fn is_dict_key(key: &str) -> bool {
    key.starts_with(DICT_PREFIX)
}

/// Loads every dictionary `store` keeps. A store that cannot list keys has none; a key
/// under the prefix that is no dictionary is an error naming it.
pub(crate) async fn load_all(
    store: &DynStore,
    arg: &StoreArg,
) -> CliResult<Vec<&'static ZstdDict>> {
    let keys = match store.scan(DICT_PREFIX, SCAN_LIMIT).await {
        Ok(keys) => keys,
        Err(e) if e.kind() == StoreErrorKind::Unsupported => return Ok(Vec::new()),
        Err(e) => return Err(arg.error(&e)),
    };
    let mut loaded = Vec::new();
    for key in keys {
        let Some(entry) = store.get(&key).await.map_err(|e| arg.error(&e))? else {
            continue;
        };
        let dict = ZstdDict::load(&entry.value).map_err(|e| {
            CliError::new(
                code::CORRUPT,
                format!(
                    "store `{}`: key `{key}` is reserved for zstd dictionaries and does not \
                     hold one: {}",
                    arg.store,
                    chain(&e)
                ),
            )
        })?;
        loaded.push(dict);
    }
    Ok(loaded)
}

/// Loads the store's dictionaries if `value` names one that is not loaded yet (so reading
/// one value costs no listing unless it needs a dictionary).
pub(crate) async fn load_for(store: &DynStore, arg: &StoreArg, value: &[u8]) -> CliResult {
    if satchel::dict_id(value).is_some_and(|id| ZstdDict::get(id).is_none()) {
        load_all(store, arg).await?;
    }
    Ok(())
}

/// Writes `dict` into the store under its reserved key (once: the same id is the same
/// dictionary).
pub(crate) async fn save(store: &DynStore, arg: &StoreArg, dict: &ZstdDict) -> CliResult<String> {
    let key = dict_key(dict.id());
    match store
        .set(&key, dict.as_bytes(), None, Condition::IfAbsent)
        .await
    {
        Ok(_) => Ok(key),
        Err(e) if e.is_conflict() => Ok(key),
        Err(e) => Err(arg.error(&e)),
    }
}

/// Parses a pipeline spec and opens the store (loading its dictionaries if `load` says
/// so); a spec naming a dictionary by id (`@dict=id:N`) that is not loaded yet is parsed
/// again once the store's dictionaries are.
pub(crate) async fn parse_spec(
    spec: &str,
    store: &StoreArg,
    load: bool,
    global: &crate::Global,
) -> CliResult<(DynCodec, DynStore)> {
    match crate::seal::parse_raw(spec, global)? {
        Ok(codec) if load => Ok((codec, store.open_with_dicts().await?)),
        Ok(codec) => Ok((codec, store.open().await?)),
        Err(e) if e.kind() == ErrorKind::Dictionary && spec.contains("@dict=id:") => {
            let opened = store.open_with_dicts().await?;
            let codec = crate::seal::parse_raw(spec, global)?.map_err(|e| CliError::spec(&e))?;
            Ok((codec, opened))
        }
        Err(e) => Err(CliError::spec(&e)),
    }
}
