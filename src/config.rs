//! The configuration file: parsed and validated by a pure function over the
//! file's text and an environment lookup, so tests never touch the process
//! environment. Every error is collected with its location.

use std::collections::HashMap;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use serde::Deserialize;

use crate::dedup::OnBackendError;
use crate::provider::{self, Provider, ProviderKind, SigningKey};
use crate::secret::Secret;

/// A validated configuration: everything a request needs, resolved once.
#[derive(Debug)]
pub struct Config {
    pub server: ServerSettings,
    pub dedup: DedupSettings,
    pub log: LogSettings,
    /// In file order.
    routes: Vec<Arc<Route>>,
    by_path: HashMap<String, Arc<Route>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub admin_listen: Option<SocketAddr>,
    pub tls: Option<TlsFiles>,
    pub max_body_bytes: usize,
    /// Deadline for reading a whole request (header and body).
    pub request_timeout: Duration,
    pub threads: usize,
    /// How long SIGTERM waits for requests in flight before exiting.
    pub shutdown_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub enum DedupBackend {
    Memory { max_entries: u64 },
    Redis { url: Secret },
}

#[derive(Debug, Clone, PartialEq)]
pub struct DedupSettings {
    pub backend: DedupBackend,
    pub window: Duration,
    pub on_backend_error: OnBackendError,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LogSettings {
    pub level: String,
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardMode {
    /// A CloudEvents structured-mode JSON document.
    Normalized,
    /// The provider's bytes, with the CloudEvents attributes as `ce-` headers.
    Original,
}

/// Where dedup keys come from on a route.
#[derive(Debug, Clone, PartialEq)]
pub enum DedupKeySpec {
    /// The provider's default (PROVIDERS.md).
    Provider,
    /// `header:NAME` and `json:/pointer` parts, joined.
    Parts(Vec<KeyPart>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum KeyPart {
    Header(HeaderName),
    Json(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// An upstream receiver, resolved at load time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upstream {
    pub addr: SocketAddr,
    pub tls: bool,
    /// Host name for SNI and the `Host` header.
    pub host: String,
    /// `Host` header value (with the port when it is not the default).
    pub authority: String,
    /// Path prefix from the URL, without a trailing slash.
    pub base_path: String,
}

pub struct Route {
    pub name: String,
    pub path: String,
    pub provider: &'static dyn Provider,
    pub keys: Vec<SigningKey>,
    pub tolerance: Duration,
    pub forward: ForwardMode,
    pub upstream: Arc<Upstream>,
    pub upstream_path: Option<String>,
    pub timeout: Duration,
    pub signature_header: HeaderName,
    /// `None` when dedup is off for the route.
    pub dedup: Option<DedupKeySpec>,
    pub include_raw: bool,
    /// Requests per second forwarded at most, with a burst allowance.
    pub rate_limit: Option<RateLimit>,
    /// Signs what is forwarded, Standard Webhooks style, when set.
    pub forward_signer: Option<SigningKey>,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("provider", &self.provider.kind())
            .field("keys", &self.keys.len())
            .field("forward", &self.forward)
            .field("upstream", &self.upstream)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Route {
    pub fn kind(&self) -> ProviderKind {
        self.provider.kind()
    }
}

impl Config {
    /// The route for a request path: exact match, no decoding, no prefix.
    pub fn route(&self, path: &str) -> Option<&Arc<Route>> {
        self.by_path.get(path)
    }

    pub fn routes(&self) -> impl Iterator<Item = &Arc<Route>> {
        self.routes.iter()
    }

    /// Every distinct upstream the routes use.
    pub fn upstreams(&self) -> Vec<Arc<Upstream>> {
        let mut seen: Vec<Arc<Upstream>> = Vec::new();
        for route in &self.routes {
            if !seen.iter().any(|u| u == &route.upstream) {
                seen.push(route.upstream.clone());
            }
        }
        seen
    }

    /// What differs between two configurations that only a restart applies.
    pub fn restart_needed(&self, next: &Config) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.server.listen != next.server.listen {
            changed.push("server.listen");
        }
        if self.server.admin_listen != next.server.admin_listen {
            changed.push("server.admin_listen");
        }
        if self.server.tls != next.server.tls {
            changed.push("server.tls");
        }
        if self.server.threads != next.server.threads {
            changed.push("server.threads");
        }
        if self.dedup.backend != next.dedup.backend {
            changed.push("dedup.backend");
        }
        if self.log != next.log {
            changed.push("log");
        }
        changed
    }
}

/// A configuration that validated, with what it warns about.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub location: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// All the errors of a configuration that did not validate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} configuration error(s):", self.0.len())?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// Bodies are held whole in memory for verification; this bounds the setting.
pub const MAX_BODY_LIMIT: usize = 64 * 1024 * 1024;
pub const MAX_SECRETS_PER_ROUTE: usize = 16;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    server: RawServer,
    upstream: RawUpstream,
    #[serde(default)]
    dedup: RawDedup,
    #[serde(default)]
    log: RawLog,
    #[serde(default, rename = "route")]
    routes: Vec<RawRoute>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: String,
    admin_listen: Option<String>,
    max_body_bytes: Option<u64>,
    request_timeout: Option<String>,
    threads: Option<usize>,
    shutdown_timeout: Option<String>,
    tls: Option<RawTls>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: PathBuf,
    key: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpstream {
    url: String,
    timeout: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDedup {
    backend: Option<String>,
    window: Option<String>,
    max_entries: Option<u64>,
    redis_url: Option<String>,
    on_backend_error: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: Option<String>,
    format: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    name: String,
    path: String,
    provider: String,
    #[serde(default)]
    secrets: Vec<String>,
    tolerance: Option<String>,
    forward: Option<String>,
    upstream_path: Option<String>,
    upstream: Option<String>,
    timeout: Option<String>,
    signature_header: Option<String>,
    dedup: Option<bool>,
    dedup_key: Option<Vec<String>>,
    raw: Option<bool>,
    forward_secret: Option<String>,
    rate_limit: Option<u32>,
    rate_burst: Option<u32>,
}

/// Collects errors and warnings while validating.
struct Check<'e> {
    env: &'e dyn Fn(&str) -> Option<String>,
    errors: Vec<ConfigError>,
    warnings: Vec<String>,
}

impl Check<'_> {
    fn error(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            location: location.into(),
            message: message.into(),
        });
    }

    fn duration(&mut self, location: &str, value: Option<&str>, default: Duration) -> Duration {
        match value {
            None => default,
            Some(text) => {
                match humantime::parse_duration(text) {
                    Ok(d) if !d.is_zero() => d,
                    _ => {
                        self.error(
                        location,
                        format!("invalid duration {text:?} (e.g. \"500ms\", \"8s\", \"5m\", \"24h\")"),
                    );
                        default
                    }
                }
            }
        }
    }

    fn addr(&mut self, location: &str, value: &str) -> Option<SocketAddr> {
        match value.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                self.error(location, format!("{value:?} is not an IP:port address"));
                None
            }
        }
    }

