//! [`GrpcStore`]: a satchel server as a [`Store`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use satchel_store_core::{
    BoxFuture, Capabilities, Condition, Cursor, Entry, Page, PurgeExpired, Result, Scan, SessionId,
    Store, StoreError, StoreErrorKind, Version, check_key, check_write, from_unix_millis,
    unknown_condition,
};
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::{Request, Status};

use crate::GrpcConfig;
use crate::proto::{self, set_request, store_client::StoreClient};
use crate::status::{BACKEND, from_status, timed_out};

/// A store on a satchel gRPC server. It is a [`Store`], so everything built on stores
/// works over the network unchanged: `CodecStore` (typed values), sessions,
/// `satchel_store::open("grpc://…")`.
///
/// One HTTP/2 connection carries every call, concurrently; it reconnects by itself after
/// the server restarts (calls made while it is down fail with
/// [`StoreErrorKind::Unavailable`]). Clones share the connection.
///
/// ```no_run
/// # async fn run() -> Result<(), satchel_store_core::StoreError> {
/// use satchel_grpc::{GrpcConfig, GrpcStore};
/// use satchel_store_core::{Condition, Store};
///
/// let store = GrpcStore::connect(GrpcConfig::from_env()?).await?;
/// store.set("greeting", b"hello", None, Condition::Always).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct GrpcStore {
    client: StoreClient<Channel>,
    shared: Arc<Shared>,
}

struct Shared {
    address: String,
    timeout: Duration,
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
    /// Set once the server answered that its store cannot purge (Redis): from then on
    /// [`Store::capabilities`] no longer reports it.
    purge_refused: AtomicBool,
}

impl GrpcStore {
    /// Connects to the server `config` names.
    ///
    /// # Errors
    /// [`StoreErrorKind::Unavailable`] naming the address when no connection can be made
    /// within the connect timeout; [`StoreErrorKind::InvalidInput`] for an unusable
    /// address, token or TLS file (named).
    pub async fn connect(config: GrpcConfig) -> Result<Self> {
        let (endpoint, shared) = endpoint(&config)?;
        let channel = endpoint.connect().await.map_err(|e| {
            StoreError::new(
                StoreErrorKind::Unavailable,
                format!(
                    "cannot connect to the satchel server at {}{} (is `satchel serve` running \
                     there?)",
                    config.address,
                    if config.tls.is_some() {
                        " over TLS"
                    } else {
                        ""
                    }
                ),
            )
            .with_backend(BACKEND)
            .with_source(e)
        })?;
        Ok(Self::from_channel(channel, &config, shared))
    }

