//! A Redis store for satchel: [`RedisStore`] implements the byte-level [`Store`] (with
//! versions, compare-and-set and expiry), [`Scan`] and, on a single server (not a cluster),
//! [`OwnedKeys`] and [`Watch`] (a change feed from keyspace notifications, see below). It has no `PurgeExpired`: Redis deletes expired keys by itself
//! ([`Store::capabilities`] says so).
//!
//! Each value is one Redis string: the bytes behind a 10-byte envelope (16 with an expiry)
//! that holds the version, so a read is one `GET` and an unconditional write one `SET`.
//! Conditional writes are single Lua scripts, so compare-and-set is atomic on the server.
//! Strings other programs wrote (kvdb-py, tower-sessions, `redis-cli SET`) are values too,
//! with a version derived from their bytes. See [`RedisStore`] for the details,
//! [`RedisConfig`] for the settings.
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), satchel_redis::StoreError> {
//! use std::time::Duration;
//! use satchel_redis::{Condition, Prefixed, RedisConfig, RedisStore, Store};
//!
//! // Every key under "app:" on the server (Prefixed: the one namespace mechanism of every
//! // satchel store).
//! let store = Prefixed::new(
//!     RedisStore::with_config(RedisConfig::new("redis://127.0.0.1:6379/0")).await?,
//!     "app:",
//! );
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
//! store.delete("greeting").await?;
//! # Ok(()) }
//! ```
//!
//! Redis Sentinel needs no feature: a `redis-sentinel://host:port?sentinelServiceName=NAME`
//! URL connects to the primary the sentinels name and follows a failover by itself, and
//! [`RedisConfig::with_replica_acks`] acknowledges writes only once replicas have them.
//!
//! # Change feed
//! On one server (not behind sentinels, not a cluster), [`Watch::watch`] subscribes to the
//! server's keyspace notifications for the keys under a prefix, on a pub/sub connection of
//! its own: the writes, deletions, expiries and evictions of every client of the server
//! (other satchel processes, `redis-cli`, …) arrive as [`KeyChange`]s. The server must
//! publish them: `notify-keyspace-events` must hold the classes `K$gxe` (keyspace channels,
//! string commands, generic commands, expired, evicted; `KA` includes them). `watch`
//! checks with `CONFIG GET` and fails with [`StoreErrorKind::Unsupported`] naming the
//! `CONFIG SET notify-keyspace-events …` to run, unless
//! [`RedisConfig::with_keyspace_events_enabled`] lets it run it itself. The feed pings its
//! connection every 15 s and subscribes again (checking again) when it is lost; changes
//! made meanwhile are not delivered. A subscriber that falls
//! [`CHANGE_STREAM_CAPACITY`] notices behind loses the next ones (counted,
//! [`ChangeStream::lost`], and logged).
//!
//! # Cargo features
//! - `tls`: `rediss://` URLs, over rustls with the Mozilla root certificates compiled in
//!   (ring is installed as the process's rustls crypto provider if none is).
//! - `cluster`: Redis Cluster, through a `redis-cluster://host:port?node=host:port&node=…`
//!   URL, `RedisStore::connect_cluster` or `RedisConfig::cluster` (the store, session and
//!   no-lost-update suites run against a live 3-primary cluster in CI).

#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod config;
mod error;
mod layout;
mod scripts;

pub use backend::RedisStore;
pub use config::RedisConfig;
pub use satchel_store_core::{
    CHANGE_STREAM_CAPACITY, Capabilities, ChangeKind, ChangeStream, Condition, Entry, KeyChange,
    MAX_OWNER_LEN, OwnedKeys, Prefixed, Scan, Store, StoreError, StoreErrorKind, StoreObject,
    Version, Watch,
};
