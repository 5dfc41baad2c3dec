//! `satchel del`: delete a key.

use serde_json::json;

use crate::Global;
use crate::error::{CliError, CliResult, code};
use crate::store::StoreArg;
use crate::util::{print_json, println};

/// Arguments of `satchel del`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// The key.
    key: String,
}

/// Deletes the key; a key that was not there exits with code 6.
pub(crate) async fn run(args: Args, global: &Global) -> CliResult {
    let store = args.store.open().await?;
    let deleted = store
        .delete(&args.key)
        .await
        .map_err(|e| args.store.error(&e))?;
    if global.json {
        print_json(&json!({ "key": args.key, "deleted": deleted }))?;
    } else if deleted {
        println(format_args!("deleted {}", args.key))?;
    }
    if deleted {
        Ok(())
    } else {
        Err(CliError::new(
            code::NOT_FOUND,
            format!("key `{}` not found", args.key),
        ))
    }
}
