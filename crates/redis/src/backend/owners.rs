//! Owner tags on Redis ([`OwnedKeys`]): the owner in the key's hash (field `o`) and the key
//! in the owner's SET ([`scripts::owner_set`]), both written by the script of the write;
//! listing and deleting an owner's keys are scripts over that set. Outside a cluster only:
//! in a cluster the set and its keys live in different slots, which one script cannot touch.

use std::collections::HashSet;
use std::time::Duration;

use redis::Value;
use satchel_store_core::{
    BoxFuture, Condition, Cursor, OwnedKeys, Page, Result, Scan, StoreObject, Version, check_owner,
    unsupported,
};

use super::{Conn, RedisStore, parse_version};
use crate::error::{BACKEND, Op, bad_reply};
use crate::scripts;

/// How many members of an owner's set one `keys_of` script looks at (an `SSCAN` count).
const KEYS_OF_PAGE: usize = 500;

impl RedisStore {
    /// Whether this connection keeps owner sets: a single server, not a cluster.
    pub(super) fn keeps_owner_sets(&self) -> bool {
        match self.conn {
            Conn::Single(_) | Conn::Sentinel(_) => true,
            #[cfg(feature = "cluster")]
            Conn::Cluster(_) => false,
        }
    }

    /// What the write scripts get as the namespace of owner sets: empty in a cluster, where
    /// they never touch a set.
    pub(super) fn owner_sets(&self) -> &'static str {
        if self.keeps_owner_sets() {
            scripts::OWNER_SETS
        } else {
            ""
        }
    }

    fn owners_refused(&self, what: &str) -> Result<()> {
        if self.keeps_owner_sets() {
            Ok(())
        } else {
            Err(unsupported(BACKEND, what))
        }
    }

    async fn write_owned(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        condition: Condition,
        owner: Option<&str>,
    ) -> Result<Version> {
        self.owners_refused("tag keys with owners in a Redis Cluster")?;
        if let Some(owner) = owner {
            check_owner(owner)?;
        }
        self.set_value(key, value, ttl, condition, owner).await
    }

    /// Pages through the owner's set, one script per page; each page prunes its stale
    /// members. Memory is bounded by the live keys returned (plus one page).
    async fn owner_keys(&self, owner: &str) -> Result<Vec<String>> {
        self.owners_refused("list the keys of an owner in a Redis Cluster")?;
        check_owner(owner)?;
        let set = scripts::owner_set(owner);
        let (mut keys, mut seen) = (Vec::new(), HashSet::new());
        let mut cursor = String::from("0");
        loop {
            let reply: Value = self
                .run(Op::KeysOf, None, true, |mut conn| {
                    let (set, cursor) = (&set, &cursor);
                    async move {
                        scripts::KEYS_OF
                            .key(set)
                            .arg(owner)
                            .arg(cursor)
                            .arg(KEYS_OF_PAGE)
                            .invoke_async(&mut conn)
                            .await
                    }
                })
                .await?;
            let (next, page) = parse_keys_of(reply)?;
            for key in page {
                if seen.insert(key.clone()) {
                    keys.push(key);
                }
            }
            if next == "0" {
                return Ok(keys);
            }
            cursor = next;
        }
    }

    /// One script: every live key tagged with `owner`, and its set, deleted. Not retried
    /// after an ambiguous failure (a lost reply would turn the count into 0).
    async fn delete_owner_keys(&self, owner: &str) -> Result<u64> {
        self.owners_refused("delete the keys of an owner in a Redis Cluster")?;
        check_owner(owner)?;
        let set = scripts::owner_set(owner);
        let deleted: i64 = self
            .run(Op::DeleteOwner, None, false, |mut conn| {
                let set = &set;
                async move {
                    scripts::DELETE_OWNER
                        .key(set)
                        .arg(owner)
                        .invoke_async(&mut conn)
                        .await
                }
            })
            .await?;
        self.replicated(Op::DeleteOwner, None).await?;
        u64::try_from(deleted).map_err(|_| bad_reply(Op::DeleteOwner, "a negative count"))
    }
}

