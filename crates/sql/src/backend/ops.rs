//! The statements of each operation.

use super::*;

impl Inner {
    /// Reads the server's `max_allowed_packet` (MySQL/MariaDB), so a value over it is
    /// refused before it is sent, as invalid input naming the limit (0.1 sent it, the server
    /// closed the connection, and the error said the database could not be reached).
    pub(super) async fn read_max_packet(&self) -> Result<()> {
        #[cfg(feature = "mysql")]
        #[allow(irrefutable_let_patterns)] // with only the mysql feature, there is one pool
        if let Pool::MySql(p) = &self.pool {
            let max: i64 = sqlx::query_scalar("SELECT CAST(@@max_allowed_packet AS SIGNED)")
                .fetch_one(p)
                .await
                .map_err(|e| self.err(e, Op::Schema))?;
            self.max_packet.store(
                usize::try_from(max).unwrap_or(usize::MAX),
                std::sync::atomic::Ordering::Relaxed,
            );
        }
        Ok(())
    }

    pub(super) async fn create_schema(&self) -> Result<()> {
        self.run_schema(std::iter::once(&self.sql.create_table).chain(&self.sql.create_index))
            .await?;
        self.add_owner_column().await
    }

    /// Runs schema statements that may race with another process running them.
    pub(super) async fn run_schema(&self, statements: impl Iterator<Item = &String>) -> Result<()> {
        for sql in statements {
            let result = with_pool!(&self.pool, p => {
                self.retry(true, || async move { sqlx::query(sql).execute(p).await.map(drop) })
                    .await
            });
            match result {
                Ok(_) => {}
                // Two processes creating the same table at once: PostgreSQL's catalog
                // refuses the second, and the table is there.
                Err(e) if error::is_unique_violation(&e) => {}
                Err(e) => {
                    return Err(self.err(e, Op::Schema).with_key(self.table.clone()));
                }
            }
        }
        Ok(())
    }

    pub(super) async fn get(&self, key: &str) -> Result<Option<Entry>> {
        check_key(key)?;
        let now = now_millis();
        let sql = self.sql.get.as_str();
        let row = with_pool!(&self.pool, p => {
            self.retry(true, || async move {
                sqlx::query_as::<_, (Vec<u8>, i64, Option<i64>)>(sql)
                    .bind(key)
                    .bind(now)
                    .fetch_optional(p)
                    .await
            })
            .await
        })
        .map_err(|e| self.err(e, Op::Get).with_key(key))?;
        match row {
            Some((value, version, expires_at)) => Ok(Some(Entry::new(
                value,
                self.version(key, version)?,
                expires_at.map(from_unix_millis),
            ))),
            None => Ok(None),
        }
    }

