//! Compiles `proto/satchel/store/v1/store.proto` with protox (pure Rust), so building needs
//! no `protoc`. Only the enabled side's stubs are generated: the client stub with feature
//! `client`, the server trait with feature `server` (the messages always).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/satchel/store/v1/store.proto"];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let client = std::env::var_os("CARGO_FEATURE_CLIENT").is_some();
    let server = std::env::var_os("CARGO_FEATURE_SERVER").is_some();
    let fds = protox::compile(protos, ["proto"])?;
    tonic_prost_build::configure()
        // Malformed messages are INVALID_ARGUMENT (src/codec.rs), not tonic's INTERNAL.
        .codec_path("crate::codec::ProtoCodec")
        .build_client(client)
        // `StoreClient::connect` needs tonic's channel, which only the client has.
        .build_transport(client)
        .build_server(server)
        .compile_fds(fds)?;
    Ok(())
}
