//! Sample payloads and conformance suites for satchel backends.
//!
//! Each suite is written once and run against every backend: the backend crates' tests and
//! the workspace `tests/` package call [`format_conformance`] and
//! [`compression_conformance`] with their implementation, and instantiate the store and
//! session suites with [`store_suite!`] and [`session_suite!`], which give every behaviour
//! its own named test per backend.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use satchel_core::{Compression, ErrorKind, Format, FormatId, HeaderFormat, Limits};

pub mod grpc;
pub mod payloads;
pub mod python;
pub mod redis_server;
pub mod session;
pub mod store;
pub mod suite;

/// A value exercising most of serde's data model: nested structs, every enum variant
/// shape, maps, options, byte strings, unicode, extreme integers, floats (no NaN, which is
/// not equal to itself) and empty collections.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Rich {
    /// Unicode text with escapes, quotes and astral characters.
    pub name: String,
    /// `u64::MAX`.
    pub big: u64,
    /// `i64::MIN`.
    pub small: i64,
    /// A 128-bit integer.
    pub wide: i128,
    /// A float with a long expansion.
    pub ratio: f64,
    /// Raw bytes, including every byte value.
    pub bytes: Vec<u8>,
    /// Present and absent options.
    pub maybe: (Option<u32>, Option<String>),
    /// An ordered map with unicode keys.
    pub map: BTreeMap<String, Vec<i32>>,
    /// Every enum variant shape.
    pub shapes: Vec<Shape>,
    /// A nested struct.
    pub inner: Inner,
    /// Empty collections.
    pub empty: (Vec<u8>, BTreeMap<String, u8>, String),
    /// A unit and a bool.
    pub flags: ((), bool, char),
}

/// Enum variants of every shape.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum Shape {
    /// Unit variant.
    Unit,
    /// Newtype variant.
    Newtype(u16),
    /// Tuple variant.
    Tuple(i8, String),
    /// Struct variant.
    Struct {
        /// A field.
        x: f32,
        /// Another.
        y: Option<Box<Shape>>,
    },
}

/// A nested struct.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Inner {
    /// Depth marker.
    pub level: u8,
    /// Recursion through an option.
    pub child: Option<Box<Inner>>,
}

impl Rich {
    /// The sample value.
    pub fn sample() -> Self {
        let mut map = BTreeMap::new();
        map.insert("ключ".to_string(), vec![1, -2, i32::MAX]);
        map.insert("emoji 🎒".to_string(), vec![]);
        map.insert(String::new(), vec![0]);
        Self {
            name: "ann \"the\" tester\n\t\\ 🎒 é 中文 \u{0}".to_string(),
            big: u64::MAX,
            small: i64::MIN,
            wide: i128::MIN + 7,
            ratio: 0.1 + 0.2,
            bytes: (0..=255).collect(),
            maybe: (Some(0), None),
            map,
            shapes: vec![
                Shape::Unit,
                Shape::Newtype(65535),
                Shape::Tuple(-128, "t".into()),
                Shape::Struct {
                    x: 1.5,
                    y: Some(Box::new(Shape::Struct { x: -0.0, y: None })),
                },
            ],
            inner: Inner {
                level: 0,
                child: Some(Box::new(Inner {
                    level: 1,
                    child: Some(Box::new(Inner {
                        level: 2,
                        child: None,
                    })),
                })),
            },
            empty: (Vec::new(), BTreeMap::new(), String::new()),
            flags: ((), true, '🎒'),
        }
    }
}

/// A recursive type whose nesting depth is chosen by the data, for depth-limit tests.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub enum Tree {
    /// The end.
    Leaf,
    /// One more level.
    Node(Box<Tree>),
}

/// Bytes in `format` that nest `levels` deep, built without recursion (serializing such a
/// value would itself overflow the stack). `None` for a format this kit does not know.
pub fn deeply_nested(format: FormatId, levels: usize) -> Option<Vec<u8>> {
    match format {
        FormatId::JSON => {
            let mut s = "[".repeat(levels);
            s.push_str(&"]".repeat(levels));
            Some(s.into_bytes())
        }
        // fixarray of one element, repeated, around an empty fixarray.
        FormatId::MSGPACK => {
            let mut v = vec![0x91; levels];
            v.push(0x90);
            Some(v)
        }
        // `Tree::Node` (variant 1) repeated, then `Tree::Leaf` (variant 0).
        FormatId::BINCODE => {
            let mut v = vec![1; levels];
            v.push(0);
            Some(v)
        }
        _ => None,
    }
}

/// Whether a format can decode types that need `deserialize_any` (such as
/// `serde_json::Value`).
pub fn self_describing(format: FormatId) -> bool {
    format != FormatId::BINCODE
}

fn round_trip<F: Format, T>(format: &F, value: &T)
where
    T: Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let mut out = b"prefix".to_vec();
    format
        .serialize_into(value, &mut out)
        .unwrap_or_else(|e| panic!("{}: encode failed: {e:?}", format.name()));
    assert_eq!(&out[..6], b"prefix", "{}: must append", format.name());
    let back: T = format
        .deserialize(&out[6..], &Limits::default())
        .unwrap_or_else(|e| panic!("{}: decode failed: {e:?}", format.name()));
    assert_eq!(&back, value, "{}", format.name());
    let mut owned = out[6..].to_vec();
    let back: T = format
        .deserialize_mut(&mut owned, &Limits::default())
        .unwrap_or_else(|e| panic!("{}: decode_mut failed: {e:?}", format.name()));
    assert_eq!(&back, value, "{}", format.name());
}

