//! Compressing with trained dictionaries: round trips, the registry, the errors for a
//! missing or tampered dictionary id, and the decode limits with a dictionary.

use satchel_core::{Compression, ErrorKind};
use satchel_zstd::{Zstd, ZstdDict, frame_dict_id};

/// The committed test dictionary (4 KiB, trained on session records).
fn dict_a() -> &'static ZstdDict {
    ZstdDict::load(include_bytes!("data/sessions.dict")).expect("committed dictionary loads")
}

/// Records alike each other, as a store of sessions holds them (splitmix64 for variety).
fn records(seed: u64, n: usize) -> Vec<Vec<u8>> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    (0..n)
        .map(|_| {
            format!(
                r#"{{"order":{},"customer":"c-{:08x}","status":"{}","lines":[{{"sku":"P{:05}","qty":{}}}],"note":"deliver to the back door, ring twice"}}"#,
                next() % 1_000_000,
                next(),
                ["open", "paid", "shipped"][(next() % 3) as usize],
                next() % 100_000,
                next() % 9 + 1
            )
            .into_bytes()
        })
        .collect()
}

/// A second dictionary, trained here on other records.
fn dict_b() -> &'static ZstdDict {
    let trained = satchel_zstd::train(&records(7, 500), 2048).expect("trains");
    ZstdDict::load(&trained).expect("loads")
}

fn compress(zstd: Zstd, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    zstd.compress(input, &mut out).expect("compresses");
    out
}

const RECORD: &[u8] = br#"{"id":"9f2c41d07a8e3b5c6d1e2f","user_id":4242,"user_name":"tea.lamp","roles":["user"],"created_at":1790000123456,"last_seen":1790000623456,"csrf":"0123456789abcdef0123456789abcdef","prefs":{"lang":"en-GB","theme":"dark"},"cart":[{"sku":"SKU-123456","qty":2,"price_cents":1999,"title":"blue wool mug"}],"history":["/shop/tea/mug?page=3"]}"#;

#[test]
fn round_trip_with_a_dictionary_at_every_level() {
    let dict = dict_a();
    for level in [Zstd::MIN_LEVEL, 1, 3, 9, 19] {
        let zstd = Zstd.level(level).dict(dict);
        let packed = compress(zstd, RECORD);
        assert_eq!(frame_dict_id(&packed), Some(dict.id()), "level {level}");
        for reader in [zstd, Zstd, Zstd.level(19)] {
            let mut out = b"kept".to_vec();
            reader
                .decompress(&packed, &mut out, 1 << 20)
                .expect("decompresses");
            assert_eq!(&out[4..], RECORD, "level {level}");
        }
    }
    let plain = compress(Zstd, RECORD);
    let with_dict = compress(Zstd.dict(dict), RECORD);
    assert_eq!(frame_dict_id(&plain), None);
    assert!(
        with_dict.len() * 3 / 2 < plain.len(),
        "the dictionary helps: {} with, {} without",
        with_dict.len(),
        plain.len()
    );
}

#[test]
fn loading_the_same_dictionary_twice_gives_the_one_loaded() {
    let a = dict_a();
    let again = ZstdDict::load(a.as_bytes()).expect("loads again");
    assert!(std::ptr::eq(a, again));
    assert!(std::ptr::eq(ZstdDict::get(a.id()).expect("registered"), a));
    assert!(ZstdDict::loaded().iter().any(|d| d.id() == a.id()));
}

#[test]
fn another_dictionary_under_a_loaded_id_is_refused() {
    let a = dict_a();
    let mut other = a.as_bytes().to_vec();
    let last = other.len() - 1;
    other[last] ^= 0xFF; // same id, different content
    let err = ZstdDict::load(&other).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Dictionary);
    assert!(err.to_string().contains(&a.id().to_string()), "{err}");
}

#[test]
fn bytes_that_are_no_dictionary_are_refused() {
    for bytes in [
        &b""[..],
        b"plain text is a raw dictionary with no id",
        &[0x37, 0xA4, 0x30, 0xEC],
    ] {
        let err = ZstdDict::load(bytes).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Dictionary, "{bytes:?}");
    }
    let huge = vec![0u8; satchel_zstd::MAX_DICT_LEN + 1];
    assert_eq!(
        ZstdDict::load(&huge).unwrap_err().kind(),
        ErrorKind::Dictionary
    );
}

/// The offset and width of the dictionary id in a frame's header.
fn dict_id_field(frame: &[u8]) -> (usize, usize) {
    let descriptor = frame[4];
    let single_segment = (descriptor >> 5) & 1;
    let width = [0, 1, 2, 4][usize::from(descriptor & 3)];
    (5 + usize::from(1 - single_segment), width)
}

