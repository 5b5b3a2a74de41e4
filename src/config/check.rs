//! Collecting errors and warnings while validating, with the readers every
//! part of the file shares: durations, addresses, secrets, upstream URLs.

use std::net::{SocketAddr, ToSocketAddrs};

use super::raw::Choice;
use super::ConfigError;
use crate::dedup::redis::RedisUrl;
use crate::route::Upstream;
use crate::secret::Secret;

pub struct Check<'e> {
    env: &'e dyn Fn(&str) -> Option<String>,
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<String>,
}

impl<'e> Check<'e> {
    pub fn new(env: &'e dyn Fn(&str) -> Option<String>) -> Self {
        Check {
            env,
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn error(&mut self, location: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            location: location.into(),
            message: message.into(),
        });
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(message.into());
    }

    /// A choice among words (`forward = "original"`), or its default.
    pub fn choice<T: Copy>(&mut self, location: &str, value: Option<&Choice<T>>, default: T) -> T {
        match value {
            None => default,
            Some(Choice::Valid(v)) => *v,
            Some(Choice::Invalid(why)) => {
                self.error(location, why.clone());
                default
            }
        }
    }

    pub fn duration(
        &mut self,
        location: &str,
        value: Option<&str>,
        default: std::time::Duration,
    ) -> std::time::Duration {
        let Some(text) = value else {
            return default;
        };
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

    pub fn addr(&mut self, location: &str, value: &str) -> Option<SocketAddr> {
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
    pub fn secret(&mut self, location: &str, value: &str) -> Option<Secret> {
        let Some(name) = value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) else {
            self.warn(format!(
                "{location}: a literal secret is in the configuration file; use \"${{NAME}}\" to read it from the environment"
            ));
            return Some(Secret::new(value));
        };
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
    }

    /// A Redis URL: `"${NAME}"` (the whole URL from the environment), or a
    /// URL whose password alone is `${NAME}`
    /// (`rediss://user:${REDIS_PASSWORD}@host:6380/0`, the value escaped as
    /// the URL needs), or a literal URL (with a warning if it holds a
    /// password). Errors and warnings show the URL with its password
    /// redacted.
    pub fn redis_url(&mut self, location: &str, value: &str) -> Option<RedisUrl> {
        let whole = value
            .strip_prefix("${")
            .and_then(|v| v.strip_suffix('}'))
            .filter(|name| !name.contains(['$', '{', '}']));
        let resolved = if whole.is_some() {
            let secret = self.secret(location, value)?;
            return match RedisUrl::parse(secret.expose()) {
                Ok(url) => Some(url),
                Err(why) => {
                    self.error(location, format!("the URL in {value}: {why}"));
                    None
                }
            };
        } else if let Some(start) = value.find("${") {
            let Some(len) = value[start..].find('}') else {
                self.error(location, "an unclosed ${ in the URL");
                return None;
            };
            let reference = &value[start..start + len + 1];
            let before = &value[..start];
            let after = &value[start + len + 1..];
            // Only the password may come from the environment: between
            // `user:` and `@`.
            let in_password = before.contains("://")
                && !before[before.find("://").unwrap_or(0) + 3..].contains(['@', '/'])
                && before.ends_with(':')
                && after.starts_with('@')
                && !after.contains("${");
            if !in_password {
                self.error(
                    location,
                    "a ${NAME} may stand for the whole URL or for its password alone (rediss://user:${NAME}@host:port/0)",
                );
                return None;
            }
            let password = self.secret(location, reference)?;
            format!(
                "{before}{}{after}",
                crate::dedup::redis::percent_encode(password.expose())
            )
        } else {
            value.to_owned()
        };
        match RedisUrl::parse(&resolved) {
            Ok(url) => {
                if whole.is_none() && !value.contains("${") && url.to_string() != value {
                    self.warn(format!(
                        "{location}: a literal password is in the configuration file ({url}); read it from the environment instead: rediss://user:${{NAME}}@host:port/0"
                    ));
                }
                Some(url)
            }
            Err(why) => {
                self.error(location, why);
                None
            }
        }
    }

    pub fn upstream(&mut self, location: &str, url: &str) -> Option<Upstream> {
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