/// The conformance suite for a [`Format`]: round trips, trailing and truncated input,
/// garbage, type mismatch and nesting depth. Panics with the format's name on failure.
pub fn format_conformance<F: HeaderFormat>(format: &F) {
    let name = format.name();
    round_trip(format, &Rich::sample());
    round_trip(format, &payloads::session_small());
    round_trip(format, &0u8);
    round_trip(format, &String::new());
    round_trip(format, &Vec::<Rich>::new());
    round_trip(format, &Tree::Node(Box::new(Tree::Leaf)));
    round_trip(format, &(u128::MAX, i128::MIN));
    if self_describing(format.id()) {
        round_trip(format, &payloads::session_value());
    }

    let mut bytes = Vec::new();
    format.serialize_into(&Rich::sample(), &mut bytes).unwrap();
    let limits = Limits::default();

    // Trailing bytes are an error, not ignored.
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(
        format.deserialize::<Rich>(&trailing, &limits).is_err(),
        "{name}: trailing byte accepted"
    );
    // Every truncation is an error, never a panic.
    for cut in 0..bytes.len() {
        let err = format
            .deserialize::<Rich>(&bytes[..cut], &limits)
            .expect_err(&format!("{name}: truncated at {cut} accepted"));
        assert!(
            matches!(err.kind(), ErrorKind::Decode | ErrorKind::LimitExceeded),
            "{name}: truncated at {cut}: {err:?}"
        );
    }
    // Flipped bytes either decode to something or fail cleanly (no panic).
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x55;
        let _ = format.deserialize::<Rich>(&bad, &limits);
        let _ = format.deserialize::<Tree>(&bad, &limits);
    }
    // The wrong type is a decode error.
    let err = format.deserialize::<Vec<u64>>(&bytes, &limits).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{name}: {err:?}");

    // Deep nesting is refused, not a stack overflow.
    if let Some(deep) = deeply_nested(format.id(), 100_000) {
        let err = if self_describing(format.id()) {
            format
                .deserialize::<serde_json::Value>(&deep, &limits)
                .unwrap_err()
        } else {
            format.deserialize::<Tree>(&deep, &limits).unwrap_err()
        };
        assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{name}: {err:?}");
        let shallow = deeply_nested(format.id(), 20).unwrap();
        if self_describing(format.id()) {
            format
                .deserialize::<serde_json::Value>(&shallow, &limits)
                .unwrap();
        } else {
            format.deserialize::<Tree>(&shallow, &limits).unwrap();
        }
        let strict = Limits::default().max_depth(10);
        let err = if self_describing(format.id()) {
            format
                .deserialize::<serde_json::Value>(&shallow, &strict)
                .unwrap_err()
        } else {
            format.deserialize::<Tree>(&shallow, &strict).unwrap_err()
        };
        assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{name}: {err:?}");
    }
}

/// The conformance suite for a [`Compression`]: round trips, appending, the limit at its
/// exact boundary, truncation, garbage and corruption. Panics with the name on failure.
pub fn compression_conformance(c: &dyn Compression) {
    let name = c.name();
    let inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        b"a".to_vec(),
        payloads::json_bytes(&payloads::session_small()),
        payloads::json_bytes(&payloads::session_medium()),
        (0..=255u8).cycle().take(70_000).collect(),
        vec![0; 300_000],
    ];
    for input in &inputs {
        let mut packed = b"head".to_vec();
        c.compress(input, &mut packed)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(&packed[..4], b"head", "{name}: must append");
        let packed = &packed[4..];

        let mut out = b"x".to_vec();
        c.decompress(packed, &mut out, input.len())
            .unwrap_or_else(|e| panic!("{name}: len {}: {e:?}", input.len()));
        assert_eq!(&out[1..], &input[..], "{name}");
        assert_eq!(out[0], b'x', "{name}: must append");

        if !input.is_empty() {
            let err = c
                .decompress(packed, &mut Vec::new(), input.len() - 1)
                .expect_err(&format!("{name}: limit not enforced"));
            assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{name}: {err:?}");
        }
        // Stored bytes have no framing, so only real compressions can detect truncation.
        let framed = c.id() != satchel_core::CompressionId::NONE;
        for cut in (0..packed.len().min(64)).filter(|_| framed) {
            let mut out = Vec::new();
            match c.decompress(&packed[..cut], &mut out, input.len()) {
                Err(e) => assert!(
                    matches!(e.kind(), ErrorKind::Decompress | ErrorKind::LimitExceeded),
                    "{name}: {e:?}"
                ),
                // A prefix can only be accepted if it really decodes to the same bytes
                // (e.g. an empty input); anything else would be silent corruption.
                Ok(()) => assert_eq!(out, &input[..], "{name}: truncated at {cut} accepted"),
            }
        }
        if c.self_checked() {
            for i in (0..packed.len()).step_by(packed.len() / 97 + 1) {
                let mut bad = packed.to_vec();
                bad[i] ^= 0x04;
                let mut out = Vec::new();
                if c.decompress(&bad, &mut out, input.len()).is_ok() {
                    assert_eq!(out, &input[..], "{name}: byte {i} flipped silently");
                }
            }
        }
    }
    // Garbage never panics.
    for seed in 0..200u32 {
        let garbage: Vec<u8> = (0..seed)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
            .collect();
        let _ = c.decompress(&garbage, &mut Vec::new(), 1 << 16);
    }
}
