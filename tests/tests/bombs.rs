//! Hostile input: decompression bombs, huge declared sizes and deep nesting give errors,
//! and the memory used while refusing them stays bounded. Peak heap use is measured per
//! thread by a counting allocator, so tests running in parallel do not disturb each other.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use satchel::{Codec, Compression, DynCodec, ErrorKind, Header, decode_any};

struct Counting;

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn add(n: usize) {
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + n;
        c.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

fn sub(n: usize) {
    let _ = CURRENT.try_with(|c| c.set(c.get().saturating_sub(n)));
}

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        sub(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        add(new);
        sub(layout.size());
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns the peak heap growth it caused on this thread.
fn peak_during(f: impl FnOnce()) -> usize {
    let base = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(base));
    f();
    PEAK.with(Cell::get) - base
}

const LIMIT: usize = 1 << 20;
/// Room for decoder state (zstd's context, flate's window, buffers) beside the output.
const MARGIN: usize = 4 << 20;

fn bomb(c: &dyn Compression) -> Vec<u8> {
    // 256 MiB of zeros compresses to a few hundred KiB at most.
    let zeros = vec![0u8; 256 << 20];
    let mut packed = Vec::new();
    Header::new(satchel::FormatId::JSON, c.id()).write(&mut packed);
    c.compress(&zeros, &mut packed).unwrap();
    packed
}

#[test]
fn decompression_bombs_are_refused_within_bounded_memory() {
    let compressions: [&dyn Compression; 4] = [
        &satchel::Zstd.level(1),
        &satchel::Lz4,
        &satchel::Gzip.level(1),
        &satchel::Zlib.level(1),
    ];
    for c in compressions {
        let packed = bomb(c);
        assert!(
            packed.len() < 2 << 20,
            "{}: bomb is {} bytes",
            c.name(),
            packed.len()
        );
        let codec = DynCodec::for_pipeline(satchel::sniff(&packed).unwrap().pipeline)
            .unwrap()
            .max_decoded_len(LIMIT);
        let peak = peak_during(|| {
            let err = codec.decode::<serde_json::Value>(&packed).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{}: {err}", c.name());
        });
        assert!(
            peak <= LIMIT + MARGIN,
            "{}: peak heap {peak} bytes for a {LIMIT}-byte limit",
            c.name()
        );
        // With the default 64 MiB limit it is refused too, within that limit.
        let peak = peak_during(|| {
            let err = decode_any::<serde_json::Value>(&packed).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{}: {err}", c.name());
        });
        // Growth stops at the limit; a stream that lies about its size costs at most one
        // reallocation step, during which old and new buffers both exist (counted here).
        assert!(peak <= (96 << 20) + MARGIN, "{}: peak {peak}", c.name());
    }
}

#[test]
fn lz4_lying_size_prefix_allocates_nothing() {
    // Six bytes of payload claiming 2 GB (lz4_flex's own prepend-size API would allocate it).
    let mut hostile = vec![0xC1, 0x12];
    hostile.extend_from_slice(&[0x00, 0x00, 0x00, 0x80, 0x10, 0x00]);
    let peak = peak_during(|| {
        let err = Codec::json()
            .compress(satchel::Lz4)
            .max_decoded_len(usize::MAX)
            .decode::<String>(&hostile)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decompress, "{err}");
    });
    assert!(peak < 64 << 10, "peak {peak}");
}

#[test]
fn zstd_lying_content_size_is_checked_before_allocating() {
    // A zstd frame whose header claims 4 GiB of content: magic, frame header descriptor
    // (single segment, 8-byte content size), the size, then one empty raw last block.
    let mut hostile = vec![0xC1, 0x11, 0x28, 0xB5, 0x2F, 0xFD, 0xE0];
    hostile.extend_from_slice(&(4u64 << 30).to_le_bytes());
    hostile.extend_from_slice(&[0x01, 0x00, 0x00]);
    let peak = peak_during(|| {
        let err = decode_any::<String>(&hostile).unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::LimitExceeded | ErrorKind::Decompress),
            "{err:?}"
        );
    });
    assert!(peak < 1 << 20, "peak {peak}");
}

