//! Sealing through the codec: golden bytes, rotation, and every way a value must not open.

use std::path::PathBuf;
use std::sync::Arc;

use satchel::{Codec, ErrorKind, Zstd, decode_any};
use satchel_core::{Flags, SealInfo, sniff};

use crate::KeyRing;

/// The fixed test key: bytes 0, 1, …, 31 (`AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=`).
const TEST_KEY: [u8; 32] = {
    let mut k = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        k[i] = i as u8;
        i += 1;
    }
    k
};
const OTHER_KEY: [u8; 32] = [0xA5; 32];

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Cart {
    user: String,
    items: Vec<u32>,
    note: String,
}

fn cart() -> Cart {
    Cart {
        user: "ann".into(),
        items: vec![7, 9, 11],
        note: "leave at the door, leave at the door, leave at the door".into(),
    }
}

fn ring(id: u32, key: [u8; 32]) -> Arc<KeyRing> {
    Arc::new(KeyRing::new(id, key))
}

#[test]
fn sealed_values_match_their_golden_bytes() {
    let fixed = KeyRing::new(7, TEST_KEY).with_fixed_nonce(*b"satchel-seal");
    let codec = Codec::json().compress(Zstd).seal(fixed);
    let bytes = codec.encode_keyed(&cart(), "cart:ann").unwrap();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("golden/cart.json+zstd+seal.bin");
    if std::env::var_os("SATCHEL_BLESS").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    let golden = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with SATCHEL_BLESS=1 to create it",
            path.display()
        )
    });
    // The layout: extended header, sealed flag, key id 7, the nonce, then ciphertext + tag.
    assert_eq!(golden[..5], [0xC1, 0xFF, 0x01, 0x01, Flags::SEALED.bits()]);
    assert_eq!(golden[5..9], 7u32.to_le_bytes());
    assert_eq!(&golden[9..21], b"satchel-seal");
    assert!(
        bytes == golden,
        "the sealed bytes changed ({} bytes now, {} golden); if intended, regenerate with \
         SATCHEL_BLESS=1",
        bytes.len(),
        golden.len()
    );
    // Old bytes stay readable by any ring holding the key (random nonces or not).
    let reader = Codec::json().compress(Zstd).seal(ring(7, TEST_KEY));
    assert_eq!(
        reader.decode_keyed::<Cart>(&golden, "cart:ann").unwrap(),
        cart()
    );
}

#[test]
fn sealed_round_trip_in_every_shape() {
    let keys = ring(1, TEST_KEY);
    let zstd = Codec::json().compress(Zstd).seal(keys.clone());
    let plain = Codec::json().seal(keys.clone());
    let small = Codec::json()
        .compress(Zstd)
        .compress_above(1 << 20)
        .seal(keys);
    for bytes in [
        zstd.encode_keyed(&cart(), "k").unwrap(),
        plain.encode_keyed(&cart(), "k").unwrap(),
        small.encode_keyed(&cart(), "k").unwrap(),
    ] {
        assert_eq!(zstd.decode_keyed::<Cart>(&bytes, "k").unwrap(), cart());
        assert!(sniff(&bytes).unwrap().flags.contains(Flags::SEALED));
    }
    // Fresh nonces: the same value seals differently every time, and hides its text.
    let a = zstd.encode_keyed(&cart(), "k").unwrap();
    let b = zstd.encode_keyed(&cart(), "k").unwrap();
    assert_ne!(a, b);
    let c = plain.encode_keyed(&cart(), "k").unwrap();
    assert!(!c.windows(3).any(|w| w == b"ann"));
    // The unkeyed calls bind the empty key.
    let d = zstd.encode(&cart()).unwrap();
    assert_eq!(zstd.decode::<Cart>(&d).unwrap(), cart());
    assert_eq!(
        zstd.decode_keyed::<Cart>(&d, "k").unwrap_err().kind(),
        ErrorKind::Unauthentic
    );
}

#[test]
fn a_value_copied_to_another_key_does_not_open() {
    let codec = Codec::json().compress(Zstd).seal(ring(1, TEST_KEY));
    let bytes = codec.encode_keyed(&cart(), "session:ann").unwrap();
    let err = codec
        .decode_keyed::<Cart>(&bytes, "session:bob")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthentic);
    assert!(err.message().contains("another store key"), "{err}");
}

#[test]
fn a_wrong_key_does_not_open() {
    let bytes = Codec::json()
        .compress(Zstd)
        .seal(ring(1, TEST_KEY))
        .encode_keyed(&cart(), "k")
        .unwrap();
    let other = Codec::json().compress(Zstd).seal(ring(1, OTHER_KEY));
    let err = other.decode_keyed::<Cart>(&bytes, "k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthentic);
}

#[test]
fn an_unknown_key_id_names_it_and_the_ring() {
    let bytes = Codec::json()
        .seal(ring(41, TEST_KEY))
        .encode_keyed(&cart(), "k")
        .unwrap();
    let reader = Codec::json().seal(ring(2, TEST_KEY));
    let err = reader.decode_keyed::<Cart>(&bytes, "k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::UnknownKey);
    assert!(
        err.message().contains("key id 41") && err.message().contains("ids 2"),
        "{err}"
    );
}

#[test]
fn every_flipped_bit_and_every_cut_is_an_error() {
    let codec = Codec::json().compress(Zstd).seal(ring(1, TEST_KEY));
    let bytes = codec.encode_keyed(&cart(), "k").unwrap();
    for i in 0..bytes.len() {
        for bit in [0x01, 0x80] {
            let mut bad = bytes.clone();
            bad[i] ^= bit;
            let err = codec.decode_keyed::<Cart>(&bad, "k").unwrap_err();
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::Unauthentic
                        | ErrorKind::UnknownKey
                        | ErrorKind::Header
                        | ErrorKind::Mismatch
                ),
                "byte {i} bit {bit:#x}: {err}"
            );
        }
    }
    for len in 0..bytes.len() {
        let err = codec.decode_keyed::<Cart>(&bytes[..len], "k").unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Unauthentic | ErrorKind::Header),
            "cut at {len}: {err}"
        );
    }
    let err = codec.decode_keyed::<Cart>(&bytes[..25], "k").unwrap_err();
    assert!(err.message().contains("cut short"), "{err}");
}

