//! Owner tags ([`OwnedKeys`]): the nullable, indexed `owner` column, added to tables of 0.1
//! when a store connects; an owner's keys listed and deleted in one statement each.

use satchel_store_core::{OwnedKeys, check_owner};

use super::*;

impl Inner {
    /// Adds the `owner` column (and its index) to a table created before it existed: the
    /// table is upgraded in place, its rows kept (untagged). Two processes upgrading at once
    /// are fine: a failed `ALTER` is an error only if the column is still missing after it.
    pub(super) async fn add_owner_column(&self) -> Result<()> {
        if !self.has_owner_column().await? {
            let sql = self.sql.add_owner_column.as_str();
            let added = with_pool!(&self.pool, p => {
                self.retry(true, || async move { sqlx::query(sql).execute(p).await.map(drop) })
                    .await
            });
            if let Err(e) = added
                && !self.has_owner_column().await?
            {
                return Err(self.err(e, Op::Schema).with_key(self.table.clone()));
            }
            tracing::info!(backend = self.dialect.name(), table = %self.table,
                "added the owner column to a table of satchel 0.1");
        }
        self.run_schema(self.sql.create_owner_index.iter()).await
    }

    async fn has_owner_column(&self) -> Result<bool> {
        let sql = self.sql.has_owner_column.as_str();
        let table = self.table.as_str();
        let count = with_pool!(&self.pool, p => {
            self.retry(true, || async move {
                sqlx::query_scalar::<_, i64>(sql).bind(table).fetch_one(p).await
            })
            .await
        })
        .map_err(|e| self.err(e, Op::Schema).with_key(self.table.clone()))?;
        Ok(count > 0)
    }

    pub(super) async fn keys_of(&self, owner: &str) -> Result<Vec<String>> {
        check_owner(owner)?;
        let now = now_millis();
        let sql = self.sql.keys_of.as_str();
        with_pool!(&self.pool, p => {
            self.retry(true, || async move {
                sqlx::query_scalar::<_, String>(sql).bind(owner).bind(now).fetch_all(p).await
            })
            .await
        })
        .map_err(|e| self.err(e, Op::KeysOf))
    }

    /// One `DELETE` of the owner's live rows (expired ones are invisible already, and go
    /// with the next purge). Not retried after an ambiguous failure.
    pub(super) async fn delete_owner(&self, owner: &str) -> Result<u64> {
        check_owner(owner)?;
        let now = now_millis();
        let sql = self.sql.delete_owner.as_str();
        with_pool!(&self.pool, p => {
            self.retry(false, || async move {
                sqlx::query(sql)
                    .bind(owner)
                    .bind(now)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected())
            })
            .await
        })
        .map_err(|e| self.err(e, Op::DeleteOwner))
    }
}

