//! Sessions for [satchel](https://docs.rs/satchel): id'd, dict-like bags of typed values
//! kept in any satchel store through any codec.
//!
//! - **Ids**: 128 bits from the OS CSPRNG as 22 URL-safe characters, assigned on the first
//!   save; [`Sessions::connect`] never adopts an id the server did not issue.
//! - **Dict-like typed access** with change tracking: [`Session::insert`],
//!   [`Session::get`], [`Session::remove`], [`Session::was_changed`], [`Session::revert`].
//! - **No lost update**: [`Session::save`] is a compare-and-set; if another handle saved
//!   since this one loaded, it is a `Conflict` error ([`Session::save_merging`] merges
//!   key by key instead).
//! - **Expiry**: idle (every save and extension resets it) and absolute (from creation).
//! - **Keep-alive**: [`Session::open`] extends an open session in the background with a
//!   store `touch` (never a rewrite, never a revival) until closed or dropped;
//!   [`Session::scope`] closes on every exit path.
//! - **Owners**: [`Session::set_owner`], [`Sessions::sessions_of`],
//!   [`Sessions::delete_owner`] ("log out everywhere").
//! - **Named sessions**: [`SessionManager::get_session`] shares one store (pool) per URL.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), satchel_store::StoreError> {
//! use std::sync::Arc;
//! use satchel::Codec;
//! use satchel_session::{SessionConfig, Sessions};
//! use satchel_store::MemoryStore;
//!
//! let sessions = Sessions::new(Arc::new(MemoryStore::new()), Codec::json(), SessionConfig::default());
//! let mut a = sessions.create();
//! a.insert("cart", &vec![1, 2])?;
//! a.save().await?;
//! let id = a.id().unwrap().to_string();
//!
//! // Two handles of one session saving at once: exactly one wins.
//! let mut b = sessions.connect(&id).await?;
//! a.insert("cart", &vec![1, 2, 3])?;
//! b.insert("theme", &"dark")?;
//! a.save().await?;
//! assert!(b.save().await.unwrap_err().is_conflict());
//! b.save_merging().await?; // or merge, key by key
//! let merged = sessions.connect(&id).await?;
//! assert_eq!(merged.get::<Vec<u32>>("cart")?, Some(vec![1, 2, 3]));
//! assert_eq!(merged.get::<String>("theme")?.as_deref(), Some("dark"));
//! # Ok(()) }
//! ```

#[cfg(not(any(feature = "json", feature = "msgpack", feature = "bincode")))]
compile_error!(
    "satchel-session needs a format for its records: enable at least one of its features \
     `json` (the default), `msgpack` or `bincode`"
);

mod manager;
mod record;
mod session;

pub use manager::{SessionManager, SessionOptions};
pub use satchel_store::SessionId;
pub use session::{KeepAliveStatus, OpenSession, Session, SessionConfig, SessionKey, Sessions};
