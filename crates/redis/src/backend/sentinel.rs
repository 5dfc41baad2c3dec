//! Redis Sentinel: the sentinels name the current primary of a service; the store keeps one
//! multiplexed connection to it and asks the sentinels again when that primary stops
//! answering or turns read-only (it was demoted by a failover).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncConnectionConfig, ErrorKind, RedisError, RedisResult, Value};

use crate::config::SentinelTarget;
use crate::error::BACKEND;

/// The sentinels, the service, and the connection to the primary they named last.
pub(crate) struct Sentinel {
    target: SentinelTarget,
    manager_config: ConnectionManagerConfig,
    query_config: AsyncConnectionConfig,
    current: RwLock<ConnectionManager>,
    refreshing: AtomicBool,
}

impl Sentinel {
    /// Asks the sentinels for the primary and connects to it.
    pub(crate) async fn connect(
        target: SentinelTarget,
        manager_config: ConnectionManagerConfig,
        query_config: AsyncConnectionConfig,
    ) -> RedisResult<Arc<Self>> {
        let manager = primary(&target, &manager_config, &query_config).await?;
        Ok(Arc::new(Self {
            target,
            manager_config,
            query_config,
            current: RwLock::new(manager),
            refreshing: AtomicBool::new(false),
        }))
    }

    /// The primary's database.
    pub(crate) fn db(&self) -> i64 {
        self.target.db
    }

    /// The connection to the primary named last.
    pub(crate) fn current(&self) -> ConnectionManager {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Asks the sentinels again (one refresh at a time; a caller that finds one under way
    /// goes on with the connection it has) and switches to the primary they name.
    pub(crate) async fn refresh(&self) {
        if self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        match primary(&self.target, &self.manager_config, &self.query_config).await {
            Ok(manager) => {
                let mut guard = match self.current.write() {
                    Ok(guard) => guard,
                    Err(poisoned) => poisoned.into_inner(),
                };
                *guard = manager;
                tracing::info!(backend = BACKEND, service = %self.target.service, "following the primary the sentinels name");
            }
            Err(err) => {
                tracing::debug!(backend = BACKEND, %err, "the sentinels named no reachable primary yet");
            }
        }
        self.refreshing.store(false, Ordering::Release);
    }
}

/// Whether `err` says the primary may have moved: the connection dropped or was refused,
/// or the server is now a read-only replica.
pub(crate) fn primary_moved(err: &RedisError) -> bool {
    err.is_connection_dropped()
        || err.is_connection_refusal()
        || err.is_io_error()
        || err.code() == Some("READONLY")
}

/// The first primary a sentinel names that answers `ROLE` as a primary.
async fn primary(
    target: &SentinelTarget,
    manager_config: &ConnectionManagerConfig,
    query_config: &AsyncConnectionConfig,
) -> RedisResult<ConnectionManager> {
    let mut last = RedisError::from((ErrorKind::InvalidClientConfig, "no sentinel given"));
    for sentinel in &target.sentinels {
        match primary_from(target, sentinel, manager_config, query_config).await {
            Ok(manager) => return Ok(manager),
            Err(err) => last = err,
        }
    }
    Err(last)
}

async fn primary_from(
    target: &SentinelTarget,
    sentinel: &str,
    manager_config: &ConnectionManagerConfig,
    query_config: &AsyncConnectionConfig,
) -> RedisResult<ConnectionManager> {
    let mut conn = redis::Client::open(sentinel)?
        .get_multiplexed_async_connection_with_config(query_config)
        .await?;
    let addr: Option<(String, u16)> = redis::cmd("SENTINEL")
        .arg("GET-MASTER-ADDR-BY-NAME")
        .arg(&target.service)
        .query_async(&mut conn)
        .await?;
    let Some((host, port)) = addr else {
        return Err(RedisError::from((
            ErrorKind::InvalidClientConfig,
            "the sentinel knows no such service",
        )));
    };
    let client = redis::Client::open(target.node_url(&host, port))?;
    let mut manager = ConnectionManager::new_with_config(client, manager_config.clone()).await?;
    let role: Vec<Value> = redis::cmd("ROLE").query_async(&mut manager).await?;
    match role.first() {
        Some(Value::BulkString(r)) if r == b"master" => Ok(manager),
        Some(Value::SimpleString(r)) if r == "master" => Ok(manager),
        _ => Err(RedisError::from((
            ErrorKind::InvalidClientConfig,
            "the server the sentinel named is not a primary (yet)",
        ))),
    }
}
