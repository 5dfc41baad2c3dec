//! [`Server`]: any store behind the `satchel.store.v1.Store` gRPC service, the health
//! service, and whatever [`Extension`]s add.
//!
//! - `config.rs`: [`ServerConfig`], [`ServerTls`].
//! - `extension.rs`: [`Extension`], [`Mount`], [`ServiceInfo`].
//! - `auth.rs`: the bearer-token and client-certificate checks, [`Protection`].
//! - `idle.rs`: closing connections whose peer has gone quiet.
//! - `logged.rs`: the log line of each refused or failed call.
//! - `store_service.rs`: the `satchel.store.v1.Store` calls, translated to `Store` calls.
//! - `sessions.rs`: its session calls, sessions kept under a hash of their id.

mod auth;
mod config;
mod extension;
mod idle;
mod logged;
mod sessions;
mod store_service;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use satchel_store_core::StoreObject;
use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::service::interceptor::InterceptedService;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

pub use auth::Protection;
pub use config::{ServerConfig, ServerTls};
pub use extension::{Extension, Mount, ServiceInfo};

use crate::proto::store_server::StoreServer;
use crate::{ServeError, ServeErrorKind};
use auth::TokenCheck;
use extension::Mounted;
use sessions::SessionService;
use store_service::StoreService;

/// The health service's own name.
const HEALTH: &str = "grpc.health.v1.Health";

/// A gRPC server for one store: the `satchel.store.v1.Store` service, the standard health
/// service (`grpc.health.v1.Health`) and the services of the config's [`Extension`]s.
///
/// Values pass through as opaque bytes; the codec pipeline runs in the clients. Every
/// service writes through one handle on the store: a store without a change feed of its own
/// ([`Capabilities::watch`](satchel_store_core::Capabilities::watch)) is wrapped in
/// [`Notifying`](satchel_store_core::Notifying), so an extension that watches the store
/// (the Coherence endpoint's listeners) hears of the writes made through the Store service.
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

    /// Binds the listening socket, so the address is known (and taken) before serving, and
    /// mounts the extensions' services.
    ///
    /// # Errors
    /// [`ServeErrorKind::Bind`] naming the address.
    ///
    /// # Panics
    /// If two services have the same name (an extension adding `satchel.store.v1.Store`,
    /// or the same extension twice).
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
        let Server { store, config } = self;
        let store = with_change_feed(store);
        let guard = TokenCheck::new(config.token.as_deref());
        let mut mounted = Mounted::default();

        let store_service = StoreServer::new(StoreService {
            store: store.clone(),
            check_header: config.check_header,
            sessions: SessionService::new(
                store.clone(),
                &config.session_prefix,
                config.check_header,
            ),
            scan_cap: config.scan_cap,
        })
        .max_decoding_message_size(config.max_message_size)
        .max_encoding_message_size(config.max_message_size);
        mounted
            .routes
            .add_service(logged::Logged::new(InterceptedService::new(
                store_service,
                guard.clone(),
            )));
        mounted.services.push(ServiceInfo {
            name: <StoreServer<StoreService> as NamedService>::NAME,
            protection: if guard.is_on() {
                Protection::Token
            } else {
                Protection::Open
            },
        });

        for extension in &config.extensions {
            extension.mount(&mut Mount {
                store: &store,
                max_message_size: config.max_message_size,
                max_request_time: config.max_request_time,
                guard: &guard,
                client_certs: config
                    .tls
                    .as_ref()
                    .is_some_and(|tls| tls.client_ca_pem.is_some()),
                open_allowed: &config.open_allowed,
                extension: extension.name(),
                mounted: &mut mounted,
            });
        }

        let (health, health_service) = tonic_health::server::health_reporter();
        mounted.routes.add_service(health_service);
        mounted.services.push(ServiceInfo {
            name: HEALTH,
            protection: Protection::Open,
        });
        Ok(BoundServer {
            config,
            listener,
            local_addr,
            health,
            mounted,
        })
    }
}

/// `store`, or, when it has no change feed of its own, `store` in
/// [`Notifying`](satchel_store_core::Notifying), so that every service of the server (the
/// Store service, the extensions) writes through one handle whose in-process feed tells
/// each of them about the others' writes (the Coherence endpoint's listeners hear of
/// writes made through the Store service).
fn with_change_feed(store: Arc<dyn StoreObject>) -> Arc<dyn StoreObject> {
    if store.capabilities().watch {
        store
    } else {
        Arc::new(satchel_store_core::Notifying::new(store))
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

/// A [`Server`] with its socket bound and its services mounted, ready to serve.
#[derive(Debug)]
pub struct BoundServer {
    config: ServerConfig,
    listener: TcpListener,
    local_addr: SocketAddr,
    health: HealthReporter,
    mounted: Mounted,
}

impl BoundServer {
    /// The address the server listens on (the real port when the config said port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Every service the server answers, in order: `satchel.store.v1.Store`, the
    /// extensions' services, `grpc.health.v1.Health`.
    pub fn services(&self) -> &[ServiceInfo] {
        &self.mounted.services
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
        let BoundServer {
            config,
            listener,
            local_addr,
            health,
            mounted,
        } = self;
        let mut builder = tonic::transport::Server::builder()
            .timeout(config.max_request_time)
            .max_concurrent_streams(Some(config.max_streams_per_connection))
            .max_connection_age(config.max_connection_age.unwrap_or(Duration::MAX))
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

        let Mounted {
            routes,
            services,
            on_shutdown,
        } = mounted;
        let served: Vec<&'static str> = services
            .iter()
            .map(|s| s.name)
            .filter(|name| *name != HEALTH)
            .collect();
        for name in &served {
            health
                .set_service_status(name, ServingStatus::Serving)
                .await;
        }

        // Replies go out at once (no Nagle delay: a small response would otherwise wait for
        // the client's delayed ACK, ~40 ms per call).
        let incoming = tonic::transport::server::TcpIncoming::from(listener)
            .with_nodelay(Some(true))
            .with_keepalive(Some(Duration::from_secs(60)));
        let incoming = idle::IdleIncoming::new(incoming, config.idle_timeout);
        for service in &services {
            tracing::info!(service = service.name, protection = %service.protection, "serving");
        }
        tracing::info!(address = %local_addr, tls = config.tls.is_some(), services = ?served, "satchel gRPC server listening");
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let serve = builder
            .add_routes(routes.routes())
            .serve_with_incoming_shutdown(incoming, async move {
                signal.await;
                for name in &served {
                    health
                        .set_service_status(name, ServingStatus::NotServing)
                        .await;
                }
                for hook in on_shutdown {
                    hook();
                }
                tracing::info!("satchel gRPC server shutting down");
                let _ = stopping.send(());
            });
        // Graceful, within a bound: calls still in flight (or a request whose body never
        // comes) after the grace period are dropped with their connections.
        let grace = config.shutdown_grace;
        let deadline = async move {
            if stopped.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(grace).await;
        };
        let result = tokio::select! {
            result = serve => result,
            () = deadline => {
                tracing::warn!(grace = ?grace, "calls still in flight after the shutdown grace period: closing their connections");
                Ok(())
            }
        };
        result.map_err(|e| {
            ServeError::new(ServeErrorKind::Transport, "the gRPC server failed").with_source(e)
        })
    }
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM: the usual signal for
/// [`BoundServer::serve_with_shutdown`].
///
/// The handlers are installed when this is called, not when the future is first polled,
/// so a signal that arrives between the call and serving (say, right after a start-up
/// banner) still stops the server gracefully instead of killing the process. Call it
/// inside a tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => {}
                () = wait(terminate) => {}
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
