//! `satchel inspect`: what a value's bytes say about it, and the value.

use std::path::PathBuf;

use satchel::{CompressionId, Flags};
use serde_json::{Value, json};

use crate::Global;
use crate::error::{CliError, CliResult, code};
use crate::store::{StoreArg, expires_millis, remaining};
use crate::util::{human_duration, print_json, println, read_input};
use crate::value::{self, Decoded};

/// Arguments of `satchel inspect`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// A file of satchel bytes, or with --store, a key.
    #[arg(value_name = "FILE|KEY")]
    target: String,
    /// Read KEY from this store instead of a file.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

/// Inspects the value.
pub(crate) async fn run(args: Args, global: &Global) -> CliResult {
    let (source, decoded, meta) = match &args.store {
        None => {
            let path = PathBuf::from(&args.target);
            let bytes = read_input(Some(&path))?;
            let name = format!("`{}`", path.display());
            let decoded = value::decode(&bytes, &name)?;
            (name, decoded, None)
        }
        Some(url) => {
            let store = StoreArg { store: url.clone() };
            let opened = store.open().await?;
            let entry = opened
                .get(&args.target)
                .await
                .map_err(|e| store.error(&e))?
                .ok_or_else(|| {
                    CliError::new(code::NOT_FOUND, format!("key `{}` not found", args.target))
                })?;
            let name = format!("key `{}`", args.target);
            crate::dicts::load_for(&opened, &store, &entry.value).await?;
            let decoded = value::decode(&entry.value, &name)?;
            (name, decoded, Some(entry))
        }
    };
    let report = report(&source, &decoded);
    if global.json {
        let mut out = report;
        if let Some(entry) = &meta {
            out["version"] = json!(entry.version.get());
            out["expires_at_ms"] = json!(expires_millis(entry.expires_at));
            out["ttl_ms"] = json!(remaining(entry.expires_at).map(|d| d.as_millis() as u64));
        }
        out["value"] = decoded.value;
        return print_json(&out);
    }
    let mut lines = vec![
        ("source", source.clone()),
        (
            "pipeline",
            report["pipeline"].as_str().unwrap_or("").to_string(),
        ),
        (
            "format",
            match &decoded.header {
                Some(h) => format!("{} (id {})", decoded.format, h.format().get()),
                None => format!("{} (no satchel header)", decoded.format),
            },
        ),
        (
            "compression",
            match &decoded.header {
                Some(h) => format!("{} (id {})", decoded.compression, h.compression().get()),
                None => decoded.compression.clone(),
            },
        ),
        (
            "level",
            report["level"].as_str().unwrap_or("unknown").to_string(),
        ),
        ("checksum", checksum_text(&decoded)),
        ("header", format!("{} bytes", decoded.header_len)),
        ("stored", format!("{} bytes", decoded.stored_len)),
        ("decoded", format!("{} bytes", decoded.decoded_len)),
        (
            "ratio",
            format!("{:.2}x (decoded / stored)", ratio(&decoded)),
        ),
    ];
    if let Some(entry) = &meta {
        lines.push(("version", entry.version.get().to_string()));
        lines.push((
            "ttl",
            remaining(entry.expires_at).map_or("none".to_string(), human_duration),
        ));
    }
    for (name, text) in lines {
        println(format_args!("{name:<12} {text}"))?;
    }
    println("value:")?;
    print_json(&decoded.value)
}

/// Decoded bytes per stored byte.
fn ratio(d: &Decoded) -> f64 {
    d.decoded_len as f64 / d.stored_len.max(1) as f64
}

fn checksum_text(d: &Decoded) -> String {
    let Some(header) = &d.header else {
        return "none (not a satchel value)".to_string();
    };
    if header.flags.contains(Flags::CHECKSUM) {
        "CRC-32C in the header (verified)".to_string()
    } else if matches!(
        header.compression(),
        CompressionId::ZSTD | CompressionId::GZIP | CompressionId::ZLIB
    ) {
        format!(
            "none in the header ({} checks its own stream)",
            header.compression()
        )
    } else {
        "none".to_string()
    }
}

/// The machine-readable description of a decoded value (without the value).
fn report(source: &str, d: &Decoded) -> Value {
    json!({
        "source": source,
        "pipeline": d.pipeline,
        "format": d.format,
        "compression": d.compression,
        "level": d.level.unwrap_or("unknown"),
        "checksum": d.header.is_some_and(|h| h.flags.contains(Flags::CHECKSUM)),
        "header_bytes": d.header_len,
        "stored_bytes": d.stored_len,
        "decoded_bytes": d.decoded_len,
        "ratio": (ratio(d) * 1000.0).round() / 1000.0,
    })
}
