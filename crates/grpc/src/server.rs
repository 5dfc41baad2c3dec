//! [`Server`]: any store behind the `satchel.store.v1.Store` gRPC service.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use satchel_store_core::{
    Condition, Entry, SessionId, StoreError, StoreErrorKind, StoreObject, Version, unix_millis,
};
use tokio::net::TcpListener;
use tonic::{Request, Response, Status};

use crate::coherence::CoherenceService;
use crate::coherence::proto::named_cache_service_server::NamedCacheServiceServer;
use crate::proto::{self, store_server};
use crate::status::to_status;
use crate::{ServeError, ServeErrorKind};

type CoherenceServer = NamedCacheServiceServer<CoherenceService>;

/// How a [`Server`] listens and what it accepts.
///
/// ```
/// use satchel_grpc::ServerConfig;
/// let config = ServerConfig::new("127.0.0.1:0".parse().unwrap())
///     .with_token("s3cret")
///     .with_header_check(true);
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    pub(crate) listen: SocketAddr,
    pub(crate) max_message_size: usize,
    pub(crate) check_header: bool,
    pub(crate) token: Option<String>,
    pub(crate) tls: Option<ServerTls>,
    pub(crate) session_prefix: String,
    pub(crate) scan_cap: u32,
    pub(crate) max_request_time: Duration,
    pub(crate) coherence: bool,
}

impl ServerConfig {
    /// The port Coherence-style gRPC proxies use, and `satchel serve`'s default: 1408.
    pub const DEFAULT_PORT: u16 = 1408;
    /// The default [`ServerConfig::with_max_message_size`]: 16 MiB.
    pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;
    /// The default [`ServerConfig::with_scan_cap`]: 10,000 keys per scan.
    pub const DEFAULT_SCAN_CAP: u32 = 10_000;
    /// The default [`ServerConfig::with_max_request_time`]: 60 seconds.
    pub const DEFAULT_MAX_REQUEST_TIME: Duration = Duration::from_secs(60);

    /// Listens on `listen` (port 0: any free port, see [`BoundServer::local_addr`]), no
    /// TLS, no token, no header check.
    pub fn new(listen: SocketAddr) -> Self {
        Self {
            listen,
            max_message_size: Self::DEFAULT_MAX_MESSAGE_SIZE,
            check_header: false,
            token: None,
            tls: None,
            session_prefix: "session:".into(),
            scan_cap: Self::DEFAULT_SCAN_CAP,
            max_request_time: Self::DEFAULT_MAX_REQUEST_TIME,
            coherence: true,
        }
    }

    /// Listens on `listen` instead.
    #[must_use]
    pub fn with_listen(mut self, listen: SocketAddr) -> Self {
        self.listen = listen;
        self
    }

    /// The largest request or response, in bytes; larger requests are refused with
    /// `OUT_OF_RANGE` (what tonic answers) before they are read whole.
    #[must_use]
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Refuses (`INVALID_ARGUMENT`) any value that does not start with a satchel header, so
    /// only pipeline output is stored.
    #[must_use]
    pub fn with_header_check(mut self, check: bool) -> Self {
        self.check_header = check;
        self
    }

    /// Requires `authorization: Bearer <token>` on every store call (`UNAUTHENTICATED`
    /// otherwise). The health service stays open.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Serves TLS (and requires client certificates if [`ServerTls::with_client_ca`]).
    #[must_use]
    pub fn with_tls(mut self, tls: ServerTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The key prefix under which sessions are kept (default `session:`).
    #[must_use]
    pub fn with_session_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.session_prefix = prefix.into();
        self
    }

    /// The most keys one scan returns, whatever the client asks.
    #[must_use]
    pub fn with_scan_cap(mut self, cap: u32) -> Self {
        self.scan_cap = cap.max(1);
        self
    }

