//! `decode_any_in` on arbitrary bytes with every framing (satchel's header, kvdb-py's,
//! Coherence's), every format and compression, under a small limit: errors only, never a
//! panic, an abort or more memory than the limit allows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satchel::coherence::CoherenceFrame;
use satchel::kvdb::KvdbAny;
use satchel::{AnyHeader, Limits, decode_any_in};

#[derive(serde::Deserialize, Debug)]
#[allow(dead_code)]
struct Record {
    id: u64,
    name: String,
    tags: Vec<String>,
    inner: Option<Box<Record>>,
    choice: Choice,
}

#[derive(serde::Deserialize, Debug)]
#[allow(dead_code)]
enum Choice {
    A,
    B(u32),
    C { x: i64, y: Vec<u8> },
}

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default().max_decoded_len(1 << 20);
    let readers = (AnyHeader, KvdbAny::new(), CoherenceFrame);
    let _ = decode_any_in::<serde_json::Value>(data, &limits, &readers);
    let _ = decode_any_in::<Record>(data, &limits, &readers);
    let _ = decode_any_in::<Vec<String>>(data, &limits, &readers);
});
