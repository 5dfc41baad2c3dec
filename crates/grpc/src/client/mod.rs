//! [`GrpcStore`]: a satchel server as a [`Store`].

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
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

mod sessions;
mod store;

/// A store on a satchel gRPC server. It is a [`Store`], so everything built on stores
/// works over the network unchanged: `CodecStore` (typed values), sessions,
/// `satchel_store::open("grpc://…")`.
///
/// A few HTTP/2 connections ([`GrpcConfig::with_connections`], 2 by default) carry every
/// call, concurrently, taken in turn; each reconnects by itself after the server restarts
/// (calls made while it is down fail with [`StoreErrorKind::Unavailable`]). Clones share
/// the connections.
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
    shared: Arc<Shared>,
}

struct Shared {
    /// One client a connection, used in turn.
    clients: Box<[StoreClient<Channel>]>,
    next: AtomicUsize,
    address: String,
    timeout: Duration,
    authorization: Option<MetadataValue<tonic::metadata::Ascii>>,
    /// Set once the server answered that its store cannot purge (Redis): from then on
    /// [`Store::capabilities`] no longer reports it.
    purge_refused: AtomicBool,
    /// Set once the server answered `DeletePrefix` with `UNIMPLEMENTED` (a server before
    /// it): from then on prefixes are deleted key by key.
    bulk_delete_refused: AtomicBool,
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
        // One after the other: a handful of handshakes, and the first failure says it all.
        let mut channels = Vec::with_capacity(config.connections);
        for _ in 0..config.connections {
            let channel = endpoint.connect().await.map_err(|e| {
                StoreError::new(
                    StoreErrorKind::Unavailable,
                    format!(
                        "cannot connect to the satchel server at {}{} (is `satchel serve` \
                         running there?)",
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
            channels.push(channel);
        }
        Ok(Self::from_channels(channels, &config, shared))
    }

    /// Like [`GrpcStore::connect`], but connects on first use (and so never fails for an
    /// unreachable server here).
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidInput`] for an unusable address, token or TLS file.
    pub fn connect_lazy(config: GrpcConfig) -> Result<Self> {
        let (endpoint, shared) = endpoint(&config)?;
        let channels = (0..config.connections).map(|_| endpoint.connect_lazy());
        Ok(Self::from_channels(channels, &config, shared))
    }

    /// [`GrpcStore::connect`] with [`GrpcConfig::from_url`].
    ///
    /// # Errors
    /// As [`GrpcConfig::from_url`] and [`GrpcStore::connect`].
    pub async fn open(url: &str) -> Result<Self> {
        Self::connect(GrpcConfig::from_url(url)?).await
    }

    fn from_channels(
        channels: impl IntoIterator<Item = Channel>,
        config: &GrpcConfig,
        mut shared: Shared,
    ) -> Self {
        shared.clients = channels
            .into_iter()
            .map(|channel| {
                StoreClient::new(channel)
                    .max_decoding_message_size(config.max_message_size)
                    .max_encoding_message_size(config.max_message_size)
            })
            .collect();
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The client of the next connection in turn.
    fn client(&self) -> StoreClient<Channel> {
        let clients = &self.shared.clients;
        let i = self.shared.next.fetch_add(1, Ordering::Relaxed) % clients.len();
        clients[i].clone()
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
            clients: Box::default(),
            next: AtomicUsize::new(0),
            address: config.address.clone(),
            timeout: config.request_timeout,
            authorization,
            purge_refused: AtomicBool::new(false),
            bulk_delete_refused: AtomicBool::new(false),
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

impl fmt::Debug for GrpcStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcStore")
            .field("address", &self.shared.address)
            .field("timeout", &self.shared.timeout)
            .field("connections", &self.shared.clients.len())
            .field(
                "token",
                &self.shared.authorization.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}
