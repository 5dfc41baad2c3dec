//! What the backends survive: terminated PostgreSQL connections, a value over MariaDB's
//! `max_allowed_packet`, SQLite's WAL under sustained writes and scans.

#[allow(unused_imports)]
use super::*;

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_survives_terminated_connections() {
    use sqlx::Connection;

    let Some(url) = service_url("SATCHEL_TEST_POSTGRES_URL") else {
        return;
    };
    // Only this store's connections are terminated, so the tests running beside this one
    // (and other processes on the same database) keep theirs.
    let app = unique("satchel_terminate");
    let separator = if url.contains('?') { '&' } else { '?' };
    let store = SqlStore::with_config(
        SqlConfig::new(format!("{url}{separator}application_name={app}"))
            .with_table(unique("satchel_test")),
    )
    .await
    .unwrap();
    let fx = Fixture {
        store,
        target: Target::Postgres,
        url,
        file: None,
    };
    let store = &fx.store;
    // Fill the pool with several connections.
    let writes: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("k{i}");
                store
                    .set(&key, b"before", None, Condition::Always)
                    .await
                    .unwrap()
            })
        })
        .collect();
    for w in writes {
        w.await.unwrap();
    }
    let v = store
        .set("acked", b"one", None, Condition::Always)
        .await
        .unwrap();

    for round in 0..3 {
        let mut admin = sqlx::PgConnection::connect(&fx.url).await.unwrap();
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND application_name = $1",
        )
        .bind(&app)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        assert!(!killed.is_empty());
        admin.close().await.unwrap();

        let entry = store
            .get("acked")
            .await
            .unwrap()
            .expect("acknowledged write");
        assert!(entry.version >= v);
        let v2 = store
            .set(
                "acked",
                format!("round {round}").as_bytes(),
                None,
                Condition::IfVersion(entry.version),
            )
            .await
            .unwrap();
        assert_eq!(
            store.get("acked").await.unwrap().unwrap().value,
            format!("round {round}").as_bytes()
        );
        assert!(v2 > entry.version);
        for i in 0..8 {
            assert!(store.get(&format!("k{i}")).await.unwrap().is_some());
        }
        assert!(store.touch("k0", Duration::from_secs(60)).await.unwrap());
        assert_eq!(store.scan("k", 100).await.unwrap().len(), 8);
    }
    fx.cleanup().await;
}

/// 0.1: a value just over MariaDB's `max_allowed_packet` was sent, the server closed the
/// connection, and the error said the database "could not be reached". It is refused
/// before it is sent, as invalid input naming the limit, and the store keeps working.
#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regression_value_over_max_allowed_packet_is_invalid_input() {
    let Some(fx) = Fixture::open(Target::MySql).await else {
        return;
    };
    let max: i64 = {
        use sqlx::Connection;
        let mut c = sqlx::MySqlConnection::connect(&fx.url).await.unwrap();
        sqlx::query_scalar("SELECT CAST(@@max_allowed_packet AS SIGNED)")
            .fetch_one(&mut c)
            .await
            .unwrap()
    };
    let value = vec![7u8; usize::try_from(max).unwrap() + 1];
    let err = fx
        .store
        .set("big", &value, None, Condition::Always)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("max_allowed_packet"), "{err}");
    fx.store
        .set("small", b"ok", None, Condition::Always)
        .await
        .unwrap();
    assert_eq!(fx.store.get("small").await.unwrap().unwrap().value, b"ok");
    fx.cleanup().await;
}

/// Issue 18: serving the Coherence client's suite left a 2 GB `-wal` file next to an 87 MB
/// database, never checkpointed and still there after shutdown. Under sustained writes
/// with scans running beside them the log stays under its limit, and closing the store
/// leaves none behind.
#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_wal_stays_bounded_under_sustained_writes_and_scans() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    const WRITERS: u32 = 8;
    const EACH: u32 = 12_000;
    const LIMIT: u64 = 64 << 20;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wal.db");
    let store = SqlStore::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let value = vec![0x5Au8; 400];
    let stop = Arc::new(AtomicBool::new(false));
    let max_wal = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for _ in 0..2 {
        let (store, stop, max_wal) = (store.clone(), Arc::clone(&stop), Arc::clone(&max_wal));
        readers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let keys = store.scan("w", 5_000).await.unwrap();
                if let Some(k) = keys.first() {
                    store.get(k).await.unwrap();
                }
                max_wal.fetch_max(store.wal_size().unwrap(), Ordering::Relaxed);
            }
        }));
    }
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (store, value, max_wal) = (store.clone(), value.clone(), Arc::clone(&max_wal));
        writers.push(tokio::spawn(async move {
            for i in 0..EACH {
                // Keys cycle, so the table stays small while the log takes every write.
                let key = format!("w{w}:{}", i % 500);
                store
                    .set(&key, &value, None, Condition::Always)
                    .await
                    .unwrap();
                if i % 100 == 0 {
                    max_wal.fetch_max(store.wal_size().unwrap(), Ordering::Relaxed);
                }
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.await.unwrap();
    }
    let max = max_wal.load(Ordering::Relaxed);
    eprintln!(
        "sqlite WAL: {} writes of {} bytes with scans beside them, largest WAL {} KiB",
        WRITERS * EACH,
        value.len(),
        max >> 10
    );
    // Bounded, not exact: a checkpoint cannot pass a scan's read snapshot, so the log grows
    // by whatever lands while a scan runs, which on a loaded 2-core machine (the whole
    // suite building and running beside it) it was measured at 93 MB, 45% over the limit;
    // alone it peaks at 70-74 MiB. Without the bound this test reaches 797 MB.
    assert!(max <= 2 * LIMIT, "the WAL reached {max} bytes");
    store.close().await;
    let left = std::fs::metadata(dir.path().join("wal.db-wal")).map_or(0, |m| m.len());
    assert_eq!(left, 0, "a closed store left a {left}-byte WAL behind");
}