#[test]
fn keys_rotate_without_stranding_old_values() {
    let old = Codec::json().compress(Zstd).seal(ring(1, TEST_KEY));
    let before = old.encode_keyed(&cart(), "k").unwrap();
    let rotated = Arc::new(KeyRing::new(1, TEST_KEY).rotate(2, OTHER_KEY).unwrap());
    assert_eq!(rotated.current_id(), 2);
    let new = Codec::json().compress(Zstd).seal(rotated);
    assert_eq!(new.decode_keyed::<Cart>(&before, "k").unwrap(), cart());
    let after = new.encode_keyed(&cart(), "k").unwrap();
    assert_eq!(
        sniff(&after).unwrap().seal.map(|s: SealInfo| s.key_id),
        Some(2)
    );
    // Once old values are re-sealed, the old key can go.
    let only_new = Codec::json().compress(Zstd).seal(ring(2, OTHER_KEY));
    assert_eq!(only_new.decode_keyed::<Cart>(&after, "k").unwrap(), cart());
    assert_eq!(
        only_new
            .decode_keyed::<Cart>(&before, "k")
            .unwrap_err()
            .kind(),
        ErrorKind::UnknownKey
    );
}

#[test]
fn sealed_and_unsealed_codecs_refuse_each_other() {
    let sealed = Codec::json().compress(Zstd).seal(ring(1, TEST_KEY));
    let plain = Codec::json().compress(Zstd);
    let unsealed = plain.encode(&cart()).unwrap();
    let err = sealed.decode_keyed::<Cart>(&unsealed, "k").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Mismatch);
    assert!(err.message().contains("not sealed"), "{err}");
    let bytes = sealed.encode_keyed(&cart(), "k").unwrap();
    for err in [
        plain.decode::<Cart>(&bytes).unwrap_err(),
        decode_any::<Cart>(&bytes).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Mismatch);
        assert!(err.message().contains("sealed (key id 1)"), "{err}");
    }
    // A sealed codec never reads unheadered bytes, whatever its header settings said.
    let lax = Codec::json().accept_unheadered().seal(ring(1, TEST_KEY));
    assert_eq!(
        lax.decode::<Cart>(b"{}").unwrap_err().kind(),
        ErrorKind::Header
    );
}

#[test]
fn debug_and_errors_never_show_a_key() {
    let text = "3 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n# old\n\n1 paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaU=";
    let ring = KeyRing::parse(text).unwrap();
    assert_eq!(ring.ids().collect::<Vec<_>>(), [3, 1]);
    assert_eq!(
        &*ring.to_text(),
        "3 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n1 paWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaU=\n"
    );
    let alone = format!("{ring:?}");
    let debug = format!("{alone} {:?}", Codec::json().seal(Arc::new(ring)));
    assert!(
        !debug.contains("AAEC") && !debug.contains("paWl"),
        "{debug}"
    );
    assert!(debug.contains("<redacted>"), "{debug}");
    let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlYw==";
    for (bad, says) in [
        ("", "holds no key"),
        ("# only a comment", "holds no key"),
        ("1", "two fields"),
        (&format!("1 {secret} extra")[..], "two fields"),
        (&format!("x {secret}")[..], "not a whole number"),
        (&format!("-1 {secret}")[..], "not a whole number"),
        ("1 not*base64", "not standard base64"),
        ("1 c2hvcnQ=", "5 bytes"),
        (&format!("1 {secret}")[..], "31 bytes"),
        (
            "1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=;1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            "already has a key with id 1",
        ),
    ] {
        let err = KeyRing::parse(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Spec, "{bad}");
        assert!(err.message().contains(says), "{bad}: {err}");
        assert!(
            !err.message().contains("c2Vj") && !err.message().contains("AAEC"),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_none());
    }
    let err = KeyRing::from_file("/nonexistent/satchel/keys").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Spec);
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn nonces_never_repeat_across_batches_and_threads() {
    use satchel_core::Seal;
    let ring = Arc::new(KeyRing::generate(1).unwrap());
    let draw = |ring: Arc<KeyRing>| {
        (0..1000)
            .map(|_| ring.begin().unwrap().nonce)
            .collect::<Vec<_>>()
    };
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let ring = ring.clone();
            std::thread::spawn(move || draw(ring))
        })
        .collect();
    let mut all = draw(ring);
    for t in threads {
        all.extend(t.join().unwrap());
    }
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "a nonce was handed out twice");
    assert!(!all.contains(&[0; 12]));
}