    /// The longest the server works on one request, whatever deadline the client sent
    /// (a shorter client deadline, `grpc-timeout`, is honoured).
    #[must_use]
    pub fn with_max_request_time(mut self, limit: Duration) -> Self {
        self.max_request_time = limit;
        self
    }

    /// Also serves the Oracle Coherence cache protocol (`coherence.NamedCacheService`, see
    /// [`CoherenceService`](crate::coherence::CoherenceService)) on the same port: on by
    /// default. Coherence clients cannot send a bearer token, so that service does **not**
    /// check [`ServerConfig::with_token`] (TLS and mutual TLS still apply); turn it off
    /// where the token must guard every call. [`ServerConfig::with_header_check`] does not
    /// apply to it either (Coherence values have no satchel header). Its entries live under
    /// keys starting with `coherence:`.
    #[must_use]
    pub fn with_coherence(mut self, serve: bool) -> Self {
        self.coherence = serve;
        self
    }

    /// Where the server listens.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("listen", &self.listen)
            .field("max_message_size", &self.max_message_size)
            .field("check_header", &self.check_header)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("tls", &self.tls)
            .field("session_prefix", &self.session_prefix)
            .field("scan_cap", &self.scan_cap)
            .field("max_request_time", &self.max_request_time)
            .field("coherence", &self.coherence)
            .finish()
    }
}

/// The server's certificate chain and key (PEM), and optionally the CA whose client
/// certificates it requires (mutual TLS).
#[derive(Clone)]
#[non_exhaustive]
pub struct ServerTls {
    pub(crate) cert_pem: Vec<u8>,
    pub(crate) key_pem: Vec<u8>,
    pub(crate) client_ca_pem: Option<Vec<u8>>,
}

impl ServerTls {
    /// TLS with this certificate chain and private key, both PEM.
    pub fn new(cert_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        Self {
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
            client_ca_pem: None,
        }
    }

    /// Reads the certificate chain and key from PEM files.
    ///
    /// # Errors
    /// [`ServeErrorKind::Tls`] naming the file that cannot be read.
    pub fn from_files(
        cert: impl AsRef<std::path::Path>,
        key: impl AsRef<std::path::Path>,
    ) -> Result<Self, ServeError> {
        Ok(Self::new(read_pem(cert.as_ref())?, read_pem(key.as_ref())?))
    }

    /// Requires every client to present a certificate signed by this CA (PEM).
    #[must_use]
    pub fn with_client_ca(mut self, ca_pem: impl Into<Vec<u8>>) -> Self {
        self.client_ca_pem = Some(ca_pem.into());
        self
    }

    /// [`ServerTls::with_client_ca`] from a PEM file.
    ///
    /// # Errors
    /// [`ServeErrorKind::Tls`] naming the file that cannot be read.
    pub fn with_client_ca_file(self, ca: impl AsRef<std::path::Path>) -> Result<Self, ServeError> {
        Ok(self.with_client_ca(read_pem(ca.as_ref())?))
    }
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("key", &"<hidden>")
            .field("mutual", &self.client_ca_pem.is_some())
            .finish()
    }
}

pub(crate) fn read_pem(path: &std::path::Path) -> Result<Vec<u8>, ServeError> {
    std::fs::read(path).map_err(|e| {
        ServeError::new(
            ServeErrorKind::Tls,
            format!("cannot read the PEM file {}", path.display()),
        )
        .with_source(e)
    })
}

/// A gRPC server for one store: the `satchel.store.v1.Store` service and the standard
/// health service (`grpc.health.v1.Health`).
///
/// Values pass through as opaque bytes; the codec pipeline runs in the clients.
///
/// ```no_run
/// # async fn run(store: std::sync::Arc<dyn satchel_store_core::StoreObject>) -> Result<(), satchel_grpc::ServeError> {
/// use satchel_grpc::{Server, ServerConfig, shutdown_signal};
/// let server = Server::new(store, ServerConfig::new("127.0.0.1:1408".parse().unwrap()))
///     .bind()
///     .await?;
/// println!("listening on {}", server.local_addr());
/// server.serve_with_shutdown(shutdown_signal()).await
/// # }
/// ```
pub struct Server {
    store: Arc<dyn StoreObject>,
    config: ServerConfig,
}

