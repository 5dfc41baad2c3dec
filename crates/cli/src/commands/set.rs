//! `satchel set`: a JSON value under a key, through a pipeline.

use std::path::PathBuf;
use std::time::Duration;

use satchel_store::Condition;
use serde_json::json;

use crate::Global;
use crate::error::{CliError, CliResult, chain, code};
use crate::store::StoreArg;
use crate::util::{
    human_duration, input_name, parse_json, parse_ttl, print_json, println, read_input,
};
use crate::value;

/// Arguments of `satchel set`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// The key.
    key: String,
    /// The value as JSON text (or use --file; stdin if neither).
    #[arg(conflicts_with = "file", allow_hyphen_values = true)]
    value: Option<String>,
    /// Read the JSON value from this file (`-` for stdin).
    #[arg(long, short, value_name = "FILE")]
    file: Option<PathBuf>,
    #[arg(
        long,
        short,
        value_name = "SPEC",
        default_value = "json",
        help = "Pipeline: format[+compression[:level]], e.g. msgpack+zstd"
    )]
    codec: String,
    /// Time to live: 500ms, 30s, 15m, 2h, 1d (none: keep until deleted).
    #[arg(long, value_parser = parse_ttl, value_name = "TTL")]
    ttl: Option<Duration>,
}

/// Writes the value.
pub(crate) async fn run(args: Args, global: &Global) -> CliResult {
    let (codec, store) = crate::dicts::parse_spec(&args.codec, &args.store, false, global).await?;
    let json_value = match &args.value {
        Some(text) => parse_json(text.as_bytes(), "the value")?,
        None => {
            let bytes = read_input(args.file.as_deref())?;
            parse_json(&bytes, &input_name(args.file.as_deref()))?
        }
    };
    let bytes = value::encode(&codec, &json_value, &args.key).map_err(|e| {
        CliError::new(
            code::FAILURE,
            format!("cannot encode as {codec}: {}", chain(&e)),
        )
    })?;
    let version = store
        .set(&args.key, &bytes, args.ttl, Condition::Always)
        .await
        .map_err(|e| args.store.error(&e))?;
    if global.json {
        print_json(&json!({
            "key": args.key,
            "pipeline": codec.to_string(),
            "stored_bytes": bytes.len(),
            "version": version.get(),
            "ttl_ms": args.ttl.map(|d| d.as_millis() as u64),
        }))
    } else {
        let ttl = args.ttl.map_or(String::new(), |d| {
            format!(", expires in {}", human_duration(d))
        });
        println(format_args!(
            "set {} ({codec}, {} bytes, version {}{ttl})",
            args.key,
            bytes.len(),
            version.get()
        ))
    }
}
