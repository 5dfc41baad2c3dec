//! Integration tests of satchel live in `tests/`; this library only holds their helpers.

use satchel::DynCodec;

/// Every pipeline of this build: each format alone and with each compression.
pub fn all_pipelines() -> Vec<DynCodec> {
    let mut out = Vec::new();
    for format in satchel::FORMAT_NAMES {
        for compression in satchel::COMPRESSION_NAMES {
            let spec = if *compression == "none" {
                (*format).to_string()
            } else {
                format!("{format}+{compression}")
            };
            out.push(spec.parse().expect("every pipeline is compiled in"));
        }
    }
    out
}

// The project README's examples are compiled and run as doctests of this package.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
