//! The route model: what a validated `[[route]]` becomes. Built by
//! `config`, read by the gate and the server.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::provider::{Provider, RouteScheme};
use crate::verify::crypto::SigningKey;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForwardMode {
    /// A CloudEvents structured-mode JSON document.
    Normalized,
    /// The provider's bytes, with the CloudEvents attributes as `ce-` headers.
    Original,
}

/// Where dedup keys come from on a route.
#[derive(Debug, Clone, PartialEq)]
pub enum DedupKeySpec {
    /// The provider's default (docs/PROVIDERS.md).
    Provider,
    /// `header:NAME` and `json:/pointer` parts.
    Parts(Vec<KeyPart>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum KeyPart {
    /// A header name, lower-case.
    Header(String),
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
    pub provider: &'static Provider,
    /// The provider's scheme with this route's secrets and options: its
    /// signature check and its reading of payloads.
    pub scheme: Box<dyn RouteScheme>,
    pub forward: ForwardMode,
    pub upstream: Arc<Upstream>,
    pub upstream_path: Option<String>,
    pub timeout: Duration,
    /// `None` when dedup is off for the route.
    pub dedup: Option<DedupKeySpec>,
    pub include_raw: bool,
    /// Requests per second forwarded at most, with a burst allowance.
    pub rate_limit: Option<RateLimit>,
    /// Signs what is forwarded, Standard Webhooks style, when set.
    pub forward_signer: Option<SigningKey>,
    /// Request headers forwarded besides the policy's own (lower-case).
    pub forward_headers: Vec<String>,
    /// Whether the request's query string is forwarded.
    pub forward_query: bool,
}

impl Route {
    pub fn provider_name(&self) -> &'static str {
        self.provider.name()
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route")
            .field("name", &self.name)
            .field("path", &self.path)
            .field("provider", &self.provider.name())
            .field("forward", &self.forward)
            .field("upstream", &self.upstream)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
