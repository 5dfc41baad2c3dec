//! [`Watch`] on one Redis server: keyspace notifications on a pub/sub connection of the
//! feed's own.
//!
//! Each value is one string under its key, so the notices needed are those of string
//! writes (`$`: `set`, `setrange`, …), generic commands (`g`: `del`, `rename`, …),
//! expiries (`x`) and evictions (`e`), on the keyspace channels (`K`):
//! `notify-keyspace-events` must hold `K$gxe` (or `KA`, which includes them). The server's
//! setting is checked when subscribing and after every reconnection; without it, `watch`
//! fails naming the `CONFIG SET` to run, unless the store was allowed to run it
//! ([`RedisConfig::with_keyspace_events_enabled`](crate::RedisConfig::with_keyspace_events_enabled)).
//! Notices carry keys only; a key that is not UTF-8, or holds the NUL that owner sets begin
//! with, is not one the store could have written and is skipped.

use std::collections::HashMap;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use redis::aio::PubSub;
use redis::{Msg, RedisError};
use satchel_store_core::{
    BoxFuture, CHANGE_STREAM_CAPACITY, ChangeKind, ChangeSender, ChangeStream, KeyChange, Result,
    StoreError, StoreErrorKind, Watch, check_prefix,
};

use super::{RedisStore, glob_escape};
use crate::error::{BACKEND, Op, from_redis};

/// The classes of `notify-keyspace-events` the feed needs.
pub(crate) const NEEDED: &str = "K$gxe";

/// How often the feed pings its connection, to notice one that went away silently.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The longest wait between two attempts to subscribe again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a feed connects with.
pub(super) struct FeedSetup {
    client: redis::Client,
    /// May run `CONFIG SET notify-keyspace-events`.
    enable: bool,
}

impl FeedSetup {
    pub(super) fn new(client: redis::Client, enable: bool) -> Self {
        Self { client, enable }
    }

    /// The keyspace channel prefix of the store's database.
    fn channel_prefix(&self) -> String {
        format!(
            "__keyspace@{}__:",
            self.client.get_connection_info().redis_settings().db()
        )
    }

    /// Checks (and, if allowed, completes) the server's `notify-keyspace-events`.
    async fn ready(&self) -> Result<()> {
        let mut conn = self
            .client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| from_redis(e, Op::Watch))?;
        let mut get = redis::cmd("CONFIG");
        get.arg("GET").arg("notify-keyspace-events");
        let flags: HashMap<String, String> =
            get.query_async(&mut conn).await.map_err(unreadable)?;
        let flags = flags
            .get("notify-keyspace-events")
            .cloned()
            .unwrap_or_default();
        let missing = missing_classes(&flags);
        if missing.is_empty() {
            return Ok(());
        }
        let wanted = format!("{flags}{missing}");
        if !self.enable {
            return Err(StoreError::new(
                StoreErrorKind::Unsupported,
                format!(
                    "watch: the server's keyspace notifications are \"{flags}\", without the \
                     classes {missing} a change feed needs; run `CONFIG SET \
                     notify-keyspace-events {wanted}` on it (or set it in redis.conf), or let \
                     satchel do it (the URL parameter `keyspaceEvents=enable`, or \
                     RedisConfig::with_keyspace_events_enabled)"
                ),
            )
            .with_backend(BACKEND));
        }
        let mut set = redis::cmd("CONFIG");
        set.arg("SET").arg("notify-keyspace-events").arg(&wanted);
        let () = set.query_async(&mut conn).await.map_err(unreadable)?;
        tracing::info!(
            backend = BACKEND,
            flags = %wanted,
            "watch: turned on the server's keyspace notifications (CONFIG SET; not saved)"
        );
        Ok(())
    }

    /// A pub/sub connection subscribed to the keys under `pattern`.
    async fn subscribe(&self, pattern: &str) -> Result<PubSub> {
        self.ready().await?;
        let mut pubsub = self
            .client
            .get_async_pubsub()
            .await
            .map_err(|e| from_redis(e, Op::Watch))?;
        pubsub
            .psubscribe(pattern)
            .await
            .map_err(|e| from_redis(e, Op::Watch))?;
        Ok(pubsub)
    }
}

/// The error for a server that refuses `CONFIG` (a managed Redis may rename it away).
fn unreadable(e: RedisError) -> StoreError {
    StoreError::new(
        StoreErrorKind::Unsupported,
        format!(
            "watch: could not read or set the server's notify-keyspace-events (CONFIG \
             refused?); a change feed needs the classes {NEEDED} set on the server"
        ),
    )
    .with_backend(BACKEND)
    .with_source(e)
}

/// The classes of [`NEEDED`] that `flags` (as `CONFIG GET` shows them) lacks. `A` stands
/// for every class but `K`, `E`, `m` and `n`.
pub(crate) fn missing_classes(flags: &str) -> String {
    NEEDED
        .chars()
        .filter(|&c| !(flags.contains(c) || (c != 'K' && flags.contains('A'))))
        .collect()
}

