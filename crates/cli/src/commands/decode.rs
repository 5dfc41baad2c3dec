//! `satchel decode`: pipeline bytes in, JSON out.

use std::path::PathBuf;

use crate::Global;
use crate::error::CliResult;
use crate::util::{input_name, read_input, write_output};
use crate::value;

/// Arguments of `satchel decode`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Satchel bytes to decode (stdin if absent or `-`); the header names the pipeline.
    file: Option<PathBuf>,
    /// Output file for the JSON (stdout if absent or `-`).
    #[arg(long, short, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Compact JSON on one line instead of pretty-printed.
    #[arg(long)]
    compact: bool,
}

/// Decodes the input.
pub(crate) async fn run(args: Args, _global: &Global) -> CliResult {
    let input = read_input(args.file.as_deref())?;
    let decoded = value::decode(&input, &input_name(args.file.as_deref()))?;
    let mut text = if args.compact {
        serde_json::to_string(&decoded.value)
    } else {
        serde_json::to_string_pretty(&decoded.value)
    }
    .unwrap_or_default();
    text.push('\n');
    write_output(args.output.as_ref(), text.as_bytes())
}
