//! `satchel ls`: keys with their pipeline, size and time to live.

use serde_json::{Value, json};

use crate::Global;
use crate::error::{CliError, CliResult, chain, code};
use crate::store::{StoreArg, remaining};
use crate::util::{Table, human_duration, print_json, println};

/// Arguments of `satchel ls`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// Only keys starting with this.
    #[arg(long, default_value = "")]
    prefix: String,
    /// At most this many keys; if more exist, they are listed and the command fails with
    /// exit code 7 saying so (never a silently shorter listing).
    #[arg(long, default_value_t = 1000)]
    limit: usize,
    /// Keys only, one a line (no pipeline, size or TTL: one request instead of one per key).
    #[arg(long)]
    keys_only: bool,
}

/// Lists the keys, sorted.
pub(crate) async fn run(args: Args, global: &Global) -> CliResult {
    let store = args.store.open().await?;
    // One key more than the limit tells whether the listing is cut short.
    let mut keys = store
        .scan(&args.prefix, args.limit.saturating_add(1))
        .await
        .map_err(|e| args.store.error(&e))?;
    keys.sort();
    keys.dedup();
    let truncated = keys.len() > args.limit;
    keys.truncate(args.limit);
    let truncated = || {
        truncated.then(|| {
            CliError::new(
                code::PARTIAL,
                format!(
                    "more than {} keys start with `{}`: listed the first {} in key order; \
                     raise --limit (or narrow --prefix) to see the rest",
                    args.limit,
                    args.prefix,
                    keys.len()
                ),
            )
        })
    };
    if args.keys_only {
        if global.json {
            print_json(&json!(keys))?;
        } else {
            keys.iter().try_for_each(println)?;
        }
        return truncated().map_or(Ok(()), Err);
    }
    let mut table = Table::new(&["key", "pipeline", "bytes", "ttl"], &["bytes"]);
    let mut rows = Vec::new();
    let mut unreadable = 0usize;
    for key in &keys {
        // A key that expired or was deleted since the scan is left out; one the store
        // cannot read (foreign, too large) is listed with the reason and the listing goes
        // on; a store that is down stops it.
        let entry = match store.get(key).await {
            Ok(Some(entry)) => entry,
            Ok(None) => continue,
            Err(e) if super::convert::is_per_key(&e) => {
                unreadable += 1;
                let why = chain(&e);
                table.row(vec![
                    key.clone(),
                    format!("(unreadable: {why})"),
                    "-".into(),
                    "-".into(),
                ]);
                rows.push(json!({ "key": key, "error": why }));
                continue;
            }
            Err(e) => return Err(args.store.error(&e)),
        };
        let pipeline = if crate::dicts::is_dict_key(key) {
            "(zstd dictionary)".to_string()
        } else {
            crate::value::pipeline_name(&entry.value)
        };
        let ttl = remaining(entry.expires_at);
        table.row(vec![
            key.clone(),
            pipeline.clone(),
            entry.value.len().to_string(),
            ttl.map_or("-".to_string(), human_duration),
        ]);
        rows.push(json!({
            "key": key,
            "pipeline": pipeline,
            "stored_bytes": entry.value.len(),
            "ttl_ms": ttl.map(|d| d.as_millis() as u64),
        }));
    }
    if global.json {
        print_json(&Value::Array(rows))?;
    } else {
        let text = table.render();
        std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes())?;
    }
    if unreadable > 0 {
        return Err(CliError::new(
            code::PARTIAL,
            format!("{unreadable} key(s) could not be read; each is listed with the reason"),
        ));
    }
    truncated().map_or(Ok(()), Err)
}
