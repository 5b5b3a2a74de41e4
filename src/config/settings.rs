//! The file's global sections, validated: `[server]`, `[dedup]`, `[log]`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::check::Check;
use super::raw::{BackendKind, LogFormat, LogLevel, RawDedup, RawLog, RawServer};
use crate::dedup::redis::{read_tls_files, RedisConfig, RedisNodes, RedisTls};
use crate::dedup::OnBackendError;

pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// Bodies are held whole in memory for verification; this bounds the setting.
pub const MAX_BODY_LIMIT: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub admin_listen: Option<SocketAddr>,
    pub tls: Option<TlsFiles>,
    pub max_body_bytes: usize,
    /// A request's header, and then its body, must each arrive within this.
    pub request_timeout: Duration,
    /// How long an idle client connection is kept between requests.
    pub keepalive_timeout: Duration,
    pub threads: usize,
    /// How long SIGTERM waits for requests in flight before exiting.
    pub shutdown_timeout: Duration,
    /// Client connections held at most; past it new ones are closed at once.
    pub max_connections: usize,
    /// Request bytes buffered at most across all connections; a request that
    /// would pass it gets 503 + `Retry-After` before its body is read.
    pub max_buffered_bytes: u64,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// Peers whose `Forwarded` / `X-Forwarded-*` / `X-Real-IP` are kept.
    pub trusted_proxies: Vec<IpNet>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// An address block: `10.0.0.0/8`, `::1/128`, or one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            _ => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }

    fn parse(text: &str) -> Option<IpNet> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (text.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(IpNet { addr, prefix })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum DedupBackend {
    Memory {
        max_entries: u64,
        /// Remembered deliveries are written here on shutdown and every
        /// `snapshot_interval`, and read back at start.
        snapshot: Option<PathBuf>,
    },
    /// One Redis server or a Cluster, with its TLS files.
    Redis(RedisConfig),
}

#[derive(Debug, Clone, PartialEq)]
pub struct DedupSettings {
    pub backend: DedupBackend,
    pub window: Duration,
    pub snapshot_interval: Duration,
    pub on_backend_error: OnBackendError,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogSettings {
    pub level: &'static str,
    pub json: bool,
}

pub fn server(check: &mut Check<'_>, raw: &RawServer) -> Option<ServerSettings> {
    let listen = check.addr("server.listen", &raw.listen);
    let admin_listen = raw
        .admin_listen
        .as_deref()
        .and_then(|a| check.addr("server.admin_listen", a));
    let max_body_bytes = match raw.max_body_bytes {
        None => DEFAULT_MAX_BODY,
        Some(n) if n == 0 || n > MAX_BODY_LIMIT as u64 => {
            check.error(
                "server.max_body_bytes",
                format!("must be between 1 and {MAX_BODY_LIMIT}"),
            );
            DEFAULT_MAX_BODY
        }
        Some(n) => n as usize,
    };
    let request_timeout = check.duration(
        "server.request_timeout",
        raw.request_timeout.as_deref(),
        Duration::from_secs(10),
    );
    let keepalive_timeout = check.duration(
        "server.keepalive_timeout",
        raw.keepalive_timeout.as_deref(),
        Duration::from_secs(15),
    );
    let shutdown_timeout = check.duration(
        "server.shutdown_timeout",
        raw.shutdown_timeout.as_deref(),
        Duration::from_secs(8),
    );
    let threads = match raw.threads {
        Some(0) => {
            check.error("server.threads", "must be at least 1");
            1
        }
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let max_connections = match raw.max_connections {
        Some(0) => {
            check.error("server.max_connections", "must be at least 1");
            1
        }
        Some(n) => n,
        None => 4096,
    };
    let max_buffered_bytes = raw.max_buffered_bytes.unwrap_or(256 * 1024 * 1024);
    if max_buffered_bytes < max_body_bytes as u64 {
        check.error(
            "server.max_buffered_bytes",
            format!("must be at least max_body_bytes ({max_body_bytes}): one request must fit"),
        );
    }
    let max_header_bytes = raw.max_header_bytes.unwrap_or(16 * 1024);
    if !(1024..=1024 * 1024).contains(&max_header_bytes) {
        check.error(
            "server.max_header_bytes",
            "must be between 1024 and 1048576",
        );
    }
    let max_headers = raw.max_headers.unwrap_or(100);
    if !(8..=128).contains(&max_headers) {
        check.error("server.max_headers", "must be between 8 and 128");
    }
    let mut trusted_proxies = Vec::new();
    for (i, text) in raw.trusted_proxies.iter().enumerate() {
        match IpNet::parse(text) {
            Some(net) => trusted_proxies.push(net),
            None => check.error(
                format!("server.trusted_proxies[{i}]"),
                format!("{text:?} is not an IP address or block (e.g. \"10.0.0.0/8\")"),
            ),
        }
    }
    if let Some(tls) = &raw.tls {
        for (what, path) in [("cert", &tls.cert), ("key", &tls.key)] {
            if !path.is_file() {
                check.error(
                    format!("server.tls.{what}"),
                    format!("{} is not a readable file", path.display()),
                );
            }
        }
    }
    Some(ServerSettings {
        listen: listen?,
        admin_listen,
        tls: raw.tls.as_ref().map(|t| TlsFiles {
            cert: t.cert.clone(),
            key: t.key.clone(),
        }),
        max_body_bytes,
        request_timeout,
        keepalive_timeout,
        threads,
        shutdown_timeout,
        max_connections,
        max_buffered_bytes,
        max_header_bytes,
        max_headers,
        trusted_proxies,
    })
}

pub fn dedup(check: &mut Check<'_>, raw: &RawDedup) -> DedupSettings {
    let window = check.duration(
        "dedup.window",
        raw.window.as_deref(),
        Duration::from_secs(24 * 3600),
    );
    let snapshot_interval = check.duration(
        "dedup.snapshot_interval",
        raw.snapshot_interval.as_deref(),
        Duration::from_secs(60),
    );
    let kind = check.choice("dedup.backend", raw.backend.as_ref(), BackendKind::Memory);
    let backend = match kind {
        BackendKind::Memory => {
            let max_entries = raw.max_entries.unwrap_or(1_000_000);
            if max_entries == 0 {
                check.error("dedup.max_entries", "must be at least 1");
            }
            for (key, set) in [
                ("redis_url", raw.redis_url.is_some()),
                ("redis_cluster", raw.redis_cluster.is_some()),
                ("redis_ca_file", raw.redis_ca_file.is_some()),
                ("redis_client_cert", raw.redis_client_cert.is_some()),
            ] {
                if set {
                    check.warn(format!(
                        "dedup.{key} is set but dedup.backend is \"memory\": it is not used"
                    ));
                }
            }
            DedupBackend::Memory {
                max_entries,
                snapshot: raw.snapshot_path.clone(),
            }
        }
        BackendKind::Redis => {
            if raw.snapshot_path.is_some() {
                check.error(
                    "dedup.snapshot_path",
                    "only the memory backend takes a snapshot (Redis keeps its own state)",
                );
            }
            match redis(check, raw) {
                Some(config) => DedupBackend::Redis(config),
                // Errors are recorded; the configuration is refused.
                None => DedupBackend::Memory {
                    max_entries: 1,
                    snapshot: None,
                },
            }
        }
    };
    let on_backend_error = check.choice(
        "dedup.on_backend_error",
        raw.on_backend_error.as_ref(),
        OnBackendError::Forward,
    );
    DedupSettings {
        backend,
        window,
        snapshot_interval,
        on_backend_error,
    }
}

/// `[dedup]`'s Redis keys: `redis_url` or `redis_cluster` (one of them),
/// and the TLS files, read now so a bad file stops the start with its name.
fn redis(check: &mut Check<'_>, raw: &RawDedup) -> Option<RedisConfig> {
    let nodes = match (&raw.redis_url, &raw.redis_cluster) {
        (Some(_), Some(_)) => {
            check.error(
                "dedup.redis_cluster",
                "set redis_url (one server) or redis_cluster (a Cluster's nodes), not both",
            );
            None
        }
        (Some(url), None) => check
            .redis_url("dedup.redis_url", url)
            .map(RedisNodes::Single),
        (None, Some(urls)) if urls.is_empty() => {
            check.error("dedup.redis_cluster", "name at least one node");
            None
        }
        (None, Some(urls)) => {
            let parsed: Vec<_> = urls
                .iter()
                .enumerate()
                .map(|(i, u)| check.redis_url(&format!("dedup.redis_cluster[{i}]"), u))
                .collect();
            let parsed: Option<Vec<_>> = parsed.into_iter().collect();
            parsed.map(RedisNodes::Cluster)
        }
        (None, None) => {
            check.error(
                "dedup.redis_url",
                "required when backend = \"redis\" (or dedup.redis_cluster for a Cluster)",
            );
            None
        }
    };
    let client_cert = match (&raw.redis_client_cert, &raw.redis_client_key) {
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        (None, None) => None,
        (Some(_), None) => {
            check.error("dedup.redis_client_key", "required with redis_client_cert");
            None
        }
        (None, Some(_)) => {
            check.error("dedup.redis_client_cert", "required with redis_client_key");
            None
        }
    };
    let tls = RedisTls {
        ca_file: raw.redis_ca_file.clone(),
        client_cert,
    };
    if let Err(why) = read_tls_files(&tls) {
        let location = if why.starts_with("CA") {
            "dedup.redis_ca_file"
        } else if why.starts_with("client key") {
            "dedup.redis_client_key"
        } else {
            "dedup.redis_client_cert"
        };
        check.error(location, why);
    }
    let nodes = nodes?;
    let urls = match &nodes {
        RedisNodes::Single(url) => std::slice::from_ref(url),
        RedisNodes::Cluster(urls) => urls.as_slice(),
    };
    let tls_urls = urls.iter().filter(|u| u.is_tls()).count();
    if tls_urls != 0 && tls_urls != urls.len() {
        check.error(
            "dedup.redis_cluster",
            "every node must be rediss:// (TLS) or every node redis://",
        );
    }
    if tls_urls == 0 && (tls.ca_file.is_some() || tls.client_cert.is_some()) {
        check.error(
            if tls.ca_file.is_some() {
                "dedup.redis_ca_file"
            } else {
                "dedup.redis_client_cert"
            },
            "TLS files are set but the Redis URL is redis://, not rediss:// (TLS)",
        );
    }
    Some(RedisConfig { nodes, tls })
}

pub fn log(check: &mut Check<'_>, raw: &RawLog) -> LogSettings {
    let format = check.choice("log.format", raw.format.as_ref(), LogFormat::Text);
    let level = check.choice("log.level", raw.level.as_ref(), LogLevel::Info);
    LogSettings {
        level: match level {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        },
        json: format == LogFormat::Json,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_blocks() {
        let net = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.2.3.4".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(net.contains("::ffff:10.0.0.1".parse().unwrap()));
        let one = IpNet::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6 = IpNet::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(IpNet::parse("10.0.0.0/33").is_none());
        assert!(IpNet::parse("nope").is_none());
        assert!(IpNet::parse("0.0.0.0/0")
            .unwrap()
            .contains("1.2.3.4".parse().unwrap()));
    }
}
