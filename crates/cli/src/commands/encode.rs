//! `satchel encode`: JSON in, pipeline bytes out.

use std::path::PathBuf;

use satchel::DynCodec;

use crate::Global;
use crate::error::{CliError, CliResult, chain, code};
use crate::util::{input_name, parse_json, read_input, write_output};
use crate::value;

/// Arguments of `satchel encode`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[arg(
        long,
        short,
        value_name = "SPEC",
        help = "Pipeline: format[+compression[:level]], e.g. msgpack+zstd or json+gzip:9"
    )]
    codec: String,
    /// JSON input file (stdin if absent or `-`).
    file: Option<PathBuf>,
    /// Output file (stdout if absent or `-`).
    #[arg(long, short, value_name = "OUT")]
    output: Option<PathBuf>,
}

/// Encodes the input.
pub(crate) async fn run(args: Args, global: &Global) -> CliResult {
    let codec: DynCodec = crate::seal::parse_spec(&args.codec, global)?;
    let input = read_input(args.file.as_deref())?;
    let json = parse_json(&input, &input_name(args.file.as_deref()))?;
    let bytes = value::encode(&codec, &json, "").map_err(|e| {
        CliError::new(
            code::FAILURE,
            format!("cannot encode as {codec}: {}", chain(&e)),
        )
    })?;
    write_output(args.output.as_ref(), &bytes)
}
