//! zstd decompression with dictionaries on arbitrary input: the frame's dictionary id is
//! looked up (unknown ids are errors before anything is decoded), output never exceeds the
//! limit, nothing panics, and what is compressed with a dictionary reads back.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use satchel::{Codec, Compression, Zstd, ZstdDict, decode_any_with, Limits};

const LIMIT: usize = 1 << 20;

static DICT: LazyLock<&'static ZstdDict> = LazyLock::new(|| {
    ZstdDict::load(include_bytes!("../../crates/zstd/tests/data/sessions.dict"))
        .expect("the committed dictionary loads")
});

fuzz_target!(|data: &[u8]| {
    let dict = *DICT;
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        // The input as a frame, read by a codec writing with the dictionary.
        0 => decompress(Zstd.dict(dict), input),
        // The input as a frame whose header names the loaded dictionary: the fuzzer's
        // bytes reach zstd's dictionary decoding instead of stopping at an unknown id.
        1 => {
            let mut frame = vec![0x28, 0xB5, 0x2F, 0xFD];
            let descriptor = input.first().copied().unwrap_or(0) | 0x03; // 4-byte dict id
            frame.push(descriptor);
            if descriptor & 0x20 == 0 {
                frame.push(input.get(1).copied().unwrap_or(0x50));
            }
            frame.extend_from_slice(&dict.id().to_le_bytes());
            frame.extend_from_slice(input.get(2..).unwrap_or(&[]));
            decompress(Zstd, &frame);
        }
        // A whole satchel value, as a store would hand it over.
        2 => {
            let limits = Limits::default().max_decoded_len(LIMIT);
            let _ = decode_any_with::<serde_json::Value>(input, &limits);
        }
        // Compressed with the dictionary, it reads back exactly.
        _ => {
            let codec = Codec::json().compress(Zstd.dict(dict));
            let text = String::from_utf8_lossy(input);
            let bytes = codec.encode(&*text).expect("a string encodes");
            assert_eq!(satchel::dict_id(&bytes), Some(dict.id()));
            assert_eq!(codec.decode::<String>(&bytes).expect("reads back"), text);
        }
    }
});

fn decompress(zstd: Zstd, input: &[u8]) {
    let mut out = b"prefix".to_vec();
    match zstd.decompress(input, &mut out, LIMIT) {
        Ok(()) => assert!(out.len() - 6 <= LIMIT),
        Err(_) => assert!(out.capacity() <= LIMIT + 64),
    }
    assert_eq!(&out[..6], b"prefix");
}
