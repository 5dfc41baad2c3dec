//! [`RedisConfig`]: where the server is and how long to wait for it.

use std::fmt;
use std::time::Duration;

use satchel_store_core::redact_url;
#[cfg(not(feature = "cluster"))]
use satchel_store_core::{StoreError, StoreErrorKind};

mod urls;

pub(crate) use urls::SentinelTarget;

/// How a [`RedisStore`](crate::RedisStore) connects: the server URL, a key prefix, timeouts.
///
/// ```
/// use std::time::Duration;
/// use satchel_redis::RedisConfig;
///
/// let config = RedisConfig::new("redis://:s3cret@cache.internal:6379/2")
///     .with_response_timeout(Some(Duration::from_millis(500)));
/// // Debug output never shows the password.
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
///
/// URLs take the forms the `redis` crate knows: `redis://[[user]:password@]host[:port][/db]`,
/// `rediss://…` (TLS, with the `tls` cargo feature), `redis+unix:///path/to/socket`; and,
/// with the `cluster` feature, a Redis Cluster in fred's convention:
/// `redis-cluster://[user:password@]host:port?node=host:port&node=…` (`rediss-cluster://`
/// over TLS), every seed node reached with the URL's credentials; and Redis Sentinel:
/// `redis-sentinel://[user:password@]host:port[/db]?sentinelServiceName=NAME&node=host:port…`
/// (`rediss-sentinel://` over TLS) names sentinels, the service and the primary's
/// credentials and database (`sentinelUsername=`, `sentinelPassword=` for the sentinels).
/// The store connects to the primary the sentinels name, and asks them again when it stops
/// answering or turns read-only (after a failover).
///
/// ```
/// # #[cfg(feature = "cluster")] {
/// use satchel_redis::RedisConfig;
/// let config = RedisConfig::new("redis-cluster://127.0.0.1:7001?node=127.0.0.1:7002");
/// assert_eq!(config.url(), "redis-cluster://127.0.0.1:7001?node=127.0.0.1:7002");
/// # }
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct RedisConfig {
    pub(crate) urls: Vec<String>,
    #[cfg(feature = "cluster")]
    pub(crate) cluster: bool,
    pub(crate) sentinel: Option<SentinelTarget>,
    pub(crate) connection_timeout: Option<Duration>,
    pub(crate) response_timeout: Option<Duration>,
    pub(crate) reconnect_attempts: usize,
    pub(crate) replica_acks: Option<(u32, Duration)>,
    pub(crate) keyspace_events: bool,
}

impl RedisConfig {
    /// The default [`RedisConfig::connection_timeout`]: 5 seconds.
    pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(5);
    /// The default [`RedisConfig::response_timeout`]: 5 seconds.
    pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
    /// The default [`RedisConfig::reconnect_attempts`]: 3.
    pub const DEFAULT_RECONNECT_ATTEMPTS: usize = 3;

    /// A single server (or a proxy in front of several) at `url`, no key prefix, default
    /// timeouts.
    pub fn new(url: impl Into<String>) -> Self {
        Self::with_urls(vec![url.into()])
    }

    /// A Redis Cluster reached through any of `urls` (the seed nodes; the client discovers
    /// the rest). Needs the `cluster` cargo feature.
    #[cfg(feature = "cluster")]
    #[cfg_attr(docsrs, doc(cfg(feature = "cluster")))]
    pub fn cluster<I, S>(urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut config = Self::with_urls(urls.into_iter().map(Into::into).collect());
        config.cluster = true;
        config
    }

    fn with_urls(urls: Vec<String>) -> Self {
        Self {
            urls,
            #[cfg(feature = "cluster")]
            cluster: false,
            sentinel: None,
            connection_timeout: Some(Self::DEFAULT_CONNECTION_TIMEOUT),
            response_timeout: Some(Self::DEFAULT_RESPONSE_TIMEOUT),
            reconnect_attempts: Self::DEFAULT_RECONNECT_ATTEMPTS,
            replica_acks: None,
            keyspace_events: false,
        }
    }

    /// How long one attempt to open a connection may take (`None`: no limit).
    #[must_use]
    pub fn with_connection_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// How long to wait for the reply to a command before failing it with
    /// [`StoreErrorKind::Timeout`](satchel_store_core::StoreErrorKind::Timeout)
    /// (`None`: no limit).
    #[must_use]
    pub fn with_response_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How many times to retry opening a connection (with exponential backoff from 100 ms)
    /// before an operation fails with
    /// [`StoreErrorKind::Unavailable`](satchel_store_core::StoreErrorKind::Unavailable). This
    /// bounds how long `connect` and operations wait while the server is down.
    #[must_use]
    pub fn with_reconnect_attempts(mut self, attempts: usize) -> Self {
        self.reconnect_attempts = attempts;
        self
    }

    /// The server URL (the first seed node for a cluster), password included: do not log
    /// it; `{:?}` on the config hides the password.
    pub fn url(&self) -> &str {
        self.urls.first().map_or("", String::as_str)
    }

    /// The connection timeout.
    pub fn connection_timeout(&self) -> Option<Duration> {
        self.connection_timeout
    }

    /// The response timeout.
    pub fn response_timeout(&self) -> Option<Duration> {
        self.response_timeout
    }

    /// The number of reconnection attempts.
    pub fn reconnect_attempts(&self) -> usize {
        self.reconnect_attempts
    }