#[test]
fn deep_nesting_is_an_error_in_every_format_and_pipeline() {
    use satchel_testkit::{Tree, deeply_nested};
    for codec in satchel_tests::all_pipelines() {
        let id = codec.pipeline().expect("headered").format;
        let payload = deeply_nested(id, 100_000).unwrap();
        let mut bytes = Vec::new();
        Header::new(id, codec.pipeline().expect("headered").compression).write(&mut bytes);
        satchel::Compression::compress(codec.compression(), &payload, &mut bytes).unwrap();
        let err = if satchel_testkit::self_describing(id) {
            codec.decode::<serde_json::Value>(&bytes).unwrap_err()
        } else {
            codec.decode::<Tree>(&bytes).unwrap_err()
        };
        assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{codec}: {err}");
    }
}

#[test]
fn garbage_after_a_valid_header_never_panics() {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    for codec in satchel_tests::all_pipelines() {
        for len in [0usize, 1, 3, 7, 16, 100, 1000] {
            let mut bytes = Vec::new();
            Header::new(
                codec.pipeline().expect("headered").format,
                codec.pipeline().expect("headered").compression,
            )
            .write(&mut bytes);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(seed as u8);
            }
            let _ = codec.decode::<serde_json::Value>(&bytes);
            let _ = codec.decode::<satchel_testkit::Rich>(&bytes);
            let _ = decode_any::<String>(&bytes);
        }
    }
}

/// Each level claims 2^32 - 1 children and holds only the next level.
#[derive(serde::Deserialize, Debug)]
#[allow(dead_code)]
struct ClaimTree(Vec<ClaimTree>);

/// The same through maps.
#[derive(serde::Deserialize, Debug)]
#[allow(dead_code)]
struct ClaimIndex(std::collections::BTreeMap<u8, ClaimIndex>);

/// `levels` nested sequences (or maps, with a one-byte key each) that each claim
/// 2^32 - 1 elements, in `format`'s encoding, behind a header.
fn nested_claims(format: satchel::FormatId, levels: usize, maps: bool) -> Vec<u8> {
    let mut bytes = Vec::new();
    Header::new(format, satchel::CompressionId::NONE).write(&mut bytes);
    for _ in 0..levels {
        match (format, maps) {
            // bincode: a varint length (0xFC + u32); a struct adds nothing.
            (satchel::FormatId::BINCODE, _) => bytes.push(0xFC),
            // MessagePack: array32 / map32 + u32 (big-endian, all ones either way).
            (_, false) => bytes.push(0xDD),
            (_, true) => bytes.push(0xDF),
        }
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        if maps {
            bytes.push(7);
        }
    }
    bytes
}