/// The owner is a column of the key's row: `set_owned` writes it in the same statement
/// (or MySQL transaction) as the value, `delete_owner` is one `DELETE … WHERE owner = ?`.
impl OwnedKeys for SqlStore {
    fn set_owned<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
        owner: Option<&'a str>,
    ) -> BoxFuture<'a, Result<Version>> {
        Box::pin(async move {
            let version = self
                .inner
                .timed(
                    Some(key),
                    true,
                    self.inner.set(key, value, ttl, condition, owner),
                )
                .await?;
            self.inner.after_write().await;
            Ok(version)
        })
    }

    fn keys_of<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(self.inner.timed(None, false, self.inner.keys_of(owner)))
    }

    fn delete_owner<'a>(&'a self, owner: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let deleted = self
                .inner
                .timed(None, true, self.inner.delete_owner(owner))
                .await?;
            self.inner.after_write().await;
            Ok(deleted)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table satchel 0.1 created, without the owner column, holding one row.
    fn old_table(dialect: Dialect, table: &str) -> Vec<String> {
        let create = match dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => format!(
                "CREATE TABLE \"{table}\" (\"key\" TEXT NOT NULL PRIMARY KEY, \
                 value BLOB NOT NULL, version BIGINT NOT NULL, expires_at BIGINT)"
            ),
            #[cfg(feature = "postgres")]
            Dialect::Postgres => format!(
                "CREATE TABLE \"{table}\" (\"key\" TEXT COLLATE \"C\" PRIMARY KEY, \
                 value BYTEA NOT NULL, version BIGINT NOT NULL, expires_at BIGINT)"
            ),
            #[cfg(feature = "mysql")]
            Dialect::MySql => format!(
                "CREATE TABLE `{table}` (`key` VARBINARY(1020) NOT NULL PRIMARY KEY, \
                 value LONGBLOB NOT NULL, version BIGINT NOT NULL, expires_at BIGINT NULL, \
                 INDEX expires_at_idx (expires_at)) ENGINE=InnoDB"
            ),
        };
        let q = if dialect.name() == "mysql" { '`' } else { '"' };
        vec![
            format!("DROP TABLE {q}{table}{q}"),
            create,
            format!(
                "INSERT INTO {q}{table}{q} ({q}key{q}, value, version, expires_at) \
                 VALUES ('old', 'kept', 1, NULL)"
            ),
        ]
    }

    async fn run(store: &SqlStore, statements: &[String]) {
        for sql in statements {
            with_pool!(&store.inner.pool, p => sqlx::query(sql).execute(p).await.map(drop))
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }

    fn urls() -> Vec<String> {
        let mut urls = Vec::new();
        #[cfg(feature = "sqlite")]
        urls.push(format!(
            "sqlite://{}",
            std::env::temp_dir()
                .join(format!("satchel_upgrade_{}.db", std::process::id()))
                .display()
        ));
        for var in ["SATCHEL_TEST_POSTGRES_URL", "SATCHEL_TEST_MYSQL_URL"] {
            match std::env::var(var) {
                Ok(url) if !url.is_empty() => urls.push(url),
                _ => assert!(
                    std::env::var("SATCHEL_REQUIRE_SERVICES").as_deref() != Ok("1"),
                    "{var} is not set, and SATCHEL_REQUIRE_SERVICES=1 requires it"
                ),
            }
        }
        urls
    }

    /// A table of 0.1 has no owner column: connecting adds it (and its index) in place,
    /// keeping the rows, and two stores connecting at once both succeed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_table_without_the_owner_column_is_upgraded_in_place() {
        for url in urls() {
            if (url.starts_with("postgres") && !cfg!(feature = "postgres"))
                || (url.starts_with("mysql") && !cfg!(feature = "mysql"))
            {
                continue;
            }
            let nanos = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() % 1_000_000_000);
            let table = format!("satchel_upgrade_{}_{nanos}", std::process::id());
            let config = || SqlConfig::new(url.clone()).with_table(table.clone());
            let first = SqlStore::with_config(config()).await.unwrap();
            let name = first.backend();
            run(&first, &old_table(first.inner.dialect, &table)).await;
            assert!(!first.inner.has_owner_column().await.unwrap(), "{name}");

            let (a, b) = tokio::join!(
                SqlStore::with_config(config()),
                SqlStore::with_config(config())
            );
            let (store, _) = (a.unwrap(), b.unwrap());
            assert!(store.inner.has_owner_column().await.unwrap(), "{name}");
            let old = store
                .get("old")
                .await
                .unwrap()
                .expect("the old row is kept");
            assert_eq!(old.value, b"kept", "{name}");
            assert!(store.keys_of("ann").await.unwrap().is_empty(), "{name}");
            store
                .set_owned("new", b"v", None, Condition::Always, Some("ann"))
                .await
                .unwrap();
            assert_eq!(store.keys_of("ann").await.unwrap(), ["new"], "{name}");
            assert_eq!(store.delete_owner("ann").await.unwrap(), 1, "{name}");
            assert!(store.get("old").await.unwrap().is_some(), "{name}");
            // Connecting again changes nothing.
            SqlStore::with_config(config()).await.unwrap();
            let q = if name == "mysql" { '`' } else { '"' };
            run(&store, &[format!("DROP TABLE {q}{table}{q}")]).await;
        }
        #[cfg(feature = "sqlite")]
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(
                std::env::temp_dir()
                    .join(format!("satchel_upgrade_{}.db{ext}", std::process::id())),
            );
        }
    }
}