impl Server {
    /// A server for `store` (any adapter: `dyn StoreObject` is this crate's deliberate
    /// boundary, one virtual call per request).
    pub fn new(store: Arc<dyn StoreObject>, config: ServerConfig) -> Self {
        Self { store, config }
    }

    /// Binds the listening socket, so the address is known (and taken) before serving.
    ///
    /// # Errors
    /// [`ServeErrorKind::Bind`] naming the address.
    pub async fn bind(self) -> Result<BoundServer, ServeError> {
        let listener = TcpListener::bind(self.config.listen).await.map_err(|e| {
            ServeError::new(
                ServeErrorKind::Bind,
                format!(
                    "cannot listen on {} (in use, or not an address of this host?)",
                    self.config.listen
                ),
            )
            .with_source(e)
        })?;
        let local_addr = listener.local_addr().map_err(|e| {
            ServeError::new(ServeErrorKind::Bind, "cannot read the bound address").with_source(e)
        })?;
        Ok(BoundServer {
            server: self,
            listener,
            local_addr,
        })
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("store", &self.store)
            .field("config", &self.config)
            .finish()
    }
}

/// A [`Server`] with its socket bound, ready to serve.
#[derive(Debug)]
pub struct BoundServer {
    server: Server,
    listener: TcpListener,
    local_addr: SocketAddr,
}

impl BoundServer {
    /// The address the server listens on (the real port when the config said port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `signal` completes, then stops accepting, lets requests in flight
    /// finish, and returns.
    ///
    /// # Errors
    /// [`ServeErrorKind::Tls`] for an unusable certificate or key;
    /// [`ServeErrorKind::Transport`] if the server fails while running.
    pub async fn serve_with_shutdown<F>(self, signal: F) -> Result<(), ServeError>
    where
        F: Future<Output = ()> + Send,
    {
        let Server { store, config } = self.server;
        let mut builder = tonic::transport::Server::builder()
            .timeout(config.max_request_time)
            .http2_keepalive_interval(Some(Duration::from_secs(30)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)));
        if let Some(tls) = &config.tls {
            let mut tls_config = tonic::transport::ServerTlsConfig::new().identity(
                tonic::transport::Identity::from_pem(&tls.cert_pem, &tls.key_pem),
            );
            if let Some(ca) = &tls.client_ca_pem {
                tls_config = tls_config.client_ca_root(tonic::transport::Certificate::from_pem(ca));
            }
            builder = builder.tls_config(tls_config).map_err(|e| {
                ServeError::new(
                    ServeErrorKind::Tls,
                    "the server's TLS certificate or key is not usable",
                )
                .with_source(e)
            })?;
        }

        let (health, health_service) = tonic_health::server::health_reporter();
        let coherence = config
            .coherence
            .then(|| CoherenceService::new(store.clone()));
        if coherence.is_some() {
            if config.token.is_some() {
                tracing::warn!(
                    "the Coherence endpoint does not check the bearer token (its clients cannot \
                     send one); turn it off with ServerConfig::with_coherence(false) if the \
                     token must guard every call"
                );
            }
            health.set_serving::<CoherenceServer>().await;
        }
        let coherence_service = coherence.clone().map(|c| {
            c.into_server()
                .max_decoding_message_size(config.max_message_size)
                .max_encoding_message_size(config.max_message_size)
        });
        let service = StoreService {
            store,
            check_header: config.check_header,
            token: config.token.map(|t| format!("Bearer {t}")),
            session_prefix: config.session_prefix,
            scan_cap: config.scan_cap,
        };
        health
            .set_serving::<store_server::StoreServer<StoreService>>()
            .await;
        let store_service = store_server::StoreServer::new(service)
            .max_decoding_message_size(config.max_message_size)
            .max_encoding_message_size(config.max_message_size);

