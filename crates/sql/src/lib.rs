//! A SQL store for satchel: [`SqlStore`] implements the byte-level [`Store`] (with
//! versions, compare-and-set and expiry), [`Scan`], [`PurgeExpired`] and [`OwnedKeys`]
//! (an indexed owner column) over one table in
//! SQLite, PostgreSQL or MySQL/MariaDB, through `sqlx`.
//!
//! Each key is one row `(key, value, version, expires_at)`; conditional writes are single
//! atomic statements (a row-locking transaction on MySQL), so compare-and-set never loses a
//! concurrent write. See [`SqlStore`] for the schema and the details, [`SqlConfig`] for the
//! settings.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), satchel_sql::StoreError> {
//! use std::time::Duration;
//! use satchel_sql::{Condition, SqlStore, Store};
//!
//! let store = SqlStore::connect("sqlite::memory:").await?;
//! let v1 = store
//!     .set("greeting", b"hello", Some(Duration::from_secs(60)), Condition::Always)
//!     .await?;
//! let entry = store.get("greeting").await?.expect("just written");
//! assert_eq!((entry.value.as_slice(), entry.version), (&b"hello"[..], v1));
//!
//! // Compare-and-set: only one writer that read v1 wins.
//! store.set("greeting", b"hi", None, Condition::IfVersion(v1)).await?;
//! let lost = store.set("greeting", b"hey", None, Condition::IfVersion(v1)).await;
//! assert!(lost.is_err_and(|e| e.is_conflict()));
//! assert!(store.delete("greeting").await?);
//! # Ok(()) }
//! ```
//!
//! # URLs
//! - `sqlite://path/to/file.db` (created if missing; WAL journal), `sqlite::memory:` (one
//!   private database per store, kept on a single connection);
//! - `postgres://user:password@host:5432/db` or `postgresql://…`;
//! - `mysql://user:password@host:3306/db` or `mariadb://…`.
//!
//! Passwords never appear in errors or `Debug` output.
//!
//! # Change feed
//! On PostgreSQL, [`SqlConfig::with_change_feed`] (or `changeFeed=notify` in the URL) makes
//! the store a [`Watch`]: a trigger raises a `NOTIFY` for every row written or deleted, by
//! any process, and [`Watch::watch`] delivers them as [`KeyChange`] notices.
//!
//! # Cargo features
//! - `sqlite` (default): SQLite, compiled in (no system library needed).
//! - `postgres`: PostgreSQL.
//! - `mysql`: MySQL and MariaDB.
//!
//! `postgres` and `mysql` connect over TLS when the URL asks for it (`sslmode=require`,
//! `ssl-mode=REQUIRED`, …), through rustls with ring and the Mozilla root certificates
//! compiled in. At least one feature must be enabled.

#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!("satchel-sql needs at least one of the features `sqlite`, `postgres`, `mysql`");

mod backend;
mod config;
mod dialect;
mod error;

pub use backend::SqlStore;
pub use config::SqlConfig;
pub use satchel_store_core::{
    Capabilities, ChangeKind, ChangeStream, Condition, Entry, KeyChange, OwnedKeys, PurgeExpired,
    Scan, Store, StoreError, StoreErrorKind, StoreObject, Version, Watch,
};
