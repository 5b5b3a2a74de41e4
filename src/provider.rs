//! The providers hookgate fronts. Each is one folder, `src/provider/<name>/`
//! (scheme, identity, mapping, samples, fixtures, tests), plus its line in
//! [`registry!`] below: every list of providers (configuration, `hookgate
//! send`, the JSON Schema's check, the tests' tables) derives from it.

mod contract;
pub(crate) mod dotted;
pub(crate) mod standard;

use std::time::Duration;

pub use contract::{
    HeaderList, Identity, Outgoing, Payload, Provider, Reader, RouteScheme, Sample, SchemeFn,
    SchemeSetup, SetupError, SignFn,
};

use crate::secret::Secret;
use crate::verify::crypto::SigningKey;

macro_rules! registry {
    ($($module:ident),+ $(,)?) => {
        $(mod $module;)+
        static ALL: &[&Provider] = &[$(&$module::PROVIDER),+];
    };
}

registry! {
    nixflex,
    agntix,
    inboundflow,
    allo,
    voxagent,
    twilio,
    vapi,
    retell,
    elevenlabs,
    telnyx,
    hmac,
    r#static,
}

/// Every provider, in registry order.
pub fn all() -> &'static [&'static Provider] {
    ALL
}

pub fn find(name: &str) -> Option<&'static Provider> {
    ALL.iter().copied().find(|p| p.name() == name)
}

/// `"a, b, c"`: for messages that list the choices.
pub fn names() -> String {
    ALL.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
}

/// `s` seconds, for retry schedules.
pub(crate) const fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// `m` minutes, for retry schedules.
pub(crate) const fn mins(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

/// Svix's published retry schedule (5 s, 5 m, 30 m, 2 h, 5 h, 10 h, 10 h):
/// Agntix's and Allo's, and the one assumed for senders that publish none.
pub(crate) const SVIX_RETRIES: &[Duration] = &[
    Duration::from_secs(5),
    mins(5),
    mins(30),
    mins(120),
    mins(300),
    mins(600),
    mins(600),
];

/// A sender hookgate knows only by the scheme its route configures (`hmac`,
/// `static`): its route keys are the scheme's `options`; its retries are
/// unknown, so Svix's common schedule is assumed for the dedup window's
/// warning (5 s … 10 h, 32 h in all); its samples carry the event's `id` and
/// the call's `data.call_id`.
pub(crate) const fn configured(
    name: &'static str,
    route_scheme: SchemeFn,
    sign: SignFn,
    samples: &'static [Sample],
    options: &'static [&'static str],
) -> Provider {
    Provider::new(name, route_scheme, sign, samples)
        .with_options(options)
        .with_retries(SVIX_RETRIES)
        .with_sample_ids(&["/id", "/data/call_id"])
}

/// An error naming the first route key a generic scheme's signer was given
/// that it does not take.
pub(crate) fn unknown_option(
    scheme: &str,
    options: &toml::Table,
    known: &[&str],
) -> Result<(), String> {
    match options.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "{k}: unknown key ({scheme} takes {})",
            known.join(", ")
        )),
        None => Ok(()),
    }
}

/// `impl RouteScheme` for a scheme whose payload is read into `$body`.
macro_rules! reads {
    ($scheme:ty, $body:ty) => {
        impl $crate::provider::RouteScheme for $scheme {
            fn read<'a>(
                &self,
                text: &'a str,
            ) -> serde_json::Result<Box<dyn $crate::provider::Payload<'a> + 'a>> {
                Ok(Box::new($crate::normalize::read::<$body>(text)?))
            }
        }
    };
}
pub(crate) use reads;

// Shared by the schemes.

/// One key per secret, made by `key`; every secret it refuses is named
/// (by its place in `secrets`, never by its value).
pub(crate) fn per_secret<K>(
    secrets: &[Secret],
    key: impl Fn(&Secret) -> Result<K, String>,
) -> Result<Vec<K>, Vec<SetupError>> {
    let mut keys = Vec::with_capacity(secrets.len());
    let mut errors = Vec::new();
    for (i, s) in secrets.iter().enumerate() {
        match key(s) {
            Ok(k) => keys.push(k),
            Err(why) => errors.push(SetupError::new(format!("secrets[{i}]"), why)),
        }
    }
    if errors.is_empty() {
        Ok(keys)
    } else {
        Err(errors)
    }
}

/// One key per secret, made by `key` from the secret's UTF-8 bytes as they
/// are; an empty secret is refused.
pub(crate) fn nonempty_secrets<K>(
    secrets: &[Secret],
    key: impl Fn(&[u8]) -> K,
) -> Result<Vec<K>, Vec<SetupError>> {
    per_secret(secrets, |s| match s.expose() {
        "" => Err("secret is empty".into()),
        text => Ok(key(text.as_bytes())),
    })
}

/// One HMAC key per secret, each secret's UTF-8 bytes used as they are.
pub(crate) fn utf8_keys(secrets: &[Secret]) -> Result<Vec<SigningKey>, Vec<SetupError>> {
    nonempty_secrets(secrets, SigningKey::new)
}

/// `key: message; …`: setup errors as one line, for `hookgate send`.
pub(crate) fn describe(errors: Vec<SetupError>) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {}", e.key, e.message))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The options `hookgate send` was given, read as the route reads them.
pub(crate) fn send_options<T: serde::de::DeserializeOwned>(
    table: &toml::Table,
) -> Result<T, String> {
    options(table).map_err(describe)
}

/// A provider's own route keys, read into its options type (which should
/// deny unknown fields, so a typo is named).
pub(crate) fn options<T: serde::de::DeserializeOwned>(
    table: &toml::Table,
) -> Result<T, Vec<SetupError>> {
    T::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
        vec![SetupError::new(
            table.keys().next().cloned().unwrap_or_default(),
            e.message().to_owned(),
        )]
    })
}

/// The route's tolerance, or the provider's default window.
pub(crate) fn tolerance(setup: &SchemeSetup<'_>) -> Duration {
    setup.tolerance.unwrap_or(Duration::from_secs(300))
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
pub(crate) mod test_support;
#[cfg(test)]
mod tests;
