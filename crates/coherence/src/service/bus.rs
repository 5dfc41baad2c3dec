//! The service's event bus: each change a call makes through this service, and each change
//! another client made that the store's change feed reported (`feed.rs`), published to the
//! `events` streams that listen to its cache.
//!
//! The bus itself is in-process. What reaches it from elsewhere depends on the backing
//! store's feed:
//!
//! | backing store | changes on the bus besides this service's own |
//! | --- | --- |
//! | Redis, one server (`notify-keyspace-events` with `K$gxe`) | every client's: the Store service, other `satchel serve` processes, `redis-cli`; expiries and evictions |
//! | any other store under `satchel serve` (the server's `Notifying` feed) | writes through the same server's Store service; no expiries |
//! | a store without a feed (a `CoherenceService` built over a bare memory store) | none |
//!
//! The bus is a bounded broadcast channel; a stream that falls more than [`CAPACITY`]
//! changes behind loses the oldest (it logs how many). Publishing costs nothing while no
//! stream listens.

use std::sync::Arc;

use tokio::sync::broadcast;

/// How many changes the bus holds for a slow stream before it drops the oldest.
pub(super) const CAPACITY: usize = 4096;

/// What happened to an entry (the `MapEventResponse.id` Coherence clients read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EntryChange {
    Inserted = 1,
    Updated = 2,
    Deleted = 3,
}

/// One published change.
#[derive(Debug)]
pub(super) enum Change {
    /// An entry of the cache `namespace` changed.
    Entry {
        namespace: String,
        change: EntryChange,
        /// The entry's key as the client serialized it (`0x15` + JSON).
        key: Vec<u8>,
        /// The store-key suffix of `key`, what key listeners are matched on.
        suffix: String,
        old: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    },
    /// The cache was truncated.
    Truncated { namespace: String, cache: String },
    /// The cache was destroyed.
    Destroyed { namespace: String, cache: String },
}

impl Change {
    /// The cache (namespace) this change is about.
    pub(super) fn namespace(&self) -> &str {
        match self {
            Self::Entry { namespace, .. }
            | Self::Truncated { namespace, .. }
            | Self::Destroyed { namespace, .. } => namespace,
        }
    }
}

/// The bus itself.
#[derive(Debug)]
pub(super) struct Bus {
    sender: broadcast::Sender<Arc<Change>>,
}

impl Bus {
    pub(super) fn new() -> Self {
        Self {
            sender: broadcast::Sender::new(CAPACITY),
        }
    }

    /// True if some stream listens: callers skip the work of describing a change (reading
    /// the old value of a bulk write) when none does.
    pub(super) fn listened(&self) -> bool {
        self.sender.receiver_count() > 0
    }

    /// Publishes `change` to every stream listening now.
    pub(super) fn publish(&self, change: Change) {
        if self.listened() {
            // An error only means every receiver went away meanwhile.
            let _ = self.sender.send(Arc::new(change));
        }
    }

    /// Publishes an entry change of `namespace`.
    pub(super) fn entry(
        &self,
        namespace: &str,
        change: EntryChange,
        key: &[u8],
        old: Option<Vec<u8>>,
        new: Option<Vec<u8>>,
    ) {
        if self.listened() {
            self.publish(Change::Entry {
                namespace: namespace.to_string(),
                change,
                key: key.to_vec(),
                suffix: crate::keys::key_suffix(key),
                old,
                new,
            });
        }
    }

    /// A receiver of every change published from now on.
    pub(super) fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.sender.subscribe()
    }
}