    /// A secret-bearing value: `${NAME}` from the environment, or a literal
    /// (which works, with a warning).
    fn secret(&mut self, location: &str, value: &str) -> Option<Secret> {
        if let Some(name) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                self.error(
                    location,
                    format!("{value:?} is not a valid ${{NAME}} reference"),
                );
                return None;
            }
            match (self.env)(name) {
                Some(v) if !v.is_empty() => Some(Secret::new(v)),
                Some(_) => {
                    self.error(location, format!("environment variable {name} is empty"));
                    None
                }
                None => {
                    self.error(location, format!("environment variable {name} is not set"));
                    None
                }
            }
        } else {
            self.warnings.push(format!(
                "{location}: a literal secret is in the configuration file; use \"${{NAME}}\" to read it from the environment"
            ));
            Some(Secret::new(value))
        }
    }

    fn upstream(&mut self, location: &str, url: &str) -> Option<Upstream> {
        let uri: http::Uri = match url.parse() {
            Ok(u) => u,
            Err(_) => {
                self.error(location, format!("{url:?} is not a URL"));
                return None;
            }
        };
        let tls = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => {
                self.error(
                    location,
                    format!("{url:?}: the scheme must be http or https"),
                );
                return None;
            }
        };
        let Some(host) = uri.host().map(|h| h.trim_matches(['[', ']']).to_owned()) else {
            self.error(location, format!("{url:?} has no host"));
            return None;
        };
        if uri.query().is_some() {
            self.error(
                location,
                format!("{url:?}: a query string is not allowed here"),
            );
        }
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let addr = match (host.as_str(), port)
            .to_socket_addrs()
            .map(|mut a| a.next())
        {
            Ok(Some(a)) => a,
            _ => {
                self.error(location, format!("cannot resolve the host of {url:?}"));
                return None;
            }
        };
        let authority = match uri.port_u16() {
            Some(p) => uri
                .authority()
                .map_or(format!("{host}:{p}"), |a| a.to_string()),
            None => uri.authority().map_or(host.clone(), |a| a.to_string()),
        };
        Some(Upstream {
            addr,
            tls,
            host,
            authority,
            base_path: uri.path().trim_end_matches('/').to_owned(),
        })
    }
}

