//! The conformance suite for sessions (`satchel-session`) on a store, written once and run
//! against each backend.
//!
//! Each behaviour is its own `pub async fn` here, taking the store under test and working
//! under fresh key prefixes; [`session_suite!`](crate::session_suite) turns the list into
//! one named `#[tokio::test]` per behaviour for a backend.

use std::sync::Arc;
use std::time::Duration;

use satchel::{Codec, DynCodec};
use satchel_session::{KeepAliveStatus, SessionConfig, SessionId, Sessions};
use satchel_store::{Condition, StoreErrorKind, StoreObject};

use crate::store::unique_prefix;

mod fingerprints;
mod owner_race;
mod races;
mod trust;
pub use fingerprints::*;
pub use owner_race::*;
pub use races::*;
pub use trust::*;

/// The pipelines every multi-codec behaviour runs through.
const SPECS: [&str; 3] = ["json", "msgpack+zstd", "bincode+lz4"];

fn config(tag: &str) -> SessionConfig {
    SessionConfig::default().with_key_prefix(unique_prefix(tag))
}

/// A typed value stored in the sessions.
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq, Clone)]
struct Cart {
    items: Vec<(String, u32)>,
    note: Option<String>,
}

fn cart() -> Cart {
    Cart {
        items: vec![("lamp".into(), 2)],
        note: None,
    }
}

/// Sessions over `store` through the pipeline `spec`, under a fresh prefix.
fn sessions_for<S>(store: &Arc<S>, spec: &str, tag: &str) -> Sessions<S>
where
    S: StoreObject + ?Sized + 'static,
{
    let codec: DynCodec = spec.parse().expect("a known pipeline");
    let name = store.backend();
    Sessions::new(
        store.clone(),
        codec,
        config(&format!("{name}-{tag}-{spec}")),
    )
}

/// A saved session holding a cart, 3 visits and a name; returns its id.
async fn saved<S>(sessions: &Sessions<S>) -> String
where
    S: StoreObject + ?Sized + 'static,
{
    let mut s = sessions.create();
    s.insert("cart", &cart()).unwrap();
    s.insert("visits", &3u64).unwrap();
    s.insert("name", "ann").unwrap();
    s.save().await.unwrap();
    s.id().expect("id after save").to_string()
}

/// Dict-like typed access in every pipeline: the id comes with the first save, values come
/// back typed, a value read as the wrong type is a `Codec` error.
pub async fn typed_values_round_trip<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    for spec in SPECS {
        let sessions = sessions_for(&store, spec, "typed");
        let mut s = sessions.create();
        assert!(s.id().is_none());
        let cart = cart();
        s.insert("cart", &cart).unwrap();
        s.insert("visits", &3u64).unwrap();
        s.insert("name", "ann").unwrap();
        assert!(s.contains("cart") && s.len() == 3);
        assert_eq!(s.keys().collect::<Vec<_>>(), ["cart", "name", "visits"]);
        assert!(s.was_changed());
        s.save().await.unwrap();
        assert!(!s.was_changed());
        let id = s.id().expect("id after save").to_string();
        assert!(SessionId::parse(&id).is_some());

        let again = sessions.connect(&id).await.unwrap();
        assert_eq!(
            again.get::<Cart>("cart").unwrap(),
            Some(cart.clone()),
            "{name} {spec}"
        );
        assert_eq!(again.get::<u64>("visits").unwrap(), Some(3));
        assert_eq!(again.get::<String>("name").unwrap().as_deref(), Some("ann"));
        assert_eq!(again.get::<u64>("missing").unwrap(), None);
        let err = again.get::<u64>("name").unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Codec, "{name} {spec}");
        assert!(again.delete().await.unwrap());
    }
}

/// `revert` goes back to the last loaded/saved state, in every pipeline.
pub async fn revert_restores_the_last_saved_state<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    for spec in SPECS {
        let sessions = sessions_for(&store, spec, "revert");
        let id = saved(&sessions).await;
        let mut again = sessions.connect(&id).await.unwrap();
        again.remove("visits");
        again.insert("name", "bob").unwrap();
        assert!(again.was_changed());
        again.revert();
        assert!(!again.was_changed());
        assert_eq!(again.get::<String>("name").unwrap().as_deref(), Some("ann"));
        assert!(again.delete().await.unwrap());
    }
}

