//! Keeping SQLite's write-ahead log bounded.
//!
//! SQLite checkpoints its WAL by itself (every 1,000 pages), but a checkpoint only starts
//! the log over when no reader still uses it, and the file never shrinks unless told to.
//! Under sustained writes with concurrent readers (a busy `satchel serve`), 0.1's WAL grew
//! to 2 GB next to an 87 MB database and stayed after shutdown. So, for a file database:
//!
//! - `journal_size_limit` makes SQLite truncate the file back to [`WAL_LIMIT`] whenever the
//!   log starts over;
//! - every [`CHECK_EVERY`] writes the file's size is looked at (one `stat`), and when it is
//!   over [`WAL_LIMIT`] a `wal_checkpoint(TRUNCATE)` waits for the readers in flight and
//!   empties it;
//! - [`SqlStore::close`] checkpoints and truncates before closing the pool, so a clean
//!   shutdown leaves no log behind.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;

use super::*;

/// The size the WAL file is kept under (and truncated to by `journal_size_limit`).
pub(crate) const WAL_LIMIT: u64 = 64 << 20;

/// How many writes pass between two looks at the WAL file's size.
const CHECK_EVERY: u64 = 256;

/// The WAL of a file database, and the writes since its size was last looked at.
pub(crate) struct WalWatch {
    path: PathBuf,
    writes: AtomicU64,
}

#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
impl WalWatch {
    /// Watches the WAL of the database file `db`.
    pub(crate) fn new(db: &std::path::Path) -> Self {
        let mut path = db.as_os_str().to_owned();
        path.push("-wal");
        Self {
            path: PathBuf::from(path),
            writes: AtomicU64::new(0),
        }
    }

    /// The WAL file's size now (0 when there is none).
    pub(crate) fn size(&self) -> u64 {
        std::fs::metadata(&self.path).map_or(0, |m| m.len())
    }
}

impl Inner {
    /// Called after each write: every [`CHECK_EVERY`] writes, truncates an oversized WAL.
    pub(super) async fn after_write(&self) {
        let Some(wal) = &self.wal else {
            return;
        };
        if (wal.writes.fetch_add(1, Ordering::Relaxed) + 1) % CHECK_EVERY != 0 {
            return;
        }
        if wal.size() > WAL_LIMIT {
            self.checkpoint().await;
        }
    }

    /// `PRAGMA wal_checkpoint(TRUNCATE)`: copies the log into the database and empties it,
    /// once the readers in flight are done (within the busy timeout). A checkpoint that
    /// could not finish is tried again at the next look; it is never an error for a write.
    pub(super) async fn checkpoint(&self) {
        #[cfg(feature = "sqlite")]
        #[allow(irrefutable_let_patterns)]
        // with only the sqlite feature, there is one pool
        if let Pool::Sqlite(p) = &self.pool {
            let result: std::result::Result<(i64, i64, i64), _> =
                sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                    .fetch_one(p)
                    .await;
            match result {
                Ok((0, _, _)) => tracing::debug!(table = %self.table, "WAL checkpointed"),
                Ok(_) => tracing::debug!(
                    table = %self.table,
                    "WAL checkpoint could not finish (readers busy); tried again later"
                ),
                Err(e) => tracing::warn!(
                    table = %self.table,
                    error = %e,
                    "WAL checkpoint failed"
                ),
            }
        }
    }
}