/// Parses and validates a configuration file's text. `env` resolves
/// `${NAME}` references.
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, ConfigErrors> {
    let raw: RawConfig = toml::from_str(text).map_err(|e| {
        let location = match e.span() {
            Some(span) => format!("line {}", text[..span.start].lines().count().max(1)),
            None => "file".to_string(),
        };
        ConfigErrors(vec![ConfigError {
            location,
            message: e.message().to_string(),
        }])
    })?;
    let mut check = Check {
        env,
        errors: Vec::new(),
        warnings: Vec::new(),
    };
    let server = server_settings(&mut check, &raw.server);
    let dedup = dedup_settings(&mut check, &raw.dedup);
    let log = log_settings(&mut check, &raw.log);

    let default_upstream = check
        .upstream("upstream.url", &raw.upstream.url)
        .map(Arc::new);
    let default_timeout = check.duration(
        "upstream.timeout",
        raw.upstream.timeout.as_deref(),
        Duration::from_secs(8),
    );

    if raw.routes.is_empty() {
        check.error("route", "at least one [[route]] is required");
    }
    let mut routes = Vec::new();
    let mut names = HashMap::new();
    let mut paths = HashMap::new();
    for (i, raw_route) in raw.routes.iter().enumerate() {
        let location = format!("route[{i}] ({})", raw_route.name);
        if let Some(first) = names.insert(raw_route.name.clone(), i) {
            check.error(
                &location,
                format!("name {:?} is also used by route[{first}]", raw_route.name),
            );
        }
        if let Some(first) = paths.insert(raw_route.path.clone(), i) {
            check.error(
                &location,
                format!("path {:?} is also used by route[{first}]", raw_route.path),
            );
        }
        let Some(route) = route(
            &mut check,
            &location,
            raw_route,
            default_upstream.as_ref(),
            default_timeout,
            &dedup,
        ) else {
            continue;
        };
        routes.push(Arc::new(route));
    }

    if !check.errors.is_empty() {
        return Err(ConfigErrors(check.errors));
    }
    Ok(Loaded {
        config: Config {
            server: server.expect("server settings are complete when there is no error"),
            dedup,
            log,
            by_path: routes.iter().map(|r| (r.path.clone(), r.clone())).collect(),
            routes,
        },
        warnings: check.warnings,
    })
}

fn server_settings(check: &mut Check<'_>, raw: &RawServer) -> Option<ServerSettings> {
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
        threads,
        shutdown_timeout,
    })
}

