//! Where a Coherence entry lives in a satchel store (the layout is documented on the
//! `coherence` module).

use std::fmt::Write as _;

use crate::value::MAGIC;

/// The prefix of every store key the Coherence endpoint writes.
pub const KEY_PREFIX: &str = "coherence:";

/// The store key prefix shared by every entry of cache `cache` in scope `scope`.
pub fn cache_prefix(scope: &str, cache: &str) -> String {
    let mut out = String::with_capacity(KEY_PREFIX.len() + scope.len() + cache.len() + 2);
    out.push_str(KEY_PREFIX);
    escape_into(&mut out, scope);
    out.push(':');
    escape_into(&mut out, cache);
    out.push(':');
    out
}

/// The store key of the entry whose serialized key is `key` in cache `cache` of scope
/// `scope`: `coherence:<scope>:<cache>:<key>`, see [`parse_store_key`] for the way back.
pub fn store_key(scope: &str, cache: &str, key: &[u8]) -> String {
    let mut out = cache_prefix(scope, cache);
    push_key(&mut out, key);
    out
}

/// The part of a store key that follows the [`cache_prefix`]: the key's JSON text, or `#`
/// and hex.
#[cfg(feature = "endpoint")]
pub(crate) fn key_suffix(key: &[u8]) -> String {
    let mut out = String::new();
    push_key(&mut out, key);
    out
}

/// The serialized key that the part of a store key after its [`cache_prefix`] stands
/// for, or `None` if it is not one.
pub fn key_from_suffix(suffix: &str) -> Option<Vec<u8>> {
    if let Some(hex) = suffix.strip_prefix('#') {
        return from_hex(hex);
    }
    if suffix.is_empty() {
        return None;
    }
    let mut key = Vec::with_capacity(suffix.len() + 1);
    key.push(MAGIC);
    key.extend_from_slice(suffix.as_bytes());
    Some(key)
}

/// The `(scope, cache, serialized key)` a store key written by the Coherence endpoint
/// stands for, or `None` if it is not such a key.
pub fn parse_store_key(store_key: &str) -> Option<(String, String, Vec<u8>)> {
    let rest = store_key.strip_prefix(KEY_PREFIX)?;
    let (scope, rest) = rest.split_once(':')?;
    let (cache, suffix) = rest.split_once(':')?;
    Some((unescape(scope)?, unescape(cache)?, key_from_suffix(suffix)?))
}

fn push_key(out: &mut String, key: &[u8]) {
    if let Some((&MAGIC, json)) = key.split_first()
        && let Ok(text) = std::str::from_utf8(json)
        && !text.is_empty()
        && !text.starts_with('#')
        && !text.chars().any(char::is_control)
    {
        out.push_str(text);
        return;
    }
    out.push('#');
    for b in key {
        let _ = write!(out, "{b:02x}");
    }
}

fn needs_escape(c: char) -> bool {
    c == '%' || c == ':' || c.is_ascii_control()
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        if needs_escape(c) {
            let _ = write!(out, "%{:02X}", c as u32);
        } else {
            out.push(c);
        }
    }
}

fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '%' {
            let hex = s.get(i + 1..i + 3)?;
            let byte = u8::from_str_radix(hex, 16).ok()?;
            let decoded = char::from(byte);
            if !needs_escape(decoded) {
                return None;
            }
            out.push(decoded);
            chars.next();
            chars.next();
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_round_trips() {
        let scopes = ["", "s", "a:b", "50%", "tab\there", "ünï:cödé%", "::", "%3A"];
        let keys: [&[u8]; 9] = [
            b"\x15\"hello\"",
            b"\x1542",
            b"\x15{\"@class\": \"test.Person\", \"name\": \"ann\"}",
            b"\x15\"h\\u00e9llo\"",
            "\u{15}\"héllo ☃\"".as_bytes(),
            b"\x15[1,\n2]",
            b"\x15#not json",
            b"\x00\xff\x15",
            b"\x15",
        ];
        for scope in scopes {
            for cache in scopes.iter().filter(|c| !c.is_empty()) {
                for key in keys {
                    let k = store_key(scope, cache, key);
                    assert!(k.starts_with(&cache_prefix(scope, cache)), "{k}");
                    assert!(!k.contains('\n') && !k.contains('\0'), "{k:?}");
                    assert_eq!(
                        parse_store_key(&k),
                        Some((scope.to_string(), cache.to_string(), key.to_vec())),
                        "{k:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn one_cache_prefix_never_covers_another() {
        assert!(!cache_prefix("", "ab").starts_with(&cache_prefix("", "a")));
        assert!(!cache_prefix("a", "b").starts_with(&cache_prefix("", "a")));
        assert_ne!(cache_prefix("a:b", "c"), cache_prefix("a", "b:c"));
    }

    #[test]
    fn foreign_keys_are_not_parsed() {
        for k in [
            "session:abc",
            "coherence:",
            "coherence:s",
            "coherence:s:c",
            "coherence:s:c:",
            "coherence:s:c:#1",
            "coherence:s:c:#zz",
            "coherence:%zz:c:1",
            "coherence:%41:c:1",
        ] {
            assert_eq!(parse_store_key(k), None, "{k}");
        }
    }
}