/// What a keyspace event means for the value under its key, if anything.
pub(crate) fn kind_of(event: &[u8]) -> Option<ChangeKind> {
    Some(match event {
        b"set" | b"setrange" | b"append" | b"incrby" | b"incrbyfloat" | b"restore"
        | b"rename_to" | b"copy_to" | b"move_to" | b"hset" => ChangeKind::Set,
        b"del" | b"rename_from" | b"move_from" | b"evicted" => ChangeKind::Deleted,
        b"expired" => ChangeKind::Expired,
        _ => return None,
    })
}

/// The notice a pub/sub message carries, if it is about a key the store could hold.
fn notice(channel_prefix: &str, msg: &Msg) -> Option<KeyChange> {
    let channel: Vec<u8> = msg.get_channel().ok()?;
    let key = channel.strip_prefix(channel_prefix.as_bytes())?;
    let key = std::str::from_utf8(key)
        .ok()
        .filter(|k| !k.contains('\0'))?;
    let kind = kind_of(msg.get_payload_bytes())?;
    Some(KeyChange::new(key, kind))
}

impl RedisStore {
    async fn watch_keys(&self, prefix: &str) -> Result<ChangeStream> {
        check_prefix(prefix)?;
        let Some(setup) = self.feed.clone() else {
            return Err(satchel_store_core::unsupported(
                BACKEND,
                "watch keys behind sentinels or on a cluster (keyspace notifications are per \
                 node)",
            ));
        };
        let channel_prefix = setup.channel_prefix();
        let pattern = format!("{channel_prefix}{}*", glob_escape(prefix));
        let pubsub = setup.subscribe(&pattern).await?;
        let (tx, stream) = ChangeStream::channel(CHANGE_STREAM_CAPACITY);
        tokio::spawn(feed(setup, pattern, channel_prefix, pubsub, tx));
        Ok(stream)
    }
}

/// Forwards the notices of `pubsub` to `tx` until the stream is dropped, subscribing again
/// (with backoff) whenever the connection is lost.
async fn feed(
    setup: std::sync::Arc<FeedSetup>,
    pattern: String,
    channel_prefix: String,
    pubsub: PubSub,
    tx: ChangeSender,
) {
    let mut pubsub = Some(pubsub);
    loop {
        if let Some(connected) = pubsub.take() {
            let (mut sink, mut stream) = connected.split();
            let mut heartbeat = tokio::time::interval(HEARTBEAT);
            heartbeat.tick().await;
            loop {
                let next = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx));
                tokio::select! {
                    msg = next => match msg {
                        Some(msg) => {
                            if let Some(change) = notice(&channel_prefix, &msg)
                                && !tx.offer(change)
                            {
                                return;
                            }
                        }
                        None => break,
                    },
                    _ = heartbeat.tick() => {
                        let ping = sink.ping::<redis::Value>();
                        if !matches!(tokio::time::timeout(HEARTBEAT, ping).await, Ok(Ok(_))) {
                            break;
                        }
                    }
                    () = tx.closed() => return,
                }
            }
            tracing::warn!(
                backend = BACKEND,
                "watch: the keyspace notification connection was lost; subscribing again \
                 (changes made meanwhile are not delivered)"
            );
        }
        let mut delay = Duration::from_millis(100);
        loop {
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = tx.closed() => return,
            }
            match setup.subscribe(&pattern).await {
                Ok(connected) => {
                    tracing::info!(backend = BACKEND, "watch: subscribed again");
                    // Whatever changed while the feed was away went unreported.
                    tx.missed();
                    pubsub = Some(connected);
                    break;
                }
                Err(e) => {
                    tracing::warn!(backend = BACKEND, error = %e, "watch: cannot subscribe yet");
                    delay = (delay * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// One server (not behind sentinels, not a cluster): keyspace notifications, see the
/// module docs of `backend/watch.rs` and `docs/stores.md`.
impl Watch for RedisStore {
    fn watch<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<ChangeStream>> {
        Box::pin(self.watch_keys(prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_needed_classes_are_found_in_what_config_get_shows() {
        assert_eq!(missing_classes(""), "K$gxe");
        assert_eq!(missing_classes("AK"), "");
        assert_eq!(missing_classes("AKE"), "");
        assert_eq!(missing_classes("KA"), "");
        assert_eq!(missing_classes("A"), "K");
        assert_eq!(missing_classes("Ex"), "K$ge");
        assert_eq!(missing_classes("gxeK$"), "");
    }

    #[test]
    fn events_map_to_what_happened_to_the_value() {
        assert_eq!(kind_of(b"set"), Some(ChangeKind::Set));
        assert_eq!(kind_of(b"setrange"), Some(ChangeKind::Set));
        assert_eq!(kind_of(b"del"), Some(ChangeKind::Deleted));
        assert_eq!(kind_of(b"evicted"), Some(ChangeKind::Deleted));
        assert_eq!(kind_of(b"expired"), Some(ChangeKind::Expired));
        // A new time to live changes no value.
        assert_eq!(kind_of(b"expire"), None);
        assert_eq!(kind_of(b"persist"), None);
    }
}