fn dedup_settings(check: &mut Check<'_>, raw: &RawDedup) -> DedupSettings {
    let window = check.duration(
        "dedup.window",
        raw.window.as_deref(),
        Duration::from_secs(24 * 3600),
    );
    let backend = match raw.backend.as_deref().unwrap_or("memory") {
        "memory" => {
            let max_entries = raw.max_entries.unwrap_or(1_000_000);
            if max_entries == 0 {
                check.error("dedup.max_entries", "must be at least 1");
            }
            DedupBackend::Memory { max_entries }
        }
        "redis" => match raw.redis_url.as_deref() {
            Some(url) => {
                let url = check
                    .secret("dedup.redis_url", url)
                    .unwrap_or_else(|| Secret::new(""));
                let u = url.expose();
                if !(u.is_empty() || u.starts_with("redis://") || u.starts_with("rediss://")) {
                    check.error("dedup.redis_url", "must start with redis:// or rediss://");
                }
                DedupBackend::Redis { url }
            }
            None => {
                check.error("dedup.redis_url", "required when backend = \"redis\"");
                DedupBackend::Redis {
                    url: Secret::new(""),
                }
            }
        },
        other => {
            check.error(
                "dedup.backend",
                format!("{other:?} is not \"memory\" or \"redis\""),
            );
            DedupBackend::Memory { max_entries: 1 }
        }
    };
    let on_backend_error = match raw.on_backend_error.as_deref().unwrap_or("forward") {
        "forward" => OnBackendError::Forward,
        "reject" => OnBackendError::Reject,
        other => {
            check.error(
                "dedup.on_backend_error",
                format!("{other:?} is not \"forward\" or \"reject\""),
            );
            OnBackendError::Forward
        }
    };
    DedupSettings {
        backend,
        window,
        on_backend_error,
    }
}

fn log_settings(check: &mut Check<'_>, raw: &RawLog) -> LogSettings {
    let json = match raw.format.as_deref().unwrap_or("text") {
        "text" => false,
        "json" => true,
        other => {
            check.error(
                "log.format",
                format!("{other:?} is not \"text\" or \"json\""),
            );
            false
        }
    };
    let level = raw.level.clone().unwrap_or_else(|| "info".into());
    if !["error", "warn", "info", "debug", "trace"].contains(&level.as_str()) {
        check.error(
            "log.level",
            format!("{level:?} is not one of error, warn, info, debug, trace"),
        );
    }
    LogSettings { level, json }
}

