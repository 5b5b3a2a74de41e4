//! The configuration file as written: serde types, nothing validated yet.
//! Unknown keys are errors (typos are caught); a route's keys that are not
//! common to every route go to its provider ([`RawRoute::options`]).

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use crate::dedup::OnBackendError;
use crate::route::ForwardMode;

/// A value read as `T` where it can be; otherwise its error is kept, so
/// validation reports it with its location beside every other error instead
/// of stopping the whole file at the first bad word.
#[derive(Debug, Clone)]
pub enum Choice<T> {
    Valid(T),
    Invalid(String),
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Choice<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = toml::Value::deserialize(d)?;
        Ok(match T::deserialize(value) {
            Ok(v) => Choice::Valid(v),
            Err(e) => Choice::Invalid(e.message().to_owned()),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub server: RawServer,
    pub upstream: RawUpstream,
    #[serde(default)]
    pub dedup: RawDedup,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default, rename = "route")]
    pub routes: Vec<RawRoute>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: String,
    pub admin_listen: Option<String>,
    pub max_body_bytes: Option<u64>,
    pub request_timeout: Option<String>,
    pub keepalive_timeout: Option<String>,
    pub threads: Option<usize>,
    pub shutdown_timeout: Option<String>,
    pub max_connections: Option<usize>,
    pub max_buffered_bytes: Option<u64>,
    pub max_header_bytes: Option<usize>,
    pub max_headers: Option<usize>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    pub tls: Option<RawTls>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUpstream {
    pub url: String,
    pub timeout: Option<String>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Memory,
    Redis,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDedup {
    pub backend: Option<Choice<BackendKind>>,
    pub window: Option<String>,
    pub max_entries: Option<u64>,
    pub snapshot_path: Option<PathBuf>,
    pub snapshot_interval: Option<String>,
    pub redis_url: Option<String>,
    pub redis_cluster: Option<Vec<String>>,
    pub redis_ca_file: Option<PathBuf>,
    pub redis_client_cert: Option<PathBuf>,
    pub redis_client_key: Option<PathBuf>,
    pub on_backend_error: Option<Choice<OnBackendError>>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub level: Option<Choice<LogLevel>>,
    pub format: Option<Choice<LogFormat>>,
}

#[derive(Deserialize)]
pub struct RawRoute {
    pub name: String,
    pub path: String,
    pub provider: String,
    #[serde(default)]
    pub secrets: Vec<String>,
    pub tolerance: Option<String>,
    pub forward: Option<Choice<ForwardMode>>,
    pub upstream_path: Option<String>,
    pub upstream: Option<String>,
    pub timeout: Option<String>,
    pub dedup: Option<bool>,
    pub dedup_key: Option<Vec<String>>,
    pub raw: Option<bool>,
    pub forward_secret: Option<String>,
    pub forward_headers: Option<Vec<String>>,
    pub forward_query: Option<bool>,
    pub rate_limit: Option<u32>,
    pub rate_burst: Option<u32>,
    /// Every other key: the provider's own (checked against what it
    /// declares).
    #[serde(flatten)]
    pub options: toml::Table,
}
