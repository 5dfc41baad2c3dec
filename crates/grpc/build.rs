//! Compiles `proto/` with protox (pure Rust), so building needs no `protoc`: satchel's own
//! store service and the Coherence v0 cache service (`coherence.NamedCacheService`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = [
        "proto/satchel/store/v1/store.proto",
        "proto/coherence/messages.proto",
        "proto/coherence/services.proto",
    ];
    for p in protos {
        println!("cargo:rerun-if-changed={p}");
    }
    let fds = protox::compile(protos, ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
