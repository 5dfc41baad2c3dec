//! URLs in the convention Rust Redis users know from fred: `redis-cluster://` (and
//! `rediss-cluster://`) names a Redis Cluster by one seed node in the authority and more in
//! `node=` query parameters, each seed reached with the URL's credentials;
//! `redis-sentinel://` (and `rediss-sentinel://`) names the sentinels of a service the same
//! way, with `sentinelServiceName=` (and `sentinelUsername=`/`sentinelPassword=` for the
//! sentinels themselves; the URL's own credentials and database are the primary's).

use satchel_store_core::{Result, StoreError, StoreErrorKind, redact_url};
use url::Url;

use crate::error::BACKEND;

/// What a URL names: one server (the URL as the `redis` crate reads it) or a cluster's
/// seed nodes (as `redis://` or `rediss://` URLs).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Single(String),
    Cluster(Vec<String>),
    Sentinel(SentinelTarget),
}

/// A service behind sentinels: where to ask, and how to reach the primary they name.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SentinelTarget {
    /// The sentinels, as `redis://` (or `rediss://`) URLs with the sentinels' credentials.
    pub(crate) sentinels: Vec<String>,
    /// The service (`sentinelServiceName`).
    pub(crate) service: String,
    /// The primary's database.
    pub(crate) db: i64,
    scheme: &'static str,
    auth: String,
}

impl SentinelTarget {
    /// The URL of the primary at `host:port`, with the URL's credentials and database.
    pub(crate) fn node_url(&self, host: &str, port: u16) -> String {
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        format!("{}://{}{host}:{port}/{}", self.scheme, self.auth, self.db)
    }
}

/// Never shows credentials.
impl std::fmt::Debug for SentinelTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelTarget")
            .field(
                "sentinels",
                &self
                    .sentinels
                    .iter()
                    .map(|u| redact_url(u))
                    .collect::<Vec<_>>(),
            )
            .field("service", &self.service)
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

/// `url` without its `keyspaceEvents=enable` query parameter, and whether it had it.
///
/// # Errors
/// [`StoreErrorKind::InvalidInput`] for `keyspaceEvents` with another value.
pub(crate) fn take_keyspace_events(url: &str) -> Result<(String, bool)> {
    if !url.contains("keyspaceEvents") {
        return Ok((url.to_string(), false));
    }
    let invalid = |why: &str| {
        StoreError::new(
            StoreErrorKind::InvalidInput,
            format!("{}: {why}", redact_url(url)),
        )
        .with_backend(BACKEND)
    };
    let mut parsed = Url::parse(url).map_err(|_| invalid("not a URL"))?;
    let mut enable = false;
    let mut kept = Vec::new();
    for (name, value) in parsed.query_pairs() {
        if name == "keyspaceEvents" {
            if value != "enable" {
                return Err(invalid("keyspaceEvents takes one value, `enable`"));
            }
            enable = true;
        } else {
            kept.push((name.into_owned(), value.into_owned()));
        }
    }
    if kept.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok((parsed.into(), enable))
}

