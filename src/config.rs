//! The configuration file: parsed and validated by a pure function over the
//! file's text and an environment lookup, so tests never touch the process
//! environment. Every error is collected with its location.
//!
//! `raw` holds the serde types as written, `settings` the global sections,
//! `routes` the `[[route]]` blocks, `check` the shared readers.

mod check;
mod raw;
mod routes;
mod settings;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use raw::LogFormat;
pub use routes::MAX_SECRETS_PER_ROUTE;
pub use settings::{
    DedupBackend, DedupSettings, IpNet, LogSettings, ServerSettings, TlsFiles, DEFAULT_MAX_BODY,
    MAX_BODY_LIMIT,
};

use crate::route::{Route, Upstream};

/// A validated configuration: everything a request needs, resolved once.
#[derive(Debug)]
pub struct Config {
    pub server: ServerSettings,
    pub dedup: DedupSettings,
    pub log: LogSettings,
    /// In file order; paths are distinct.
    routes: Vec<Arc<Route>>,
}

impl Config {
    /// The route for a request path: exact match, no decoding, no prefix.
    /// (The server looks requests up in its own per-path table, built from
    /// `routes()` with what it derives for each route.)
    pub fn route(&self, path: &str) -> Option<&Arc<Route>> {
        self.routes.iter().find(|r| r.path == path)
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
        let (a, b) = (&self.server, &next.server);
        let mut changed = Vec::new();
        let mut differs = |name: &'static str, d: bool| {
            if d {
                changed.push(name);
            }
        };
        differs("server.listen", a.listen != b.listen);
        differs("server.admin_listen", a.admin_listen != b.admin_listen);
        differs("server.tls", a.tls != b.tls);
        differs("server.threads", a.threads != b.threads);
        differs(
            "server.max_connections",
            a.max_connections != b.max_connections,
        );
        differs(
            "server.max_buffered_bytes",
            a.max_buffered_bytes != b.max_buffered_bytes,
        );
        differs("dedup.backend", self.dedup.backend != next.dedup.backend);
        differs(
            "dedup.snapshot_interval",
            self.dedup.snapshot_interval != next.dedup.snapshot_interval,
        );
        differs("log", self.log != next.log);
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

/// Parses and validates a configuration file's text. `env` resolves
/// `${NAME}` references.
pub fn parse(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, ConfigErrors> {
    let raw: raw::RawConfig = toml::from_str(text).map_err(|e| {
        let location = match e.span() {
            Some(span) => format!("line {}", text[..span.start].lines().count().max(1)),
            None => "file".to_string(),
        };
        ConfigErrors(vec![ConfigError {
            location,
            message: e.message().to_string(),
        }])
    })?;
    let mut check = check::Check::new(env);
    let server = settings::server(&mut check, &raw.server);
    let dedup = settings::dedup(&mut check, &raw.dedup);
    let log = settings::log(&mut check, &raw.log);
    let default_upstream = check
        .upstream("upstream.url", &raw.upstream.url)
        .map(Arc::new);
    let defaults = routes::Defaults {
        upstream: default_upstream.as_ref(),
        timeout: check.duration(
            "upstream.timeout",
            raw.upstream.timeout.as_deref(),
            Duration::from_secs(8),
        ),
        dedup: &dedup,
    };

    if raw.routes.is_empty() {
        check.error("route", "at least one [[route]] is required");
    }
    let mut built = Vec::new();
    let mut names = HashMap::new();
    let mut paths = HashMap::new();
    for (i, raw_route) in raw.routes.iter().enumerate() {
        let at = format!("route[{i}] ({})", raw_route.name);
        if let Some(first) = names.insert(raw_route.name.clone(), i) {
            check.error(
                &at,
                format!("name {:?} is also used by route[{first}]", raw_route.name),
            );
        }
        if let Some(first) = paths.insert(raw_route.path.clone(), i) {
            check.error(
                &at,
                format!("path {:?} is also used by route[{first}]", raw_route.path),
            );
        }
        if let Some(b) = routes::route(&mut check, &at, raw_route, &defaults) {
            built.push(b);
        }
    }
    let secrets: Vec<(String, Vec<_>)> = built
        .iter_mut()
        .map(|b| (b.route.name.clone(), std::mem::take(&mut b.secrets)))
        .collect();
    routes::shared_secrets(&mut check, &secrets);

    if !check.errors.is_empty() {
        return Err(ConfigErrors(check.errors));
    }
    let routes: Vec<Arc<Route>> = built.into_iter().map(|b| Arc::new(b.route)).collect();
    Ok(Loaded {
        config: Config {
            server: server.expect("server settings are complete when there is no error"),
            dedup,
            log,
            routes,
        },
        warnings: check.warnings,
    })
}