fn route(
    check: &mut Check<'_>,
    location: &str,
    raw: &RawRoute,
    default_upstream: Option<&Arc<Upstream>>,
    default_timeout: Duration,
    dedup: &DedupSettings,
) -> Option<Route> {
    let errors_before = check.errors.len();
    if raw.name.is_empty()
        || !raw
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        check.error(
            location,
            "name must be non-empty letters, digits, '-', '_' or '.'",
        );
    }
    if !raw.path.starts_with('/') || raw.path.contains(['?', '#', ' ', '%']) {
        check.error(
            format!("{location}.path"),
            format!(
                "{:?} must start with '/' and hold no '?', '#', '%' or space",
                raw.path
            ),
        );
    }
    let Some(kind) = ProviderKind::parse(&raw.provider) else {
        check.error(
            format!("{location}.provider"),
            format!(
                "{:?} is not one of nixflex, agntix, inboundflow, allo, voxagent",
                raw.provider
            ),
        );
        return None;
    };
    let provider = provider::provider(kind);

    if raw.secrets.is_empty() {
        check.error(
            format!("{location}.secrets"),
            "at least one secret is required",
        );
    }
    if raw.secrets.len() > MAX_SECRETS_PER_ROUTE {
        check.error(
            format!("{location}.secrets"),
            format!("at most {MAX_SECRETS_PER_ROUTE} secrets per route"),
        );
    }
    let mut keys = Vec::with_capacity(raw.secrets.len());
    for (j, value) in raw.secrets.iter().enumerate() {
        let at = format!("{location}.secrets[{j}]");
        if let Some(secret) = check.secret(&at, value) {
            match provider.signing_key(&secret) {
                Ok(key) => keys.push(key),
                Err(why) => check.error(at, why),
            }
        }
    }

    let tolerance = check.duration(
        &format!("{location}.tolerance"),
        raw.tolerance.as_deref(),
        Duration::from_secs(300),
    );
    let forward = match raw.forward.as_deref().unwrap_or("normalized") {
        "normalized" => ForwardMode::Normalized,
        "original" => ForwardMode::Original,
        other => {
            check.error(
                format!("{location}.forward"),
                format!("{other:?} is not \"normalized\" or \"original\""),
            );
            ForwardMode::Original
        }
    };
    if let Some(p) = &raw.upstream_path {
        if !p.starts_with('/') || p.contains(['#', ' ', '\r', '\n']) {
            check.error(
                format!("{location}.upstream_path"),
                format!("{p:?} must start with '/'"),
            );
        }
    }
    let upstream = match &raw.upstream {
        Some(url) => check
            .upstream(&format!("{location}.upstream"), url)
            .map(Arc::new),
        None => default_upstream.cloned(),
    };
    let timeout = check.duration(
        &format!("{location}.timeout"),
        raw.timeout.as_deref(),
        default_timeout,
    );
    if let Some(deadline) = provider.deadline() {
        if timeout >= deadline {
            check.error(
                format!("{location}.timeout"),
                format!(
                    "{} must be shorter than {kind}'s delivery deadline of {}",
                    humantime::format_duration(timeout),
                    humantime::format_duration(deadline)
                ),
            );
        }
    }
    if let Some(horizon) = provider.retry_horizon() {
        if raw.dedup != Some(false) && dedup.window < horizon {
            check.warnings.push(format!(
                "{location}: dedup.window {} is shorter than {kind}'s retry schedule ({}): a late retry may be forwarded again",
                humantime::format_duration(dedup.window),
                humantime::format_duration(horizon)
            ));
        }
    }
    let signature_header = match (&raw.signature_header, kind) {
        (None, _) => HeaderName::from_static("x-voxagent-signature"),
        (Some(name), ProviderKind::Voxagent) => match HeaderName::from_bytes(name.as_bytes()) {
            Ok(h) => h,
            Err(_) => {
                check.error(
                    format!("{location}.signature_header"),
                    format!("{name:?} is not a valid header name"),
                );
                HeaderName::from_static("x-voxagent-signature")
            }
        },
        (Some(_), _) => {
            check.error(
                format!("{location}.signature_header"),
                "only voxagent routes take a signature_header (the other providers publish theirs)",
            );
            HeaderName::from_static("x-voxagent-signature")
        }
    };
    let dedup_spec = match (raw.dedup.unwrap_or(true), &raw.dedup_key) {
        (false, _) => None,
        (true, None) => Some(DedupKeySpec::Provider),
        (true, Some(parts)) => Some(dedup_key_spec(check, location, parts, provider)),
    };
    let forward_signer = raw.forward_secret.as_deref().and_then(|value| {
        let at = format!("{location}.forward_secret");
        let secret = check.secret(&at, value)?;
        match provider::standard::signing_key(&secret) {
            Ok(k) => Some(k),
            Err(why) => {
                check.error(at, why);
                None
            }
        }
    });

    let rate_limit = match (raw.rate_limit, raw.rate_burst) {
        (None, None) => None,
        (None, Some(_)) => {
            check.error(format!("{location}.rate_burst"), "needs rate_limit");
            None
        }
        (Some(0), _) | (_, Some(0)) => {
            check.error(
                format!("{location}.rate_limit"),
                "rate_limit and rate_burst must be at least 1",
            );
            None
        }
        (Some(per_second), burst) => Some(RateLimit {
            per_second,
            burst: burst.unwrap_or(per_second),
        }),
    };

    if check.errors.len() > errors_before {
        return None;
    }
    Some(Route {
        name: raw.name.clone(),
        path: raw.path.clone(),
        provider,
        keys,
        tolerance,
        forward,
        upstream: upstream?,
        upstream_path: raw.upstream_path.clone(),
        timeout,
        signature_header,
        dedup: dedup_spec,
        include_raw: raw.raw.unwrap_or(true),
        rate_limit,
        forward_signer,
    })
}

