//! The change feed (`Watch`, PostgreSQL `NOTIFY` from a trigger): the writes, deletions
//! and expiries of any writer (another store without the feed, raw SQL) are delivered; a
//! `touch` and keys outside the prefix are not; a killed listening connection is made again
//! and the gap reported; without the feed, or on another database, it is refused.

#[allow(unused_imports)]
use super::*;

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;
    use satchel_sql::{ChangeKind, ChangeStream, KeyChange, Watch};
    use sqlx::Connection;

    async fn next(stream: &mut ChangeStream) -> KeyChange {
        tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a notice within 10 s")
            .expect("the feed is open")
    }

    /// Nothing arrives within `wait`.
    async fn quiet(stream: &mut ChangeStream, wait: Duration) {
        if let Ok(change) = tokio::time::timeout(wait, stream.next()).await {
            panic!("no notice expected, got {change:?}");
        }
    }

    fn with_app(url: &str, app: &str) -> String {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}application_name={app}")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_watch_delivers_the_changes_of_every_writer() {
        let Some(url) = service_url("SATCHEL_TEST_POSTGRES_URL") else {
            return;
        };
        let table = unique("satchel_test");
        // The URL parameter, as `satchel serve --store` passes it.
        let separator = if url.contains('?') { '&' } else { '?' };
        let store = SqlStore::with_config(
            SqlConfig::new(format!("{url}{separator}changeFeed=notify")).with_table(&table),
        )
        .await
        .unwrap();
        assert!(store.capabilities().watch);
        // Another process's store on the same table, without a feed of its own: its
        // writes raise notices too (the trigger is on the table).
        let other = SqlStore::with_config(SqlConfig::new(url.clone()).with_table(&table))
            .await
            .unwrap();
        assert!(!other.capabilities().watch);
        let mut stream = store.watch("app:").await.unwrap();
        let mut second = store.watch("app:b").await.unwrap();

        store
            .set("app:a", b"1", None, Condition::Always)
            .await
            .unwrap();
        assert_eq!(
            next(&mut stream).await,
            KeyChange::new("app:a", ChangeKind::Set)
        );
        other
            .set("elsewhere", b"x", None, Condition::Always)
            .await
            .unwrap();
        other
            .set("app:b", b"2", None, Condition::Always)
            .await
            .unwrap();
        assert_eq!(
            next(&mut stream).await,
            KeyChange::new("app:b", ChangeKind::Set)
        );
        assert_eq!(
            next(&mut second).await,
            KeyChange::new("app:b", ChangeKind::Set)
        );
        // A touch changes no value: nothing is raised.
        assert!(other.touch("app:b", Duration::from_secs(60)).await.unwrap());
        // Raw SQL is a writer like any other.
        let mut raw = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(&format!(
            "INSERT INTO \"{table}\" (\"key\", value, version) VALUES ('app:c', '\\x00', 1)"
        ))
        .execute(&mut raw)
        .await
        .unwrap();
        assert_eq!(
            next(&mut stream).await,
            KeyChange::new("app:c", ChangeKind::Set)
        );
        let v = store.get("app:a").await.unwrap().unwrap().version;
        store
            .set("app:a", b"3", None, Condition::IfVersion(v))
            .await
            .unwrap();
        assert_eq!(
            next(&mut stream).await,
            KeyChange::new("app:a", ChangeKind::Set)
        );
        assert!(other.delete("app:a").await.unwrap());
        assert_eq!(
            next(&mut stream).await,
            KeyChange::new("app:a", ChangeKind::Deleted)
        );
        // A value that expired raises `Expired` when its row goes (here: the purge).
        store
            .set(
                "app:short",
                b"s",
                Some(Duration::from_millis(1)),
                Condition::Always,
            )
            .await
            .unwrap();
        assert_eq!(
            next(&mut stream).await,
            KeyChange::new("app:short", ChangeKind::Set)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(store.purge_expired().await.unwrap() >= 1);
        assert_eq!(
            next(&mut stream).await,
            KeyChange::new("app:short", ChangeKind::Expired)
        );
        // Deleting by prefix raises a deletion per key.
        store.delete_prefix("app:").await.unwrap();
        let mut deleted = vec![next(&mut stream).await, next(&mut stream).await];
        deleted.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(
            deleted,
            [
                KeyChange::new("app:b", ChangeKind::Deleted),
                KeyChange::new("app:c", ChangeKind::Deleted)
            ]
        );
        assert_eq!(
            next(&mut second).await,
            KeyChange::new("app:b", ChangeKind::Deleted)
        );
        quiet(&mut stream, Duration::from_millis(300)).await;
        assert_eq!((stream.lost(), second.lost()), (0, 0));

        drop(raw);
        other.close().await;
        let fx = Fixture {
            store,
            target: Target::Postgres,
            url,
            file: None,
        };
        fx.cleanup().await;
    }

    /// A key too long for a notification's payload (PostgreSQL's limit is 8,000 bytes;
    /// the primary key index takes it, compressed) is written all the same, and its
    /// subscribers hear of it as a gap; the next notice is delivered as usual.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_watch_reports_a_key_too_long_to_notify_as_a_gap() {
        let Some(url) = service_url("SATCHEL_TEST_POSTGRES_URL") else {
            return;
        };
        let store = SqlStore::with_config(
            SqlConfig::new(url.clone())
                .with_table(unique("satchel_test"))
                .with_change_feed(true),
        )
        .await
        .unwrap();
        let mut stream = store.watch("").await.unwrap();
        let long = format!("k{}", "a".repeat(9_000));
        store
            .set(&long, b"v", None, Condition::Always)
            .await
            .expect("a long key is written, feed or not");
        store
            .set("short", b"v", None, Condition::Always)
            .await
            .unwrap();
        assert_eq!(
            next(&mut stream).await,
            KeyChange::new("short", ChangeKind::Set)
        );
        assert_eq!(
            stream.lost(),
            1,
            "the long key's write is reported as a gap"
        );
        assert!(store.delete(&long).await.unwrap());
        let fx = Fixture {
            store,
            target: Target::Postgres,
            url,
            file: None,
        };
        fx.cleanup().await;
    }

    /// The backends of `app` that wait for notifications (`LISTEN`ing, idle).
    async fn listeners(conn: &mut sqlx::PgConnection, app: &str) -> Vec<i32> {
        sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 \
             AND query LIKE 'LISTEN%'",
        )
        .bind(app)
        .fetch_all(conn)
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_watch_listens_again_after_its_connection_is_killed() {
        let Some(url) = service_url("SATCHEL_TEST_POSTGRES_URL") else {
            return;
        };
        let app = unique("satchel_watch");
        let store = SqlStore::with_config(
            SqlConfig::new(with_app(&url, &app))
                .with_table(unique("satchel_test"))
                .with_change_feed(true),
        )
        .await
        .unwrap();
        let mut one = store.watch("").await.unwrap();
        let mut two = store.watch("").await.unwrap();
        let mut killer = sqlx::PgConnection::connect(&url).await.unwrap();
        // Two subscribers, one listening connection.
        let pids = listeners(&mut killer, &app).await;
        assert_eq!(
            pids.len(),
            1,
            "one listening connection per store: {pids:?}"
        );
        store.set("k", b"1", None, Condition::Always).await.unwrap();
        assert_eq!(next(&mut one).await, KeyChange::new("k", ChangeKind::Set));
        assert_eq!(next(&mut two).await, KeyChange::new("k", ChangeKind::Set));

        let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pids[0])
            .fetch_one(&mut killer)
            .await
            .unwrap();
        assert!(killed);
        // Writes until the feed is back (changes made while it is away are not delivered).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "not listening again"
            );
            store
                .set("k2", b"2", None, Condition::Always)
                .await
                .unwrap();
            if let Ok(Some(change)) =
                tokio::time::timeout(Duration::from_millis(200), one.next()).await
            {
                assert_eq!(change, KeyChange::new("k2", ChangeKind::Set));
                break;
            }
        }
        assert!(one.lost() >= 1, "the gap is reported");
        assert!(two.lost() >= 1, "to every subscriber");
        let again = listeners(&mut killer, &app).await;
        assert_eq!(again.len(), 1, "{again:?}");
        assert_ne!(again, pids);

        // With every subscriber gone, the listening connection closes at the next notice.
        drop((one, two));
        store
            .set("k3", b"3", None, Condition::Always)
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !listeners(&mut killer, &app).await.is_empty() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the listening connection outlived its subscribers"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // And a new subscriber opens one again.
        let mut three = store.watch("").await.unwrap();
        store
            .set("k4", b"4", None, Condition::Always)
            .await
            .unwrap();
        assert_eq!(
            next(&mut three).await,
            KeyChange::new("k4", ChangeKind::Set)
        );
        assert_eq!(three.lost(), 0);

        drop(killer);
        let fx = Fixture {
            store,
            target: Target::Postgres,
            url,
            file: None,
        };
        fx.cleanup().await;
    }

    #[tokio::test]
    async fn postgres_watch_without_the_feed_is_unsupported() {
        let Some(url) = service_url("SATCHEL_TEST_POSTGRES_URL") else {
            return;
        };
        let store =
            SqlStore::with_config(SqlConfig::new(url.clone()).with_table(unique("satchel_test")))
                .await
                .unwrap();
        assert!(!store.capabilities().watch);
        let err = store.watch("").await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Unsupported);
        assert!(err.to_string().contains("with_change_feed"), "{err}");
        let fx = Fixture {
            store,
            target: Target::Postgres,
            url,
            file: None,
        };
        fx.cleanup().await;
    }
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn a_change_feed_on_sqlite_is_refused() {
    let err = SqlStore::with_config(SqlConfig::new("sqlite::memory:").with_change_feed(true))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
    assert!(err.to_string().contains("needs PostgreSQL"), "{err}");
    // Refused before connecting: no file is left behind.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("feed.db");
    let err = SqlStore::connect(&format!("sqlite://{}?changeFeed=notify", file.display()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
    assert!(!file.exists(), "the refused store created its file");
    let err = SqlStore::connect("sqlite::memory:?changeFeed=yes")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput);
}