        // Replies go out at once (no Nagle delay: a small response would otherwise wait for
        // the client's delayed ACK, ~40 ms per call).
        let incoming = tonic::transport::server::TcpIncoming::from(self.listener)
            .with_nodelay(Some(true))
            .with_keepalive(Some(Duration::from_secs(60)));
        tracing::info!(address = %self.local_addr, tls = config.tls.is_some(), "satchel gRPC server listening");
        let result = builder
            .add_service(health_service)
            .add_service(store_service)
            .add_optional_service(coherence_service)
            .serve_with_incoming_shutdown(incoming, async move {
                signal.await;
                health
                    .set_not_serving::<store_server::StoreServer<StoreService>>()
                    .await;
                if let Some(coherence) = coherence {
                    health.set_not_serving::<CoherenceServer>().await;
                    // Open `events` streams would otherwise hold the shutdown up.
                    coherence.close_streams();
                }
                tracing::info!("satchel gRPC server shutting down");
            })
            .await;
        result.map_err(|e| {
            ServeError::new(ServeErrorKind::Transport, "the gRPC server failed").with_source(e)
        })
    }
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM: the usual signal for
/// [`BoundServer::serve_with_shutdown`].
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// The service implementation: thin translation between messages and `Store` calls.
struct StoreService {
    store: Arc<dyn StoreObject>,
    check_header: bool,
    /// `Bearer <token>`, compared in constant time.
    token: Option<String>,
    session_prefix: String,
    scan_cap: u32,
}

