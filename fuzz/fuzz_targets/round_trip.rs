//! Arbitrary values through every pipeline (with and without checksum) decode equal.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use satchel::{DynCodec, decode_any};
use serde::{Deserialize, Serialize};

#[derive(Arbitrary, Serialize, Deserialize, Debug, PartialEq)]
struct Value {
    id: u64,
    small: i8,
    wide: i128,
    text: String,
    bytes: Vec<u8>,
    list: Vec<Option<u32>>,
    pairs: Vec<(String, bool)>,
    choice: Choice,
    nested: Option<Box<Value>>,
}

#[derive(Arbitrary, Serialize, Deserialize, Debug, PartialEq)]
enum Choice {
    Unit,
    New(u16),
    Tuple(char, String),
    Struct { a: u64, b: Vec<i32> },
}

const FORMATS: [&str; 3] = ["json", "msgpack", "bincode"];
const COMPRESSIONS: [&str; 5] = ["", "+zstd", "+lz4", "+gzip:1", "+zlib:1"];

fuzz_target!(|input: (u8, bool, Value)| {
    let (which, checksum, value) = input;
    let spec = format!(
        "{}{}",
        FORMATS[usize::from(which) % 3],
        COMPRESSIONS[usize::from(which / 3) % 5]
    );
    let mut codec: DynCodec = spec.parse().expect("compiled in");
    if checksum {
        codec = codec.checksum().expect("headered spec");
    }
    let bytes = codec.encode(&value).expect("encodes");
    match codec.decode::<Value>(&bytes) {
        Ok(back) => assert_eq!(back, value, "{spec}"),
        // Nesting past the depth limit is refused on the way back in, by design.
        Err(e) if e.is_limit() => return,
        Err(e) => panic!("{spec}: {e:?}"),
    }
    assert_eq!(decode_any::<Value>(&bytes).expect("decodes"), value, "{spec}");
});
