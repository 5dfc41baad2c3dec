//! Deterministic, session-like sample payloads of the sizes the benchmarks use.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A web session record, as a service would keep one.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Session {
    /// Session id.
    pub id: String,
    /// Owning user.
    pub user_id: u64,
    /// User name.
    pub user_name: String,
    /// Roles granted.
    pub roles: Vec<String>,
    /// Creation time, unix milliseconds.
    pub created_at: u64,
    /// Last access, unix milliseconds.
    pub last_seen: u64,
    /// CSRF token.
    pub csrf: String,
    /// Free-form settings.
    pub prefs: BTreeMap<String, String>,
    /// Shopping cart lines.
    pub cart: Vec<CartLine>,
    /// Recently viewed pages.
    pub history: Vec<String>,
}

/// One cart line.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CartLine {
    /// Product id.
    pub sku: String,
    /// Quantity.
    pub qty: u32,
    /// Price in cents.
    pub price_cents: u64,
    /// Display title.
    pub title: String,
}

/// A tiny deterministic generator (splitmix64), so payloads are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn word(&mut self) -> &'static str {
        const WORDS: &[&str] = &[
            "alpha", "cart", "blue", "shoe", "garden", "lamp", "river", "tea", "wool", "desk",
            "linen", "coffee", "mug", "oak", "red", "small", "large", "organic",
        ];
        WORDS[(self.next() % WORDS.len() as u64) as usize]
    }

    fn hex(&mut self, n: usize) -> String {
        (0..n.div_ceil(16))
            .map(|_| format!("{:016x}", self.next()))
            .collect::<String>()[..n]
            .to_string()
    }
}

fn session(seed: u64, cart_lines: usize, history: usize) -> Session {
    let mut r = Rng(seed);
    let mut prefs = BTreeMap::new();
    prefs.insert("theme".into(), "dark".into());
    prefs.insert("lang".into(), "en-GB".into());
    Session {
        id: r.hex(22),
        user_id: r.next() % 10_000_000,
        user_name: format!("{}.{}", r.word(), r.word()),
        roles: vec!["user".into()],
        created_at: 1_790_000_000_000 + r.next() % 1_000_000,
        last_seen: 1_790_000_500_000 + r.next() % 1_000_000,
        csrf: r.hex(32),
        prefs,
        cart: (0..cart_lines)
            .map(|_| CartLine {
                sku: format!("SKU-{:06}", r.next() % 1_000_000),
                qty: (r.next() % 5 + 1) as u32,
                price_cents: r.next() % 100_000,
                title: format!("{} {} {}", r.word(), r.word(), r.word()),
            })
            .collect(),
        history: (0..history)
            .map(|_| format!("/shop/{}/{}?page={}", r.word(), r.word(), r.next() % 40))
            .collect(),
    }
}

/// About 300 bytes as JSON.
pub fn session_small() -> Session {
    session(1, 1, 0)
}

/// About 16 KB as JSON.
pub fn session_medium() -> Session {
    session(2, 160, 135)
}

/// About 4 KB as JSON (used to place the simd-json threshold).
pub fn session_4kb() -> Session {
    session(7, 38, 32)
}

/// About 1 MB as JSON.
pub fn session_large() -> Session {
    session(3, 10_500, 9_000)
}

/// A session record of about 750 bytes as JSON (the store benchmarks' value).
pub fn session_750() -> Session {
    session(4, 5, 4)
}

/// `count` session records shaped like [`session_750`] but each with its own ids, user,
/// cart and history (seeds from `first_seed`): samples to train a dictionary on, and
/// values it should compress well.
pub fn sessions_like_750(first_seed: u64, count: usize) -> Vec<Session> {
    (0..count as u64)
        .map(|i| session(first_seed + i, 5, 4))
        .collect()
}

/// The small session as a `serde_json::Value` (for self-describing formats only).
pub fn session_value() -> serde_json::Value {
    serde_json::to_value(session_small()).expect("session serializes")
}

/// About 1 MB of JSON numbers (a matrix of floats and integers).
pub fn numbers_1mb() -> Vec<Vec<f64>> {
    let mut r = Rng(5);
    (0..2_200)
        .map(|_| {
            (0..50)
                .map(|i| {
                    let v = r.next();
                    if i % 2 == 0 {
                        (v % 1_000_000) as f64
                    } else {
                        (v % 100_000_000) as f64 / 1_000.0 + 0.125
                    }
                })
                .collect()
        })
        .collect()
}

/// About 1 MB of JSON strings (a list of text snippets).
pub fn strings_1mb() -> Vec<String> {
    let mut r = Rng(6);
    (0..11_500)
        .map(|_| (0..16).map(|_| r.word()).collect::<Vec<_>>().join(" "))
        .collect()
}

/// `value` as compact JSON bytes.
pub fn json_bytes<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("sample serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_as_documented() {
        let small = json_bytes(&session_small()).len();
        let medium = json_bytes(&session_medium()).len();
        let large = json_bytes(&session_large()).len();
        let s750 = json_bytes(&session_750()).len();
        let s4k = json_bytes(&session_4kb()).len();
        assert!((3_500..=4_800).contains(&s4k), "4kb {s4k}");
        assert!((250..=400).contains(&small), "small {small}");
        assert!((14_000..=18_000).contains(&medium), "medium {medium}");
        assert!((900_000..=1_150_000).contains(&large), "large {large}");
        assert!((650..=850).contains(&s750), "750: {s750}");
        let numbers = json_bytes(&numbers_1mb()).len();
        let strings = json_bytes(&strings_1mb()).len();
        assert!(
            (800_000..=1_300_000).contains(&numbers),
            "numbers {numbers}"
        );
        assert!(
            (800_000..=1_300_000).contains(&strings),
            "strings {strings}"
        );
    }
}
