//! Stores for [satchel](https://docs.rs/satchel): keep pipeline output in real stores.
//!
//! A [`Store`] keeps bytes under keys, each with a [`Version`] and an optional expiry; the
//! codec pipeline owns the types. [`CodecStore`] joins the two (`codec.wrap(store)`), with
//! typed `get`, `set`, `set_if_absent` and a compare-and-set `update` that never loses a
//! concurrent write. [`open`] picks an adapter from a URL.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), satchel_store::StoreError> {
//! use std::time::Duration;
//! use satchel::{Codec, Zstd};
//! use satchel_store::{CodecExt, Prefixed};
//!
//! #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
//! struct Cart { items: Vec<u32> }
//!
//! let store = satchel_store::open("memory://").await?;
//! let carts = Codec::json().compress(Zstd).wrap(Prefixed::new(store, "cart:"));
//! carts.set("ann", &Cart { items: vec![1] }, Some(Duration::from_secs(3600))).await?;
//! let cart = carts
//!     .update("ann", None, |c: Option<Cart>| {
//!         let mut c = c.unwrap_or(Cart { items: vec![] });
//!         c.items.push(2);
//!         c
//!     })
//!     .await?;
//! assert_eq!(cart.items, [1, 2]);
//! # Ok(()) }
//! ```
//!
//! Adapters live in their own crates (`satchel-sql`, `satchel-redis`) and are compiled
//! into [`open`] by this crate's cargo features. With feature `zstd`,
//! [`load_dictionaries`] loads the trained zstd dictionaries a store keeps
//! (`satchel train --into-store`), so values written with them read back.

mod codec_store;
#[cfg(feature = "zstd")]
mod dicts;
mod instrumented;
mod memory;
mod open;

pub use codec_store::{CodecExt, CodecStore};
#[cfg(feature = "zstd")]
#[cfg_attr(docsrs, doc(cfg(feature = "zstd")))]
pub use dicts::{
    DICT_PREFIX, DictLimits, dict_key, is_dict_key, load_dictionaries, load_dictionaries_with,
    save_dictionary,
};
pub use instrumented::Instrumented;
pub use memory::MemoryStore;
pub use open::{DynStore, SCHEMES, open};
pub use satchel_store_core::{
    Attempts, BoxFuture, CHANGE_STREAM_CAPACITY, Capabilities, ChangeKind, ChangeSender,
    ChangeStream, Condition, Cursor, Entry, KeyChange, MAX_OWNER_LEN, MAX_TTL, MAX_WATCHERS,
    Notifying, OwnedKeys, Page, Prefixed, PurgeExpired, Result, RetryPolicy, SCAN_BATCH, Scan,
    SessionId, Store, StoreError, StoreErrorKind, StoreObject, Version, Watch, check_key,
    check_owner, check_page, check_prefix, check_write, decode_base64url, encode_base64url,
    expires_at, from_unix_millis, invalid_cursor, redact_url, store_object, ttl_millis,
    unix_millis, unknown_condition, unsupported,
};