/// The reply of [`scripts::KEYS_OF`]: the next cursor and the page's live keys.
fn parse_keys_of(reply: Value) -> Result<(String, Vec<String>)> {
    let bad = |what| bad_reply(Op::KeysOf, what);
    let Value::Array(items) = reply else {
        return Err(bad("not an array"));
    };
    let mut items = items.into_iter();
    let cursor = items
        .next()
        .as_ref()
        .and_then(parse_version)
        .ok_or_else(|| bad("the cursor is not a number"))?;
    let keys = items
        .map(|key| match key {
            Value::BulkString(key) => String::from_utf8(key).map_err(|_| bad("a key is not UTF-8")),
            _ => Err(bad("a key is not a string")),
        })
        .collect::<Result<_>>()?;
    Ok((cursor.to_string(), keys))
}

/// Tagged writes are the store's own `set` script with the owner added; `keys_of` and
/// `delete_owner` are scripts over the owner's set. Refused with
/// [`StoreErrorKind::Unsupported`](satchel_store_core::StoreErrorKind::Unsupported) on a
/// cluster connection, where [`Store::capabilities`](satchel_store_core::Store::capabilities)
/// does not report them.
impl OwnedKeys for RedisStore {
    fn set_owned<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Version>> {
        Box::pin(self.write_owned(key, value, ttl, condition, owner))
    }

    fn keys_of<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(self.owner_keys(owner))
    }

    fn delete_owner<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(self.delete_owner_keys(owner))
    }
}

/// Scans always; owner tags only where the connection keeps owner sets (not a cluster),
/// as [`Store::capabilities`](satchel_store_core::Store::capabilities) reports.
impl StoreObject for RedisStore {
    fn try_scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> Option<BoxFuture<'a, Result<Page>>> {
        Some(self.scan_page(prefix, cursor, limit))
    }

    fn try_scan<'a>(
        &'a self,
        prefix: &'a str,
        limit: usize,
    ) -> Option<BoxFuture<'a, Result<Vec<String>>>> {
        Some(self.scan(prefix, limit))
    }

    fn try_purge_expired(&self) -> Option<BoxFuture<'_, Result<u64>>> {
        None
    }

    fn try_set_owned<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
        owner: Option<&'a str>,
    ) -> Option<BoxFuture<'a, Result<Version>>> {
        self.keeps_owner_sets()
            .then(|| self.set_owned(key, value, ttl, condition, owner))
    }

    fn try_keys_of<'a>(&'a self, owner: &'a str) -> Option<BoxFuture<'a, Result<Vec<String>>>> {
        self.keeps_owner_sets().then(|| self.keys_of(owner))
    }

    fn try_delete_owner<'a>(&'a self, owner: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
        self.keeps_owner_sets().then(|| self.delete_owner(owner))
    }

    fn try_watch<'a>(
        &'a self,
        prefix: &'a str,
    ) -> Option<BoxFuture<'a, Result<satchel_store_core::ChangeStream>>> {
        self.feed
            .is_some()
            .then(|| satchel_store_core::Watch::watch(self, prefix))
    }

    fn try_delete_prefix<'a>(&'a self, prefix: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
        Some(satchel_store_core::Scan::delete_prefix(self, prefix))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use satchel_store_core::StoreErrorKind;

    #[test]
    fn keys_of_replies_parse() {
        let reply = Value::Array(vec![
            Value::BulkString(b"17".to_vec()),
            Value::BulkString(b"a".to_vec()),
            Value::BulkString(b"b".to_vec()),
        ]);
        let (cursor, keys) = parse_keys_of(reply).unwrap();
        assert_eq!(
            (cursor.as_str(), keys),
            ("17", vec!["a".into(), "b".into()])
        );
        for bad in [
            Value::Int(1),
            Value::Array(vec![]),
            Value::Array(vec![Value::BulkString(b"x".to_vec())]),
            Value::Array(vec![Value::BulkString(b"0".to_vec()), Value::Int(3)]),
            Value::Array(vec![
                Value::BulkString(b"0".to_vec()),
                Value::BulkString(vec![0xff]),
            ]),
        ] {
            let e = parse_keys_of(bad).unwrap_err();
            assert_eq!(e.kind(), StoreErrorKind::Backend, "{e}");
        }
    }

    #[test]
    fn scans_skip_owner_sets() {
        assert_eq!(
            super::super::listed_key(b"k".to_vec()).as_deref(),
            Some("k")
        );
        let set = scripts::owner_set("ann").into_bytes();
        assert_eq!(super::super::listed_key(set), None);
        assert_eq!(super::super::listed_key(vec![0xff]), None);
    }
}