fn dedup_key_spec(
    check: &mut Check<'_>,
    location: &str,
    parts: &[String],
    provider: &dyn Provider,
) -> DedupKeySpec {
    let at = format!("{location}.dedup_key");
    if parts.is_empty() {
        check.error(&at, "must name at least one part (or set dedup = false)");
    }
    let mut out = Vec::new();
    for part in parts {
        if let Some(name) = part.strip_prefix("header:") {
            match HeaderName::from_bytes(name.as_bytes()) {
                Ok(h) => {
                    if !provider.signed_headers().contains(&h.as_str()) {
                        check.warnings.push(format!(
                            "{at}: header {name:?} is not signed by {}: a replay with a fresh value will not be caught",
                            provider.kind()
                        ));
                    }
                    out.push(KeyPart::Header(h));
                }
                Err(_) => check.error(&at, format!("{name:?} is not a valid header name")),
            }
        } else if let Some(pointer) = part.strip_prefix("json:") {
            if pointer.is_empty() || !pointer.starts_with('/') {
                check.error(
                    &at,
                    format!("{pointer:?} is not a JSON pointer (e.g. \"/data/id\")"),
                );
            } else {
                out.push(KeyPart::Json(pointer.to_owned()));
            }
        } else {
            check.error(
                &at,
                format!("{part:?} must start with \"header:\" or \"json:\""),
            );
        }
    }
    DedupKeySpec::Parts(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[server]
listen = "127.0.0.1:8080"
[upstream]
url = "http://127.0.0.1:3000"
"#;

    fn env(name: &str) -> Option<String> {
        match name {
            "NIXFLEX_SECRET" => Some("nfx-secret-value".into()),
            "AGNTIX_SECRET" => Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()),
            _ => None,
        }
    }

    fn load(routes: &str) -> Result<Loaded, ConfigErrors> {
        parse(&format!("{BASE}{routes}"), &env)
    }

    #[test]
    fn the_example_file_validates() {
        let text = include_str!("../config.example.toml");
        let env = |name: &str| match name {
            "AGNTIX_WEBHOOK_SECRET" | "ALLO_WEBHOOK_SECRET" => {
                Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string())
            }
            _ => Some(format!("{name}-value")),
        };
        let loaded = parse(text, &env).unwrap();
        let kinds: Vec<_> = loaded.config.routes().map(|r| r.kind()).collect();
        for kind in ProviderKind::ALL {
            assert!(
                kinds.contains(&kind),
                "{kind} missing from config.example.toml"
            );
        }
    }

    #[test]
    fn defaults_and_lookup() {
        let loaded = load(
            r#"
[[route]]
name = "nixflex"
path = "/webhooks/nixflex"
provider = "nixflex"
secrets = ["${NIXFLEX_SECRET}"]
"#,
        )
        .unwrap();
        let c = &loaded.config;
        assert_eq!(c.server.max_body_bytes, 1024 * 1024);
        assert_eq!(c.dedup.window, Duration::from_secs(86400));
        let r = c.route("/webhooks/nixflex").unwrap();
        assert_eq!(r.timeout, Duration::from_secs(8));
        assert_eq!(r.tolerance, Duration::from_secs(300));
        assert_eq!(r.forward, ForwardMode::Normalized);
        assert_eq!(r.dedup, Some(DedupKeySpec::Provider));
        assert!(c.route("/webhooks/nixflex/").is_none());
        assert!(c.route("/webhooks/Nixflex").is_none());
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn collects_every_error_with_its_location_and_never_a_secret() {
        let err = load(
            r#"
[[route]]
name = "a"
path = "no-slash"
provider = "nixflex"
secrets = ["${MISSING_SECRET}"]
timeout = "12s"

[[route]]
name = "b"
path = "/b"
provider = "agntix"
secrets = ["whsec_!!!not-base64-hunter2!!!"]
tolerance = "five minutes"

[[route]]
name = "c"
path = "/c"
provider = "carrier-pigeon"
secrets = ["x"]
"#,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("route[0] (a).path"), "{text}");
        assert!(text.contains("MISSING_SECRET is not set"), "{text}");
        assert!(text.contains("route[0] (a).timeout"), "{text}");
        assert!(text.contains("route[1] (b).secrets[0]"), "{text}");
        assert!(text.contains("route[1] (b).tolerance"), "{text}");
        assert!(text.contains("route[2] (c).provider"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(err.0.len(), 6, "{text}");
    }

    #[test]
    fn literal_secrets_warn_and_unknown_keys_fail() {
        let loaded = load(
            r#"
[[route]]
name = "v"
path = "/v"
provider = "voxagent"
secrets = ["literal"]
signature_header = "X-Vox-Sig"
timeout = "3s"
"#,
        )
        .unwrap();
        assert!(loaded.warnings.iter().any(|w| w.contains("literal secret")));
        assert!(!loaded.warnings.iter().any(|w| w.contains("literal\"")));
        let r = loaded.config.route("/v").unwrap();
        assert_eq!(r.signature_header.as_str(), "x-vox-sig");

        let err = load(
            r#"
[[route]]
name = "v"
path = "/v"
provider = "voxagent"
secrets = ["x"]
sekrets = ["typo"]
"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("sekrets"), "{err}");
    }

    #[test]
    fn duplicate_names_and_paths_and_misplaced_signature_header() {
        let err = load(
            r#"
[[route]]
name = "n"
path = "/same"
provider = "nixflex"
secrets = ["${NIXFLEX_SECRET}"]
signature_header = "X-Other"

[[route]]
name = "n"
path = "/same"
provider = "nixflex"
secrets = ["${NIXFLEX_SECRET}"]
"#,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("also used by route[0]"), "{text}");
        assert!(
            text.contains("path \"/same\" is also used by route[0]"),
            "{text}"
        );
        assert!(text.contains("only voxagent routes"), "{text}");
    }

    #[test]
    fn dedup_key_overrides_and_upstream_overrides() {
        let loaded = load(
            r#"
[[route]]
name = "ag"
path = "/ag"
provider = "agntix"
secrets = ["${AGNTIX_SECRET}"]
dedup_key = ["header:svix-id", "json:/eventType"]
upstream = "http://localhost:3001/base/"
upstream_path = "/calls"
forward = "original"
raw = false

[[route]]
name = "nx"
path = "/nx"
provider = "nixflex"
secrets = ["${NIXFLEX_SECRET}"]
dedup_key = ["header:webhook_delivery_id"]
"#,
        )
        .unwrap();
        let r = loaded.config.route("/ag").unwrap();
        assert_eq!(
            r.dedup,
            Some(DedupKeySpec::Parts(vec![
                KeyPart::Header(HeaderName::from_static("svix-id")),
                KeyPart::Json("/eventType".into())
            ]))
        );
        assert_eq!(r.upstream.base_path, "/base");
        assert_eq!(r.upstream.authority, "localhost:3001");
        assert!(!r.include_raw);
        assert_eq!(loaded.config.upstreams().len(), 2);
        // An unsigned header as a dedup key is allowed, with a warning.
        assert!(loaded
            .warnings
            .iter()
            .any(|w| w.contains("webhook_delivery_id")));
    }

    #[test]
    fn redis_backend_needs_a_url_and_restart_needs_are_reported() {
        let err = parse(
            &format!("{BASE}[dedup]\nbackend = \"redis\"\n[[route]]\nname=\"n\"\npath=\"/n\"\nprovider=\"nixflex\"\nsecrets=[\"${{NIXFLEX_SECRET}}\"]\n"),
            &env,
        )
        .unwrap_err();
        assert!(err.to_string().contains("dedup.redis_url"));

        let a = load("[[route]]\nname=\"n\"\npath=\"/n\"\nprovider=\"nixflex\"\nsecrets=[\"${NIXFLEX_SECRET}\"]\n").unwrap();
        let b = parse(
            "[server]\nlisten = \"127.0.0.1:8081\"\n[upstream]\nurl = \"http://127.0.0.1:3000\"\n[[route]]\nname=\"n\"\npath=\"/n\"\nprovider=\"nixflex\"\nsecrets=[\"${NIXFLEX_SECRET}\"]\n",
            &env,
        )
        .unwrap();
        assert_eq!(a.config.restart_needed(&b.config), vec!["server.listen"]);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse("[server]\nlisten = \n", &env).unwrap_err();
        assert!(err.0[0].location.starts_with("line"), "{err}");
    }
}
