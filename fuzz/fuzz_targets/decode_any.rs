//! `decode_any` on arbitrary bytes, every format and compression, under a small limit:
//! errors only, never a panic, an abort or more memory than the limit allows.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satchel::{Limits, decode_any_with};

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
    let _ = decode_any_with::<serde_json::Value>(data, &limits);
    let _ = decode_any_with::<Record>(data, &limits);
    let _ = decode_any_with::<Vec<String>>(data, &limits);
});
