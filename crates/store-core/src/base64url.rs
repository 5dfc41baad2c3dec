//! Unpadded base64url (RFC 4648 §5), through the `base64` crate: the one encoding of
//! bytes as text that session ids and session values share.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `bytes` as unpadded base64url (`[A-Za-z0-9_-]`).
///
/// ```
/// assert_eq!(satchel_store_core::encode_base64url(b"hi?"), "aGk_");
/// ```
pub fn encode_base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The bytes of unpadded, canonical base64url text; `None` for anything else (padding,
/// other alphabets, non-zero trailing bits).
///
/// ```
/// use satchel_store_core::decode_base64url;
/// assert_eq!(decode_base64url("aGk_"), Some(b"hi?".to_vec()));
/// assert_eq!(decode_base64url("aGl"), None); // non-zero trailing bits
/// assert_eq!(decode_base64url("aGk="), None); // padded
/// ```
pub fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}
