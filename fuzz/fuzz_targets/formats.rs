//! Each format's decoder straight on arbitrary bytes (no header), with the default depth
//! limit: JSON (serde_json and simd-json), MessagePack, bincode.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satchel::{Bincode, Format, Json, Limits, MsgPack};

#[derive(serde::Deserialize, Debug)]
#[allow(dead_code)]
enum Tree {
    Leaf(String),
    Node(Vec<Tree>),
    Pair(Box<Tree>, Box<Tree>),
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default().max_decoded_len(1 << 20);
    let serde = Json::new().serde_only();
    let simd = Json::new().simd_above(0);
    let _ = serde.deserialize::<serde_json::Value>(data, &limits);
    let _ = simd.deserialize::<serde_json::Value>(data, &limits);
    let _ = serde.deserialize::<Tree>(data, &limits);
    let _ = simd.deserialize::<Tree>(data, &limits);
    let _ = MsgPack.deserialize::<serde_json::Value>(data, &limits);
    let _ = MsgPack.deserialize::<Tree>(data, &limits);
    let _ = Bincode.deserialize::<Tree>(data, &limits);
    let _ = Bincode.deserialize::<(String, Vec<u64>, Option<Vec<u8>>)>(data, &limits);
});