    pub(super) async fn set(
        &self,
        key: &str,
        value: &[u8],
        ttl: Option<Duration>,
        condition: Condition,
        owner: Option<&str>,
    ) -> Result<Version> {
        check_write(key, ttl)?;
        if let Some(owner) = owner {
            satchel_store_core::check_owner(owner)?;
        }
        #[cfg(feature = "mysql")]
        if self.dialect == Dialect::MySql
            && key.chars().count() > crate::dialect::MYSQL_MAX_KEY_CHARS
        {
            return Err(error::key_too_long(
                key,
                crate::dialect::MYSQL_MAX_KEY_CHARS,
                self.dialect,
            ));
        }
        let max_packet = self.max_packet.load(std::sync::atomic::Ordering::Relaxed);
        if max_packet > 0 && value.len().saturating_add(key.len()).saturating_add(1024) > max_packet
        {
            return Err(error::value_over_packet(
                key,
                value.len(),
                max_packet,
                self.dialect,
            ));
        }
        let now = now_millis();
        let write = Write {
            key,
            value,
            expires_at: ttl.map(|ttl| expiry(now, ttl)),
            owner,
            stamp: next_stamp(),
            now,
        };
        let if_absent = match condition {
            Condition::IfVersion(expected) => return self.set_if_version(write, expected).await,
            Condition::IfAbsent => true,
            Condition::Always => false,
            _ => return Err(unknown_condition(key, condition, self.dialect.name())),
        };
        let conflict = || error::conflict(key, condition, self.dialect);
        let fail = |e: sqlx::Error| {
            if if_absent && error::is_unique_violation(&e) {
                conflict()
            } else {
                self.err(e, Op::Set).with_key(key)
            }
        };

        // SQLite and PostgreSQL: one upsert statement that returns the new version, or no
        // row when if-absent finds a live value.
        #[cfg(any(feature = "sqlite", feature = "postgres"))]
        macro_rules! upsert {
            ($p:expr) => {{
                let sql = if if_absent {
                    self.sql.insert_if_absent.as_str()
                } else {
                    self.sql.upsert.as_str()
                };
                self.retry(!if_absent, || async move {
                    let query = sqlx::query_scalar::<_, i64>(sql)
                        .bind(write.key)
                        .bind(write.value)
                        .bind(write.stamp)
                        .bind(write.expires_at)
                        .bind(write.owner);
                    let query = if if_absent {
                        query.bind(write.now)
                    } else {
                        query
                    };
                    query.fetch_optional($p).await
                })
                .await
            }};
        }
        let version = match &self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(p) => upsert!(p),
            #[cfg(feature = "postgres")]
            Pool::Postgres(p) => upsert!(p),
            #[cfg(feature = "mysql")]
            Pool::MySql(p) => self.mysql_set(p, write, if_absent).await,
        }
        .map_err(fail)?;
        match version {
            Some(version) => self.version(key, version),
            None => Err(conflict()),
        }
    }

    /// Compare-and-set: one `UPDATE` of the live row at `expected`, on every database.
    pub(super) async fn set_if_version(
        &self,
        write: Write<'_>,
        expected: Version,
    ) -> Result<Version> {
        let Write {
            key,
            value,
            expires_at,
            owner,
            stamp,
            now,
        } = write;
        let condition = Condition::IfVersion(expected);
        // A version above i64::MAX was never handed out: nothing can match it.
        let Ok(expected) = i64::try_from(expected.get()) else {
            return Err(error::conflict(key, condition, self.dialect));
        };
        let version = stamp.max(expected.saturating_add(1));
        let sql = self.sql.update_if_version.as_str();
        let updated = with_pool!(&self.pool, p => {
            self.retry(false, || async move {
                sqlx::query(sql)
                    .bind(value)
                    .bind(version)
                    .bind(expires_at)
                    .bind(owner)
                    .bind(key)
                    .bind(expected)
                    .bind(now)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected())
            })
            .await
        })
        .map_err(|e| self.err(e, Op::Set).with_key(key))?;
        if updated == 1 {
            self.version(key, version)
        } else {
            Err(error::conflict(key, condition, self.dialect))
        }
    }

    /// MySQL has no `RETURNING`: lock the row, decide, write, commit; rerun on deadlock or
    /// a lost insert race, with jittered backoff, for as long as [`BUSY_RETRY_FOR`] allows.
    /// `Ok(None)` is a lost if-absent.
    #[cfg(feature = "mysql")]
    pub(super) async fn mysql_set(
        &self,
        pool: &sqlx::MySqlPool,
        write: Write<'_>,
        if_absent: bool,
    ) -> Result<Option<i64>, sqlx::Error> {
        let Write {
            key,
            value,
            expires_at,
            owner,
            stamp,
            now,
        } = write;
        let busy_until = Instant::now() + BUSY_RETRY_FOR;
        let backoff = busy_backoff();
        let mut lost = 0;
        let mut reconnected = false;
        loop {
            let result: Result<Option<i64>, sqlx::Error> = async {
                let mut tx = pool.begin().await?;
                let row = sqlx::query_as::<_, (i64, Option<i64>)>(&self.sql.select_for_update)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?;
                let version = match row {
                    Some((_, expires)) if if_absent && expires.is_none_or(|t| t > now) => {
                        tx.rollback().await?;
                        return Ok(None);
                    }
                    Some((old, _)) => {
                        let version = stamp.max(old.saturating_add(1));
                        sqlx::query(&self.sql.replace)
                            .bind(value)
                            .bind(version)
                            .bind(expires_at)
                            .bind(owner)
                            .bind(key)
                            .execute(&mut *tx)
                            .await?;
                        version
                    }
                    None => {
                        // A concurrent insert of the same key makes this fail (duplicate
                        // key or deadlock); the rerun then finds and locks its row.
                        sqlx::query(&self.sql.insert)
                            .bind(key)
                            .bind(value)
                            .bind(stamp)
                            .bind(expires_at)
                            .bind(owner)
                            .execute(&mut *tx)
                            .await?;
                        stamp
                    }
                };
                tx.commit().await?;
                Ok(Some(version))
            }
            .await;
            match result {
                Err(e)
                    if Instant::now() < busy_until
                        && (error::is_deadlock(&e) || error::is_unique_violation(&e)) =>
                {
                    tracing::debug!(
                        backend = "mysql",
                        error = %e,
                        "write transaction lost a race; rerunning"
                    );
                    // Writers that collided spread out instead of colliding again (under
                    // load a fixed number of immediate reruns was not enough).
                    lost += 1;
                    tokio::time::sleep(backoff.pause(lost)).await;
                }
                Err(e)
                    if !if_absent
                        && !reconnected
                        && error::is_connection_lost(&e, self.dialect) =>
                {
                    reconnected = true;
                }
                other => return other,
            }
        }
    }

    pub(super) async fn delete(&self, key: &str) -> Result<bool> {
        check_key(key)?;
        let now = now_millis();
        let (live, expired) = (
            self.sql.delete_live.as_str(),
            self.sql.delete_expired_key.as_str(),
        );
        let deleted = with_pool!(&self.pool, p => {
            async {
                let deleted = self
                    .retry(false, || async move {
                        sqlx::query(live)
                            .bind(key)
                            .bind(now)
                            .execute(p)
                            .await
                            .map(|r| r.rows_affected())
                    })
                    .await?;
                if deleted == 0 {
                    // An expired row is invisible already; remove it as the memory store
                    // does.
                    self.retry(true, || async move {
                        sqlx::query(expired).bind(key).bind(now).execute(p).await.map(drop)
                    })
                    .await?;
                }
                Ok::<_, sqlx::Error>(deleted)
            }
            .await
        })
        .map_err(|e| self.err(e, Op::Delete).with_key(key))?;
        Ok(deleted > 0)
    }

    /// Compare-and-delete: one `DELETE` of the live row at `version`. Not retried after
    /// an ambiguous failure (a lost reply would turn `true` into `false`).
    pub(super) async fn delete_if(&self, key: &str, version: Version) -> Result<bool> {
        check_key(key)?;
        // No stored version is above i64::MAX, so such a version matches nothing.
        let Ok(version) = i64::try_from(version.get()) else {
            return Ok(false);
        };
        let now = now_millis();
        let sql = self.sql.delete_if_version.as_str();
        let deleted = with_pool!(&self.pool, p => {
            self.retry(false, || async move {
                sqlx::query(sql)
                    .bind(key)
                    .bind(version)
                    .bind(now)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected())
            })
            .await
        })
        .map_err(|e| self.err(e, Op::Delete).with_key(key))?;
        Ok(deleted > 0)
    }

    pub(super) async fn touch(&self, key: &str, ttl: Duration) -> Result<bool> {
        check_write(key, Some(ttl))?;
        let now = now_millis();
        let expires_at = expiry(now, ttl);
        let sql = self.sql.touch.as_str();
        let touched = with_pool!(&self.pool, p => {
            self.retry(true, || async move {
                sqlx::query(sql)
                    .bind(expires_at)
                    .bind(key)
                    .bind(now)
                    .execute(p)
                    .await
                    .map(|r| r.rows_affected())
            })
            .await
        })
        .map_err(|e| self.err(e, Op::Touch).with_key(key))?;
        Ok(touched > 0)
    }

    /// One page of keys after `after` (exclusive; `""` from the start), in key order:
    /// keyset pagination, so a key is never on two pages.
    pub(super) async fn scan_page(
        &self,
        prefix: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<String>> {
        satchel_store_core::check_page(prefix, limit)?;
        let now = now_millis();
        let pattern = like_prefix(prefix);
        let pattern = pattern.as_str();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = self.sql.scan.as_str();
        // Where LIKE ignores case, the prefix is also compared exactly.
        let exact = self.dialect.like_ignores_case().then(|| {
            (
                i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX),
                prefix,
            )
        });
        let keys = with_pool!(&self.pool, p => {
            self.retry(true, || async move {
                let query = sqlx::query_scalar::<_, String>(sql).bind(pattern).bind(now);
                let query = match exact {
                    Some((chars, prefix)) => query.bind(chars).bind(prefix),
                    None => query,
                };
                query.bind(after).bind(limit).fetch_all(p).await
            })
            .await
        });
        keys.map_err(|e| self.err(e, Op::Scan))
    }

    /// Two statements: the live rows under `prefix` (counted), then the expired ones.
    /// Neither is retried after an ambiguous failure (a lost reply would turn the count
    /// into 0); calling again deletes what is left.
    pub(super) async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        satchel_store_core::check_prefix(prefix)?;
        let now = now_millis();
        let pattern = like_prefix(prefix);
        let pattern = pattern.as_str();
        let exact = self.dialect.like_ignores_case().then(|| {
            (
                i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX),
                prefix,
            )
        });
        let (live, expired) = (
            self.sql.delete_prefix_live.as_str(),
            self.sql.delete_prefix_expired.as_str(),
        );
        with_pool!(&self.pool, p => {
            async {
                let mut deleted = 0;
                for (sql, counted) in [(live, true), (expired, false)] {
                    let n = self
                        .retry(false, || async move {
                            let query = sqlx::query(sql).bind(pattern);
                            let query = match exact {
                                Some((chars, prefix)) => query.bind(chars).bind(prefix),
                                None => query,
                            };
                            query.bind(now).execute(p).await.map(|r| r.rows_affected())
                        })
                        .await?;
                    if counted {
                        deleted = n;
                    }
                }
                Ok::<_, sqlx::Error>(deleted)
            }
            .await
        })
        .map_err(|e| self.err(e, Op::DeletePrefix))
    }

    pub(super) async fn purge(&self) -> Result<u64> {
        let now = now_millis();
        let sql = self.sql.purge.as_str();
        with_pool!(&self.pool, p => {
            self.retry(true, || async move {
                sqlx::query(sql).bind(now).execute(p).await.map(|r| r.rows_affected())
            })
            .await
        })
        .map_err(|e| self.err(e, Op::Purge))
    }
}
