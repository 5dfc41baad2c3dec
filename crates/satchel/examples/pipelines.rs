//! Encodes one session record with every pipeline compiled in, checks each decodes back,
//! and prints a table of sizes. Run it with:
//!
//! ```text
//! cargo run --release -p satchel --all-features --example pipelines [SPEC...]
//! ```
//!
//! With specs (`json+zstd:19 msgpack+lz4`), only those pipelines are shown.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::process::ExitCode;

use satchel::{DynCodec, Report, decode_any};

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Session {
    user: String,
    roles: Vec<String>,
    cart: BTreeMap<String, u32>,
    history: Vec<String>,
}

fn main() -> ExitCode {
    let session = Session {
        user: "ann".into(),
        roles: vec!["user".into(), "beta".into()],
        cart: (0..40)
            .map(|i| (format!("SKU-{i:05}"), i % 3 + 1))
            .collect(),
        history: (0..60)
            .map(|i| format!("/shop/garden/lamp?page={i}"))
            .collect(),
    };
    let specs: Vec<String> = std::env::args().skip(1).collect();
    let specs = if specs.is_empty() {
        let mut all = Vec::new();
        for format in satchel::FORMAT_NAMES {
            for compression in satchel::COMPRESSION_NAMES {
                all.push(match *compression {
                    "none" => format.to_string(),
                    c => format!("{format}+{c}"),
                });
            }
        }
        all
    } else {
        specs
    };
    println!("{:<18} {:>8} {:>7}  header", "pipeline", "bytes", "ratio");
    let baseline = serde_json::to_vec(&session).map(|v| v.len()).unwrap_or(1);
    let mut failed = false;
    for spec in &specs {
        let result = spec.parse::<DynCodec>().and_then(|codec| {
            let bytes = codec.encode(&session)?;
            let back: Session = decode_any(&bytes)?;
            assert_eq!(back, session);
            Ok((codec, bytes))
        });
        match result {
            Ok((codec, bytes)) => println!(
                "{:<18} {:>8} {:>6.2}x  {:02X?}",
                codec.to_string(),
                bytes.len(),
                baseline as f64 / bytes.len() as f64,
                &bytes[..2]
            ),
            Err(e) => {
                failed = true;
                println!("{spec:<18} error: {}", Report(&e));
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
