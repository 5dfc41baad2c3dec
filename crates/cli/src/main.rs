//! `satchel`: encode, decode and inspect satchel values, read and write keys in any
//! store, convert a store to a new pipeline, and measure which pipeline suits your data.
//!
//! Each subcommand is one module under `commands/` with an `Args` struct (its clap
//! arguments) and an `async fn run(args, &Global) -> CliResult`; the `commands!` list
//! below names each once. Adding a subcommand is one line there and one module.
//!
//! Exit codes: 0 success, 1 other failure, 2 bad usage (arguments, pipeline spec, TTL,
//! store URL), 3 input file missing or not JSON, 4 store unreachable, failing or refusing
//! the request (a value over its size limit), 5 corrupt value (header, checksum,
//! decompression, decoding), 6 key not found, 7 `convert` left some values unconverted or
//! `ls` could not read some keys (each listed), 130 interrupted by Ctrl-C, 141 standard
//! output closed early (quietly, as if ended by SIGPIPE).

mod commands;
mod dicts;
mod error;
mod seal;
mod store;
mod tree;
mod util;
mod value;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::CliResult;

/// Options every subcommand takes.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Global {
    /// Machine-readable JSON on stdout instead of tables and text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// The key ring for sealed values (`+seal` specs, sealed values read): a file of
    /// `<id> <base64 key>` lines, the current key first. Without it, SATCHEL_SEAL_KEYS or
    /// SATCHEL_SEAL_KEYS_FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) seal_keys: Option<std::path::PathBuf>,
}

/// The subcommands: `Variant(module)`, each module holding `Args` and `run`.
macro_rules! commands {
    ($($(#[$doc:meta])* $variant:ident($module:ident)),* $(,)?) => {
        /// What to do.
        #[derive(Subcommand, Debug)]
        enum Command {
            $($(#[$doc])* $variant(commands::$module::Args),)*
        }

        impl Command {
            async fn run(self, global: &Global) -> CliResult {
                match self {
                    $(Command::$variant(args) => commands::$module::run(args, global).await,)*
                }
            }
        }
    };
}

commands! {
    /// Serve a store over gRPC (default: an SQLite file, satchel.db, on 127.0.0.1:1408).
    Serve(serve),
    /// Encode JSON into satchel bytes with a pipeline (stdin to stdout by default).
    Encode(encode),
    /// Decode satchel bytes back into JSON; the header names the pipeline.
    Decode(decode),
    /// Show a value's header, sizes, ratio and contents, from a file or a store.
    Inspect(inspect),
    /// Print the value under a key, decoded.
    Get(get),
    /// Write a JSON value under a key through a pipeline.
    Set(set),
    /// Delete a key, or every key under a prefix (--prefix).
    Del(del),
    /// List keys with their pipeline, size and time to live.
    Ls(ls),
    /// Re-encode every value of a store (or a prefix) to a new pipeline, safely re-runnable.
    Convert(convert),
    /// Measure every pipeline on sample JSON files and recommend one.
    Advise(advise),
    /// Train a zstd dictionary on the values under a prefix (file, and store with --into-store).
    Train(train),
}

const AFTER_HELP: &str = "\
Exit codes: 0 success, 1 other failure, 2 bad usage (arguments, pipeline spec, TTL, store
URL), 3 input file missing or not JSON, 4 store unreachable, failing or refusing the
request, 5 corrupt value (header, checksum, decompression, decoding), 6 key not found,
7 convert left some values unconverted or ls could not read some keys, 130 interrupted by Ctrl-C, 141 stdout closed early (quietly).

Pipeline specs are format[+compression[:level]][@dict=FILE|@dict=id:N]: json,
msgpack+zstd, bincode+lz4, json+gzip:9, json+zstd@dict=satchel.dict. Store URLs can also come from SATCHEL_STORE.";

/// satchel: typed values to compact, self-describing bytes.
#[derive(Parser, Debug)]
#[command(name = "satchel", version, about, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: cannot start the runtime: {e}");
            return ExitCode::from(error::code::FAILURE);
        }
    };
    let result = runtime.block_on(cli.command.run(&cli.global));
    // Do not wait for pools and background tasks of stores to wind down.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.code() != error::code::BROKEN_PIPE {
                let _ = writeln!(std::io::stderr(), "error: {e}");
            }
            ExitCode::from(e.code())
        }
    }
}
