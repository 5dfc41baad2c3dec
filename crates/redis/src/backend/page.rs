//! [`Scan::scan_page`] on Redis: `SCAN` cursors, one primary after another in a cluster.

use std::collections::HashSet;

use satchel_store_core::{
    Cursor, Page, Result, decode_base64url, encode_base64url, invalid_cursor,
};

use super::{Conn, Node, RedisStore, glob_escape, parse_scan, query_on};
use crate::error::{BACKEND, Op};
#[cfg(doc)]
use satchel_store_core::Scan;

/// The most `SCAN` round trips one page makes: a sparse prefix may give a page with fewer
/// keys than asked (even none) and a cursor to go on, rather than one call that walks the
/// whole keyspace.
const SCANS_PER_PAGE: usize = 16;

/// The `COUNT` of each `SCAN` of [`Scan::delete_prefix`], so at most about this many keys
/// go into one `UNLINK`.
const DELETE_BATCH: usize = 1000;

/// Where a listing stands: the node being scanned (`None` on a single server), its `SCAN`
/// cursor (`None` once the last node is done), and keys a `SCAN` batch returned beyond
/// the last page's limit.
///
/// As a token: `{host:port or -}|{SCAN cursor or end}|{base64url of the NUL-joined
/// leftovers}`.
#[derive(Debug, PartialEq, Eq)]
struct Position {
    node: Option<Node>,
    scan: Option<u64>,
    leftover: Vec<String>,
}

impl Position {
    fn token(&self) -> Cursor {
        let node = match &self.node {
            Some((host, port)) => format!("{host}:{port}"),
            None => "-".to_string(),
        };
        let leftover = encode_base64url(self.leftover.join("\0").as_bytes());
        let scan = self
            .scan
            .map_or_else(|| "end".to_string(), |n| n.to_string());
        Cursor::from_token(format!("{node}|{scan}|{leftover}"))
    }

    fn parse(cursor: &Cursor) -> Option<Self> {
        let mut parts = cursor.as_token().splitn(3, '|');
        let (node, scan, leftover) = (parts.next()?, parts.next()?, parts.next()?);
        let node = match node {
            "-" => None,
            address => {
                let (host, port) = address.rsplit_once(':')?;
                Some((host.to_string(), port.parse().ok()?))
            }
        };
        let leftover = String::from_utf8(decode_base64url(leftover)?).ok()?;
        let leftover = match leftover.as_str() {
            "" => Vec::new(),
            all => all.split('\0').map(str::to_string).collect(),
        };
        Some(Self {
            node,
            scan: match scan {
                "end" => None,
                n => Some(n.parse().ok()?),
            },
            leftover,
        })
    }
}

