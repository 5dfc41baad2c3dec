//! Arbitrary bytes as kvdb-py values (every serializer, any compression, raw scalars,
//! Python class tags), under a small limit: errors only, never a panic or more memory
//! than the limit allows, and no class that was not registered is ever produced.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satchel::kvdb::{self, Classes};
use satchel::{Codec, Limits};

static KEEP: std::sync::LazyLock<Classes> =
    std::sync::LazyLock::new(|| Classes::new().keep_unregistered());

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default().max_decoded_len(1 << 20);
    let _ = Codec::kvdb_json()
        .limits(limits)
        .decode::<serde_json::Value>(data);
    let _ = Codec::kvdb_msgpack()
        .limits(limits)
        .decode::<serde_json::Value>(data);
    let _ = Codec::kvdb_json().limits(limits).decode::<Vec<String>>(data);
    let _ = kvdb::decode_any_with::<serde_json::Value>(data, &limits, &KEEP);
});
