//! zstd dictionaries kept in a store: under reserved keys `__satchel/dict/ID` (the
//! dictionary's bytes as zstd writes them), loaded whenever a command opens the store, so
//! values written with any of them read back and a spec may name one by id.

use satchel::{DynCodec, ErrorKind, ZstdDict};
use satchel_store::{DynStore, StoreErrorKind};

pub(crate) use satchel_store::is_dict_key;

use crate::error::{CliError, CliResult};
use crate::store::StoreArg;

/// Loads every dictionary `store` keeps ([`satchel_store::load_dictionaries`]). A store
/// that cannot list keys has none; a key under the prefix that is no dictionary (or too
/// large, or too many of them) is an error naming it (exit 5).
pub(crate) async fn load_all(
    store: &DynStore,
    arg: &StoreArg,
) -> CliResult<Vec<&'static ZstdDict>> {
    match satchel_store::load_dictionaries(store).await {
        Ok(loaded) => Ok(loaded),
        Err(e) if e.kind() == StoreErrorKind::Unsupported => Ok(Vec::new()),
        Err(e) => Err(arg.error(&e)),
    }
}

/// Loads the store's dictionaries if `value` names one that is not loaded yet (so reading
/// one value costs no listing unless it needs a dictionary).
pub(crate) async fn load_for(store: &DynStore, arg: &StoreArg, value: &[u8]) -> CliResult {
    if satchel::dict_id(value).is_some_and(|id| ZstdDict::get(id).is_none()) {
        load_all(store, arg).await?;
    }
    Ok(())
}

/// Writes `dict` into the store under its reserved key
/// ([`satchel_store::save_dictionary`]).
pub(crate) async fn save(store: &DynStore, arg: &StoreArg, dict: &ZstdDict) -> CliResult<String> {
    satchel_store::save_dictionary(store, dict)
        .await
        .map_err(|e| arg.error(&e))
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
