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

// The examples of the project README, of the guides in `docs/` and of the facade's crate
// README are compiled and run as doctests of this package, which depends on every crate
// they use (`cargo test -p satchel-tests --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/codecs.md")]
struct CodecsGuide;

#[cfg(doctest)]
#[doc = include_str!("../docs/stores.md")]
struct StoresGuide;

#[cfg(doctest)]
#[doc = include_str!("../docs/sessions.md")]
struct SessionsGuide;

#[cfg(doctest)]
#[doc = include_str!("../docs/grpc.md")]
struct GrpcGuide;

#[cfg(doctest)]
#[doc = include_str!("../docs/interop.md")]
struct InteropGuide;

#[cfg(doctest)]
#[doc = include_str!("../docs/cli.md")]
struct CliGuide;

#[cfg(doctest)]
#[doc = include_str!("../crates/satchel/README.md")]
struct FacadeReadme;
