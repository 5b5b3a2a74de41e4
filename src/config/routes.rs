//! `[[route]]` blocks, validated into the route model. Each concern is its
//! own step; every error is collected with its location.

use std::sync::Arc;
use std::time::Duration;

use super::check::Check;
use super::raw::RawRoute;
use super::settings::DedupSettings;
use crate::provider::{self, Provider, RouteScheme, SchemeSetup};
use crate::route::{DedupKeySpec, ForwardMode, KeyPart, RateLimit, Route, Upstream};
use crate::secret::Secret;

pub const MAX_SECRETS_PER_ROUTE: usize = 16;

/// What every route inherits from the file's other sections.
pub struct Defaults<'d> {
    pub upstream: Option<&'d Arc<Upstream>>,
    pub timeout: Duration,
    pub dedup: &'d DedupSettings,
}

/// A validated route, with the resolved secrets it was built from (kept
/// only to compare routes' secrets; never printed).
pub struct Built {
    pub route: Route,
    pub secrets: Vec<Secret>,
}

pub fn route(
    check: &mut Check<'_>,
    at: &str,
    raw: &RawRoute,
    defaults: &Defaults<'_>,
) -> Option<Built> {
    let errors_before = check.errors.len();
    identity(check, at, raw);
    let Some(provider) = provider::find(&raw.provider) else {
        check.error(
            format!("{at}.provider"),
            format!("{:?} is not one of {}", raw.provider, provider::names()),
        );
        return None;
    };
    let secrets = secrets(check, at, &raw.secrets);
    let scheme = scheme(check, at, raw, provider, &secrets);
    let forward = check.choice(
        &format!("{at}.forward"),
        raw.forward.as_ref(),
        ForwardMode::Normalized,
    );
    let (upstream, timeout) = upstream(check, at, raw, provider, defaults);
    retry_horizon(check, at, raw, provider, defaults.dedup);
    let dedup = raw.dedup.unwrap_or(true).then(|| match &raw.dedup_key {
        None => DedupKeySpec::Provider,
        Some(parts) => dedup_key(check, at, parts, provider),
    });
    let forward_signer = raw.forward_secret.as_deref().and_then(|value| {
        let key_at = format!("{at}.forward_secret");
        let secret = check.secret(&key_at, value)?;
        provider::standard::signing_key(&secret)
            .map_err(|why| check.error(key_at, why))
            .ok()
    });
    let forward_headers = forward_headers(check, at, raw);
    let rate_limit = rate_limit(check, at, raw);

    if check.errors.len() > errors_before {
        return None;
    }
    Some(Built {
        route: Route {
            name: raw.name.clone(),
            path: raw.path.clone(),
            provider,
            scheme: scheme?,
            forward,
            upstream: upstream?,
            upstream_path: raw.upstream_path.clone(),
            timeout,
            dedup,
            include_raw: raw.raw.unwrap_or(true),
            rate_limit,
            forward_signer,
            forward_headers,
            forward_query: raw.forward_query.unwrap_or(false),
        },
        secrets,
    })
}

fn identity(check: &mut Check<'_>, at: &str, raw: &RawRoute) {
    let name_ok = !raw.name.is_empty()
        && raw
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !name_ok {
        check.error(
            at,
            "name must be non-empty letters, digits, '-', '_' or '.'",
        );
    }
    if !raw.path.starts_with('/') || raw.path.contains(['?', '#', ' ', '%']) {
        check.error(
            format!("{at}.path"),
            format!(
                "{:?} must start with '/' and hold no '?', '#', '%' or space",
                raw.path
            ),
        );
    }
    if let Some(p) = &raw.upstream_path {
        if !p.starts_with('/') || p.bytes().any(|b| !b.is_ascii_graphic() || b == b'#') {
            check.error(
                format!("{at}.upstream_path"),
                format!("{p:?} must start with '/' and hold visible characters only"),
            );
        }
    }
}

fn secrets(check: &mut Check<'_>, at: &str, values: &[String]) -> Vec<Secret> {
    if values.is_empty() {
        check.error(format!("{at}.secrets"), "at least one secret is required");
    }
    if values.len() > MAX_SECRETS_PER_ROUTE {
        check.error(
            format!("{at}.secrets"),
            format!("at most {MAX_SECRETS_PER_ROUTE} secrets per route"),
        );
    }
    values
        .iter()
        .enumerate()
        .filter_map(|(j, value)| check.secret(&format!("{at}.secrets[{j}]"), value))
        .collect()
}

/// The provider's check, from the secrets and the keys it declares; any
/// other key on the route is an error.
fn scheme(
    check: &mut Check<'_>,
    at: &str,
    raw: &RawRoute,
    provider: &Provider,
    secrets: &[Secret],
) -> Option<Box<dyn RouteScheme>> {
    let mut unknown = false;
    for key in raw.options.keys() {
        if !provider.options().contains(&key.as_str()) {
            unknown = true;
            let takes = match provider.options() {
                [] => String::new(),
                keys => format!(" ({} takes {})", provider.name(), keys.join(", ")),
            };
            check.error(format!("{at}.{key}"), format!("unknown key{takes}"));
        }
    }
    let tolerance = raw.tolerance.as_deref().map(|t| {
        check.duration(
            &format!("{at}.tolerance"),
            Some(t),
            Duration::from_secs(300),
        )
    });
    let options = secret_options(check, at, raw, provider);
    if unknown || secrets.len() != raw.secrets.len() || secrets.is_empty() {
        return None;
    }
    match provider.scheme(SchemeSetup {
        secrets,
        tolerance,
        options: &options?,
    }) {
        Ok(s) => {
            for warning in s.warnings() {
                check.warn(format!("{at}: {warning}"));
            }
            Some(s)
        }
        Err(errors) => {
            for e in errors {
                check.error(format!("{at}.{}", e.key), e.message);
            }
            None
        }
    }
}

