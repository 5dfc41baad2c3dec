//! Sealed run-time codecs: the `+seal` spec, its settings, and reading by header.
#![cfg(all(feature = "seal", feature = "json", feature = "zstd", feature = "kvdb"))]

use std::sync::Arc;

use satchel::seal::KeyRing;
use satchel::{DynCodec, ErrorKind, ValueCodec};

fn keys() -> Arc<KeyRing> {
    Arc::new(KeyRing::generate(5).unwrap())
}

#[test]
fn seal_spec_round_trips_and_prints_back() {
    let keys = keys();
    let codec = DynCodec::from_spec_with_keys("json+zstd:3+seal", &keys).unwrap();
    assert!(codec.is_sealed() && codec.binds_key());
    assert_eq!(codec.to_string(), "json+zstd+seal");
    let hi = DynCodec::from_spec_with_keys("json+zstd:9+seal", &keys).unwrap();
    assert_eq!(hi.to_string(), "json+zstd:9+seal");
    let bytes = codec.encode_keyed(&vec![1, 2, 3], "list:1").unwrap();
    assert_eq!(
        codec.decode_keyed::<Vec<u8>>(&bytes, "list:1").unwrap(),
        [1, 2, 3]
    );
    assert_eq!(
        codec
            .decode_keyed::<Vec<u8>>(&bytes, "list:2")
            .unwrap_err()
            .kind(),
        ErrorKind::Unauthentic
    );
    // A spec without +seal ignores the keys; plain codecs bind nothing.
    let plain = DynCodec::from_spec_with_keys("json+zstd", &keys).unwrap();
    assert!(!plain.is_sealed() && !plain.binds_key());
    assert_eq!(
        plain.decode::<Vec<u8>>(&bytes).unwrap_err().kind(),
        ErrorKind::Mismatch
    );
}

#[test]
fn sealed_settings_that_cannot_apply_are_errors() {
    let codec = DynCodec::from_spec_with_keys("msgpack+zstd+seal", &keys()).unwrap();
    assert!(codec.clone().compress_above(64).unwrap().is_sealed());
    for err in [
        codec.clone().checksum().unwrap_err(),
        codec.clone().accept_unheadered().unwrap_err(),
        codec.seal(keys()).unwrap_err(),
        DynCodec::from_spec_with_keys("kvdb-json+seal", &keys()).unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::Spec, "{err}");
    }
}
