//! [`GrpcConfig`]: where the server is, how long to wait, TLS and credentials.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use satchel_store_core::{StoreError, StoreErrorKind, redact_url};

/// How a [`GrpcStore`](crate::GrpcStore) reaches its server, with the options users of gRPC
/// cache clients expect.
///
/// | option | default | environment ([`GrpcConfig::from_env`]) |
/// | --- | --- | --- |
/// | address | `localhost:1408` | `SATCHEL_SERVER_ADDRESS` |
/// | request timeout | 30 s | `SATCHEL_REQUEST_TIMEOUT` (`500ms`, `5s`, `2m`; a bare number is ms) |
/// | TLS: CA, client certificate, key (PEM files) | off | `SATCHEL_TLS_CA`, `SATCHEL_TLS_CERT`, `SATCHEL_TLS_KEY` (TLS on when all three are set) |
/// | bearer token | none | `SATCHEL_TOKEN` |
/// | connect timeout | 5 s | — |
/// | HTTP/2 keepalive | every 30 s, 10 s to answer | — |
/// | max message size | 16 MiB | — |
/// | connections (HTTP/2, calls spread round-robin) | 2 | `SATCHEL_GRPC_CONNECTIONS` |
///
/// ```
/// use std::time::Duration;
/// use satchel_grpc::GrpcConfig;
///
/// let config = GrpcConfig::new("cache.internal:1408")
///     .with_request_timeout(Duration::from_secs(2))
///     .with_token("s3cret");
/// assert_eq!(config.address(), "cache.internal:1408");
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct GrpcConfig {
    pub(crate) address: String,
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) keepalive_interval: Option<Duration>,
    pub(crate) keepalive_timeout: Duration,
    pub(crate) max_message_size: usize,
    pub(crate) tls: Option<ClientTls>,
    pub(crate) token: Option<String>,
    pub(crate) connections: usize,
}

/// TLS for a client: the CA that signed the server's certificate and, for mutual TLS, the
/// client's own certificate and key (all PEM files).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientTls {
    /// The CA certificate that signed the server's certificate.
    pub ca: PathBuf,
    /// The client's certificate and private key, for servers that require one.
    pub identity: Option<(PathBuf, PathBuf)>,
    /// The name to check the server's certificate against (default: the address's host).
    pub domain: Option<String>,
}

impl ClientTls {
    /// TLS checking the server against `ca`, no client certificate.
    pub fn new(ca: impl Into<PathBuf>) -> Self {
        Self {
            ca: ca.into(),
            identity: None,
            domain: None,
        }
    }

    /// Presents this certificate and key (mutual TLS).
    #[must_use]
    pub fn with_identity(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.identity = Some((cert.into(), key.into()));
        self
    }

    /// Checks the server's certificate against this name instead of the address's host.
    #[must_use]
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }
}

impl GrpcConfig {
    /// The default address: `localhost:1408`.
    pub const DEFAULT_ADDRESS: &'static str = "localhost:1408";
    /// The default [`GrpcConfig::with_request_timeout`]: 30 seconds.
    pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    /// The default [`GrpcConfig::with_connect_timeout`]: 5 seconds.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The default [`GrpcConfig::with_max_message_size`]: 16 MiB.
    pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;
    /// The default [`GrpcConfig::with_connections`]: 2.
    pub const DEFAULT_CONNECTIONS: usize = 2;
    /// The most [`GrpcConfig::with_connections`] accepts: 64.
    pub const MAX_CONNECTIONS: usize = 64;

