//! `satchel get`: the value under a key, decoded.

use serde_json::json;

use crate::Global;
use crate::error::{CliError, CliResult, code};
use crate::store::{StoreArg, expires_millis, remaining};
use crate::util::print_json;
use crate::value;

/// Arguments of `satchel get`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// The key.
    key: String,
}

/// Prints the value (with --json: the value and its pipeline, version and expiry).
pub(crate) async fn run(args: Args, global: &Global) -> CliResult {
    let store = args.store.open().await?;
    let entry = store
        .get(&args.key)
        .await
        .map_err(|e| args.store.error(&e))?
        .ok_or_else(|| CliError::new(code::NOT_FOUND, format!("key `{}` not found", args.key)))?;
    let opened = crate::seal::open(&entry.value, &args.key, global)?;
    crate::dicts::load_for(&store, &args.store, &opened).await?;
    let decoded = value::decode(&opened, &format!("key `{}`", args.key))?;
    if global.json {
        print_json(&json!({
            "key": args.key,
            "pipeline": decoded.pipeline,
            "stored_bytes": decoded.stored_len,
            "version": entry.version.get(),
            "expires_at_ms": expires_millis(entry.expires_at),
            "ttl_ms": remaining(entry.expires_at).map(|d| d.as_millis() as u64),
            "value": decoded.value,
        }))
    } else {
        print_json(&decoded.value)
    }
}
