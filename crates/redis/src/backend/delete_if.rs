//! [`Store::delete_if`](satchel_store_core::Store::delete_if) on Redis: one Lua script.

use redis::Value;
use satchel_store_core::{Result, Version, check_key};

use super::RedisStore;
use crate::error::Op;
use crate::scripts;

impl RedisStore {
    /// Deletes `key` if its value is at `version` (a foreign string's derived version
    /// included); a key that holds no value is the same error as from `get` (one rule in
    /// every operation). Not
    /// retried after an ambiguous failure (a lost reply would turn `true` into `false`).
    pub(super) async fn delete_key_if(&self, key: &str, version: Version) -> Result<bool> {
        check_key(key)?;
        let full = self.full_key(key);
        let (hex, dec) = (
            crate::layout::version_hex(version),
            version.get().to_string(),
        );
        let reply: Value = self
            .run(Op::Delete, Some(key), false, |mut conn| {
                let (full, hex, dec) = (&full, &hex, &dec);
                async move {
                    scripts::DELETE_IF
                        .key(full)
                        .arg(hex)
                        .arg(dec)
                        .invoke_async(&mut conn)
                        .await
                }
            })
            .await?;
        let deleted = super::flag_or_not_a_value(key, Op::Delete, reply)?;
        if deleted {
            self.replicated(Op::Delete, Some(key)).await?;
        }
        Ok(deleted)
    }
}
