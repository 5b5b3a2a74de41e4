//! How the store reaches Redis: one server through a managed, multiplexed
//! connection, or a Cluster through the crate's async cluster client (which
//! follows MOVED/ASK and refreshes its slot map after a failover); plain
//! TCP or TLS (rustls, the system trust store or a configured CA, an
//! optional client certificate); ACL user and password from the URL.
//!
//! Passwords never print: URLs show as [`RedisUrl`]'s redacted form and
//! every error text is scrubbed of them before it is logged or served.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, RedisResult, TlsCertificates};
use tokio::sync::OnceCell;

use super::super::BackendError;
use crate::secret::Secret;

/// A connection attempt gives up after this.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Every Redis call must answer within this.
pub(super) const CALL_TIMEOUT: Duration = Duration::from_millis(500);

/// A `redis://` or `rediss://` URL whose password is a secret: `Display`
/// and `Debug` show `[redacted]` in its place.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl {
    url: Secret,
    shown: String,
    password: Option<Secret>,
}

impl RedisUrl {
    /// Parses `text` (a resolved URL: no `${NAME}` left). The error never
    /// quotes the text: it may hold a password.
    pub fn parse(text: &str) -> Result<RedisUrl, String> {
        let tls = if text.starts_with("rediss://") {
            true
        } else if text.starts_with("redis://") {
            false
        } else {
            return Err("must start with redis:// or rediss://".into());
        };
        let rest = &text[if tls { 9 } else { 8 }..];
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let (userinfo, host) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        if host.is_empty() || host.starts_with(':') {
            return Err("has no host".into());
        }
        let password = userinfo
            .and_then(|u| u.split_once(':'))
            .map(|(_, p)| p)
            .filter(|p| !p.is_empty());
        let shown = match (userinfo, password) {
            (Some(u), Some(_)) => {
                let user = u.split_once(':').map_or(u, |(user, _)| user);
                format!(
                    "{}://{user}:[redacted]@{}",
                    if tls { "rediss" } else { "redis" },
                    &rest[userinfo.map_or(0, |u| u.len() + 1)..]
                )
            }
            _ => text.to_owned(),
        };
        if redis::parse_redis_url(text).is_none() {
            return Err(format!("{shown} is not a valid Redis URL"));
        }
        let password = password.map(|p| Secret::new(percent_decode(p)));
        Ok(RedisUrl {
            url: Secret::new(text),
            shown,
            password,
        })
    }

    pub fn is_tls(&self) -> bool {
        self.url.expose().starts_with("rediss://")
    }

    pub fn expose(&self) -> &str {
        self.url.expose()
    }

    /// The password as the server sees it (percent-decoded), to scrub it
    /// from error texts.
    fn password(&self) -> Option<&str> {
        self.password.as_ref().map(Secret::expose)
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({})", self.shown)
    }
}

/// Percent-encodes a password for a URL's userinfo (everything but the
/// unreserved characters), so any secret fits `user:${NAME}@host`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One server, or the seed nodes of a Cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisNodes {
    Single(RedisUrl),
    Cluster(Vec<RedisUrl>),
}

/// TLS files beyond the system trust store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisTls {
    /// PEM CA certificates that replace the system trust store.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain and key, for servers that ask for one.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub nodes: RedisNodes,
    pub tls: RedisTls,
}

impl RedisConfig {
    pub fn single(url: RedisUrl) -> RedisConfig {
        RedisConfig {
            nodes: RedisNodes::Single(url),
            tls: RedisTls::default(),
        }
    }

    fn urls(&self) -> &[RedisUrl] {
        match &self.nodes {
            RedisNodes::Single(url) => std::slice::from_ref(url),
            RedisNodes::Cluster(urls) => urls,
        }
    }

    /// Where the store connects, passwords redacted: for logs.
    pub fn describe(&self) -> String {
        let urls: Vec<String> = self.urls().iter().map(ToString::to_string).collect();
        let mut out = match &self.nodes {
            RedisNodes::Single(_) => urls.join(""),
            RedisNodes::Cluster(_) => format!("cluster [{}]", urls.join(", ")),
        };
        if let Some(ca) = &self.tls.ca_file {
            out.push_str(&format!(", CA {}", ca.display()));
        }
        if let Some((cert, _)) = &self.tls.client_cert {
            out.push_str(&format!(", client certificate {}", cert.display()));
        }
        out
    }
}

