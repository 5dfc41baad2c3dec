//! Sealed values for [satchel](https://docs.rs/satchel): authenticated encryption after
//! compression, with keys picked by id from a rotating [`KeyRing`].
//!
//! A sealed codec (`Codec::json().compress(Zstd).seal(ring)`, or the spec
//! `json+zstd+seal`) compresses a value as usual, then seals the payload with
//! ChaCha20-Poly1305 (from `ring`) under the ring's current key and a fresh random nonce.
//! The header names the key by id and carries the nonce; the header and the store key the
//! value is kept under are authenticated with it, so a sealed value opens only with the
//! right key and only under its own store key. The layout is in `docs/codecs.md`
//! ("Sealed values") and [`satchel_core::Sealed`].
//!
//! ```
//! use std::sync::Arc;
//! use satchel::{Codec, ErrorKind, Zstd};
//! use satchel_seal::KeyRing;
//!
//! let ring = Arc::new(KeyRing::generate(1)?);
//! let codec = Codec::json().compress(Zstd).seal(ring);
//! let bytes = codec.encode_keyed(&["ann", "bob"], "team:7")?;
//! let names: Vec<String> = codec.decode_keyed(&bytes, "team:7")?;
//! assert_eq!(names, ["ann", "bob"]);
//!
//! // Pasted under another key, it does not open.
//! let err = codec.decode_keyed::<Vec<String>>(&bytes, "team:8").unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Unauthentic);
//! # Ok::<(), satchel::Error>(())
//! ```
//!
//! Keys come from [`KeyRing::parse`], [`KeyRing::from_file`] or [`KeyRing::from_env`]
//! ([`KEYS_ENV`] or [`KEYS_FILE_ENV`]); they are never printed (`Debug` shows ids only)
//! and are wiped from memory when the ring is dropped.

mod keyring;
mod load;

#[cfg(test)]
mod tests;

pub use keyring::{KEY_LEN, KeyRing};
pub use load::{KEYS_ENV, KEYS_FILE_ENV};