impl RedisStore {
    /// One page: `SCAN` (with `MATCH` on the escaped prefix) from the position in
    /// `cursor`, moving to the next primary when a node is done. Keys are deduplicated
    /// within the page; across pages a key can repeat, as `SCAN` itself may repeat one.
    pub(super) async fn scan_page_keys(
        &self,
        prefix: &str,
        cursor: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page> {
        satchel_store_core::check_page(prefix, limit)?;
        let mut at = match cursor {
            Some(c) => Position::parse(c).ok_or_else(|| invalid_cursor(BACKEND))?,
            None => Position {
                node: self.first_node().await?,
                scan: Some(0),
                leftover: Vec::new(),
            },
        };
        let pattern = format!("{}*", glob_escape(&self.full_key(prefix)));
        let count = limit.clamp(10, 1000);
        let mut seen = HashSet::new();
        let mut keys = Vec::new();
        let mut leftover = Vec::new();
        for key in std::mem::take(&mut at.leftover) {
            if !seen.insert(key.clone()) {
                continue;
            }
            if keys.len() < limit {
                keys.push(key);
            } else {
                leftover.push(key);
            }
        }
        let mut scans = 0;
        while let Some(scan) = at.scan {
            if !leftover.is_empty() || keys.len() >= limit || scans == SCANS_PER_PAGE {
                break;
            }
            scans += 1;
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(scan)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(count);
            let reply = self
                .run(Op::Scan, None, true, |conn| {
                    query_on(conn, &cmd, at.node.as_ref())
                })
                .await?;
            let (next, batch) = parse_scan(reply)?;
            for key in batch {
                let Some(key) = super::listed_key(key) else {
                    continue;
                };
                if !seen.insert(key.clone()) {
                    continue;
                }
                if keys.len() < limit {
                    keys.push(key);
                } else {
                    leftover.push(key);
                }
            }
            at.scan = Some(next);
            if next == 0 {
                match self.node_after(at.node.as_ref()).await? {
                    Some(node) => at.node = Some(node),
                    None => at.scan = None,
                }
            }
        }
        at.leftover = leftover;
        let next = (at.scan.is_some() || !at.leftover.is_empty()).then(|| at.token());
        Ok(Page::new(keys, next))
    }

    /// Every key under `prefix`, deleted: `SCAN` (with `MATCH`, as a listing) on each
    /// primary in turn, and one `UNLINK` of each batch it returns (split by slot in a
    /// cluster), so a call takes one round trip per batch of up to 1,000 keys, not one per
    /// key. `UNLINK` counts the keys it removed, so a key `SCAN` returns twice is counted
    /// once; the server frees the values in the background.
    pub(super) async fn delete_prefix_keys(&self, prefix: &str) -> Result<u64> {
        satchel_store_core::check_prefix(prefix)?;
        let pattern = format!("{}*", glob_escape(&self.full_key(prefix)));
        let mut node = self.first_node().await?;
        let mut deleted = 0u64;
        loop {
            let mut scan = 0u64;
            loop {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(scan)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(DELETE_BATCH);
                let reply = self
                    .run(Op::DeletePrefix, None, true, |conn| {
                        query_on(conn, &cmd, node.as_ref())
                    })
                    .await?;
                let (next, batch) = parse_scan(reply)?;
                let keys: Vec<String> = batch.into_iter().filter_map(super::listed_key).collect();
                if !keys.is_empty() {
                    let mut unlink = redis::cmd("UNLINK");
                    unlink.arg(&keys);
                    // Harmless to repeat: a second UNLINK finds the keys gone.
                    let removed: i64 = self
                        .run(Op::DeletePrefix, None, true, |mut conn| {
                            let unlink = &unlink;
                            async move { unlink.query_async(&mut conn).await }
                        })
                        .await?;
                    deleted += u64::try_from(removed).unwrap_or(0);
                }
                if next == 0 {
                    break;
                }
                scan = next;
            }
            match self.node_after(node.as_ref()).await? {
                Some(after) => node = Some(after),
                None => break,
            }
        }
        if deleted > 0 {
            self.replicated(Op::DeletePrefix, None).await?;
        }
        Ok(deleted)
    }

    /// The node a listing starts on: the first primary (by address) of a cluster, `None`
    /// on a single server.
    async fn first_node(&self) -> Result<Option<Node>> {
        match &self.conn {
            Conn::Single(_) | Conn::Sentinel(_) => Ok(None),
            #[cfg(feature = "cluster")]
            Conn::Cluster(_) => {
                let mut nodes = self.primaries().await?;
                nodes.sort();
                Ok(nodes.into_iter().next())
            }
        }
    }

    /// The primary after `node` (by address), `None` after the last one or on a single
    /// server. A node no longer among the primaries (a failover during the listing) is an
    /// error: keys could be missed, so the listing must start again.
    async fn node_after(&self, node: Option<&Node>) -> Result<Option<Node>> {
        let Some(_node) = node else {
            return Ok(None);
        };
        match &self.conn {
            Conn::Single(_) | Conn::Sentinel(_) => Ok(None),
            #[cfg(feature = "cluster")]
            Conn::Cluster(_) => {
                let mut nodes = self.primaries().await?;
                nodes.sort();
                let at = nodes.iter().position(|n| n == _node).ok_or_else(|| {
                    satchel_store_core::StoreError::new(
                        satchel_store_core::StoreErrorKind::Unavailable,
                        "the cluster's primaries changed during the listing, so keys could \
                         be missed; start the listing again",
                    )
                    .with_backend(BACKEND)
                })?;
                Ok(nodes.into_iter().nth(at + 1))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip_through_their_token() {
        let at = Position {
            node: Some(("10.0.0.1".to_string(), 7001)),
            scan: Some(42),
            leftover: vec!["a|b".to_string(), "c\nd".to_string()],
        };
        assert_eq!(Position::parse(&at.token()), Some(at));
        let single = Position {
            node: None,
            scan: None,
            leftover: Vec::new(),
        };
        assert_eq!(Position::parse(&single.token()), Some(single));
        assert_eq!(Position::parse(&Cursor::from_token("garbage")), None);
    }
}