/// Reads the PEM files a configuration names, checking they hold what they
/// should; `Err` says which file and why.
pub fn read_tls_files(tls: &RedisTls) -> Result<Option<TlsCertificates>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    if tls.ca_file.is_none() && tls.client_cert.is_none() {
        return Ok(None);
    }
    let read = |what: &str, path: &PathBuf| {
        std::fs::read(path).map_err(|e| format!("{what} {}: {e}", path.display()))
    };
    let certificates = |what: &str, path: &PathBuf, pem: &[u8]| {
        let certs = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{what} {}: not PEM certificates: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "{what} {} holds no PEM certificate",
                path.display()
            ));
        }
        Ok(())
    };
    let root_cert = match &tls.ca_file {
        Some(path) => {
            let pem = read("CA file", path)?;
            certificates("CA file", path, &pem)?;
            Some(pem)
        }
        None => None,
    };
    let client_tls = match &tls.client_cert {
        Some((cert, key)) => {
            let cert_pem = read("client certificate", cert)?;
            certificates("client certificate", cert, &cert_pem)?;
            let key_pem = read("client key", key)?;
            PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|e| format!("client key {}: no PEM private key: {e}", key.display()))?;
            Some(redis::ClientTlsConfig {
                client_cert: cert_pem,
                client_key: key_pem,
            })
        }
        None => None,
    };
    Ok(Some(TlsCertificates {
        client_tls,
        root_cert,
    }))
}

/// A live connection: cheap to clone, every clone multiplexed over the same
/// socket(s).
#[derive(Clone)]
pub(super) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    pub(super) async fn query<T: FromRedisValue>(&mut self, cmd: &Cmd) -> RedisResult<T> {
        match self {
            Conn::Single(c) => cmd.query_async(c).await,
            Conn::Cluster(c) => cmd.query_async(c).await,
        }
    }

    /// PING the server, or every primary of the Cluster's slot map: one
    /// that does not answer fails it.
    pub(super) async fn ping(&mut self) -> RedisResult<String> {
        use redis::cluster_routing::{MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo};
        match self {
            Conn::Single(c) => redis::cmd("PING").query_async(c).await,
            Conn::Cluster(c) => {
                let all = RoutingInfo::MultiNode((
                    MultipleNodeRoutingInfo::AllMasters,
                    Some(ResponsePolicy::AllSucceeded),
                ));
                let answer = c.route_command(redis::cmd("PING"), all).await?;
                String::from_redis_value(answer).map_err(Into::into)
            }
        }
    }
}

enum Client {
    Single(Box<redis::Client>),
    Cluster(Box<ClusterClient>),
}

/// Makes the connection on first use (and again after a failed attempt),
/// so the gateway starts while Redis is down.
pub(super) struct Connector {
    client: Client,
    conn: OnceCell<Conn>,
    /// Scripts loaded on every new connection.
    scripts: Vec<&'static str>,
    passwords: Vec<Secret>,
}

