//! Benchmarks of satchel live in `benches/`; this library holds the hand-written
//! equivalents they are compared with: the same work done by calling the raw crates the
//! way a user would without satchel.

use std::io::{Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A serialization step done by hand with the raw crate.
pub fn raw_serialize<T: Serialize>(format: &str, value: &T) -> Vec<u8> {
    match format {
        "json" => serde_json::to_vec(value).expect("json"),
        "msgpack" => rmp_serde::to_vec_named(value).expect("msgpack"),
        "bincode" => {
            bincode::serde::encode_to_vec(value, bincode::config::standard()).expect("bincode")
        }
        other => panic!("no raw format {other}"),
    }
}

/// A deserialization step done by hand with the raw crate.
pub fn raw_deserialize<T: DeserializeOwned>(format: &str, bytes: &[u8]) -> T {
    match format {
        "json" => serde_json::from_slice(bytes).expect("json"),
        "msgpack" => rmp_serde::from_slice(bytes).expect("msgpack"),
        "bincode" => {
            bincode::serde::decode_from_slice(bytes, bincode::config::standard())
                .expect("bincode")
                .0
        }
        other => panic!("no raw format {other}"),
    }
}

/// A compression step done by hand with the raw crate, at satchel's default level.
pub fn raw_compress(compression: &str, bytes: Vec<u8>) -> Vec<u8> {
    match compression {
        "none" => bytes,
        "zstd" => raw_zstd_compress(&bytes),
        "lz4" => lz4_flex::compress_prepend_size(&bytes),
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(&bytes).expect("gzip");
            e.finish().expect("gzip")
        }
        "zlib" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
            e.write_all(&bytes).expect("zlib");
            e.finish().expect("zlib")
        }
        other => panic!("no raw compression {other}"),
    }
}

/// A decompression step done by hand with the raw crate.
pub fn raw_decompress(compression: &str, bytes: &[u8]) -> Vec<u8> {
    match compression {
        "none" => bytes.to_vec(),
        "zstd" => raw_zstd_decompress(bytes),
        "lz4" => lz4_flex::decompress_size_prepended(bytes).expect("lz4"),
        "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut out)
                .expect("gzip");
            out
        }
        "zlib" => {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(bytes)
                .read_to_end(&mut out)
                .expect("zlib");
            out
        }
        other => panic!("no raw compression {other}"),
    }
}

thread_local! {
    static ZSTD_COMPRESSOR: std::cell::RefCell<zstd::bulk::Compressor<'static>> =
        std::cell::RefCell::new(zstd::bulk::Compressor::new(3).expect("zstd context"));
    static ZSTD_CHECKSUMMING: std::cell::RefCell<zstd::bulk::Compressor<'static>> =
        std::cell::RefCell::new({
            let mut c = zstd::bulk::Compressor::new(3).expect("zstd context");
            c.include_checksum(true).expect("zstd parameter");
            c
        });
    static ZSTD_DECOMPRESSOR: std::cell::RefCell<zstd::bulk::Decompressor<'static>> =
        std::cell::RefCell::new(zstd::bulk::Decompressor::new().expect("zstd context"));
}

/// zstd compression by hand, the way a user who knows the crate would write it: one
/// `bulk::Compressor` kept per thread, as satchel keeps one (the one-shot
/// `zstd::bulk::compress` sets up a fresh context on every call, which on a 300-byte value
/// costs more than the compression, and made this reference easy to beat).
pub fn raw_zstd_compress(bytes: &[u8]) -> Vec<u8> {
    ZSTD_COMPRESSOR.with(|c| c.borrow_mut().compress(bytes).expect("zstd"))
}

/// [`raw_zstd_compress`] with zstd's content checksum on, as satchel writes its frames: what
/// the checksum (XXH64 of the content, computed on writing and checked on reading) costs.
pub fn raw_zstd_compress_checksummed(bytes: &[u8]) -> Vec<u8> {
    ZSTD_CHECKSUMMING.with(|c| c.borrow_mut().compress(bytes).expect("zstd"))
}

/// zstd decompression by hand, the same way: a `bulk::Decompressor` kept per thread, the
/// output buffer sized from the frame header (a fixed large capacity would allocate that
/// capacity on every call).
pub fn raw_zstd_decompress(bytes: &[u8]) -> Vec<u8> {
    let size = zstd::zstd_safe::get_frame_content_size(bytes)
        .expect("a zstd frame")
        .expect("the frame records its size");
    let size = usize::try_from(size).expect("fits");
    ZSTD_DECOMPRESSOR.with(|d| d.borrow_mut().decompress(bytes, size).expect("zstd"))
}
