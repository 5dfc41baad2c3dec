//! [`Extension`] and [`Mount`]: more gRPC services on a satchel [`Server`](crate::Server),
//! over the same store, port, TLS, token, deadlines and message size limit, without this
//! crate knowing what they are (`satchel-coherence` adds `coherence.NamedCacheService` this
//! way).

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use satchel_store_core::StoreObject;
use tonic::server::NamedService;
use tonic::service::RoutesBuilder;
use tonic::service::interceptor::InterceptedService;

use super::auth::{ClientCertCheck, Protection, TokenCheck};
use super::logged::Logged;

/// Something that adds gRPC services to a [`Server`](crate::Server): registered with
/// [`ServerConfig::with_extension`](crate::ServerConfig::with_extension), mounted once when
/// the server binds.
///
/// The server gives every service the same transport: its port, TLS and mutual TLS, the
/// request time limit ([`ServerConfig::with_max_request_time`](crate::ServerConfig::with_max_request_time)),
/// HTTP/2 keepalive and graceful shutdown; [`Mount::add_service`] puts the service behind
/// the bearer token too, and the health service reports it `SERVING` while the server runs.
/// The message size limit is per service in tonic: apply [`Mount::max_message_size`] to the
/// generated server (`max_decoding_message_size` / `max_encoding_message_size`).
pub trait Extension: Send + Sync + 'static {
    /// A short name for logs and `Debug` output (e.g. `coherence`).
    fn name(&self) -> &str;

    /// Adds the extension's services with [`Mount::add_service`] or
    /// [`Mount::add_open_service`], built over [`Mount::store`].
    fn mount(&self, mount: &mut Mount<'_>);
}

/// One service a [`Server`](crate::Server) answers, as
/// [`BoundServer::services`](crate::BoundServer::services) lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceInfo {
    /// The fully qualified gRPC service name, e.g. `satchel.store.v1.Store`.
    pub name: &'static str,
    /// How it checks who calls it.
    pub protection: Protection,
}

/// What an [`Extension`] mounts into: the server's store and limits, and where its services
/// and shutdown hooks go.
pub struct Mount<'a> {
    pub(crate) store: &'a Arc<dyn StoreObject>,
    pub(crate) max_message_size: usize,
    pub(crate) max_request_time: std::time::Duration,
    pub(crate) guard: &'a TokenCheck,
    /// Whether the transport requires a verified client certificate (mutual TLS).
    pub(crate) client_certs: bool,
    /// The services [`ServerConfig::allow_open_service`](crate::ServerConfig::allow_open_service) names.
    pub(crate) open_allowed: &'a [String],
    pub(crate) extension: &'a str,
    pub(crate) mounted: &'a mut Mounted,
}

impl Mount<'_> {
    /// The store the server serves.
    pub fn store(&self) -> &Arc<dyn StoreObject> {
        self.store
    }

    /// The server's message size limit
    /// ([`ServerConfig::with_max_message_size`](crate::ServerConfig::with_max_message_size)),
    /// for the generated server's `max_decoding_message_size` and
    /// `max_encoding_message_size`.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// The server's request time limit
    /// ([`ServerConfig::with_max_request_time`](crate::ServerConfig::with_max_request_time)):
    /// tonic applies it until the reply's headers; a streaming reply should stop producing
    /// by then too.
    pub fn max_request_time(&self) -> std::time::Duration {
        self.max_request_time
    }

    /// Serves `service` behind the server's bearer token, like `satchel.store.v1.Store`.
    pub fn add_service<S>(&mut self, service: S)
    where
        S: tower_service::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        self.mounted
            .routes
            .add_service(Logged::new(InterceptedService::new(
                service,
                self.guard.clone(),
            )));
        self.mounted.services.push(ServiceInfo {
            name: S::NAME,
            protection: if self.guard.is_on() {
                Protection::Token
            } else {
                Protection::Open
            },
        });
    }

    /// Serves `service` for clients that cannot send the bearer token. With no token on the
    /// server, it is open like every service. With a token, there is no unauthenticated
    /// path unless the operator asked for one:
    ///
    /// - under mutual TLS, the service requires a verified client certificate
    ///   ([`Protection::ClientCertificate`]);
    /// - else, if [`ServerConfig::allow_open_service`](crate::ServerConfig::allow_open_service)
    ///   names it, it is open ([`Protection::OpenByChoice`]) and the server warns at start;
    /// - else it is behind the token like [`Mount::add_service`] ([`Protection::Token`]):
    ///   clients that cannot send it are refused, and the server warns at start, naming
    ///   `why` and the two ways out.
    pub fn add_open_service<S>(&mut self, service: S, why: &'static str)
    where
        S: tower_service::Service<
                http::Request<tonic::body::Body>,
                Response = http::Response<tonic::body::Body>,
                Error = Infallible,
            > + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
    {
        let protection = if !self.guard.is_on() {
            self.mounted.routes.add_service(Logged::new(service));
            Protection::Open
        } else if self.client_certs {
            self.mounted
                .routes
                .add_service(Logged::new(InterceptedService::new(
                    service,
                    ClientCertCheck,
                )));
            Protection::ClientCertificate
        } else if self.open_allowed.iter().any(|name| name == S::NAME) {
            tracing::warn!(
                service = S::NAME,
                extension = self.extension,
                "{} is served WITHOUT authentication although the server has a token ({why}), \
                 as the operator allowed",
                S::NAME
            );
            self.mounted.routes.add_service(Logged::new(service));
            Protection::OpenByChoice
        } else {
            tracing::warn!(
                service = S::NAME,
                extension = self.extension,
                "{} needs the bearer token like every service, so clients that cannot send \
                 it are refused ({why}): require client certificates (mutual TLS) to let them \
                 in by certificate, or allow the service open explicitly",
                S::NAME
            );
            self.mounted
                .routes
                .add_service(Logged::new(InterceptedService::new(
                    service,
                    self.guard.clone(),
                )));
            Protection::Token
        };
        self.mounted.services.push(ServiceInfo {
            name: S::NAME,
            protection,
        });
    }

    /// Runs `hook` when the server's shutdown signal fires, before it waits for the calls
    /// in flight: the place to end long-lived streams that would hold the shutdown up.
    pub fn on_shutdown(&mut self, hook: impl FnOnce() + Send + 'static) {
        self.mounted.on_shutdown.push(Box::new(hook));
    }
}

impl fmt::Debug for Mount<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mount")
            .field("extension", &self.extension)
            .field("store", self.store)
            .field("max_message_size", &self.max_message_size)
            .field("max_request_time", &self.max_request_time)
            .field("services", &self.mounted.services)
            .finish_non_exhaustive()
    }
}

/// What the extensions mounted: their routes, the services in them, their shutdown hooks.
#[derive(Default)]
pub(crate) struct Mounted {
    pub(crate) routes: RoutesBuilder,
    pub(crate) services: Vec<ServiceInfo>,
    pub(crate) on_shutdown: Vec<Box<dyn FnOnce() + Send>>,
}

impl fmt::Debug for Mounted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mounted")
            .field("services", &self.services)
            .field("on_shutdown", &self.on_shutdown.len())
            .finish_non_exhaustive()
    }
}
