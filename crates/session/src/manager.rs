//! [`SessionManager`]: named sessions sharing one connection pool per backend.

use std::collections::HashMap;
use std::time::Duration;

use satchel::DynCodec;
use satchel_store::{DynStore, StoreError, StoreErrorKind, redact_url};
use serde::Deserialize;
use tokio::sync::Mutex;

use crate::{SessionConfig, Sessions};

/// Where and how one kind of session is kept: from a URL, a serde config struct or
/// environment variables.
///
/// The settings it shares with [`SessionConfig`] have the same names and types
/// (`idle_timeout`, `absolute_timeout`, `key_prefix`); in URLs, environment variables and
/// serde input their values are whole seconds. The names of satchel 0.1
/// (`idle_timeout_secs`, `absolute_timeout_secs`, `prefix`) are still read.
///
/// ```
/// use satchel_session::SessionOptions;
/// let o = SessionOptions::from_url("redis://127.0.0.1:6379/?codec=msgpack+zstd&idle_timeout=900")?;
/// assert_eq!(o.url, "redis://127.0.0.1:6379/");
/// assert_eq!(o.codec.to_string(), "msgpack+zstd");
/// assert_eq!(o.idle_timeout, std::time::Duration::from_secs(900));
/// # Ok::<(), satchel_store::StoreError>(())
/// ```
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SessionOptions {
    /// The store URL, as for `satchel_store::open` (password redacted in `Debug`? no:
    /// use [`SessionOptions::redacted_url`] when logging).
    pub url: String,
    /// The pipeline spec (default `json`).
    #[serde(default = "default_codec")]
    pub codec: DynCodec,
    /// [`SessionConfig::idle_timeout`] (default 30 minutes; whole seconds in serde input).
    #[serde(
        default = "default_idle",
        deserialize_with = "seconds",
        alias = "idle_timeout_secs"
    )]
    pub idle_timeout: Duration,
    /// [`SessionConfig::absolute_timeout`] (default none; whole seconds in serde input).
    #[serde(
        default,
        deserialize_with = "optional_seconds",
        alias = "absolute_timeout_secs"
    )]
    pub absolute_timeout: Option<Duration>,
    /// [`SessionConfig::key_prefix`] (default `session:{name}:`).
    #[serde(default, alias = "prefix")]
    pub key_prefix: Option<String>,
}

fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_secs)
}

fn optional_seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    Option::<u64>::deserialize(d).map(|s| s.map(Duration::from_secs))
}

/// JSON, or without the `json` feature the first format feature enabled (`lib.rs` refuses
/// to compile without one).
fn default_codec() -> DynCodec {
    #[cfg(feature = "json")]
    let format = satchel::FormatId::JSON;
    #[cfg(all(not(feature = "json"), feature = "msgpack"))]
    let format = satchel::FormatId::MSGPACK;
    #[cfg(all(not(feature = "json"), not(feature = "msgpack"), feature = "bincode"))]
    let format = satchel::FormatId::BINCODE;
    // Only so that the `compile_error!` is the one error of a build without formats.
    #[cfg(not(any(feature = "json", feature = "msgpack", feature = "bincode")))]
    let format = satchel::FormatId::JSON;
    DynCodec::for_pipeline(satchel::Pipeline {
        format,
        compression: satchel::CompressionId::NONE,
    })
    .expect("the format of an enabled feature of satchel-session is compiled into satchel")
}

fn default_idle() -> Duration {
    SessionConfig::default().idle_timeout
}

fn invalid(message: String) -> StoreError {
    StoreError::new(StoreErrorKind::InvalidInput, message)
}

