//! `satchel serve`: the gRPC server over any store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use satchel_coherence::{Coherence, KnownClasses};
use satchel_grpc::{Server, ServerConfig, ServerTls, shutdown_signal};
use serde_json::json;

use crate::Global;
use crate::error::{CliError, CliResult, chain, code};
use crate::util::println;

/// The store `satchel serve` uses when none is named: an SQLite file in the working
/// directory, created if missing (no server to install).
pub(crate) const DEFAULT_STORE: &str = "sqlite://satchel.db";

/// Arguments of `satchel serve`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The store to serve: sqlite://FILE, postgres://…, mysql://…, redis://…, memory://.
    #[arg(long, env = "SATCHEL_STORE", value_name = "URL", default_value = DEFAULT_STORE)]
    store: String,
    /// Address to listen on (port 0: any free port; the one chosen is printed).
    #[arg(
        long,
        env = "SATCHEL_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:1408"
    )]
    listen: SocketAddr,
    /// Require `authorization: Bearer TOKEN` on every store call.
    #[arg(
        long,
        env = "SATCHEL_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Serve TLS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (mutual TLS); needs --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
    /// Refuse values that do not start with a satchel header.
    #[arg(long)]
    check_header: bool,
    /// Do not answer the Coherence cache protocol (coherence.NamedCacheService).
    #[arg(long)]
    no_coherence: bool,
    /// With --token, serve the Coherence endpoint WITHOUT authentication (its clients
    /// cannot send the token). Without this flag it needs the token, or under mutual TLS
    /// (--tls-client-ca) the client certificate.
    #[arg(long, requires = "token", conflicts_with = "no_coherence")]
    coherence_without_auth: bool,
    /// A class the Coherence endpoint accepts in keys and values besides Coherence's own
    /// (`math.*`, `filter.*`, …): a name as the client's `@proxy` writes it (`test.Person`),
    /// a prefix (`myapp.*`), or `*` for any. Repeatable. Like a Coherence server, the
    /// endpoint refuses a value naming another class ("Could not deserialize").
    #[arg(long, value_name = "CLASS", conflicts_with = "no_coherence")]
    coherence_class: Vec<String>,
    /// The log's format on stderr: `text`, or `json` (one object a line). What is logged:
    /// RUST_LOG (default `info`: start, stop, each refused or failed call).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// How often expired values are deleted from a store that keeps them until purged
    /// (SQL tables: an expired row is never read, but stays until deleted): a duration
    /// (`30s`, `5m`, `1h`), or `off`. Stores that drop expired values by themselves (Redis)
    /// have nothing to purge.
    #[arg(long, value_name = "INTERVAL", default_value = "1m", value_parser = parse_purge_every)]
    purge_every: PurgeEvery,
    /// The largest request or response in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = ServerConfig::DEFAULT_MAX_MESSAGE_SIZE)]
    max_message_size: usize,
}

/// `--purge-every`: an interval, or `off`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PurgeEvery(Option<Duration>);

fn parse_purge_every(text: &str) -> Result<PurgeEvery, String> {
    if text.trim() == "off" {
        return Ok(PurgeEvery(None));
    }
    crate::util::parse_ttl(text)
        .map(|every| PurgeEvery(Some(every)))
        .map_err(|_| {
            format!("bad interval `{text}`: use `off` or a whole number and a unit: 30s, 5m, 1h")
        })
}

/// Deletes the expired values of `store` every `every`, logging how many (and failures,
/// which the next round retries), until aborted.
async fn purge_loop(store: satchel_store::DynStore, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let Some(purge) = store.try_purge_expired() else {
            return;
        };
        match purge.await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "deleted expired values"),
            Err(e) => tracing::warn!(
                error = %chain(&e),
                "could not delete expired values; trying again in {every:?}"
            ),
        }
    }
}