/// The route's provider keys with the secret-bearing ones resolved (a
/// string, or a table of strings: `${NAME}` from the environment, as
/// `secrets`). `None` when one does not resolve (the error is collected).
fn secret_options(
    check: &mut Check<'_>,
    at: &str,
    raw: &RawRoute,
    provider: &Provider,
) -> Option<toml::Table> {
    let mut options = raw.options.clone();
    let mut resolved = true;
    for key in provider.secret_options() {
        let Some(value) = options.get_mut(*key) else {
            continue;
        };
        let mut resolve = |location: String, value: &mut toml::Value| {
            let secret = match value {
                toml::Value::String(text) => check.secret(&location, text),
                _ => {
                    check.error(&location, "must be a string (a secret, or \"${NAME}\")");
                    None
                }
            };
            match secret {
                Some(secret) => *value = toml::Value::String(secret.expose().to_owned()),
                None => resolved = false,
            }
        };
        match value {
            toml::Value::Table(table) => {
                for (name, value) in table.iter_mut() {
                    resolve(format!("{at}.{key}.{name}"), value);
                }
            }
            value => resolve(format!("{at}.{key}"), value),
        }
    }
    resolved.then_some(options)
}

fn upstream(
    check: &mut Check<'_>,
    at: &str,
    raw: &RawRoute,
    provider: &Provider,
    defaults: &Defaults<'_>,
) -> (Option<Arc<Upstream>>, Duration) {
    let upstream = match &raw.upstream {
        Some(url) => check.upstream(&format!("{at}.upstream"), url).map(Arc::new),
        None => defaults.upstream.cloned(),
    };
    let timeout = check.duration(
        &format!("{at}.timeout"),
        raw.timeout.as_deref(),
        defaults.timeout,
    );
    if let Some(deadline) = provider.deadline() {
        if timeout >= deadline {
            check.error(
                format!("{at}.timeout"),
                format!(
                    "{} must be shorter than {}'s delivery deadline of {}",
                    humantime::format_duration(timeout),
                    provider.name(),
                    humantime::format_duration(deadline)
                ),
            );
        }
    }
    (upstream, timeout)
}

fn retry_horizon(
    check: &mut Check<'_>,
    at: &str,
    raw: &RawRoute,
    provider: &Provider,
    dedup: &DedupSettings,
) {
    let horizon = provider.retry_horizon();
    if raw.dedup != Some(false) && !horizon.is_zero() && dedup.window < horizon {
        check.warn(format!(
            "{at}: dedup.window {} is shorter than {}'s retry schedule ({}): a late retry may be forwarded again",
            humantime::format_duration(dedup.window),
            provider.name(),
            humantime::format_duration(horizon)
        ));
    }
}

fn dedup_key(
    check: &mut Check<'_>,
    at: &str,
    parts: &[String],
    provider: &Provider,
) -> DedupKeySpec {
    let at = format!("{at}.dedup_key");
    if parts.is_empty() {
        check.error(&at, "must name at least one part (or set dedup = false)");
    }
    let mut out = Vec::new();
    for part in parts {
        if let Some(name) = part.strip_prefix("header:") {
            if !is_token(name) {
                check.error(&at, format!("{name:?} is not a valid header name"));
                continue;
            }
            let name = name.to_ascii_lowercase();
            if !provider.signed_headers().contains(&name.as_str()) {
                check.warn(format!(
                    "{at}: header {name:?} is not signed by {}: a replay with a fresh value will not be caught",
                    provider.name()
                ));
            }
            out.push(KeyPart::Header(name));
        } else if let Some(pointer) = part.strip_prefix("json:") {
            if !pointer.starts_with('/') {
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

fn forward_headers(check: &mut Check<'_>, at: &str, raw: &RawRoute) -> Vec<String> {
    let mut out = Vec::new();
    for name in raw.forward_headers.iter().flatten() {
        if is_token(name) {
            out.push(name.to_ascii_lowercase());
        } else {
            check.error(
                format!("{at}.forward_headers"),
                format!("{name:?} is not a valid header name"),
            );
        }
    }
    out
}

fn rate_limit(check: &mut Check<'_>, at: &str, raw: &RawRoute) -> Option<RateLimit> {
    match (raw.rate_limit, raw.rate_burst) {
        (None, None) => None,
        (None, Some(_)) => {
            check.error(format!("{at}.rate_burst"), "needs rate_limit");
            None
        }
        (Some(0), _) | (_, Some(0)) => {
            check.error(
                format!("{at}.rate_limit"),
                "rate_limit and rate_burst must be at least 1",
            );
            None
        }
        (Some(per_second), burst) => Some(RateLimit {
            per_second,
            burst: burst.unwrap_or(per_second),
        }),
    }
}

/// An RFC 9110 token (a header name).
pub fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Warns about routes that share a secret: a delivery signed for one route
/// verifies on the other, and is forwarded to that route's receiver too.
pub fn shared_secrets(check: &mut Check<'_>, routes: &[(String, Vec<Secret>)]) {
    let material = |s: &Secret| {
        s.expose()
            .strip_prefix("whsec_")
            .unwrap_or(s.expose())
            .to_owned()
    };
    for (i, (a, a_secrets)) in routes.iter().enumerate() {
        for (b, b_secrets) in &routes[i + 1..] {
            let shared = a_secrets
                .iter()
                .any(|x| b_secrets.iter().any(|y| material(x) == material(y)));
            if shared {
                check.warn(format!(
                    "routes {a} and {b} share a secret: a delivery signed for one also verifies on the other and would be forwarded there; give each route its own secret"
                ));
            }
        }
    }
}
