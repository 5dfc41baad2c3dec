//! [`Watch`] on PostgreSQL: a row trigger on the table raises a `NOTIFY` for every row
//! written or deleted (by any process, through satchel or not), and one `LISTEN`ing
//! connection per store hands each notice to the subscribers whose prefix it falls under.
//!
//! The trigger (`{table}_notify`, function of the same name) sends, on the channel
//! `{table}_changes`, `s` + key for a row inserted or updated to a new version (a `touch`
//! keeps the version and raises nothing), `d` + key for a row deleted while live, `x` +
//! key for a row deleted once expired (a purge, or a write that found it expired), and `?`
//! for a key too long for a notification's payload, which subscribers get as a gap
//! ([`ChangeSender::missed`]). Notifications are sent when the writing transaction
//! commits, and only then.
//!
//! The listening connection is opened with the first subscription and closed when the
//! last one is gone (noticed at the next notification); a lost connection is opened again
//! with backoff, and every subscriber is told of the gap.

use satchel_store_core::{BoxFuture, ChangeStream, Result, Watch, check_prefix};

use super::SqlStore;

impl SqlStore {
    async fn watch_keys(&self, prefix: &str) -> Result<ChangeStream> {
        check_prefix(prefix)?;
        #[cfg(feature = "postgres")]
        if let Some(feed) = self.inner.feed.clone() {
            return pg::subscribe(feed, prefix, self.inner.dialect).await;
        }
        Err(satchel_store_core::unsupported(
            self.inner.dialect.name(),
            "watch keys without a change feed (PostgreSQL only: \
             SqlConfig::with_change_feed, or `changeFeed=notify` in the URL)",
        ))
    }
}

/// PostgreSQL with [`SqlConfig::with_change_feed`](crate::SqlConfig::with_change_feed):
/// `NOTIFY` from a trigger, see `docs/stores.md`. Elsewhere `watch` fails with
/// [`StoreErrorKind::Unsupported`](satchel_store_core::StoreErrorKind::Unsupported).
impl Watch for SqlStore {
    fn watch<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<ChangeStream>> {
        Box::pin(self.watch_keys(prefix))
    }
}

/// The PostgreSQL feed: the trigger, the listening connection, its subscribers.
#[cfg(feature = "postgres")]
pub(super) mod pg {
    use std::sync::{Arc, Mutex, PoisonError};
    use std::time::Duration;

    use satchel_store_core::{
        CHANGE_STREAM_CAPACITY, ChangeKind, ChangeSender, ChangeStream, KeyChange, MAX_WATCHERS,
        Result, StoreError, StoreErrorKind,
    };

    use super::super::{Inner, Pool};
    use crate::dialect::Dialect;
    use crate::error::{self, Op};

    /// The longest wait between two attempts to listen again.
    const MAX_BACKOFF: Duration = Duration::from_secs(5);

    /// The longest key a notification carries: PostgreSQL's payload limit is 8,000 bytes.
    const MAX_NOTIFIED_KEY: usize = 7_900;

    /// A store's change feed: how to listen, and the subscribers while someone listens.
    pub(in crate::backend) struct PgFeed {
        options: sqlx::postgres::PgConnectOptions,
        channel: String,
        acquire_timeout: Duration,
        /// The running listener, if any subscriber is (or was, until the next notice) there.
        /// An async mutex: the first subscriber holds it while it connects, so two never open
        /// two listeners.
        hub: tokio::sync::Mutex<Option<Arc<Hub>>>,
    }

    /// The subscribers of one listening connection.
    #[derive(Default)]
    struct Hub {
        watchers: Mutex<Vec<Watcher>>,
    }

    struct Watcher {
        prefix: String,
        sender: ChangeSender,
    }

    impl Hub {
        fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Watcher>> {
            self.watchers.lock().unwrap_or_else(PoisonError::into_inner)
        }

        fn add(&self, prefix: &str, sender: ChangeSender) -> Result<()> {
            let mut watchers = self.lock();
            watchers.retain(|w| !w.sender.is_closed());
            if watchers.len() >= MAX_WATCHERS {
                return Err(StoreError::new(
                    StoreErrorKind::Unavailable,
                    format!("change feed: {MAX_WATCHERS} subscribers already watch this store"),
                )
                .with_backend("postgres"));
            }
            watchers.push(Watcher {
                prefix: prefix.to_string(),
                sender,
            });
            Ok(())
        }

        /// Hands a notification's payload to the subscribers it concerns; returns how many
        /// subscribers are left.
        fn dispatch(&self, payload: &str) -> usize {
            let mut watchers = self.lock();
            match parse(payload) {
                Some(Notice::Change(key, kind)) => watchers.retain(|w| {
                    !key.starts_with(&w.prefix) || w.sender.offer(KeyChange::new(key, kind))
                }),
                Some(Notice::Unnamed) => {
                    watchers.retain(|w| !w.sender.is_closed());
                    for w in watchers.iter() {
                        w.sender.missed();
                    }
                }
                // Not a payload of the trigger: someone else's NOTIFY on the channel.
                None => watchers.retain(|w| !w.sender.is_closed()),
            }
            watchers.len()
        }

