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
            extensions: Vec::new(),
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
    /// otherwise). The health service stays open, and so do the services an [`Extension`]
    /// adds with [`Mount::add_open_service`].
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
