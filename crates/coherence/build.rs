//! Compiles the Coherence v0 cache protocol (`proto/coherence/messages.proto` and
//! `services.proto`, package `coherence`) with protox (pure Rust), so building needs no
//! `protoc`: the server trait, and a client stub without tonic's transport (for tests and
//! tools, over any channel). The v1 files under `proto/coherence/v1/` are not compiled.
//! Only with feature `endpoint`: the values alone need no generated code.

#[cfg(not(feature = "endpoint"))]
fn main() {}

#[cfg(feature = "endpoint")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/coherence/messages.proto",
        "proto/coherence/services.proto",
    ];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(protos, ["proto"])?;
    tonic_prost_build::configure()
        // Malformed messages are INVALID_ARGUMENT, not tonic's INTERNAL.
        .codec_path("satchel_grpc::codec::ProtoCodec")
        .build_client(true)
        .build_transport(false)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
