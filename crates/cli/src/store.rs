//! Opening the store a command names, and showing expiry.

use std::time::{Duration, SystemTime};

use clap::Args;
use satchel_store::DynStore;

use crate::error::{CliError, CliResult};

/// The store a command works on.
#[derive(Args, Debug, Clone)]
pub(crate) struct StoreArg {
    /// Store URL: sqlite://FILE, sqlite::memory:, postgres://…, mysql://…, mariadb://…,
    /// redis://…, rediss://…, memory:// (empty at every start).
    #[arg(long, env = "SATCHEL_STORE", value_name = "URL")]
    pub(crate) store: String,
}

impl StoreArg {
    /// Opens the store, or says which one could not be reached and why.
    pub(crate) async fn open(&self) -> CliResult<DynStore> {
        satchel_store::open(&self.store)
            .await
            .map_err(|e| CliError::open_store(&self.store, &e))
    }

    /// Opens the store and loads the zstd dictionaries it keeps ([`crate::dicts`]): for
    /// commands that decode many values or name a dictionary by id.
    pub(crate) async fn open_with_dicts(&self) -> CliResult<DynStore> {
        let store = self.open().await?;
        crate::dicts::load_all(&store, self).await?;
        Ok(store)
    }

    /// A store error on this store.
    pub(crate) fn error(&self, err: &satchel_store::StoreError) -> CliError {
        CliError::store(&self.store, err)
    }
}

/// Time left before `expires_at`, if it is set (zero if it has passed).
pub(crate) fn remaining(expires_at: Option<SystemTime>) -> Option<Duration> {
    expires_at.map(|at| {
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    })
}

/// Expiry in Unix milliseconds, for JSON output.
pub(crate) fn expires_millis(expires_at: Option<SystemTime>) -> Option<i64> {
    expires_at.map(satchel_store::unix_millis)
}
