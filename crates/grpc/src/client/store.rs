//! [`GrpcStore`] as a store: [`Store`], `StoreObject`, [`Scan`] and [`PurgeExpired`], one
//! rpc each.

#[allow(unused_imports)]
use super::*;

impl Store for GrpcStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
        Box::pin(async move {
            check_key(key).map_err(|e| e.with_backend(BACKEND))?;
            let message = proto::GetRequest {
                key: key.to_string(),
            };
            let r = self
                .call(Some(key), self.client().get(self.request(message)))
                .await?;
            r.entry.map(|e| entry_from_proto(Some(e))).transpose()
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: &'a [u8],
        ttl: Option<Duration>,
        condition: Condition,
    ) -> BoxFuture<'a, Result<Version>> {
        Box::pin(async move {
            check_write(key, ttl).map_err(|e| e.with_backend(BACKEND))?;
            let condition = match condition {
                Condition::IfAbsent => Some(set_request::Condition::IfAbsent(true)),
                Condition::IfVersion(v) => Some(set_request::Condition::IfVersion(v.get())),
                Condition::Always => None,
                _ => return Err(unknown_condition(key, condition, BACKEND)),
            };
            let message = proto::SetRequest {
                key: key.to_string(),
                value: value.to_vec(),
                ttl_ms: ttl.map(millis).transpose()?,
                condition,
            };
            let r = self
                .call(Some(key), self.client().set(self.request(message)))
                .await?;
            Ok(Version::new(r.version))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            check_key(key).map_err(|e| e.with_backend(BACKEND))?;
            let message = proto::DeleteRequest {
                key: key.to_string(),
            };
            let r = self
                .call(Some(key), self.client().delete(self.request(message)))
                .await?;
            Ok(r.existed)
        })
    }

    /// `DeleteIf` on the server; one that predates it answers `UNIMPLEMENTED`, never an
    /// unconditional delete.
    fn delete_if<'a>(&'a self, key: &'a str, version: Version) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            check_key(key).map_err(|e| e.with_backend(BACKEND))?;
            let message = proto::DeleteIfRequest {
                key: key.to_string(),
                version: version.get(),
            };
            let r = self
                .call(Some(key), self.client().delete_if(self.request(message)))
                .await?;
            Ok(r.deleted)
        })
    }

    fn touch<'a>(&'a self, key: &'a str, ttl: Duration) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            check_write(key, Some(ttl)).map_err(|e| e.with_backend(BACKEND))?;
            let message = proto::TouchRequest {
                key: key.to_string(),
                ttl_ms: millis(ttl)?,
            };
            let r = self
                .call(Some(key), self.client().touch(self.request(message)))
                .await?;
            Ok(r.found)
        })
    }

    fn backend(&self) -> &'static str {
        BACKEND
    }

    /// Scan and purge are forwarded to the server, whose store decides: one that cannot
    /// purge (Redis) answers [`StoreErrorKind::Unsupported`], and from then on this client
    /// no longer reports `purge_expired`.
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
            .with_scan(true)
            .with_purge_expired(!self.shared.purge_refused.load(Ordering::Relaxed))
    }
}

impl satchel_store_core::StoreObject for GrpcStore {
    fn try_scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> Option<BoxFuture<'a, Result<Page>>> {
        Some(self.scan_page(prefix, cursor, limit))
    }

    fn try_delete_prefix<'a>(&'a self, prefix: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
        Some(self.delete_prefix(prefix))
    }

    fn try_purge_expired(&self) -> Option<BoxFuture<'_, Result<u64>>> {
        self.capabilities()
            .purge_expired
            .then(|| self.purge_expired())
    }

    /// The protocol carries no owner tags (sessions over gRPC keep the generic owner index).
    fn try_set_owned<'a>(
        &'a self,
        _key: &'a str,
        _value: &'a [u8],
        _ttl: Option<Duration>,
        _condition: Condition,
        _owner: Option<&'a str>,
    ) -> Option<BoxFuture<'a, Result<Version>>> {
        None
    }

    fn try_keys_of<'a>(&'a self, _owner: &'a str) -> Option<BoxFuture<'a, Result<Vec<String>>>> {
        None
    }

    fn try_delete_owner<'a>(&'a self, _owner: &'a str) -> Option<BoxFuture<'a, Result<u64>>> {
        None
    }
}

/// Pages are the server's (`page_token`/`next_page_token`, each page at most the server's
/// cap), in its store's order; a server too old to page is an error, never a silently
/// shorter listing.
impl Scan for GrpcStore {
    fn scan_page<'a>(
        &'a self,
        prefix: &'a str,
        cursor: Option<&'a Cursor>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Page>> {
        Box::pin(async move {
            satchel_store_core::check_page(prefix, limit)?;
            let message = proto::ScanRequest {
                prefix: prefix.to_string(),
                limit: u32::try_from(limit).unwrap_or(u32::MAX),
                page_token: Some(cursor.map_or_else(String::new, |c| c.as_token().to_string())),
            };
            let r = self
                .call(None, self.client().scan(self.request(message)))
                .await?;
            if !r.paged {
                return Err(StoreError::new(
                    StoreErrorKind::Unsupported,
                    "scan: the server does not page listings (it is older than this \
                     client), so a listing could be cut short at its cap; upgrade the server",
                )
                .with_backend(BACKEND));
            }
            Ok(Page::new(r.keys, r.next_page_token.map(Cursor::from_token)))
        })
    }

    /// `DeletePrefix` on the server: one call, the server's store deleting in bulk. A
    /// server that predates it (`UNIMPLEMENTED`) is asked key by key instead
    /// ([`delete_by_pages`](satchel_store_core::delete_by_pages)), and no longer asked in bulk.
    fn delete_prefix<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            satchel_store_core::check_prefix(prefix)?;
            if !self.shared.bulk_delete_refused.load(Ordering::Relaxed) {
                let message = proto::DeletePrefixRequest {
                    prefix: prefix.to_string(),
                };
                let mut client = self.client();
                let call = client.delete_prefix(self.request(message));
                match tokio::time::timeout(self.shared.timeout, call).await {
                    Ok(Ok(r)) => return Ok(r.into_inner().deleted),
                    Ok(Err(status)) if status.code() == tonic::Code::Unimplemented => {
                        self.shared
                            .bulk_delete_refused
                            .store(true, Ordering::Relaxed);
                    }
                    Ok(Err(status)) => {
                        return Err(from_status(status, None, &self.shared.address));
                    }
                    Err(_) => {
                        return Err(timed_out(None, &self.shared.address, self.shared.timeout));
                    }
                }
            }
            satchel_store_core::delete_by_pages(
                prefix,
                move |cursor| {
                    Box::pin(async move {
                        self.scan_page(prefix, cursor.as_ref(), satchel_store_core::SCAN_BATCH)
                            .await
                    })
                },
                move |key| Box::pin(async move { self.delete(&key).await }),
            )
            .await
        })
    }
}

impl PurgeExpired for GrpcStore {
    fn purge_expired(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            let r = self
                .call(
                    None,
                    self.client()
                        .purge_expired(self.request(proto::PurgeExpiredRequest {})),
                )
                .await
                .inspect_err(|e| {
                    if e.kind() == StoreErrorKind::Unsupported {
                        self.shared.purge_refused.store(true, Ordering::Relaxed);
                    }
                })?;
            Ok(r.removed)
        })
    }
}
