//! The conformance suite for [`Store`] adapters, written once and run against each.
//!
//! Each behaviour of the contract is its own `pub async fn` here, taking the store under
//! test and working on keys under a fresh prefix of it. [`store_suite!`](crate::store_suite)
//! turns the list into one named `#[tokio::test]` per behaviour for a backend, so a broken
//! rule fails its own test and never hides the others.

use std::sync::Arc;
use std::time::SystemTime;

use satchel_store::{Prefixed, Store, StoreObject};

mod basics;
mod bulk;
mod capabilities;
mod conditional;
mod expiry;
mod listing;
mod owned;
mod typed;
pub use basics::{
    awkward_bytes_round_trip_with_growing_versions, bad_input_is_invalid, missing_keys_are_absent,
    regression_keys_are_refused_the_same_way_everywhere, set_if_absent_refuses_live_value,
    set_if_version_is_compare_and_set, versions_of_deleted_keys_never_match_again,
};
pub use bulk::{delete_prefix_races_writes, delete_prefix_removes_the_prefix_and_nothing_else};
pub use capabilities::capabilities_match_behaviour;
pub use conditional::delete_if_version_is_compare_and_delete;
pub use expiry::{
    expired_values_are_gone, purge_keeps_live_values,
    regression_huge_ttls_mean_no_expiry_everywhere, touch_extends_without_changing_the_version,
};
pub use listing::{
    scan_matches_prefixes_literally, scan_pages_survive_concurrent_writes,
    scan_pages_through_every_key,
};
pub use owned::{delete_owner_races_tagged_writes, owned_keys_are_listed_and_deleted_by_owner};
pub use typed::{
    concurrent_updates, corrupt_values_are_named_and_left_in_place, no_lost_update,
    other_pipelines_values_are_codec_errors,
};

/// A prefix no other run uses, so suites can share a live server and leave no traces.
pub fn unique_prefix(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("satchel-test:{tag}:{}:{nanos}:", std::process::id())
}

/// Reads a service URL from the environment for a service test.
///
/// Returns `None` (after saying on stderr which test is skipped) when the variable is
/// unset, unless `SATCHEL_REQUIRE_SERVICES=1`, which `.ci/run` sets so that a service
/// test that cannot run fails the build instead of passing silently.
pub fn service_url(var: &str, test: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("SATCHEL_REQUIRE_SERVICES").as_deref() != Ok("1"),
                "{test}: {var} is not set, and SATCHEL_REQUIRE_SERVICES=1 requires it"
            );
            // Written past the test harness's output capture, so a plain `cargo test` shows it.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("skipped: {test} ({var} not set)\n").as_bytes(),
            );
            None
        }
    }
}

/// The store under test seen through a fresh prefix, and the backend's name for messages.
fn scoped<S>(store: &Arc<S>, behaviour: &str) -> (Prefixed<Arc<S>>, &'static str)
where
    S: Store + ?Sized + 'static,
{
    let name = store.backend();
    let prefix = unique_prefix(&format!("{name}-{behaviour}"));
    (Prefixed::new(store.clone(), prefix), name)
}

async fn cleanup<T: StoreObject>(s: &T) {
    let s: &dyn StoreObject = s;
    for key in s.scan("", 10_000).await.unwrap() {
        s.delete(&key).await.unwrap();
    }
    assert!(s.scan("", 10).await.unwrap().is_empty(), "cleanup");
}