    /// Acknowledges a write only once `replicas` replicas have it (Redis `WAIT`, after
    /// every `set`, `delete`, `delete_if`, `touch` and `delete_owner`), waiting at most
    /// `timeout`; fewer in time is
    /// [`StoreErrorKind::Unavailable`](satchel_store_core::StoreErrorKind::Unavailable): the
    /// write is on the primary but may be lost if it fails over now. Redis replicates
    /// asynchronously, so without this a failover can lose the writes of the last moments
    /// before it (`docs/stores.md` says how many, measured). Costs one round trip a write.
    /// Keep the response timeout above `timeout`. Not offered on a cluster connection
    /// (`connect` refuses it there).
    #[must_use]
    pub fn with_replica_acks(mut self, replicas: u32, timeout: Duration) -> Self {
        self.replica_acks = (replicas > 0).then_some((replicas, timeout));
        self
    }

    /// The replicas every write waits for, and for how long (see
    /// [`RedisConfig::with_replica_acks`]).
    pub fn replica_acks(&self) -> Option<(u32, Duration)> {
        self.replica_acks
    }

    /// Lets [`Watch::watch`](satchel_store_core::Watch::watch) turn on the server's keyspace
    /// notifications when they lack the classes it needs (`CONFIG SET
    /// notify-keyspace-events`, adding `K$gxe` to the classes already set). Off by default:
    /// the setting is the server's, for every client and database (and it is not written to
    /// its config file, so a restarted server loses it), so `watch` then fails, naming the
    /// `CONFIG SET` to run, rather than change it.
    ///
    /// A `redis://` URL can say the same with the query parameter `keyspaceEvents=enable`
    /// (what `satchel serve --store 'redis://…?keyspaceEvents=enable'` uses).
    #[must_use]
    pub fn with_keyspace_events_enabled(mut self, yes: bool) -> Self {
        self.keyspace_events = yes;
        self
    }

    /// Whether [`RedisConfig::with_keyspace_events_enabled`] is on.
    pub fn keyspace_events_enabled(&self) -> bool {
        self.keyspace_events
    }

    /// The URLs with passwords replaced by `***`, joined by commas: for messages.
    pub(crate) fn redacted_urls(&self) -> String {
        self.urls
            .iter()
            .map(|u| redact_url(u))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The config with a `redis-cluster://` URL expanded into the cluster's seed nodes.
    pub(crate) fn resolved(self) -> satchel_store_core::Result<Self> {
        let [url] = self.urls.as_slice() else {
            return Ok(self);
        };
        match urls::target(url)? {
            urls::Target::Single(_) => {
                let (url, enable) = urls::take_keyspace_events(url)?;
                let mut config = self;
                config.urls = vec![url];
                config.keyspace_events |= enable;
                Ok(config)
            }
            urls::Target::Sentinel(target) => {
                let mut config = self;
                config.sentinel = Some(target);
                Ok(config)
            }
            #[cfg(feature = "cluster")]
            urls::Target::Cluster(seeds) => {
                let mut config = self;
                config.urls = seeds;
                config.cluster = true;
                Ok(config)
            }
            #[cfg(not(feature = "cluster"))]
            urls::Target::Cluster(_) => Err(StoreError::new(
                StoreErrorKind::InvalidInput,
                format!(
                    "{}: Redis Cluster URLs need the `cluster` cargo feature of satchel-redis",
                    self.redacted_urls()
                ),
            )
            .with_backend(crate::error::BACKEND)),
        }
    }

    pub(crate) fn is_cluster(&self) -> bool {
        #[cfg(feature = "cluster")]
        {
            self.cluster
        }
        #[cfg(not(feature = "cluster"))]
        {
            false
        }
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urls: Vec<String> = self.urls.iter().map(|u| redact_url(u)).collect();
        let mut d = f.debug_struct("RedisConfig");
        if self.is_cluster() {
            d.field("cluster_urls", &urls);
        } else {
            d.field("url", &urls.first().map_or("", String::as_str));
        }
        d.field("connection_timeout", &self.connection_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("reconnect_attempts", &self.reconnect_attempts)
            .field("replica_acks", &self.replica_acks)
            .field("keyspace_events", &self.keyspace_events)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_can_allow_turning_on_keyspace_events() {
        let config = RedisConfig::new("redis://:pw@127.0.0.1:6379/2?keyspaceEvents=enable")
            .resolved()
            .unwrap();
        assert!(config.keyspace_events_enabled());
        assert_eq!(config.url(), "redis://:pw@127.0.0.1:6379/2");
        let config = RedisConfig::new("redis://127.0.0.1/?protocol=resp3&keyspaceEvents=enable")
            .resolved()
            .unwrap();
        assert_eq!(config.url(), "redis://127.0.0.1/?protocol=resp3");
        let plain = RedisConfig::new("redis://127.0.0.1/").resolved().unwrap();
        assert!(!plain.keyspace_events_enabled());
        let err = RedisConfig::new("redis://:pw@h/?keyspaceEvents=yes")
            .resolved()
            .unwrap_err();
        assert!(err.to_string().contains("keyspaceEvents"), "{err}");
        assert!(!err.to_string().contains("pw"), "{err}");
    }

    #[test]
    fn debug_hides_the_password() {
        let config = RedisConfig::new("redis://user:secretpw@127.0.0.1:1/");
        let debug = format!("{config:?}");
        assert!(!debug.contains("secretpw"), "{debug}");
        assert!(debug.contains("redis://user:***@127.0.0.1:1/"), "{debug}");
        assert_eq!(config.url(), "redis://user:secretpw@127.0.0.1:1/");
    }
}