#[test]
fn an_unknown_dictionary_id_is_a_clear_error_before_anything_is_decoded() {
    let dict = dict_a();
    let mut packed = compress(Zstd.dict(dict), RECORD);
    let (at, width) = dict_id_field(&packed);
    assert_eq!(width, 4, "trained ids take four bytes");
    let unknown: u32 = 0x7A11_0C01;
    assert!(ZstdDict::get(unknown).is_none());
    packed[at..at + 4].copy_from_slice(&unknown.to_le_bytes());
    let mut out = Vec::new();
    let err = Zstd
        .dict(dict)
        .decompress(&packed, &mut out, 1 << 20)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Dictionary);
    let message = err.to_string();
    assert!(
        message.contains(&unknown.to_string()),
        "names the id: {message}"
    );
    assert!(message.contains("not loaded"), "{message}");
    assert_eq!(
        out.capacity(),
        0,
        "nothing allocated before the id was checked"
    );
}

#[test]
fn a_dict_id_tampered_to_another_loaded_dictionary_is_an_error_never_garbage() {
    let (a, b) = (dict_a(), dict_b());
    assert_ne!(a.id(), b.id());
    let mut packed = compress(Zstd.dict(a), RECORD);
    let (at, _) = dict_id_field(&packed);
    packed[at..at + 4].copy_from_slice(&b.id().to_le_bytes());
    assert_eq!(frame_dict_id(&packed), Some(b.id()));
    let mut out = Vec::new();
    let err = Zstd.decompress(&packed, &mut out, 1 << 20).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decompress, "{err}");
}

#[test]
fn every_flipped_bit_of_a_dictionary_frame_is_caught() {
    let dict = dict_a();
    let packed = compress(Zstd.dict(dict), RECORD);
    for i in 0..packed.len() {
        for bit in [0x01, 0x80] {
            let mut bad = packed.clone();
            bad[i] ^= bit;
            let mut out = Vec::new();
            if Zstd.decompress(&bad, &mut out, 1 << 20).is_ok() {
                assert_eq!(out, RECORD, "byte {i} bit {bit:#x} flipped silently");
            }
        }
    }
}

#[test]
fn values_written_with_an_older_dictionary_stay_readable() {
    let (a, b) = (dict_a(), dict_b());
    let old = compress(Zstd.dict(a), RECORD);
    let new = compress(Zstd.dict(b), &records(99, 1)[0]);
    let current = Zstd.dict(b);
    let mut out = Vec::new();
    current
        .decompress(&old, &mut out, 1 << 20)
        .expect("old value reads");
    assert_eq!(out, RECORD);
    out.clear();
    current
        .decompress(&new, &mut out, 1 << 20)
        .expect("new value reads");
    assert_eq!(out, records(99, 1)[0]);
}

#[test]
fn declared_size_over_the_limit_is_refused_before_decoding_with_a_dictionary() {
    let packed = compress(Zstd.dict(dict_a()), &[b'x'; 10_000]);
    let mut out = Vec::new();
    let err = Zstd.decompress(&packed, &mut out, 9_999).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    assert_eq!(out.capacity(), 0);
}

#[test]
fn a_streamed_dictionary_frame_without_a_size_is_bounded() {
    let dict = dict_a();
    let mut encoder =
        zstd::stream::write::Encoder::with_dictionary(Vec::new(), 3, dict.as_bytes()).unwrap();
    encoder.include_contentsize(false).unwrap();
    std::io::Write::write_all(&mut encoder, &[1u8; 50_000]).unwrap();
    let packed = encoder.finish().unwrap();
    assert!(zstd::bulk::Decompressor::upper_bound(&packed).is_none());
    assert_eq!(frame_dict_id(&packed), Some(dict.id()));
    let mut out = Vec::new();
    Zstd.decompress(&packed, &mut out, 50_000).unwrap();
    assert_eq!(out.len(), 50_000);
    let err = Zstd
        .decompress(&packed, &mut Vec::new(), 49_999)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded);
}

#[test]
fn training_on_too_few_samples_is_a_dictionary_error() {
    let err = satchel_zstd::train(&records(1, 2), 4096).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Dictionary);
    assert!(
        std::error::Error::source(&err).is_some(),
        "zstd's error is kept"
    );
    let err = satchel_zstd::train(&records(1, 100), 10).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Dictionary);
}

#[test]
fn compressing_alternately_with_and_without_dictionaries_on_one_thread() {
    let (a, b) = (dict_a(), dict_b());
    for zstd in [
        Zstd.dict(a),
        Zstd,
        Zstd.dict(b),
        Zstd.level(9).dict(a),
        Zstd.dict(a),
    ] {
        let packed = compress(zstd, RECORD);
        assert_eq!(frame_dict_id(&packed), zstd.dict_in_use().map(ZstdDict::id));
        let mut out = Vec::new();
        Zstd.decompress(&packed, &mut out, 1 << 20).expect("reads");
        assert_eq!(out, RECORD);
    }
}
