//! [`open`]: a store from a URL.

use std::sync::Arc;

use satchel_store_core::{StoreError, StoreErrorKind, StoreObject, redact_url};

use crate::{Instrumented, MemoryStore};

/// A store chosen at run time: `dyn StoreObject` (a `dyn Store` too:
/// `let s: Arc<dyn Store> = opened;`). Ask it what it can do with
/// [`Store::capabilities`](satchel_store_core::Store::capabilities): every adapter lists
/// keys, and all but Redis (which expires values by itself) purge expired values.
pub type DynStore = Arc<dyn StoreObject>;

/// The URL schemes [`open`] knows, compiled in or not.
pub const SCHEMES: &[&str] = &[
    "memory://",
    "sqlite://PATH",
    "sqlite::memory:",
    "postgres://",
    "mysql://",
    "mariadb://",
    "redis://",
    "rediss://",
    "redis-cluster://",
    "rediss-cluster://",
    "redis-sentinel://",
    "rediss-sentinel://",
    "grpc://",
    "grpcs://",
];

/// Opens the store a URL names, traced (see [`Instrumented`]):
///
/// | URL | store | cargo feature of `satchel-store` |
/// | --- | --- | --- |
/// | `memory://` | a new [`MemoryStore`] | — |
/// | `sqlite://path/file.db`, `sqlite::memory:` | SQLite (file created if missing) | `sqlite` |
/// | `postgres://…`, `postgresql://…` | PostgreSQL | `postgres` |
/// | `mysql://…`, `mariadb://…` | MySQL / MariaDB | `mysql` |
/// | `redis://…`, `rediss://…` | Redis | `redis` |
/// | `redis-cluster://host:port?node=host:port&node=…`, `rediss-cluster://…` | Redis Cluster | `redis` |
/// | `redis-sentinel://host:port/db?sentinelServiceName=NAME&node=…`, `rediss-sentinel://…` | the primary behind Redis Sentinel | `redis` |
/// | `grpc://host:port`, `grpcs://…` | a satchel gRPC server (`satchel serve`) | `grpc` |
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), satchel_store::StoreError> {
/// let store = satchel_store::open("memory://").await?;
/// store.set("k", b"v", None, satchel_store::Condition::Always).await?;
/// assert_eq!(store.get("k").await?.unwrap().value, b"v");
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`StoreErrorKind::InvalidInput`] for an unknown scheme (the message lists the known
/// ones) or a scheme whose adapter is not compiled in (the message names the feature);
/// the adapter's connection errors ([`StoreErrorKind::Unavailable`], …) otherwise.
/// Passwords in the URL never appear in messages.
pub async fn open(url: &str) -> Result<DynStore, StoreError> {
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or(url);
    match scheme {
        "memory" => Ok(Arc::new(Instrumented::new(MemoryStore::new()))),
        "sqlite" | "postgres" | "postgresql" | "mysql" | "mariadb" => open_sql(url).await,
        "redis" | "rediss" | "redis-cluster" | "rediss-cluster" | "redis-sentinel"
        | "rediss-sentinel" => open_redis(url).await,
        "grpc" | "grpcs" => open_grpc(url).await,
        _ => Err(StoreError::new(
            StoreErrorKind::InvalidInput,
            format!(
                "unknown store URL `{}`; known: {}",
                redact_url(url),
                SCHEMES.join(", ")
            ),
        )),
    }
}

fn not_compiled(url: &str, feature: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::InvalidInput,
        format!(
            "store URL `{}` needs cargo feature `{feature}` of satchel-store",
            redact_url(url)
        ),
    )
}

async fn open_sql(url: &str) -> Result<DynStore, StoreError> {
    let feature = if url.starts_with("sqlite") {
        "sqlite"
    } else if url.starts_with("postgres") {
        "postgres"
    } else {
        "mysql"
    };
    let compiled = match feature {
        "sqlite" => cfg!(feature = "sqlite"),
        "postgres" => cfg!(feature = "postgres"),
        _ => cfg!(feature = "mysql"),
    };
    if !compiled {
        return Err(not_compiled(url, feature));
    }
    #[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
    {
        let store = satchel_sql::SqlStore::connect(url).await?;
        Ok(Arc::new(Instrumented::new(store)))
    }
    #[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
    unreachable!("checked above")
}

async fn open_redis(url: &str) -> Result<DynStore, StoreError> {
    #[cfg(feature = "redis")]
    {
        let store = satchel_redis::RedisStore::connect(url).await?;
        Ok(Arc::new(Instrumented::new(store)))
    }
    #[cfg(not(feature = "redis"))]
    {
        std::future::ready(()).await;
        Err(not_compiled(url, "redis"))
    }
}

async fn open_grpc(url: &str) -> Result<DynStore, StoreError> {
    #[cfg(feature = "grpc")]
    {
        let store = satchel_grpc::GrpcStore::open(url).await?;
        Ok(Arc::new(Instrumented::new(store)))
    }
    #[cfg(not(feature = "grpc"))]
    {
        std::future::ready(()).await;
        Err(not_compiled(url, "grpc"))
    }
}
