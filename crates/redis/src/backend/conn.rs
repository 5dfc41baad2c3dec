//! The connection under a [`RedisStore`]: one server or a cluster ([`Conn`]), and the
//! routing of commands to one node of a cluster.

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Cmd, RedisFuture, RedisResult, Value};
#[cfg(feature = "cluster")]
use satchel_store_core::Result;

#[cfg(feature = "cluster")]
use super::RedisStore;
#[cfg(feature = "cluster")]
use crate::error::{Op, bad_reply};

/// The kinds of connection: one server, one server the sentinels name, or a cluster.
#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Sentinel(std::sync::Arc<super::sentinel::Sentinel>),
    #[cfg(feature = "cluster")]
    Cluster(redis::cluster_async::ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            // The primary the sentinels named last.
            Self::Sentinel(s) => {
                let mut manager = s.current();
                Box::pin(async move { manager.req_packed_command(cmd).await })
            }
            #[cfg(feature = "cluster")]
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Sentinel(s) => {
                let mut manager = s.current();
                Box::pin(async move { manager.req_packed_commands(pipeline, offset, count).await })
            }
            #[cfg(feature = "cluster")]
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Sentinel(s) => s.db(),
            #[cfg(feature = "cluster")]
            Self::Cluster(c) => c.get_db(),
        }
    }
}

/// A cluster node, as `(host, port)`.
pub(super) type Node = (String, u16);

#[cfg(feature = "cluster")]
impl RedisStore {
    /// The addresses of the cluster's primaries.
    pub(super) async fn primaries(&self) -> Result<Vec<Node>> {
        use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo};

        let reply = self
            .run(Op::Scan, None, true, |conn| async move {
                match conn {
                    Conn::Cluster(mut c) => {
                        let routing =
                            RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                        c.route_command(redis::cmd("PING"), routing).await
                    }
                    Conn::Single(_) | Conn::Sentinel(_) => Ok(Value::Map(Vec::new())),
                }
            })
            .await?;
        let Value::Map(pairs) = reply else {
            return Err(bad_reply(Op::Scan, "the list of primaries is not a map"));
        };
        pairs
            .into_iter()
            .map(|(address, _)| {
                let Value::BulkString(address) = address else {
                    return Err(bad_reply(Op::Scan, "a primary's address is not a string"));
                };
                let address = String::from_utf8(address)
                    .map_err(|_| bad_reply(Op::Scan, "a primary's address is not UTF-8"))?;
                let (host, port) = address
                    .rsplit_once(':')
                    .and_then(|(h, p)| Some((h.to_string(), p.parse().ok()?)))
                    .ok_or_else(|| bad_reply(Op::Scan, "a primary's address is not host:port"))?;
                Ok((host, port))
            })
            .collect()
    }
}

/// Sends `cmd` on `conn`, to `node` if given (only meaningful for a cluster).
pub(super) async fn query_on(mut conn: Conn, cmd: &Cmd, node: Option<&Node>) -> RedisResult<Value> {
    #[cfg(feature = "cluster")]
    if let (Conn::Cluster(c), Some((host, port))) = (&mut conn, node) {
        use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
            host: host.clone(),
            port: *port,
        });
        return c.route_command(cmd.clone(), routing).await;
    }
    #[cfg(not(feature = "cluster"))]
    let _ = node;
    cmd.query_async(&mut conn).await
}