impl Connector {
    pub(super) fn new(
        config: &RedisConfig,
        scripts: Vec<&'static str>,
    ) -> Result<Connector, BackendError> {
        // The crate builds its rustls configuration from the process-wide
        // provider; the binary's TLS is ring throughout.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let passwords = config
            .urls()
            .iter()
            .filter_map(|u| u.password().map(Secret::new))
            .collect();
        let certs = read_tls_files(&config.tls).map_err(BackendError::Unavailable)?;
        let invalid = |what: &'static str| {
            move |e: redis::RedisError| {
                BackendError::Unavailable(format!("{what}: {}", e.category()))
            }
        };
        let client = match &config.nodes {
            RedisNodes::Single(url) => Client::Single(Box::new(
                match certs {
                    Some(certs) => redis::Client::build_with_tls(url.expose(), certs),
                    None => redis::Client::open(url.expose()),
                }
                .map_err(invalid("invalid Redis URL or TLS settings"))?,
            )),
            RedisNodes::Cluster(urls) => {
                let mut builder = ClusterClientBuilder::new(urls.iter().map(|u| u.expose()))
                    .connection_timeout(CONNECT_TIMEOUT)
                    .response_timeout(CALL_TIMEOUT)
                    .retries(3)
                    .min_retry_wait(20)
                    .max_retry_wait(200);
                if let Some(certs) = certs {
                    builder = builder.certs(certs);
                }
                Client::Cluster(Box::new(
                    builder
                        .build()
                        .map_err(invalid("invalid Redis Cluster nodes or TLS settings"))?,
                ))
            }
        };
        Ok(Connector {
            client,
            conn: OnceCell::new(),
            scripts,
            passwords,
        })
    }

    pub(super) async fn connection(&self) -> Result<Conn, BackendError> {
        let conn = self
            .conn
            .get_or_try_init(|| async {
                let connect = async {
                    let mut conn = match &self.client {
                        Client::Single(client) => {
                            let config = ConnectionManagerConfig::new()
                                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                                .set_response_timeout(Some(CALL_TIMEOUT))
                                .set_number_of_retries(1)
                                .set_max_delay(Duration::from_millis(500));
                            Conn::Single(client.get_connection_manager_with_config(config).await?)
                        }
                        Client::Cluster(client) => {
                            Conn::Cluster(client.get_async_connection().await?)
                        }
                    };
                    // Loaded up front so commits and releases are one EVALSHA;
                    // a server that lost them (restart, failover, flush)
                    // answers NOSCRIPT and the script is sent again then.
                    for script in &self.scripts {
                        let mut load = redis::cmd("SCRIPT");
                        load.arg("LOAD").arg(*script);
                        let _: RedisResult<redis::Value> = conn.query(&load).await;
                    }
                    Ok::<_, redis::RedisError>(conn)
                };
                pingora::time::timeout(CONNECT_TIMEOUT * 4, connect)
                    .await
                    .map_err(|_| BackendError::Timeout)?
                    .map_err(|e| self.error(e))
            })
            .await?;
        Ok(conn.clone())
    }

    /// A backend error from a Redis error: what went wrong in words (a TLS
    /// handshake's reason, an ACL refusal), never a password.
    pub(super) fn error(&self, e: redis::RedisError) -> BackendError {
        if e.is_timeout() {
            return BackendError::Timeout;
        }
        let mut text = match e.kind() {
            redis::ErrorKind::AuthenticationFailed => {
                format!("authentication failed: {}", e.detail().unwrap_or(""))
            }
            _ => e.to_string(),
        };
        for p in &self.passwords {
            if !p.expose().is_empty() {
                text = text.replace(p.expose(), "[redacted]");
            }
        }
        let mut end = text.len().min(400);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        BackendError::Unavailable(text.trim().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_shows_its_user_but_never_its_password() {
        let url = RedisUrl::parse("rediss://hookgate:s3cr%40t@cache.example:6380/0").unwrap();
        assert_eq!(
            url.to_string(),
            "rediss://hookgate:[redacted]@cache.example:6380/0"
        );
        assert!(!format!("{url:?}").contains("s3cr"));
        assert_eq!(url.password(), Some("s3cr@t"));
        assert!(url.is_tls());
        let plain = RedisUrl::parse("redis://127.0.0.1:6379/0").unwrap();
        assert_eq!(plain.to_string(), "redis://127.0.0.1:6379/0");
        assert_eq!(plain.password(), None);
        // A password alone (the default user).
        let default_user = RedisUrl::parse("redis://:hunter2@h:1/0").unwrap();
        assert_eq!(default_user.to_string(), "redis://:[redacted]@h:1/0");
    }

    #[test]
    fn a_bad_url_is_refused_without_quoting_it() {
        for bad in [
            "mysql://user:hunter2@host",
            "rediss://user:hunter2@",
            "redis://user:hunter2@host:notaport/0",
        ] {
            let err = RedisUrl::parse(bad).unwrap_err();
            assert!(!err.contains("hunter2"), "{err}");
        }
    }

    #[test]
    fn any_password_survives_percent_encoding() {
        let password = "p@ss:w/rd %41?#&é";
        let url = format!("redis://u:{}@h:1/0", percent_encode(password));
        assert_eq!(RedisUrl::parse(&url).unwrap().password(), Some(password));
        let info = redis::IntoConnectionInfo::into_connection_info(url.as_str()).unwrap();
        assert_eq!(info.redis_settings().password(), Some(password));
    }
}