/// Two handles saving at once: exactly one wins, the other gets a `Conflict`.
pub async fn concurrent_saves_let_exactly_one_win<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    for spec in SPECS {
        let sessions = sessions_for(&store, spec, "race");
        let id = saved(&sessions).await;
        let mut a = sessions.connect(&id).await.unwrap();
        let mut b = sessions.connect(&id).await.unwrap();
        a.insert("visits", &4u64).unwrap();
        b.insert("visits", &5u64).unwrap();
        let (ra, rb) = tokio::join!(a.save(), b.save());
        assert!(ra.is_ok() != rb.is_ok(), "{name} {spec}: {ra:?} {rb:?}");
        let loser = if ra.is_err() { ra } else { rb };
        assert_eq!(loser.unwrap_err().kind(), StoreErrorKind::Conflict);
        assert!(sessions.delete(&id).await.unwrap());
    }
}

/// The opt-in `save_merging` keeps both sides' changes, key by key, removals included.
pub async fn save_merging_keeps_both_sides<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    for spec in SPECS {
        let sessions = sessions_for(&store, spec, "merge");
        let id = saved(&sessions).await;
        let mut c = sessions.connect(&id).await.unwrap();
        let mut d = sessions.connect(&id).await.unwrap();
        c.insert("theme", "dark").unwrap();
        d.remove("name");
        c.save().await.unwrap();
        d.save_merging().await.unwrap();
        let merged = sessions.connect(&id).await.unwrap();
        assert_eq!(
            merged.get::<String>("theme").unwrap().as_deref(),
            Some("dark")
        );
        assert!(
            !merged.contains("name"),
            "{name} {spec}: merge lost a removal"
        );
        assert!(merged.delete().await.unwrap());
    }
}

/// `cycle_id`: a new id, the same data, the old id gone.
pub async fn cycle_id_keeps_the_data_and_drops_the_old_id<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    for spec in SPECS {
        let sessions = sessions_for(&store, spec, "cycle");
        let id = saved(&sessions).await;
        let mut m = sessions.connect(&id).await.unwrap();
        m.insert("theme", "dark").unwrap();
        m.save().await.unwrap();
        m.cycle_id().await.unwrap();
        let new_id = m.id().unwrap().to_string();
        assert_ne!(new_id, id);
        assert!(sessions.connect(&id).await.unwrap_err().is_not_found());
        let cycled = sessions.connect(&new_id).await.unwrap();
        assert_eq!(
            cycled.get::<String>("theme").unwrap().as_deref(),
            Some("dark")
        );
        assert!(cycled.delete().await.unwrap());
    }
}

/// Unknown, malformed and deleted ids are never adopted: `connect_or_create` with an
/// unknown id draws a fresh one (no session fixation).
pub async fn unknown_ids_are_never_adopted<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    for spec in SPECS {
        let sessions = sessions_for(&store, spec, "unknown");
        let unknown = SessionId::generate().unwrap().to_string();
        assert!(sessions.connect(&unknown).await.unwrap_err().is_not_found());
        assert!(
            sessions
                .connect("../../etc/passwd")
                .await
                .unwrap_err()
                .is_not_found()
        );
        let mut fresh = sessions.connect_or_create(Some(&unknown)).await.unwrap();
        fresh.insert("x", &1).unwrap();
        fresh.save().await.unwrap();
        assert_ne!(
            fresh.id().unwrap().as_str(),
            unknown,
            "{name}: session fixation"
        );
        assert!(sessions.connect(&unknown).await.unwrap_err().is_not_found());
        let fresh_id = fresh.id().unwrap().to_string();
        assert!(fresh.delete().await.unwrap());
        assert!(
            sessions
                .connect(&fresh_id)
                .await
                .unwrap_err()
                .is_not_found(),
            "{name}: a deleted id came back"
        );
    }
}

/// Past its idle timeout a session is gone, and saving the stale handle does not revive it.
pub async fn idle_sessions_expire_and_stay_expired<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    let idle = Sessions::new(
        store.clone(),
        Codec::json(),
        config(&format!("{name}-idle")).with_idle_timeout(Duration::from_millis(300)),
    );
    let mut s = idle.create();
    s.insert("k", &1).unwrap();
    s.save().await.unwrap();
    let id = s.id().unwrap().to_string();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        idle.connect(&id).await.unwrap_err().is_not_found(),
        "{name}: idle expiry"
    );
    let err = s.save().await.unwrap_err();
    assert!(
        err.is_not_found(),
        "{name}: saving an expired session must not revive it: {err}"
    );
}

/// Past its absolute timeout a session is gone, however recently it was used.
pub async fn sessions_expire_at_their_absolute_timeout<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    let absolute = Sessions::new(
        store.clone(),
        Codec::json(),
        config(&format!("{name}-abs"))
            .with_idle_timeout(Duration::from_secs(60))
            .with_absolute_timeout(Some(Duration::from_millis(500))),
    );
    let mut s = absolute.create();
    s.insert("k", &1).unwrap();
    s.save().await.unwrap();
    let id = s.id().unwrap().to_string();
    assert!(absolute.connect(&id).await.is_ok());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        absolute.connect(&id).await.unwrap_err().is_not_found(),
        "{name}: absolute expiry"
    );
}

