//! Each decompressor on arbitrary input: output never exceeds the limit, errors only.
#![no_main]

use libfuzzer_sys::fuzz_target;
use satchel::{Compression, Gzip, Lz4, Zlib, Zstd};

const LIMIT: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&which, input)) = data.split_first() else {
        return;
    };
    let c: &dyn Compression = match which % 4 {
        0 => &Zstd,
        1 => &Lz4,
        2 => &Gzip,
        _ => &Zlib,
    };
    let mut out = b"prefix".to_vec();
    match c.decompress(input, &mut out, LIMIT) {
        Ok(()) => assert!(out.len() - 6 <= LIMIT),
        Err(_) => assert!(out.capacity() <= LIMIT + 64),
    }
    assert_eq!(&out[..6], b"prefix");
});