/// bincode's byte limit is gone (its accounting cost 10–20% of decoding time): its owned
/// reads would allocate what a string's length prefix claims, and serde's collections
/// pre-allocate up to 1 MiB each from what a sequence claims. Declared lengths are checked
/// against the input instead, so hostile values allocate in proportion to their size.
#[test]
fn declared_lengths_allocate_no_more_than_the_input_holds() {
    // A string claiming 2^62 bytes, under the largest limit: refused before allocating.
    let mut string = Vec::new();
    Header::new(satchel::FormatId::BINCODE, satchel::CompressionId::NONE).write(&mut string);
    string.push(0xFD);
    string.extend_from_slice(&(1u64 << 62).to_le_bytes());
    let peak = peak_during(|| {
        let err = Codec::bincode()
            .max_decoded_len(usize::MAX)
            .decode::<String>(&string)
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
        assert!(err.to_string().contains("claims more bytes"), "{err}");
    });
    assert!(peak < 4 << 10, "a hostile string allocated {peak} bytes");
    // The same claim in MessagePack (str32 / bin32, 2^32 - 1 bytes): refused the same way.
    for marker in [0xDB, 0xC6] {
        let mut claim = Vec::new();
        Header::new(satchel::FormatId::MSGPACK, satchel::CompressionId::NONE).write(&mut claim);
        claim.push(marker);
        claim.extend_from_slice(&u32::MAX.to_be_bytes());
        let peak = peak_during(|| {
            let codec = Codec::msgpack().max_decoded_len(usize::MAX);
            let err = codec.decode::<String>(&claim).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
        });
        assert!(
            peak < 4 << 10,
            "a hostile msgpack claim allocated {peak} bytes"
        );
    }

    // 40 nested collections claiming 2^32 - 1 elements each (200-240 bytes in all): serde
    // alone would pre-allocate 1 MiB for each level, 40 MiB.
    for name in ["bincode", "msgpack"] {
        let codec = DynCodec::from_spec(name).unwrap();
        let format = codec.pipeline().expect("headered").format;
        for maps in [false, true] {
            let hostile = nested_claims(format, 40, maps);
            let peak = peak_during(|| {
                let err = if maps {
                    codec.decode::<ClaimIndex>(&hostile).map(drop).unwrap_err()
                } else {
                    codec.decode::<ClaimTree>(&hostile).map(drop).unwrap_err()
                };
                assert_eq!(err.kind(), ErrorKind::Decode, "{name}: {err}");
            });
            assert!(
                peak < 256 << 10,
                "{name}: {} bytes of nested claims ({}) allocated {peak} bytes",
                hostile.len(),
                if maps { "maps" } else { "sequences" },
            );
        }
    }

    // Honest values still decode, their vectors pre-allocated once: a 100,000-element
    // vector peaks at its own buffer (and the input's copy), not a doubling of it.
    let honest: Vec<u64> = (0..100_000).collect();
    for name in ["bincode", "msgpack"] {
        let codec = DynCodec::from_spec(name).unwrap();
        let bytes = codec.encode(&honest).unwrap();
        let peak = peak_during(|| {
            assert_eq!(codec.decode::<Vec<u64>>(&bytes).unwrap(), honest);
        });
        assert!(
            peak <= 100_000 * 8 + (64 << 10),
            "{codec}: an honest 100,000-element vector peaked at {peak} bytes"
        );
    }
}

/// bincode elements can take no input at all (`()`, a unit struct): a length prefix
/// claiming 2^60 of them made the decoder loop 2^60 times on 10 bytes (0.1, and with the
/// byte limit too, which counted nothing for them). The element budget stops it after about
/// a million, with an error saying why; honest values of such elements still decode.
#[test]
fn zero_sized_elements_claimed_by_the_billion_stop() {
    #[derive(serde::Deserialize, Debug)]
    struct Marker;
    let mut hostile = Vec::new();
    Header::new(satchel::FormatId::BINCODE, satchel::CompressionId::NONE).write(&mut hostile);
    hostile.push(0xFD);
    hostile.extend_from_slice(&(1u64 << 60).to_le_bytes());
    for err in [
        Codec::bincode().decode::<Vec<()>>(&hostile).unwrap_err(),
        Codec::bincode()
            .decode::<Vec<Marker>>(&hostile)
            .unwrap_err(),
        Codec::bincode()
            .decode::<std::collections::BTreeMap<(), ()>>(&hostile)
            .unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
        assert!(err.to_string().contains("more elements than"), "{err}");
    }
    let honest = vec![(); 100_000];
    let bytes = Codec::bincode().encode(&honest).unwrap();
    assert!(bytes.len() < 10, "{} bytes", bytes.len());
    assert_eq!(
        Codec::bincode().decode::<Vec<()>>(&bytes).unwrap().len(),
        100_000
    );
}
