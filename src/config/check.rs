//! Collecting errors and warnings while validating, with the readers every
//! part of the file shares: durations, addresses, secrets, upstream URLs.

use std::net::{SocketAddr, ToSocketAddrs};

use super::raw::Choice;
use super::ConfigError;
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
