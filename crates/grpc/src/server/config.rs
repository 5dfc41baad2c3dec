//! [`ServerConfig`] and [`ServerTls`]: how a [`Server`](crate::Server) listens and what it
//! accepts.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[cfg(doc)]
use crate::{BoundServer, Mount, Server};
use crate::{Extension, ServeError, ServeErrorKind};

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
    pub(crate) extensions: Vec<Arc<dyn Extension>>,
    pub(crate) open_allowed: Vec<String>,
    pub(crate) max_streams_per_connection: u32,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connection_age: Option<Duration>,
    pub(crate) shutdown_grace: Duration,
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
    /// The default [`ServerConfig::with_max_streams_per_connection`]: 64.
    pub const DEFAULT_MAX_STREAMS_PER_CONNECTION: u32 = 64;
    /// The default [`ServerConfig::with_idle_timeout`]: 90 seconds (three keepalive pings).
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
    /// The default [`ServerConfig::with_shutdown_grace`]: 10 seconds.
    pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

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
            extensions: Vec::new(),
            open_allowed: Vec::new(),
            max_streams_per_connection: Self::DEFAULT_MAX_STREAMS_PER_CONNECTION,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            max_connection_age: None,
            shutdown_grace: Self::DEFAULT_SHUTDOWN_GRACE,
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
    /// otherwise), and on every service an [`Extension`] adds. A service added with
    /// [`Mount::add_open_service`] (for clients that cannot send a token) is guarded by the
    /// client certificate instead when the server requires one (mutual TLS), and is open
    /// only if [`ServerConfig::allow_open_service`] names it. The health service stays open
    /// (it reports serving status only).
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

    /// Also serves what `extension` mounts (more gRPC services over the same store, on the
    /// same port, with the same TLS, deadlines and message size limit; see [`Extension`]).
    /// Extensions are mounted in the order they are added, when the server binds.
    ///
    /// ```
    /// use satchel_grpc::{Extension, Mount, ServerConfig};
    ///
    /// /// Serves nothing more; a real extension calls `mount.add_service(...)`.
    /// struct Nothing;
    /// impl Extension for Nothing {
    ///     fn name(&self) -> &str {
    ///         "nothing"
    ///     }
    ///     fn mount(&self, _mount: &mut Mount<'_>) {}
    /// }
    ///
    /// let config = ServerConfig::new("127.0.0.1:0".parse().unwrap()).with_extension(Nothing);
    /// assert!(format!("{config:?}").contains("nothing"));
    /// ```
    #[must_use]
    pub fn with_extension(mut self, extension: impl Extension) -> Self {
        self.extensions.push(Arc::new(extension));
        self
    }

    /// Lets `service` (a fully qualified gRPC name, e.g. `coherence.NamedCacheService`) be
    /// served without authentication although the server has a token: the operator's
    /// explicit choice for clients that can send neither the token nor a client certificate.
    /// Without it, a service an extension mounts with
    /// [`Mount::add_open_service`](crate::Mount::add_open_service) is put behind the token
    /// (or, with mutual TLS, behind the client certificate) when the server has a token.
    /// The server logs a warning at start for each service served this way.
    #[must_use]
    pub fn allow_open_service(mut self, service: impl Into<String>) -> Self {
        self.open_allowed.push(service.into());
        self
    }

    /// The most concurrent HTTP/2 streams (calls) one connection may have open; more wait
    /// for the client's own flow control (HTTP/2 `SETTINGS_MAX_CONCURRENT_STREAMS`).
    #[must_use]
    pub fn with_max_streams_per_connection(mut self, streams: u32) -> Self {
        self.max_streams_per_connection = streams.max(1);
        self
    }

    /// Closes a connection whose peer has sent nothing for this long: a TCP connection
    /// that never speaks HTTP/2, or a dead peer. A live client answers the server's HTTP/2
    /// keepalive pings (every 30 seconds, 10 seconds to answer), so it is never idle that
    /// long; TCP keepalive (60 seconds) is on too.
    #[must_use]
    pub fn with_idle_timeout(mut self, idle: Duration) -> Self {
        self.idle_timeout = idle.max(Duration::from_millis(1));
        self
    }

    /// Ends every connection this long after it opened (HTTP/2 `GOAWAY`: calls in flight
    /// finish, within the request time limit; clients reconnect for the next). Off by
    /// default: long-lived streams (Coherence listeners) would be cut.
    #[must_use]
    pub fn with_max_connection_age(mut self, age: Duration) -> Self {
        self.max_connection_age = Some(age.max(Duration::from_millis(1)));
        self
    }

    /// After the shutdown signal, how long calls in flight may take to finish before the
    /// server closes their connections and returns anyway.
    #[must_use]
    pub fn with_shutdown_grace(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
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
            .field(
                "extensions",
                &self.extensions.iter().map(|e| e.name()).collect::<Vec<_>>(),
            )
            .field("open_allowed", &self.open_allowed)
            .field(
                "max_streams_per_connection",
                &self.max_streams_per_connection,
            )
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connection_age", &self.max_connection_age)
            .field("shutdown_grace", &self.shutdown_grace)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_hides_secrets() {
        let c = ServerConfig::new("127.0.0.1:0".parse().unwrap())
            .with_token("tok-123")
            .with_tls(ServerTls::new("cert", "key-456"));
        let d = format!("{c:?}");
        assert!(!d.contains("tok-123") && !d.contains("key-456"), "{d}");
    }
}
