//! The providers hookgate fronts. Each is one folder, `src/provider/<name>/`
//! (scheme, identity, mapping, samples, fixtures, tests), plus its line in
//! [`registry!`] below: every list of providers (configuration, `hookgate
//! send`, the JSON Schema's check, the tests' tables) derives from it.

mod contract;
pub(crate) mod dotted;
pub(crate) mod standard;

use std::time::Duration;

pub use contract::{
    Identity, Outgoing, Payload, Provider, Reader, RouteScheme, Sample, SchemeSetup, SetupError,
};

use crate::secret::Secret;
use crate::verify::crypto::SigningKey;

macro_rules! registry {
    ($($module:ident :: $provider:ident),+ $(,)?) => {
        $(mod $module;)+
        static ALL: &[&'static dyn Provider] = &[$(&$module::$provider),+];
    };
}

registry! {
    nixflex::Nixflex,
    agntix::Agntix,
    inboundflow::InboundFlow,
    allo::Allo,
    voxagent::Voxagent,
    twilio::Twilio,
    vapi::Vapi,
    retell::Retell,
    elevenlabs::ElevenLabs,
    telnyx::Telnyx,
    hmac::Hmac,
    r#static::Static,
}

/// Every provider, in registry order.
pub fn all() -> &'static [&'static dyn Provider] {
    ALL
}

pub fn find(name: &str) -> Option<&'static dyn Provider> {
    ALL.iter().copied().find(|p| p.name() == name)
}

/// `"a, b, c"`: for messages that list the choices.
pub fn names() -> String {
    ALL.iter().map(|p| p.name()).collect::<Vec<_>>().join(", ")
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

/// How long after the first attempt the provider may still retry.
pub fn retry_horizon(p: &dyn Provider) -> Duration {
    p.retry_schedule().iter().sum()
}

impl std::fmt::Debug for dyn Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

// Shared by the schemes.

/// One HMAC key per secret, each secret's UTF-8 bytes used as they are.
pub(crate) fn utf8_keys(secrets: &[Secret]) -> Result<Vec<SigningKey>, Vec<SetupError>> {
    let mut keys = Vec::with_capacity(secrets.len());
    let mut errors = Vec::new();
    for (i, s) in secrets.iter().enumerate() {
        if s.expose().is_empty() {
            errors.push(SetupError::new(format!("secrets[{i}]"), "secret is empty"));
        } else {
            keys.push(SigningKey::new(s.expose().as_bytes()));
        }
    }
    if errors.is_empty() {
        Ok(keys)
    } else {
        Err(errors)
    }
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