        /// How many subscribers are left (forgetting those that dropped their stream).
        fn live(&self) -> usize {
            let mut watchers = self.lock();
            watchers.retain(|w| !w.sender.is_closed());
            watchers.len()
        }

        /// Tells every subscriber that changes went unreported; returns how many are left.
        fn missed(&self) -> usize {
            let mut watchers = self.lock();
            watchers.retain(|w| !w.sender.is_closed());
            for w in watchers.iter() {
                w.sender.missed();
            }
            watchers.len()
        }
    }

    /// What one notification says.
    #[derive(Debug, PartialEq, Eq)]
    enum Notice<'a> {
        Change(&'a str, ChangeKind),
        /// A key changed that the notification could not carry.
        Unnamed,
    }

    fn parse(payload: &str) -> Option<Notice<'_>> {
        let kind = match payload.as_bytes().first()? {
            b's' => ChangeKind::Set,
            b'd' => ChangeKind::Deleted,
            b'x' => ChangeKind::Expired,
            b'?' if payload.len() == 1 => return Some(Notice::Unnamed),
            _ => return None,
        };
        let key = &payload[1..];
        (!key.is_empty()).then_some(Notice::Change(key, kind))
    }

    impl PgFeed {
        pub(in crate::backend) fn new(
            options: sqlx::postgres::PgConnectOptions,
            table: &str,
            acquire_timeout: Duration,
        ) -> Self {
            Self {
                options,
                channel: channel_name(table),
                acquire_timeout,
                hub: tokio::sync::Mutex::new(None),
            }
        }

        /// A connection listening on the channel, within the acquire timeout.
        async fn listen(&self) -> std::result::Result<sqlx::postgres::PgListener, sqlx::Error> {
            let connect = async {
                // A pool of its own, of one connection: the listener never takes one of the
                // store's.
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .acquire_timeout(self.acquire_timeout)
                    .connect_lazy_with(self.options.clone());
                let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
                listener.listen(&self.channel).await?;
                Ok(listener)
            };
            tokio::time::timeout(self.acquire_timeout, connect)
                .await
                .unwrap_or(Err(sqlx::Error::PoolTimedOut))
        }

        /// Forgets `hub` if it is still the running one and nobody subscribed meanwhile.
        async fn retire(&self, hub: &Arc<Hub>) -> bool {
            let mut slot = self.hub.lock().await;
            if slot.as_ref().is_some_and(|h| Arc::ptr_eq(h, hub)) && hub.live() == 0 {
                *slot = None;
                return true;
            }
            false
        }
    }

    /// `{table}_changes`, shortened to PostgreSQL's 63-byte identifier limit.
    fn channel_name(table: &str) -> String {
        crate::dialect::short_name(table, "changes", "chg")
    }

    /// The trigger's function and the trigger, put in place (or replaced) in one transaction
    /// under an advisory lock, so processes connecting at once do not collide in the catalog.
    pub(in crate::backend) fn trigger_statements(table: &str) -> [String; 3] {
        let name = crate::dialect::short_name(table, "notify", "ntf");
        let channel = channel_name(table);
        [
            format!("SELECT pg_advisory_xact_lock(hashtext('satchel change feed {table}'))"),
            format!(
                "CREATE OR REPLACE FUNCTION \"{name}\"() RETURNS trigger LANGUAGE plpgsql AS \
                 $satchel$ \
                 DECLARE k text; what text; \
                 BEGIN \
                   IF TG_OP = 'DELETE' THEN \
                     k := OLD.\"key\"; \
                     what := CASE WHEN OLD.expires_at IS NOT NULL AND OLD.expires_at <= \
                       (extract(epoch FROM clock_timestamp()) * 1000)::bigint \
                       THEN 'x' ELSE 'd' END; \
                   ELSIF TG_OP = 'UPDATE' AND NEW.version = OLD.version THEN \
                     RETURN NULL; \
                   ELSE \
                     k := NEW.\"key\"; what := 's'; \
                   END IF; \
                   IF octet_length(k) > {MAX_NOTIFIED_KEY} THEN \
                     PERFORM pg_notify('{channel}', '?'); \
                   ELSE \
                     PERFORM pg_notify('{channel}', what || k); \
                   END IF; \
                   RETURN NULL; \
                 END $satchel$"
            ),
            format!(
                "CREATE OR REPLACE TRIGGER \"{name}\" AFTER INSERT OR UPDATE OR DELETE ON \
                 \"{table}\" FOR EACH ROW EXECUTE FUNCTION \"{name}\"()"
            ),
        ]
    }

    impl Inner {
        /// Puts the change feed's trigger on the table (PostgreSQL).
        pub(in crate::backend) async fn install_feed_trigger(&self) -> Result<()> {
            // Irrefutable in a build with the `postgres` feature alone.
            #[allow(irrefutable_let_patterns)]
            let Pool::Postgres(pool) = &self.pool else {
                return Ok(());
            };
            let statements = trigger_statements(&self.table);
            let install = async {
                let mut tx = pool.begin().await?;
                for sql in &statements {
                    sqlx::query(sql).execute(&mut *tx).await?;
                }
                tx.commit().await
            };
            install.await.map_err(|e| {
                if error::kind_of(&e, self.dialect) != StoreErrorKind::Backend {
                    return self.err(e, Op::Watch).with_key(self.table.clone());
                }
                StoreError::new(
                    StoreErrorKind::Backend,
                    "change feed: PostgreSQL refused the trigger that raises its notifications; \
                     it needs PostgreSQL 14 or later and the right to create functions and \
                     triggers on the table",
                )
                .with_key(self.table.clone())
                .with_backend("postgres")
                .with_source(e)
            })
        }
    }

    /// Subscribes to `feed`, opening its listening connection if nobody listens yet.
    pub(in crate::backend) async fn subscribe(
        feed: Arc<PgFeed>,
        prefix: &str,
        dialect: Dialect,
    ) -> Result<ChangeStream> {
        let (sender, stream) = ChangeStream::channel(CHANGE_STREAM_CAPACITY);
        let mut slot = feed.hub.lock().await;
        if let Some(hub) = slot.as_ref() {
            hub.add(prefix, sender)?;
            return Ok(stream);
        }
        let listener = feed
            .listen()
            .await
            .map_err(|e| error::from_sqlx(e, Op::Watch, dialect))?;
        let hub = Arc::new(Hub::default());
        hub.add(prefix, sender)?;
        *slot = Some(hub.clone());
        drop(slot);
        tokio::spawn(run(feed.clone(), hub, listener));
        Ok(stream)
    }

    /// Forwards the notifications to the hub's subscribers until none is left, listening
    /// again (with backoff) whenever the connection is lost.
    async fn run(feed: Arc<PgFeed>, hub: Arc<Hub>, listener: sqlx::postgres::PgListener) {
        let mut listener = Some(listener);
        let mut delay = Duration::from_millis(100);
        loop {
            let Some(connected) = listener.as_mut() else {
                tokio::time::sleep(delay).await;
                match feed.listen().await {
                    Ok(again) => {
                        tracing::info!(backend = "postgres", "watch: listening again");
                        listener = Some(again);
                        delay = Duration::from_millis(100);
                        // Those who subscribed during the outage were not listening either.
                        hub.missed();
                    }
                    Err(e) => {
                        tracing::warn!(backend = "postgres", error = %e, "watch: cannot listen yet");
                        delay = (delay * 2).min(MAX_BACKOFF);
                    }
                }
                if hub.live() == 0 && feed.retire(&hub).await {
                    return;
                }
                continue;
            };
            match connected.try_recv().await {
                Ok(Some(notification)) => {
                    if hub.dispatch(notification.payload()) == 0 && feed.retire(&hub).await {
                        return;
                    }
                }
                // sqlx lost the connection and made it again: the gap is reported.
                Ok(None) => {
                    tracing::warn!(
                        backend = "postgres",
                        "watch: the listening connection was lost and made again (changes made \
                         meanwhile are not delivered)"
                    );
                    if hub.missed() == 0 && feed.retire(&hub).await {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(
                        backend = "postgres",
                        error = %e,
                        "watch: the listening connection failed; listening again (changes made \
                         meanwhile are not delivered)"
                    );
                    listener = None;
                    if hub.missed() == 0 && feed.retire(&hub).await {
                        return;
                    }
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn payloads_say_which_key_and_what() {
            assert_eq!(
                parse("sapp:1"),
                Some(Notice::Change("app:1", ChangeKind::Set))
            );
            assert_eq!(parse("dk"), Some(Notice::Change("k", ChangeKind::Deleted)));
            assert_eq!(parse("xk"), Some(Notice::Change("k", ChangeKind::Expired)));
            assert_eq!(parse("?"), Some(Notice::Unnamed));
            for foreign in ["", "s", "hello", "?x", "\u{e9}t\u{e9}"] {
                assert_eq!(parse(foreign), None, "{foreign:?}");
            }
        }

        #[test]
        fn names_fit_postgres_identifiers() {
            let long = "t".repeat(63);
            assert!(channel_name(&long).len() <= 63);
            assert_eq!(channel_name("satchel_kv"), "satchel_kv_changes");
            let statements = trigger_statements(&long);
            assert!(statements[1].contains(&channel_name(&long)));
            let name = crate::dialect::short_name(&long, "notify", "ntf");
            assert!(name.len() <= 63 && statements[2].contains(&name));
        }
    }
}