impl StoreService {
    fn authorize<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let Some(expected) = &self.token else {
            return Ok(());
        };
        let given = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if constant_time_eq(given, expected.as_bytes()) {
            Ok(())
        } else {
            Err(Status::unauthenticated(
                "a bearer token is required (`authorization: Bearer <token>`); the one sent is \
                 missing or wrong",
            ))
        }
    }

    fn check_value(&self, key: &str, value: &[u8]) -> Result<(), Status> {
        if self.check_header
            && let Err(e) = satchel_core::sniff(value)
        {
            return Err(Status::invalid_argument(format!(
                "key `{key}`: the value is not satchel pipeline output ({e}); this server \
                 stores only values that start with a satchel header"
            )));
        }
        Ok(())
    }

    fn session_key(&self, id: &str) -> Result<String, Status> {
        match SessionId::parse(id) {
            Some(id) => Ok(format!("{}{}", self.session_prefix, id.as_str())),
            None => Err(Status::invalid_argument(
                "not a session id: ids are the 22 characters CreateSession returned",
            )),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn failed(op: &str, e: &StoreError) -> Status {
    match e.kind() {
        StoreErrorKind::Conflict | StoreErrorKind::NotFound | StoreErrorKind::InvalidInput => {
            tracing::debug!(op, error = %e, "store call refused");
        }
        _ => {
            tracing::warn!(op, error = %e, source = ?std::error::Error::source(e), "store call failed")
        }
    }
    to_status(e)
}

fn ttl(ms: u64) -> Result<Duration, Status> {
    if ms == 0 {
        return Err(Status::invalid_argument(
            "a ttl of 0 ms would write a value that is already gone; leave it unset to keep \
             the value until deleted",
        ));
    }
    Ok(Duration::from_millis(ms))
}

pub(crate) fn entry_to_proto(e: Entry) -> proto::Entry {
    proto::Entry {
        value: e.value,
        version: e.version.0,
        expires_at_ms: e.expires_at.map(unix_millis),
    }
}

#[tonic::async_trait]
impl store_server::Store for StoreService {
    async fn get(
        &self,
        request: Request<proto::GetRequest>,
    ) -> Result<Response<proto::GetResponse>, Status> {
        self.authorize(&request)?;
        let key = request.into_inner().key;
        let entry = self.store.get(&key).await.map_err(|e| failed("get", &e))?;
        Ok(Response::new(proto::GetResponse {
            entry: entry.map(entry_to_proto),
        }))
    }

    async fn set(
        &self,
        request: Request<proto::SetRequest>,
    ) -> Result<Response<proto::SetResponse>, Status> {
        self.authorize(&request)?;
        let r = request.into_inner();
        self.check_value(&r.key, &r.value)?;
        let ttl = r.ttl_ms.map(ttl).transpose()?;
        let condition = match r.condition {
            None | Some(proto::set_request::Condition::IfAbsent(false)) => Condition::Always,
            Some(proto::set_request::Condition::IfAbsent(true)) => Condition::IfAbsent,
            Some(proto::set_request::Condition::IfVersion(v)) => Condition::IfVersion(Version(v)),
        };
        let version = self
            .store
            .set(&r.key, &r.value, ttl, condition)
            .await
            .map_err(|e| failed("set", &e))?;
        Ok(Response::new(proto::SetResponse { version: version.0 }))
    }

    async fn delete(
        &self,
        request: Request<proto::DeleteRequest>,
    ) -> Result<Response<proto::DeleteResponse>, Status> {
        self.authorize(&request)?;
        let key = request.into_inner().key;
        let existed = self
            .store
            .delete(&key)
            .await
            .map_err(|e| failed("delete", &e))?;
        Ok(Response::new(proto::DeleteResponse { existed }))
    }

    async fn touch(
        &self,
        request: Request<proto::TouchRequest>,
    ) -> Result<Response<proto::TouchResponse>, Status> {
        self.authorize(&request)?;
        let r = request.into_inner();
        let found = self
            .store
            .touch(&r.key, ttl(r.ttl_ms)?)
            .await
            .map_err(|e| failed("touch", &e))?;
        Ok(Response::new(proto::TouchResponse { found }))
    }

    async fn scan(
        &self,
        request: Request<proto::ScanRequest>,
    ) -> Result<Response<proto::ScanResponse>, Status> {
        self.authorize(&request)?;
        let r = request.into_inner();
        let limit = match r.limit {
            0 => self.scan_cap,
            n => n.min(self.scan_cap),
        };
        let keys = self
            .store
            .scan(&r.prefix, limit as usize)
            .await
            .map_err(|e| failed("scan", &e))?;
        Ok(Response::new(proto::ScanResponse { keys }))
    }

    async fn purge_expired(
        &self,
        request: Request<proto::PurgeExpiredRequest>,
    ) -> Result<Response<proto::PurgeExpiredResponse>, Status> {
        self.authorize(&request)?;
        let removed = self
            .store
            .purge_expired()
            .await
            .map_err(|e| failed("purge_expired", &e))?;
        Ok(Response::new(proto::PurgeExpiredResponse { removed }))
    }

    async fn create_session(
        &self,
        request: Request<proto::CreateSessionRequest>,
    ) -> Result<Response<proto::CreateSessionResponse>, Status> {
        self.authorize(&request)?;
        let r = request.into_inner();
        let lifetime = ttl(r.ttl_ms)?;
        // 128 random bits never collide in practice; IfAbsent makes sure of it.
        let id = SessionId::generate().map_err(|e| failed("create_session", &e))?;
        let key = format!("{}{}", self.session_prefix, id.as_str());
        self.check_value(&key, &r.value)?;
        let version = self
            .store
            .set(&key, &r.value, Some(lifetime), Condition::IfAbsent)
            .await
            .map_err(|e| failed("create_session", &e))?;
        Ok(Response::new(proto::CreateSessionResponse {
            id: id.as_str().to_string(),
            entry: Some(proto::Entry {
                value: r.value,
                version: version.0,
                expires_at_ms: Some(unix_millis(SystemTime::now() + lifetime)),
            }),
        }))
    }

    async fn open_session(
        &self,
        request: Request<proto::OpenSessionRequest>,
    ) -> Result<Response<proto::OpenSessionResponse>, Status> {
        self.authorize(&request)?;
        let r = request.into_inner();
        let key = self.session_key(&r.id)?;
        let lifetime = r.ttl_ms.map(ttl).transpose()?;
        let Some(mut entry) = self
            .store
            .get(&key)
            .await
            .map_err(|e| failed("open_session", &e))?
        else {
            return Err(no_session());
        };
        if let Some(lifetime) = lifetime {
            if !self
                .store
                .touch(&key, lifetime)
                .await
                .map_err(|e| failed("open_session", &e))?
            {
                return Err(no_session());
            }
            entry.expires_at = Some(SystemTime::now() + lifetime);
        }
        Ok(Response::new(proto::OpenSessionResponse {
            entry: Some(entry_to_proto(entry)),
        }))
    }

    async fn extend_session(
        &self,
        request: Request<proto::ExtendSessionRequest>,
    ) -> Result<Response<proto::ExtendSessionResponse>, Status> {
        self.authorize(&request)?;
        let r = request.into_inner();
        let key = self.session_key(&r.id)?;
        let lifetime = ttl(r.ttl_ms)?;
        if !self
            .store
            .touch(&key, lifetime)
            .await
            .map_err(|e| failed("extend_session", &e))?
        {
            return Err(no_session());
        }
        Ok(Response::new(proto::ExtendSessionResponse {
            expires_at_ms: unix_millis(SystemTime::now() + lifetime),
        }))
    }

    async fn close_session(
        &self,
        request: Request<proto::CloseSessionRequest>,
    ) -> Result<Response<proto::CloseSessionResponse>, Status> {
        self.authorize(&request)?;
        let r = request.into_inner();
        let key = self.session_key(&r.id)?;
        let lifetime = r.ttl_ms.map(ttl).transpose()?;
        let mut version = None;
        if let Some(value) = &r.value {
            self.check_value(&key, value)?;
            let lifetime = match lifetime {
                Some(l) => l,
                // Keep what is left of the session's lifetime.
                None => {
                    let current = self
                        .store
                        .get(&key)
                        .await
                        .map_err(|e| failed("close_session", &e))?
                        .ok_or_else(no_session)?;
                    current
                        .expires_at
                        .and_then(|at| at.duration_since(SystemTime::now()).ok())
                        .filter(|d| !d.is_zero())
                        .ok_or_else(no_session)?
                }
            };
            let condition = match r.if_version {
                Some(v) => Condition::IfVersion(Version(v)),
                None => Condition::Always,
            };
            version = Some(
                self.store
                    .set(&key, value, Some(lifetime), condition)
                    .await
                    .map_err(|e| failed("close_session", &e))?
                    .0,
            );
        } else if let Some(lifetime) = lifetime
            && !r.destroy
            && !self
                .store
                .touch(&key, lifetime)
                .await
                .map_err(|e| failed("close_session", &e))?
        {
            return Err(no_session());
        }
        if r.destroy {
            self.store
                .delete(&key)
                .await
                .map_err(|e| failed("close_session", &e))?;
        }
        Ok(Response::new(proto::CloseSessionResponse { version }))
    }
}

fn no_session() -> Status {
    Status::not_found("no live session has this id (it expired, was closed, or never existed)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"Bearer a", b"Bearer a"));
        assert!(!constant_time_eq(b"Bearer a", b"Bearer b"));
        assert!(!constant_time_eq(b"Bearer", b"Bearer a"));
    }

    #[test]
    fn config_debug_hides_secrets() {
        let c = ServerConfig::new("127.0.0.1:0".parse().unwrap())
            .with_token("tok-123")
            .with_tls(ServerTls::new("cert", "key-456"));
        let d = format!("{c:?}");
        assert!(!d.contains("tok-123") && !d.contains("key-456"), "{d}");
    }
}
