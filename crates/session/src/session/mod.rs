//! [`Sessions`] (one kind of session over a store) and [`Session`] (one session), by job:
//!
//! - `config`: [`SessionConfig`], how sessions of one kind live and expire;
//! - `sessions`: [`Sessions`], the factory (create, connect, delete);
//! - `keys`: where a session is kept (a hash of its id), and moving 0.1 keys;
//! - `owners`: the owner index (sessions of an owner, "log out everywhere"), generic form;
//! - `tags`: the native owner index, on stores that tag keys with owners;
//! - `pipeline`: reading a record in any pipeline, writing it in the configured one;
//! - `handle`: [`Session`], the dict-like handle and its change tracking;
//! - `save`: saving (compare-and-set, merging), deletion;
//! - `rotate`: new ids ([`Session::cycle_id`]);
//! - `keep_alive`: the background extension of an open session;
//! - `scope`: [`OpenSession`], the guard that closes an open session.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use satchel::{DynCodec, Format, ValueCodec};
use satchel_store::{
    Condition, Prefixed, RetryPolicy, Store, StoreError, StoreErrorKind, StoreObject, Version,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::SessionId;
use crate::record::{Blob, Record};
use rotate::MOVED;

mod config;
mod handle;
mod keep_alive;
mod keys;
mod owners;
mod pipeline;
mod rotate;
mod save;
mod scope;
mod sessions;
mod tags;

pub use config::SessionConfig;
pub use handle::Session;
pub use keep_alive::KeepAliveStatus;
pub use keys::SessionKey;
pub use scope::OpenSession;
pub use sessions::Sessions;

fn now_ms() -> i64 {
    satchel_store::unix_millis(SystemTime::now())
}

fn codec_error(what: &str, e: satchel::Error) -> StoreError {
    StoreError::new(StoreErrorKind::Codec, what.to_string()).with_source(e)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// How logs and errors name a session: its [`SessionId::fingerprint`] (the start of its
/// stored key), never any part of the id.
fn short(id: &SessionId) -> String {
    id.fingerprint()
}

fn not_found(id: &SessionId) -> StoreError {
    StoreError::new(
        StoreErrorKind::NotFound,
        format!("session {} does not exist or has expired", short(id)),
    )
}