impl SessionOptions {
    /// Options for the store at `url`, everything else default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            codec: default_codec(),
            idle_timeout: default_idle(),
            absolute_timeout: None,
            key_prefix: None,
        }
    }

    /// Reads `codec`, `idle_timeout`, `absolute_timeout` (seconds) and `key_prefix` (or
    /// `prefix`) from the URL's query; other query parameters stay in the store URL.
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidInput`] for a bad codec spec or number.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut options = Self::new(base);
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "codec" => options.set("codec", v)?,
                "idle_timeout" => options.set("idle_timeout", v)?,
                "absolute_timeout" => options.set("absolute_timeout", v)?,
                "key_prefix" | "prefix" => options.set("key_prefix", v)?,
                _ => rest.push(pair),
            }
        }
        if !rest.is_empty() {
            options.url = format!("{base}?{}", rest.join("&"));
        }
        Ok(options)
    }

    /// Reads `{PREFIX}URL` (required), `{PREFIX}CODEC`, `{PREFIX}IDLE_TIMEOUT`,
    /// `{PREFIX}ABSOLUTE_TIMEOUT` and `{PREFIX}KEY_PREFIX` from the environment, e.g. with
    /// `prefix = "SATCHEL_SESSION_"`.
    ///
    /// # Errors
    /// [`StoreErrorKind::InvalidInput`] if the URL variable is missing or a value is bad.
    pub fn from_env(prefix: &str) -> Result<Self, StoreError> {
        let var = |name: &str| std::env::var(format!("{prefix}{name}")).ok();
        let url = var("URL")
            .ok_or_else(|| invalid(format!("environment variable {prefix}URL is not set")))?;
        let mut options = Self::new(url);
        for (name, key) in [
            ("CODEC", "codec"),
            ("IDLE_TIMEOUT", "idle_timeout"),
            ("ABSOLUTE_TIMEOUT", "absolute_timeout"),
            ("KEY_PREFIX", "key_prefix"),
        ] {
            if let Some(v) = var(name) {
                options.set(key, &v)?;
            }
        }
        Ok(options)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), StoreError> {
        let secs = |v: &str| {
            v.parse::<u64>().map_err(|_| {
                invalid(format!(
                    "session option `{key}` must be whole seconds, not `{v}`"
                ))
            })
        };
        match key {
            "codec" => {
                self.codec = value.parse().map_err(|e: satchel::Error| {
                    invalid(format!("session option `codec`: {}", e.message())).with_source(e)
                })?;
            }
            "idle_timeout" => self.idle_timeout = Duration::from_secs(secs(value)?),
            "absolute_timeout" => {
                self.absolute_timeout = Some(Duration::from_secs(secs(value)?));
            }
            _ => self.key_prefix = Some(value.to_string()),
        }
        Ok(())
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    fn config(&self, name: &str) -> SessionConfig {
        SessionConfig::default()
            .with_idle_timeout(self.idle_timeout)
            .with_absolute_timeout(self.absolute_timeout)
            .with_key_prefix(
                self.key_prefix
                    .clone()
                    .unwrap_or_else(|| format!("session:{name}:")),
            )
    }
}

/// Named kinds of sessions, created on first use: the same name gives the same
/// [`Sessions`] handle, and all names whose options point at the same store URL share one
/// store (one connection pool).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), satchel_store::StoreError> {
/// use satchel_session::{SessionManager, SessionOptions};
/// let manager = SessionManager::new();
/// let web = manager.get_session("web", &SessionOptions::new("memory://")).await?;
/// let api = manager.get_session("api", &SessionOptions::new("memory://")).await?;
/// assert!(std::sync::Arc::ptr_eq(web.store(), api.store()));
/// # Ok(()) }
/// ```
#[derive(Default)]
pub struct SessionManager {
    stores: Mutex<HashMap<String, DynStore>>,
    named: Mutex<HashMap<String, Sessions>>,
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager").finish_non_exhaustive()
    }
}

impl SessionManager {
    /// An empty manager.
    pub fn new() -> Self {
        Self::default()
    }

    /// The sessions named `name`, created with `options` on first use (later calls with
    /// the same name return the same handle, whatever their options).
    ///
    /// # Errors
    /// As `satchel_store::open` for a store not opened yet.
    pub async fn get_session(
        &self,
        name: &str,
        options: &SessionOptions,
    ) -> Result<Sessions, StoreError> {
        // No lock is held across the connect: a slow store delays only its own callers.
        if let Some(existing) = self.named.lock().await.get(name) {
            return Ok(existing.clone());
        }
        let known = self.stores.lock().await.get(&options.url).cloned();
        let store = match known {
            Some(store) => store,
            None => {
                let opened = satchel_store::open(&options.url).await?;
                // Another caller may have opened the same URL meanwhile: keep the first.
                self.stores
                    .lock()
                    .await
                    .entry(options.url.clone())
                    .or_insert(opened)
                    .clone()
            }
        };
        let sessions = Sessions::new(store, options.codec.clone(), options.config(name));
        Ok(self
            .named
            .lock()
            .await
            .entry(name.to_string())
            .or_insert(sessions)
            .clone())
    }
}
