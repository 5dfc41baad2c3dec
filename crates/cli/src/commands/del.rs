//! `satchel del`: delete a key, or every key under a prefix.

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
    #[arg(required_unless_present = "prefix", conflicts_with = "prefix")]
    key: Option<String>,
    /// Delete every key starting with this prefix instead, in bulk where the store can
    /// (one statement on SQL, SCAN + UNLINK batches on Redis).
    #[arg(long)]
    prefix: Option<String>,
}

/// Deletes the key (one that was not there exits with code 6), or every key under the
/// prefix (none there is no error: the command can be run again).
pub(crate) async fn run(args: Args, global: &Global) -> CliResult {
    if let Some(prefix) = &args.prefix {
        return delete_prefix(&args, prefix, global).await;
    }
    let key = args.key.as_deref().unwrap_or_default();
    let store = args.store.open().await?;
    let deleted = store.delete(key).await.map_err(|e| args.store.error(&e))?;
    if global.json {
        print_json(&json!({ "key": key, "deleted": deleted }))?;
    } else if deleted {
        println(format_args!("deleted {key}"))?;
    }
    if deleted {
        Ok(())
    } else {
        Err(CliError::new(
            code::NOT_FOUND,
            format!("key `{key}` not found"),
        ))
    }
}

async fn delete_prefix(args: &Args, prefix: &str, global: &Global) -> CliResult {
    if prefix.is_empty() {
        return Err(CliError::new(
            code::USAGE,
            "--prefix \"\" would delete every key of the store; give a non-empty prefix",
        ));
    }
    let store = args.store.open().await?;
    let deleted = store
        .delete_prefix(prefix)
        .await
        .map_err(|e| args.store.error(&e))?;
    if global.json {
        print_json(&json!({ "prefix": prefix, "deleted": deleted }))?;
    } else {
        let s = if deleted == 1 { "" } else { "s" };
        println(format_args!("deleted {deleted} key{s} under {prefix}"))?;
    }
    Ok(())
}
