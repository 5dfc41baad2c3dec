//! Opening stores: separate in-memory databases, the background purge task, bad schemes,
//! unreachable servers that must not leak a password.

#[allow(unused_imports)]
use super::*;

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_memory_stores_are_separate() {
    let a = SqlStore::connect("sqlite::memory:").await.unwrap();
    let b = SqlStore::connect("sqlite::memory:").await.unwrap();
    a.set("k", b"a", None, Condition::Always).await.unwrap();
    assert_eq!(b.get("k").await.unwrap(), None);
    assert_eq!(a.table(), "satchel_kv");
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_purge_runs_and_stops_with_the_store() {
    let Some(fx) = Fixture::open(Target::SqliteFile).await else {
        return;
    };
    let config = SqlConfig::new(fx.url.clone())
        .with_table(fx.store.table())
        .with_purge_interval(Some(Duration::from_millis(100)));
    let purging = SqlStore::with_config(config).await.unwrap();
    let clone = purging.clone();
    purging
        .set(
            "k",
            b"x",
            Some(Duration::from_millis(50)),
            Condition::Always,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The background task already removed it.
    assert_eq!(fx.store.purge_expired().await.unwrap(), 0);
    drop(purging);
    // One clone left: still purging.
    clone
        .set(
            "k",
            b"x",
            Some(Duration::from_millis(50)),
            Condition::Always,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(fx.store.purge_expired().await.unwrap(), 0);
    drop(clone);
    // No clone left: the task stopped, expired rows stay until purged.
    fx.store
        .set(
            "k",
            b"x",
            Some(Duration::from_millis(50)),
            Condition::Always,
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(fx.store.purge_expired().await.unwrap(), 1);
    fx.cleanup().await;
}

#[tokio::test(flavor = "current_thread")]
async fn unknown_scheme_is_invalid_input() {
    for url in ["redis://127.0.0.1", "nonsense", "http://u:secretpw@host/"] {
        let e = SqlStore::connect(url).await.unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::InvalidInput, "{e:?}");
        assert!(!format!("{e} {e:?}").contains("secretpw"), "{e:?}");
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_postgres_hides_the_password() {
    let config = SqlConfig::new("postgres://u:secretpw@127.0.0.1:1/x")
        .with_acquire_timeout(Duration::from_secs(2));
    assert!(!format!("{config:?}").contains("secretpw"));
    let e = SqlStore::with_config(config).await.unwrap_err();
    assert!(
        matches!(
            e.kind(),
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout
        ),
        "{e:?}"
    );
    assert_eq!(e.backend(), Some("postgres"));
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("secretpw"), "{shown}");
    assert!(shown.contains("u:***@127.0.0.1:1"), "{shown}");
    let mut source = std::error::Error::source(&e);
    assert!(source.is_some(), "the sqlx error is kept");
    while let Some(s) = source {
        assert!(!format!("{s} {s:?}").contains("secretpw"));
        source = s.source();
    }
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_mysql_hides_the_password() {
    for url in [
        "mysql://u:secretpw@127.0.0.1:1/x",
        "mariadb://u:secretpw@127.0.0.1:1/x",
    ] {
        let config = SqlConfig::new(url).with_acquire_timeout(Duration::from_secs(2));
        let e = SqlStore::with_config(config).await.unwrap_err();
        assert!(
            matches!(
                e.kind(),
                StoreErrorKind::Unavailable | StoreErrorKind::Timeout
            ),
            "{e:?}"
        );
        assert_eq!(e.backend(), Some("mysql"));
        assert!(!format!("{e} {e:?}").contains("secretpw"), "{e:?}");
    }
}
