//! Issue 15, "Ids at rest": sessions were named in `Debug`, logs and errors by the first 4
//! characters of their id, which are part of the secret. They are named by their
//! fingerprint now, the start of the hashed key they are stored under.

use super::*;

/// An id chosen so that no 4 characters of it occur by chance in the fixed text of the
/// messages checked (its hashed key and fingerprint are fixed too).
const CHOSEN: &str = "Q9Q9Q9Q9Q9Q9Q9Q9Q9Q9QQ";
/// Another, never stored.
const UNKNOWN: &str = "w_w_w_w_w_w_w_w_w_w_wA";

/// The first 4-character piece of `id` found in `shown`.
fn revealed<'a>(id: &'a str, shown: &str) -> Option<&'a str> {
    (0..=id.len() - 4)
        .map(|at| &id[at..at + 4])
        .find(|part| shown.contains(part))
}

/// `text` with every cause of `e` after it.
fn with_causes(e: &satchel_store::StoreError) -> String {
    let mut text = format!("{e} {e:?}");
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(&format!(" {c} {c:?}"));
        cause = c.source();
    }
    text
}

fn assert_hidden(name: &str, id: &str, what: &str, shown: &str) {
    if let Some(part) = revealed(id, shown) {
        panic!("{name}: {what} shows `{part}` of the id: {shown}");
    }
}

/// Session fingerprints were the first characters of the id. Now `Debug` of ids and
/// handles, and errors (their `Display`, `Debug` and causes) hold no 4 characters of the
/// id, and name the session by a fingerprint the stored key starts with.
pub async fn regression_fingerprints_reveal_no_part_of_the_id<S>(store: Arc<S>)
where
    S: StoreObject + ?Sized + 'static,
{
    let name = store.backend();
    let prefix = unique_prefix(&format!("{name}-fingerprints"));
    let sessions = Sessions::new(
        store.clone(),
        Codec::json(),
        SessionConfig::default().with_key_prefix(prefix.clone()),
    );
    let id = SessionId::parse(CHOSEN).unwrap();
    let fingerprint = id.fingerprint();
    let key = sessions.key_of(&id);
    assert!(key.as_str().starts_with(&fingerprint), "{name}: {key}");
    assert_hidden(name, CHOSEN, "SessionId's Debug", &format!("{id:?}"));
    assert_hidden(
        name,
        CHOSEN,
        "SessionKey's Debug",
        &format!("{key:?} {key}"),
    );

    // A session under the chosen id (its record copied from a saved one).
    let mut model = sessions.create();
    model.insert("k", &1).unwrap();
    model.save().await.unwrap();
    let model_key = format!("{prefix}{}", sessions.key_of(model.id().unwrap()));
    let record = store.get(&model_key).await.unwrap().unwrap().value;
    let stored = format!("{prefix}{key}");
    store
        .set(
            &stored,
            &record,
            Some(Duration::from_secs(600)),
            Condition::Always,
        )
        .await
        .unwrap();
    let mut a = sessions.connect(CHOSEN).await.unwrap();
    let mut b = sessions.connect(CHOSEN).await.unwrap();
    assert_hidden(name, CHOSEN, "Session's Debug", &format!("{a:?}"));

    // Conflict.
    a.insert("k", &2).unwrap();
    a.save().await.unwrap();
    b.insert("k", &3).unwrap();
    let conflict = b.save().await.unwrap_err();
    assert!(conflict.is_conflict(), "{name}: {conflict}");
    // Rotation refused.
    let refused = b.cycle_id().await.unwrap_err();
    // Not found.
    let unknown = sessions.connect(UNKNOWN).await.unwrap_err();
    assert!(unknown.is_not_found(), "{name}: {unknown}");
    // Corrupt.
    store
        .set(&stored, b"\xC1 a broken record", None, Condition::Always)
        .await
        .unwrap();
    let corrupt = sessions.connect(CHOSEN).await.unwrap_err();
    assert_eq!(corrupt.kind(), StoreErrorKind::Corrupt, "{name}: {corrupt}");

    for (what, e) in [
        ("a conflict", &conflict),
        ("a refused rotation", &refused),
        ("a corrupt record", &corrupt),
    ] {
        let shown = with_causes(e);
        assert_hidden(name, CHOSEN, what, &shown);
        assert!(
            shown.contains(&fingerprint),
            "{name}: {what} names the session by its fingerprint: {shown}"
        );
    }
    let unknown_id = SessionId::parse(UNKNOWN).unwrap();
    let shown = with_causes(&unknown);
    assert_hidden(name, UNKNOWN, "not found", &shown);
    assert!(shown.contains(&unknown_id.fingerprint()), "{name}: {shown}");
    assert!(store.delete(&stored).await.unwrap());
}