/// Reads `url`: `redis-cluster://[user:pass@]host:port[?node=host:port&node=…]` and
/// `rediss-cluster://…` name a cluster; anything else is left to the `redis` crate.
///
/// # Errors
/// [`StoreErrorKind::InvalidInput`] for a cluster URL without a host or port, with a
/// database (a cluster has only database 0), a `node` that is not `host:port`, or a query
/// parameter other than `node`. Messages show the URL with its password as `***`.
pub(crate) fn target(url: &str) -> Result<Target> {
    let Some((scheme, _)) = url.split_once("://") else {
        return Ok(Target::Single(url.to_string()));
    };
    let (kind, tls) = match scheme {
        "redis-cluster" => ("cluster", false),
        "rediss-cluster" => ("cluster", true),
        "redis-sentinel" => ("sentinel", false),
        "rediss-sentinel" => ("sentinel", true),
        _ => return Ok(Target::Single(url.to_string())),
    };
    let invalid = |why: &str| {
        let form = if kind == "cluster" {
            "redis-cluster://[user:password@]host:port[?node=host:port&node=…]"
        } else {
            "redis-sentinel://[user:password@]host:port[/db]?sentinelServiceName=NAME[&node=host:port…]"
        };
        StoreError::new(
            StoreErrorKind::InvalidInput,
            format!("{}: {why}; the form is {form}", redact_url(url)),
        )
        .with_backend(BACKEND)
    };
    let parsed = Url::parse(url).map_err(|_| invalid("not a URL"))?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| invalid("no host"))?;
    let port = parsed.port().ok_or_else(|| invalid("no port"))?;
    let db = match parsed.path().trim_start_matches('/') {
        "" => 0,
        db => db
            .parse::<i64>()
            .map_err(|_| invalid("the database is not a number"))?,
    };
    if kind == "cluster" && db != 0 {
        return Err(invalid("a cluster has only database 0"));
    }
    let mut nodes = vec![format!("{host}:{port}")];
    let (mut service, mut sentinel_user, mut sentinel_password) = (None, None, None);
    for (name, value) in parsed.query_pairs() {
        match (kind, name.as_ref()) {
            (_, "node") => {
                let ok = value
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
                if !ok {
                    return Err(invalid(&format!("node `{value}` is not host:port")));
                }
                nodes.push(value.into_owned());
            }
            ("sentinel", "sentinelServiceName") => service = Some(value.into_owned()),
            ("sentinel", "sentinelUsername") => sentinel_user = Some(value.into_owned()),
            ("sentinel", "sentinelPassword") => sentinel_password = Some(value.into_owned()),
            _ => return Err(invalid(&format!("unknown parameter `{name}`"))),
        }
    }
    let auth = userinfo(
        parsed.username(),
        parsed.password().map(|p| p.to_string()).as_deref(),
    );
    let scheme = if tls { "rediss" } else { "redis" };
    if kind == "cluster" {
        return Ok(Target::Cluster(
            nodes
                .into_iter()
                .map(|node| format!("{scheme}://{auth}{node}"))
                .collect(),
        ));
    }
    let service = service
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("no sentinelServiceName"))?;
    let sentinel_auth = userinfo(
        sentinel_user.as_deref().unwrap_or(""),
        sentinel_password.as_deref(),
    );
    Ok(Target::Sentinel(SentinelTarget {
        sentinels: nodes
            .into_iter()
            .map(|node| format!("{scheme}://{sentinel_auth}{node}"))
            .collect(),
        service,
        db,
        scheme,
        auth,
    }))
}

/// `user:password@` as a URL's user info (already percent-encoded where it came from a URL).
fn userinfo(user: &str, password: Option<&str>) -> String {
    match (user, password) {
        ("", None) => String::new(),
        (user, Some(password)) => format!("{user}:{password}@"),
        (user, None) => format!("{user}@"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_urls_name_their_seeds() {
        assert_eq!(
            target("redis-cluster://127.0.0.1:7001?node=127.0.0.1:7002&node=h3:7003").unwrap(),
            Target::Cluster(vec![
                "redis://127.0.0.1:7001".into(),
                "redis://127.0.0.1:7002".into(),
                "redis://h3:7003".into(),
            ])
        );
        assert_eq!(
            target("rediss-cluster://ann:pw@h1:7001/").unwrap(),
            Target::Cluster(vec!["rediss://ann:pw@h1:7001".into()])
        );
        assert_eq!(
            target("redis://h:6379/2").unwrap(),
            Target::Single("redis://h:6379/2".into())
        );
    }

    #[test]
    fn sentinel_urls_name_the_sentinels_and_the_primary() {
        let Target::Sentinel(t) = target(
            "redis-sentinel://ann:pw@h1:26379/2?sentinelServiceName=mymaster&node=h2:26380&sentinelPassword=sp",
        )
        .unwrap() else {
            panic!("not a sentinel target");
        };
        assert_eq!(
            t.sentinels,
            ["redis://:sp@h1:26379", "redis://:sp@h2:26380"]
        );
        assert_eq!((t.service.as_str(), t.db), ("mymaster", 2));
        assert_eq!(
            t.node_url("10.0.0.5", 6380),
            "redis://ann:pw@10.0.0.5:6380/2"
        );
        assert_eq!(t.node_url("::1", 6380), "redis://ann:pw@[::1]:6380/2");
        let debug = format!("{t:?}");
        assert!(!debug.contains("pw") && !debug.contains(":sp@"), "{debug}");
    }

    #[test]
    fn bad_cluster_urls_are_refused_without_the_password() {
        for url in [
            "redis-cluster://:s3cret@h1",
            "redis-cluster://:s3cret@h1:7001/3",
            "redis-cluster://:s3cret@h1:7001?node=h2",
            "redis-cluster://:s3cret@h1:7001?node=:7002",
            "redis-cluster://:s3cret@h1:7001?sentinelServiceName=x",
            "redis-sentinel://:s3cret@h1:26379",
            "redis-sentinel://h1:26379?sentinelPassword=s3cret",
            "redis-sentinel://:s3cret@h1:26379/x?sentinelServiceName=m",
            "redis-sentinel://:s3cret@h1:26379?sentinelServiceName=m&db=2",
        ] {
            let e = target(url).unwrap_err();
            assert_eq!(e.kind(), StoreErrorKind::InvalidInput, "{url}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
    }
}
