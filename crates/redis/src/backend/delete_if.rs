//! [`Store::delete_if`](satchel_store_core::Store::delete_if) on Redis: one Lua script.

use redis::Value;
use satchel_store_core::{Result, Version, check_key};

use super::RedisStore;
use crate::error::Op;
use crate::scripts;

impl RedisStore {
    /// Deletes `key` if its satchel value is at `version`; a foreign key is the same error
    /// as from `get` (one rule for keys satchel did not write, in every operation). Not
    /// retried after an ambiguous failure (a lost reply would turn `true` into `false`).
    pub(super) async fn delete_key_if(&self, key: &str, version: Version) -> Result<bool> {
        check_key(key)?;
        let full = self.full_key(key);
        let n = version.get().to_string();
        let reply: Value = self
            .run(Op::Delete, Some(key), false, |mut conn| {
                let (full, n) = (&full, &n);
                async move {
                    scripts::DELETE_IF
                        .key(full)
                        .arg(n)
                        .invoke_async(&mut conn)
                        .await
                }
            })
            .await?;
        super::flag_or_foreign(key, Op::Delete, reply)
    }
}
