//! Opening sealed values: arbitrary bytes through sealed codecs holding the golden test key
//! (id 7, so mutations of the seed get past the key lookup to the tag) and an older key,
//! under a small limit: errors only, never a panic, and nothing that opens except what the
//! key sealed. The seed is `crates/seal/golden/cart.json+zstd+seal.bin`.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use satchel::seal::KeyRing;
use satchel::{Codec, Lz4, Zstd};

fn keys() -> &'static Arc<KeyRing> {
    static KEYS: OnceLock<Arc<KeyRing>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let test_key: [u8; 32] = std::array::from_fn(|i| i as u8);
        Arc::new(KeyRing::new(7, test_key).with_old_key(3, [0xA5; 32]).unwrap())
    })
}

fuzz_target!(|data: &[u8]| {
    let keys = keys().clone();
    let json = Codec::json().compress(Zstd).seal(keys.clone()).max_decoded_len(1 << 20);
    let plain = Codec::json().seal(keys.clone()).max_decoded_len(1 << 20);
    let msgpack = Codec::msgpack().compress(Lz4).seal(keys).max_decoded_len(1 << 20);
    for key in ["cart:ann", "cart:bob", ""] {
        if let Ok(value) = json.decode_keyed::<serde_json::Value>(data, key) {
            // Whatever opens re-seals and opens again to the same value.
            let again = json.encode_keyed(&value, key).expect("an opened value re-seals");
            assert_eq!(json.decode_keyed::<serde_json::Value>(&again, key).unwrap(), value);
        }
        let _ = plain.decode_keyed::<serde_json::Value>(data, key);
        let _ = msgpack.decode_keyed::<Vec<String>>(data, key);
    }
});