/// The formats of `satchel serve`'s log.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LogFormat {
    /// One human-readable line an event.
    Text,
    /// One JSON object an event.
    Json,
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`). The log never holds a value,
/// a token or a session id: the server logs methods, codes and addresses.
fn install_log(format: LogFormat) -> CliResult {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().or_else(|e| {
        if std::env::var_os(EnvFilter::DEFAULT_ENV).is_some() {
            Err(CliError::new(
                code::USAGE,
                format!("RUST_LOG is not a valid log filter ({e}); e.g. RUST_LOG=info,satchel_grpc=debug"),
            ))
        } else {
            Ok(EnvFilter::new("info"))
        }
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // Already installed (tests calling in twice): keep that one.
    drop(installed);
    Ok(())
}

/// Serves until SIGINT or SIGTERM, then lets requests in flight finish.
pub(crate) async fn run(args: Args, global: &Global) -> CliResult {
    install_log(args.log_format)?;
    let store = satchel_store::open(&args.store)
        .await
        .map_err(|e| CliError::open_store(&args.store, &e))?;
    let mut config = ServerConfig::new(args.listen)
        .with_header_check(args.check_header)
        .with_max_message_size(args.max_message_size);
    if !args.no_coherence {
        let classes = args
            .coherence_class
            .iter()
            .fold(KnownClasses::coherence(), |known, class| {
                known.with(class.as_str())
            });
        config = config.with_extension(Coherence::new().with_known_classes(classes));
    }
    if let Some(token) = args.token {
        config = config.with_token(token);
    }
    if args.coherence_without_auth {
        config = config.allow_open_service("coherence.NamedCacheService");
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let mut tls = ServerTls::from_files(cert, key).map_err(serve_error)?;
            if let Some(ca) = &args.tls_client_ca {
                tls = tls.with_client_ca_file(ca).map_err(serve_error)?;
            }
            config = config.with_tls(tls);
            if args.tls_client_ca.is_some() {
                "mutual TLS"
            } else {
                "TLS"
            }
        }
        _ => "plaintext",
    };
    // Before the banner: a SIGTERM sent as soon as it is printed stops the server
    // gracefully.
    let stop = shutdown_signal();
    let bound = Server::new(std::sync::Arc::clone(&store), config)
        .bind()
        .await
        .map_err(serve_error)?;
    let addr = bound.local_addr();
    let services: Vec<&str> = bound.services().iter().map(|s| s.name).collect();
    let protections: serde_json::Map<String, serde_json::Value> = bound
        .services()
        .iter()
        .map(|s| (s.name.to_string(), json!(s.protection.to_string())))
        .collect();
    let shown = satchel_store::redact_url(&args.store);
    if global.json {
        // One line, so a supervising script can read it as soon as it is printed.
        println(json!({
            "listening": addr.to_string(),
            "store": shown,
            "transport": tls,
            "coherence": !args.no_coherence,
            "services": services,
            "protection": protections,
        }))?;
    } else {
        println(format_args!(
            "satchel serve: listening on {addr} ({tls} gRPC), storing into {shown}"
        ))?;
        for service in bound.services() {
            println(format_args!("  {}: {}", service.name, service.protection))?;
        }
        println(format_args!(
            "  try: satchel set --store grpc://{addr} greeting '\"hello\"' && satchel get \
             --store grpc://{addr} greeting"
        ))?;
        println("  stop with Ctrl-C")?;
    }
    let purge = args
        .purge_every
        .0
        .filter(|_| store.capabilities().purge_expired)
        .map(|every| tokio::spawn(purge_loop(std::sync::Arc::clone(&store), every)));
    let served = bound.serve_with_shutdown(stop).await;
    if let Some(purge) = purge {
        purge.abort();
    }
    // Requests are done: let the store go cleanly (a SQLite file is checkpointed, so no
    // write-ahead log is left beside it).
    store.close().await;
    served.map_err(serve_error)?;
    if !global.json {
        println("satchel serve: stopped")?;
    }
    Ok(())
}

fn serve_error(e: satchel_grpc::ServeError) -> CliError {
    let code = match e.kind() {
        satchel_grpc::ServeErrorKind::Bind | satchel_grpc::ServeErrorKind::Tls => code::USAGE,
        _ => code::FAILURE,
    };
    CliError::new(code, chain(&e))
}
