//! `satchel train`: a zstd dictionary trained on the values under a prefix.
//!
//! Up to `--samples` keys are picked evenly across the prefix's listing; each value's
//! satchel header is read and its payload decompressed, so the trainer sees the
//! serialized bytes a codec compresses (values without a satchel header, dictionaries and
//! unreadable keys are left out and counted). zstd's trainer makes the dictionary; it is
//! written to a file and, with `--into-store`, under the reserved key
//! `__satchel/dict/ID`, where every command (and any program that loads it) finds it.

use std::path::PathBuf;

use satchel::{AnyCompression, Compression, CompressionId, Header, Zstd, ZstdDict};
use serde_json::json;

use crate::Global;
use crate::dicts;
use crate::error::{CliError, CliResult, chain, code};
use crate::store::StoreArg;
use crate::util::{Progress, print_json, println};

/// Arguments of `satchel train`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    store: StoreArg,
    /// Sample the values of keys starting with this.
    #[arg(long, default_value = "")]
    prefix: String,
    /// Write the dictionary to this file.
    #[arg(long, short, value_name = "FILE", default_value = "satchel.dict")]
    out: PathBuf,
    /// Largest dictionary size in bytes (default: 110 KiB, zstd's own, or an eighth of
    /// the samples' bytes if that is smaller).
    #[arg(long, value_name = "BYTES")]
    size: Option<usize>,
    /// Most values to sample, picked evenly across the keys.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    samples: u32,
    /// Also write the dictionary into the store (key `__satchel/dict/ID`).
    #[arg(long)]
    into_store: bool,
}

/// Most keys listed to pick the samples from.
const MAX_KEYS: usize = 1_000_000;
/// Largest payload taken as a sample (larger values gain little from a dictionary).
const MAX_SAMPLE: usize = 1 << 20;

/// The uncompressed payload of a satchel value, if it has a satchel header and reads.
fn payload(bytes: &[u8]) -> Option<Vec<u8>> {
    let (header, payload) = Header::parse(bytes).ok()?;
    header.verify(payload).ok()?;
    if header.compression() == CompressionId::NONE {
        return (payload.len() <= MAX_SAMPLE).then(|| payload.to_vec());
    }
    let mut out = Vec::new();
    AnyCompression::from_id(header.compression())
        .ok()?
        .decompress(payload, &mut out, MAX_SAMPLE)
        .ok()?;
    Some(out)
}

/// Samples, trains, writes.
pub(crate) async fn run(args: Args, global: &Global) -> CliResult {
    let store = args.store.open_with_dicts().await?;
    let mut keys = store
        .scan(&args.prefix, MAX_KEYS)
        .await
        .map_err(|e| args.store.error(&e))?;
    keys.sort();
    keys.dedup();
    keys.retain(|k| !dicts::is_dict_key(k));
    let want = (args.samples as usize).min(keys.len());
    let picked: Vec<&String> = (0..want).map(|i| &keys[i * keys.len() / want]).collect();
    let mut progress = Progress::new("sample", picked.len() as u64, global.json);
    let (mut samples, mut left_out) = (Vec::new(), 0usize);
    for key in picked {
        progress.message(key);
        match store.get(key).await {
            Ok(Some(entry)) => match payload(&entry.value) {
                Some(raw) => samples.push(raw),
                None => left_out += 1,
            },
            Ok(None) => {}
            Err(e) if super::convert::is_per_key(&e) => left_out += 1,
            Err(e) => return Err(args.store.error(&e)),
        }
        progress.inc();
    }
    progress.finish();
    let total: usize = samples.iter().map(Vec::len).sum();
    if samples.len() < 8 {
        return Err(CliError::new(
            code::FAILURE,
            format!(
                "found {} satchel value(s) under prefix `{}` ({left_out} left out): zstd needs \
                 more samples to train on (a few hundred alike values are best)",
                samples.len(),
                args.prefix
            ),
        ));
    }
    let size = args
        .size
        .unwrap_or_else(|| satchel::DEFAULT_DICT_SIZE.min(total / 8).max(256));
    let trained = satchel::train(&samples, size)
        .map_err(|e| CliError::new(code::FAILURE, format!("cannot train: {}", chain(&e))))?;
    let dict = ZstdDict::load(&trained).map_err(|e| {
        CliError::new(
            code::FAILURE,
            format!("the trained dictionary does not load: {}", chain(&e)),
        )
    })?;
    std::fs::write(&args.out, dict.as_bytes()).map_err(|e| {
        CliError::new(
            code::FAILURE,
            format!("cannot write `{}`: {e}", args.out.display()),
        )
    })?;
    let stored = if args.into_store {
        Some(dicts::save(&store, &args.store, dict).await?)
    } else {
        None
    };
    let (plain, with) = sizes(&samples, dict)?;
    if global.json {
        return print_json(&json!({
            "dict_id": dict.id(),
            "dict_bytes": dict.as_bytes().len(),
            "file": args.out.display().to_string(),
            "store_key": stored,
            "samples": samples.len(),
            "sample_bytes": total,
            "left_out": left_out,
            "zstd_bytes": plain,
            "zstd_dict_bytes": with,
        }));
    }
    println(format_args!(
        "trained zstd dictionary {} ({} bytes) on {} values ({total} bytes) under `{}`{}",
        dict.id(),
        dict.as_bytes().len(),
        samples.len(),
        args.prefix,
        if left_out > 0 {
            format!("; {left_out} left out (no satchel header or unreadable)")
        } else {
            String::new()
        }
    ))?;
    println(format_args!(
        "the samples with zstd: {plain} bytes without the dictionary, {with} with it"
    ))?;
    println(format_args!("written to {}", args.out.display()))?;
    if let Some(key) = stored {
        println(format_args!("and into the store under {key}"))?;
    }
    println(format_args!(
        "use it: --codec json+zstd@dict={} (or @dict=id:{}{}); satchel convert --to … moves \
         existing values to it",
        args.out.display(),
        dict.id(),
        if args.into_store {
            ", which every command on this store loads"
        } else {
            ""
        }
    ))
}

/// The samples' zstd-compressed bytes without and with `dict`.
fn sizes(samples: &[Vec<u8>], dict: &'static ZstdDict) -> CliResult<(usize, usize)> {
    let mut totals = (0, 0);
    for sample in samples {
        for (zstd, total) in [(Zstd, &mut totals.0), (Zstd.dict(dict), &mut totals.1)] {
            let mut out = Vec::new();
            zstd.compress(sample, &mut out).map_err(|e| {
                CliError::new(
                    code::FAILURE,
                    format!("cannot compress a sample: {}", chain(&e)),
                )
            })?;
            *total += out.len();
        }
    }
    Ok(totals)
}