/// A record that does not decode: an error naming the session, bytes left in place unless
/// `purge_corrupt` is opted into.
pub async fn corrupt_records_are_named_and_kept_unless_purged<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    let codec = Codec::json();
    let prefix = unique_prefix(&format!("{name}-corrupt"));
    let corrupt = Sessions::new(
        store.clone(),
        codec,
        SessionConfig::default().with_key_prefix(prefix.clone()),
    );
    let bad_id = SessionId::generate().unwrap();
    let key = format!("{prefix}{}", corrupt.key_of(&bad_id));
    store
        .set(&key, b"\xC1\x10{not json", None, Condition::Always)
        .await
        .unwrap();
    let err = corrupt.connect(bad_id.as_str()).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{name}: {err}");
    assert!(err.to_string().contains(&bad_id.fingerprint()), "{err}");
    assert_eq!(
        store.get(&key).await.unwrap().unwrap().value,
        b"\xC1\x10{not json"
    );
    let purging = Sessions::new(
        store.clone(),
        codec,
        SessionConfig::default()
            .with_key_prefix(prefix)
            .with_purge_corrupt(true),
    );
    assert!(
        purging
            .connect(bad_id.as_str())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        store.get(&key).await.unwrap().is_none(),
        "{name}: opt-in purge"
    );
}

/// Owners: list and delete every session of a user, consistent through cycle and delete.
pub async fn owners_list_and_delete_their_sessions<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    let owned = Sessions::new(
        store.clone(),
        Codec::json(),
        config(&format!("{name}-owner")),
    );
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut s = owned.create();
        s.set_owner(Some("u1"));
        s.insert("i", &i).unwrap();
        s.save().await.unwrap();
        ids.push(s);
    }
    let mut other = owned.create();
    other.set_owner(Some("u2"));
    other.insert("i", &9).unwrap();
    other.save().await.unwrap();
    assert_eq!(owned.sessions_of("u1").await.unwrap().len(), 3, "{name}");
    let mut first = ids.remove(0);
    let before = first.key().unwrap();
    first.cycle_id().await.unwrap();
    let listed = owned.sessions_of("u1").await.unwrap();
    assert_eq!(listed.len(), 3, "{name}: cycle keeps the owner's count");
    assert!(!listed.contains(&before) && listed.contains(&first.key().unwrap()));
    ids.remove(0).delete().await.unwrap();
    assert_eq!(owned.sessions_of("u1").await.unwrap().len(), 2, "{name}");
    assert_eq!(owned.delete_owner("u1").await.unwrap(), 2, "{name}");
    assert!(owned.sessions_of("u1").await.unwrap().is_empty());
    assert!(
        owned
            .connect(first.id().unwrap().as_str())
            .await
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(
        owned.sessions_of("u2").await.unwrap().len(),
        1,
        "{name}: other owners kept"
    );
    other.delete().await.unwrap();
}

/// With a 1 s idle timeout, an open session is still there after 5 s; 2 s after its scope
/// closes it is gone.
pub async fn keep_alive_holds_open_sessions_and_lets_closed_ones_expire<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    let sessions = Sessions::new(
        store,
        Codec::json(),
        config(&format!("{name}-alive")).with_idle_timeout(Duration::from_secs(1)),
    );
    let mut s = sessions.create();
    s.insert("k", &1).unwrap();
    s.save().await.unwrap();
    let id = s.id().unwrap().to_string();
    {
        let open = s.scope().unwrap();
        assert_eq!(open.keep_alive_status(), Some(KeepAliveStatus::Running));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            sessions.connect(&id).await.is_ok(),
            "{name}: open session expired"
        );
    }
    assert_eq!(s.keep_alive_status(), None, "scope closed it");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        sessions.connect(&id).await.unwrap_err().is_not_found(),
        "{name}: closed session lived on"
    );
}

/// A session deleted while open is not revived by its keep-alive, which reports `Expired`.
pub async fn keep_alive_does_not_revive_a_deleted_session<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    let sessions = Sessions::new(
        store,
        Codec::json(),
        config(&format!("{name}-deleted")).with_idle_timeout(Duration::from_secs(1)),
    );
    let mut s = sessions.create();
    s.insert("k", &1).unwrap();
    s.save().await.unwrap();
    s.open().unwrap();
    let id = s.id().unwrap().to_string();
    assert!(sessions.delete(&id).await.unwrap());
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        s.keep_alive_status(),
        Some(KeepAliveStatus::Expired),
        "{name}"
    );
    assert!(
        sessions.connect(&id).await.unwrap_err().is_not_found(),
        "{name}: revived"
    );
}