    /// A server at `address` (`host:port`), defaults for everything else (no TLS, no token).
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            request_timeout: Self::DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            keepalive_interval: Some(Duration::from_secs(30)),
            keepalive_timeout: Duration::from_secs(10),
            max_message_size: Self::DEFAULT_MAX_MESSAGE_SIZE,
            tls: None,
            token: None,
            connections: Self::DEFAULT_CONNECTIONS,
        }
    }

    /// The defaults, overridden by the `SATCHEL_*` variables in the table above.
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidInput`] naming the variable whose value is unusable, or when
    /// only some of the three `SATCHEL_TLS_*` variables are set.
    pub fn from_env() -> Result<Self, StoreError> {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    pub(crate) fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, StoreError> {
        let mut config = Self::new(
            var("SATCHEL_SERVER_ADDRESS").unwrap_or_else(|| Self::DEFAULT_ADDRESS.into()),
        );
        if let Some(t) = var("SATCHEL_REQUEST_TIMEOUT") {
            config.request_timeout = parse_duration(&t).ok_or_else(|| {
                invalid(format!(
                    "SATCHEL_REQUEST_TIMEOUT=`{t}` is not a duration (`500ms`, `5s`, `2m`, or a \
                     number of milliseconds)"
                ))
            })?;
        }
        let tls = [
            var("SATCHEL_TLS_CA"),
            var("SATCHEL_TLS_CERT"),
            var("SATCHEL_TLS_KEY"),
        ];
        match tls {
            [Some(ca), Some(cert), Some(key)] => {
                config.tls = Some(ClientTls::new(ca).with_identity(cert, key));
            }
            [None, None, None] => {}
            _ => {
                return Err(invalid(
                    "TLS needs all three of SATCHEL_TLS_CA, SATCHEL_TLS_CERT and SATCHEL_TLS_KEY; \
                     only some are set",
                ));
            }
        }
        config.token = var("SATCHEL_TOKEN");
        if let Some(n) = var("SATCHEL_GRPC_CONNECTIONS") {
            config.connections = parse_connections(&n)
                .ok_or_else(|| invalid(format!("SATCHEL_GRPC_CONNECTIONS=`{n}` {CONNECTIONS}")))?;
        }
        Ok(config)
    }

    /// A config from a store URL, on top of [`GrpcConfig::from_env`]:
    /// `grpc://[:token@]host:port[?timeout=5s][&connections=N]` (plain) or
    /// `grpcs://[:token@]host:port[?ca=PATH[&cert=PATH&key=PATH][&domain=NAME]][&timeout=5s]`
    /// (TLS; without `ca` the `SATCHEL_TLS_*` files are used).
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidInput`] for another scheme, a missing host or port, an
    /// unknown parameter or an unusable value (the message never shows the token).
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let shown = redact_url(url);
        let (tls, rest) = if let Some(rest) = url.strip_prefix("grpcs://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("grpc://") {
            (false, rest)
        } else {
            return Err(invalid(format!(
                "`{shown}` is not a gRPC store URL (grpc://host:port or grpcs://host:port)"
            )));
        };
        let mut config = Self::from_env()?;
        let (authority, query) = rest.split_once('?').unwrap_or((rest, ""));
        let authority = authority.trim_end_matches('/');
        let host_port = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => {
                let token = userinfo.split_once(':').map_or(userinfo, |(_, t)| t);
                if !token.is_empty() {
                    config.token = Some(token.to_string());
                }
                host_port
            }
            None => authority,
        };
        if host_port.is_empty() || !host_port.contains(':') {
            return Err(invalid(format!(
                "`{shown}` needs a host and a port, like grpc://127.0.0.1:1408"
            )));
        }
        config.address = host_port.to_string();
        let mut ca = None;
        let mut cert = None;
        let mut key = None;
        let mut domain = None;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            match name {
                "timeout" => {
                    config.request_timeout = parse_duration(value).ok_or_else(|| {
                        invalid(format!(
                            "`{shown}`: timeout=`{value}` is not a duration (`500ms`, `5s`)"
                        ))
                    })?;
                }
                "connections" => {
                    config.connections = parse_connections(value).ok_or_else(|| {
                        invalid(format!("`{shown}`: connections=`{value}` {CONNECTIONS}"))
                    })?;
                }
                "ca" => ca = Some(PathBuf::from(value)),
                "cert" => cert = Some(PathBuf::from(value)),
                "key" => key = Some(PathBuf::from(value)),
                "domain" => domain = Some(value.to_string()),
                other => {
                    return Err(invalid(format!(
                        "`{shown}`: unknown parameter `{other}` (known: timeout, \
                         connections, ca, cert, key, domain)"
                    )));
                }
            }
        }
        if !tls {
            if ca.is_some() || cert.is_some() || key.is_some() {
                return Err(invalid(format!(
                    "`{shown}`: TLS parameters need the grpcs:// scheme"
                )));
            }
            config.tls = None;
            return Ok(config);
        }
        let mut client_tls = match (ca, config.tls.take()) {
            (Some(ca), _) => ClientTls::new(ca),
            (None, Some(env)) => env,
            (None, None) => {
                return Err(invalid(format!(
                    "`{shown}` asks for TLS but names no CA: add ?ca=PATH or set \
                     SATCHEL_TLS_CA, SATCHEL_TLS_CERT and SATCHEL_TLS_KEY"
                )));
            }
        };
        match (cert, key) {
            (Some(cert), Some(key)) => client_tls = client_tls.with_identity(cert, key),
            (None, None) => {}
            _ => {
                return Err(invalid(format!(
                    "`{shown}`: a client certificate needs both cert= and key="
                )));
            }
        }
        if let Some(domain) = domain {
            client_tls = client_tls.with_domain(domain);
        }
        config.tls = Some(client_tls);
        Ok(config)
    }

    /// How long one call may take before it fails with [`StoreErrorKind::Timeout`]; also
    /// sent to the server as the call's deadline (`grpc-timeout`).
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long to wait for a TCP (and TLS) connection.
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// HTTP/2 pings every `interval` (`None`: off), the connection dropped if one is not
    /// answered within `timeout`.
    #[must_use]
    pub fn with_keepalive(mut self, interval: Option<Duration>, timeout: Duration) -> Self {
        self.keepalive_interval = interval;
        self.keepalive_timeout = timeout;
        self
    }

    /// The largest message sent or accepted, in bytes.
    #[must_use]
    pub fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// TLS (and mutual TLS if the [`ClientTls`] has an identity).
    #[must_use]
    pub fn with_tls(mut self, tls: ClientTls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Sends `authorization: Bearer <token>` with every call.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Opens `n` HTTP/2 connections to the server and spreads calls over them
    /// round-robin (clamped to 1..=[`GrpcConfig::MAX_CONNECTIONS`]).
    ///
    /// One connection carries any number of concurrent calls, but they all pass one
    /// connection's lock and one socket: with many tasks calling at once, a second
    /// connection lets the two sides' threads work in parallel (`BENCHMARKS.md` has the
    /// figures). More connections than the machines' cores buy nothing.
    #[must_use]
    pub fn with_connections(mut self, n: usize) -> Self {
        self.connections = n.clamp(1, Self::MAX_CONNECTIONS);
        self
    }

    /// How many connections the store opens ([`GrpcConfig::with_connections`]).
    pub fn connections(&self) -> usize {
        self.connections
    }

    /// The server's `host:port`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
}

impl Default for GrpcConfig {
    fn default() -> Self {
        Self::new(Self::DEFAULT_ADDRESS)
    }
}

impl fmt::Debug for GrpcConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcConfig")
            .field("address", &self.address)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("keepalive_interval", &self.keepalive_interval)
            .field("keepalive_timeout", &self.keepalive_timeout)
            .field("max_message_size", &self.max_message_size)
            .field("tls", &self.tls)
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("connections", &self.connections)
            .finish()
    }
}

fn invalid(message: impl Into<std::borrow::Cow<'static, str>>) -> StoreError {
    StoreError::new(StoreErrorKind::InvalidInput, message).with_backend(crate::status::BACKEND)
}

/// What an unusable connection count is told.
const CONNECTIONS: &str = "is not a number of connections (1 to 64)";

/// A connection count, 1..=[`GrpcConfig::MAX_CONNECTIONS`].
fn parse_connections(text: &str) -> Option<usize> {
    text.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=GrpcConfig::MAX_CONNECTIONS).contains(n))
}

/// `500ms`, `5s`, `2m`, or a bare number of milliseconds.
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => return None,
    };
    (seconds.is_finite() && seconds > 0.0 && seconds < 1e9)
        .then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn env_defaults_and_overrides() {
        let c = GrpcConfig::from_vars(vars(&[])).unwrap();
        assert_eq!(c.address, "localhost:1408");
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert!(c.tls.is_none());
        let c = GrpcConfig::from_vars(vars(&[
            ("SATCHEL_SERVER_ADDRESS", "10.0.0.1:9000"),
            ("SATCHEL_REQUEST_TIMEOUT", "1500"),
            ("SATCHEL_TLS_CA", "ca.pem"),
            ("SATCHEL_TLS_CERT", "c.pem"),
            ("SATCHEL_TLS_KEY", "k.pem"),
        ]))
        .unwrap();
        assert_eq!(c.address, "10.0.0.1:9000");
        assert_eq!(c.request_timeout, Duration::from_millis(1500));
        assert!(c.tls.unwrap().identity.is_some());
        let e = GrpcConfig::from_vars(vars(&[("SATCHEL_TLS_CA", "ca.pem")])).unwrap_err();
        assert!(e.to_string().contains("all three"), "{e}");
        let e = GrpcConfig::from_vars(vars(&[("SATCHEL_REQUEST_TIMEOUT", "soon")])).unwrap_err();
        assert!(e.to_string().contains("SATCHEL_REQUEST_TIMEOUT"), "{e}");
        let c = GrpcConfig::from_vars(vars(&[("SATCHEL_GRPC_CONNECTIONS", "3")])).unwrap();
        assert_eq!(c.connections, 3);
        let e = GrpcConfig::from_vars(vars(&[("SATCHEL_GRPC_CONNECTIONS", "0")])).unwrap_err();
        assert!(e.to_string().contains("SATCHEL_GRPC_CONNECTIONS"), "{e}");
        assert_eq!(
            GrpcConfig::new("h:1").with_connections(1000).connections(),
            64
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("40"), Some(Duration::from_millis(40)));
        assert_eq!(parse_duration("0"), None);
        assert_eq!(parse_duration("5h"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn urls() {
        let c = GrpcConfig::from_url("grpc://:tok@127.0.0.1:1408?timeout=2s").unwrap();
        assert_eq!(c.address, "127.0.0.1:1408");
        assert_eq!(c.token.as_deref(), Some("tok"));
        assert_eq!(c.request_timeout, Duration::from_secs(2));
        assert_eq!(c.connections, GrpcConfig::DEFAULT_CONNECTIONS);
        let c = GrpcConfig::from_url("grpc://127.0.0.1:1408?connections=4").unwrap();
        assert_eq!(c.connections, 4);
        let c = GrpcConfig::from_url("grpcs://h:1?ca=/ca.pem&cert=/c&key=/k&domain=x").unwrap();
        let tls = c.tls.unwrap();
        assert_eq!(tls.domain.as_deref(), Some("x"));
        assert!(tls.identity.is_some());
        for bad in [
            "grpc://",
            "grpc://host",
            "http://h:1",
            "grpc://h:1?nope=1",
            "grpc://h:1?connections=0",
            "grpc://h:1?connections=65",
            "grpc://h:1?connections=many",
            "grpc://h:1?ca=/x",
            "grpcs://h:1?ca=/x&cert=/c",
        ] {
            let e = GrpcConfig::from_url(bad).unwrap_err();
            assert_eq!(e.kind(), StoreErrorKind::InvalidInput, "{bad}");
        }
        let e = GrpcConfig::from_url("grpc://:supersecret@h?x").unwrap_err();
        assert!(!e.to_string().contains("supersecret"), "{e}");
    }
}
