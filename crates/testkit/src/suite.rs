//! The macros that instantiate the conformance suites: one named `#[tokio::test]` per
//! behaviour per backend, so one failing assertion never hides the rest.
//!
//! ```
//! use std::sync::Arc;
//! use satchel_store::MemoryStore;
//!
//! satchel_testkit::store_suite!(memory, async || Arc::new(MemoryStore::new()));
//! satchel_testkit::store_suite!(postgres, env "SATCHEL_TEST_POSTGRES_URL", async |url: String| {
//!     satchel_store::open(&url).await.unwrap()
//! });
//! # fn main() {}
//! ```
//!
//! `cargo test` then lists `memory::set_if_absent_refuses_live_value`,
//! `postgres::expired_values_are_gone` and so on. The first form builds the store with a
//! closure of no arguments. The `env` form reads the URL from the named variable through
//! [`service_url`](crate::store::service_url): unset, each test says it is skipped and
//! passes, unless `SATCHEL_REQUIRE_SERVICES=1`, which makes it fail. The closure returns
//! the store (`Arc<S>`) or a [`Served`] store whose gRPC server is stopped, and checked,
//! when the behaviour passed. The calling crate needs `tokio` with the `macros` and
//! `rt-multi-thread` features; items of the calling module are in scope in the closure.

use std::future::Future;
use std::sync::Arc;

use crate::grpc::TestServer;

/// What a suite's closure returns: the store under test, and what to do once a behaviour
/// passed.
pub trait Fixture {
    /// The store type the behaviours run on.
    type Store: ?Sized;
    /// The store under test.
    fn store(&self) -> Arc<Self::Store>;
    /// Run after a behaviour passed (a panicking behaviour skips it).
    fn finish(self) -> impl Future<Output = ()> + Send;
}

impl<S: ?Sized + Send + Sync> Fixture for Arc<S> {
    type Store = S;
    fn store(&self) -> Arc<S> {
        self.clone()
    }
    async fn finish(self) {}
}

/// A store reached through an in-process gRPC server, which lives as long as the test.
#[derive(Debug)]
pub struct Served<S: ?Sized> {
    /// The client side: the store under test.
    pub store: Arc<S>,
    /// The server it talks to.
    pub server: TestServer,
}

impl<S: ?Sized + Send + Sync> Fixture for Served<S> {
    type Store = S;
    fn store(&self) -> Arc<S> {
        self.store.clone()
    }
    /// Stops the server gracefully and checks that it ran cleanly.
    async fn finish(self) {
        drop(self.store);
        self.server.stop().await;
    }
}

/// One named `#[tokio::test]` per behaviour of [`store`](crate::store) for one backend, in
/// a module named after the backend. See the [module docs](self) for the two forms.
#[macro_export]
macro_rules! store_suite {
    ($backend:ident, env $var:literal, $make:expr $(,)?) => {
        $crate::__suite!(store, $backend, ($var), $make);
    };
    ($backend:ident, $make:expr $(,)?) => {
        $crate::__suite!(store, $backend, (), $make);
    };
}

/// One named `#[tokio::test]` per behaviour of [`session`](crate::session) for one
/// backend, in a module named after the backend. Same forms as [`store_suite!`].
#[macro_export]
macro_rules! session_suite {
    ($backend:ident, env $var:literal, $make:expr $(,)?) => {
        $crate::__suite!(session, $backend, ($var), $make);
    };
    ($backend:ident, $make:expr $(,)?) => {
        $crate::__suite!(session, $backend, (), $make);
    };
}

/// The behaviours of each suite (the list is written once, here).
#[doc(hidden)]
#[macro_export]
macro_rules! __suite {
    (store, $backend:ident, $var:tt, $make:expr) => {
        $crate::__suite!(@module store, $backend, $var, $make;
            missing_keys_are_absent,
            awkward_bytes_round_trip_with_growing_versions,
            set_if_absent_refuses_live_value,
            set_if_version_is_compare_and_set,
            delete_if_version_is_compare_and_delete,
            versions_of_deleted_keys_never_match_again,
            bad_input_is_invalid,
            regression_keys_are_refused_the_same_way_everywhere,
            expired_values_are_gone,
            touch_extends_without_changing_the_version,
            regression_huge_ttls_mean_no_expiry_everywhere,
            capabilities_match_behaviour,
            purge_keeps_live_values,
            scan_matches_prefixes_literally,
            scan_pages_through_every_key,
            scan_pages_survive_concurrent_writes,
            delete_prefix_removes_the_prefix_and_nothing_else,
            delete_prefix_races_writes,
            owned_keys_are_listed_and_deleted_by_owner,
            delete_owner_races_tagged_writes,
            corrupt_values_are_named_and_left_in_place,
            other_pipelines_values_are_codec_errors,
            no_lost_update,
        );
    };
    (session, $backend:ident, $var:tt, $make:expr) => {
        $crate::__suite!(@module session, $backend, $var, $make;
            typed_values_round_trip,
            revert_restores_the_last_saved_state,
            concurrent_saves_let_exactly_one_win,
            save_merging_keeps_both_sides,
            cycle_id_keeps_the_data_and_drops_the_old_id,
            unknown_ids_are_never_adopted,
            idle_sessions_expire_and_stay_expired,
            sessions_expire_at_their_absolute_timeout,
            corrupt_records_are_named_and_kept_unless_purged,
            owners_list_and_delete_their_sessions,
            keep_alive_holds_open_sessions_and_lets_closed_ones_expire,
            keep_alive_does_not_revive_a_deleted_session,
            regression_cycle_id_revives,
            regression_owner_index_loses_entries,
            regression_a_codec_change_strands_every_session,
            regression_ids_at_rest,
            regression_fingerprints_reveal_no_part_of_the_id,
            regression_purge_never_deletes_a_session_saved_after_its_read,
        );
    };
    (@module $suite:ident, $backend:ident, $var:tt, $make:expr; $($behaviour:ident),* $(,)?) => {
        mod $backend {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $behaviour() {
                    let fixture = $crate::__suite!(@fixture $var, $make, $behaviour);
                    $crate::$suite::$behaviour($crate::suite::Fixture::store(&fixture)).await;
                    $crate::suite::Fixture::finish(fixture).await;
                }
            )*
        }
    };
    (@fixture (), $make:expr, $behaviour:ident) => {
        ($make)().await
    };
    (@fixture ($var:literal), $make:expr, $behaviour:ident) => {{
        let test = concat!(module_path!(), "::", stringify!($behaviour));
        match $crate::store::service_url($var, test) {
            Some(url) => ($make)(url).await,
            None => return,
        }
    }};
}