    /// Like [`GrpcStore::connect`], but connects on first use (and so never fails for an
    /// unreachable server here).
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidInput`] for an unusable address, token or TLS file.
    pub fn connect_lazy(config: GrpcConfig) -> Result<Self> {
        let (endpoint, shared) = endpoint(&config)?;
        Ok(Self::from_channel(endpoint.connect_lazy(), &config, shared))
    }

    /// [`GrpcStore::connect`] with [`GrpcConfig::from_url`].
    ///
    /// # Errors
    /// As [`GrpcConfig::from_url`] and [`GrpcStore::connect`].
    pub async fn open(url: &str) -> Result<Self> {
        Self::connect(GrpcConfig::from_url(url)?).await
    }

    fn from_channel(channel: Channel, config: &GrpcConfig, shared: Shared) -> Self {
        let client = StoreClient::new(channel)
            .max_decoding_message_size(config.max_message_size)
            .max_encoding_message_size(config.max_message_size);
        Self {
            client,
            shared: Arc::new(shared),
        }
    }

    /// The server's address.
    pub fn address(&self) -> &str {
        &self.shared.address
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.shared.timeout);
        if let Some(auth) = &self.shared.authorization {
            request.metadata_mut().insert("authorization", auth.clone());
        }
        request
    }

    /// Runs one call under the request timeout, mapping its status to a store error.
    async fn call<T, F>(&self, key: Option<&str>, call: F) -> Result<T>
    where
        F: Future<Output = std::result::Result<tonic::Response<T>, Status>>,
    {
        match tokio::time::timeout(self.shared.timeout, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(from_status(status, key, &self.shared.address)),
            Err(_) => Err(timed_out(key, &self.shared.address, self.shared.timeout)),
        }
    }

    /// Starts a session on the server under a fresh random id, holding `value` for `ttl`
    /// (its idle lifetime: extend it with [`GrpcStore::extend_session`] or by opening it).
    ///
    /// # Errors
    /// As [`Store::set`]; [`StoreErrorKind::InvalidInput`] for a zero `ttl`.
    pub async fn create_session(&self, value: &[u8], ttl: Duration) -> Result<(SessionId, Entry)> {
        let message = proto::CreateSessionRequest {
            value: value.to_vec(),
            ttl_ms: millis(ttl)?,
        };
        let r = self
            .call(
                None,
                self.client.clone().create_session(self.request(message)),
            )
            .await?;
        let id = SessionId::parse(&r.id).ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::Backend,
                "the server answered a malformed session id",
            )
            .with_backend(BACKEND)
        })?;
        Ok((id, entry_from_proto(r.entry)?))
    }

    /// Loads a live session, extending its lifetime to `ttl` from now if given.
    ///
    /// # Errors
    /// [`StoreErrorKind::NotFound`] when the session expired, was closed or never existed.
    pub async fn open_session(&self, id: &SessionId, ttl: Option<Duration>) -> Result<Entry> {
        let message = proto::OpenSessionRequest {
            id: id.as_str().to_string(),
            ttl_ms: ttl.map(millis).transpose()?,
        };
        let r = self
            .call(
                None,
                self.client.clone().open_session(self.request(message)),
            )
            .await?;
        entry_from_proto(r.entry)
    }

    /// Extends a live session's lifetime to `ttl` from now; an expired one stays expired.
    ///
    /// # Errors
    /// [`StoreErrorKind::NotFound`] when the session is not live.
    pub async fn extend_session(&self, id: &SessionId, ttl: Duration) -> Result<()> {
        let message = proto::ExtendSessionRequest {
            id: id.as_str().to_string(),
            ttl_ms: millis(ttl)?,
        };
        self.call(
            None,
            self.client.clone().extend_session(self.request(message)),
        )
        .await?;
        Ok(())
    }

    /// Ends a session: saves `last` (value and the version it was read at, compare-and-set)
    /// if given, then deletes the session if `destroy`, else keeps it until it expires.
    /// Returns the saved value's version.
    ///
    /// # Errors
    /// [`StoreErrorKind::Conflict`] if the session changed since `last`'s version was read;
    /// [`StoreErrorKind::NotFound`] when it is not live.
    pub async fn close_session(
        &self,
        id: &SessionId,
        last: Option<(&[u8], Version)>,
        destroy: bool,
    ) -> Result<Option<Version>> {
        let message = proto::CloseSessionRequest {
            id: id.as_str().to_string(),
            value: last.map(|(v, _)| v.to_vec()),
            if_version: last.map(|(_, v)| v.get()),
            ttl_ms: None,
            destroy,
        };
        let r = self
            .call(
                None,
                self.client.clone().close_session(self.request(message)),
            )
            .await?;
        Ok(r.version.map(Version::new))
    }
}

fn endpoint(config: &GrpcConfig) -> Result<(Endpoint, Shared)> {
    let invalid = |message: String| {
        StoreError::new(StoreErrorKind::InvalidInput, message).with_backend(BACKEND)
    };
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{}", config.address))
        .map_err(|e| {
            invalid(format!(
                "`{}` is not a server address (host:port)",
                config.address
            ))
            .with_source(e)
        })?
        .connect_timeout(config.connect_timeout)
        .tcp_nodelay(true);
    if let Some(interval) = config.keepalive_interval {
        endpoint = endpoint
            .http2_keep_alive_interval(interval)
            .keep_alive_timeout(config.keepalive_timeout)
            .keep_alive_while_idle(true);
    }
    if let Some(tls) = &config.tls {
        let read = |path: &std::path::Path, what: &str| {
            std::fs::read(path).map_err(|e| {
                invalid(format!("cannot read the {what} {}", path.display())).with_source(e)
            })
        };
        let mut tls_config = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(read(&tls.ca, "CA certificate")?));
        if let Some((cert, key)) = &tls.identity {
            tls_config = tls_config.identity(Identity::from_pem(
                read(cert, "client certificate")?,
                read(key, "client key")?,
            ));
        }
        if let Some(domain) = &tls.domain {
            tls_config = tls_config.domain_name(domain.clone());
        }
        endpoint = endpoint
            .tls_config(tls_config)
            .map_err(|e| invalid("the TLS certificates are not usable".into()).with_source(e))?;
    }
    let authorization = config
        .token
        .as_ref()
        .map(|t| {
            format!("Bearer {t}").parse().map_err(|_| {
                invalid("the token must be printable ASCII (it goes in an HTTP header)".into())
            })
        })
        .transpose()?;
    Ok((
        endpoint,
        Shared {
            address: config.address.clone(),
            timeout: config.request_timeout,
            authorization,
            purge_refused: AtomicBool::new(false),
        },
    ))
}

/// A ttl on the wire, under the one rule every store follows
/// ([`satchel_store_core::ttl_millis`]); zero is refused.
fn millis(d: Duration) -> Result<u64> {
    if d.is_zero() {
        return Err(StoreError::new(
            StoreErrorKind::InvalidInput,
            "a time to live of zero would be gone before it is written",
        )
        .with_backend(BACKEND));
    }
    Ok(satchel_store_core::ttl_millis(d))
}

fn entry_from_proto(entry: Option<proto::Entry>) -> Result<Entry> {
    let e = entry.ok_or_else(|| {
        StoreError::new(
            StoreErrorKind::Backend,
            "the server answered without an entry",
        )
        .with_backend(BACKEND)
    })?;
    Ok(Entry::new(
        e.value,
        Version::new(e.version),
        e.expires_at_ms.map(from_unix_millis),
    ))
}

impl Store for GrpcStore {
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Entry>>> {
        Box::pin(async move {
            check_key(key).map_err(|e| e.with_backend(BACKEND))?;
            let message = proto::GetRequest {
                key: key.to_string(),
            };
            let r = self
                .call(Some(key), self.client.clone().get(self.request(message)))
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
                .call(Some(key), self.client.clone().set(self.request(message)))
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
                .call(Some(key), self.client.clone().delete(self.request(message)))
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
                .call(
                    Some(key),
                    self.client.clone().delete_if(self.request(message)),
                )
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
                .call(Some(key), self.client.clone().touch(self.request(message)))
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
                .call(None, self.client.clone().scan(self.request(message)))
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
}

impl PurgeExpired for GrpcStore {
    fn purge_expired(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            let r = self
                .call(
                    None,
                    self.client
                        .clone()
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

impl fmt::Debug for GrpcStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcStore")
            .field("address", &self.shared.address)
            .field("timeout", &self.shared.timeout)
            .field(
                "token",
                &self.shared.authorization.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}
