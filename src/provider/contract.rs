//! What a provider is: how it signs (a [`Scheme`] built per route), what
//! identifies a delivery, how its payload maps into the normalized event,
//! and how to sign a test event as it would.

use std::time::Duration;

use crate::event::Event;
use crate::secret::Secret;
use crate::verify::{Format, Request, Scalar, Scheme};

/// One provider. Implementations live in `src/provider/<name>/` and are
/// listed once, in the registry (`src/provider.rs`).
pub trait Provider: Sync + 'static {
    /// The name routes use (`provider = "nixflex"`); also the metrics label
    /// and the normalized event's `provider`.
    fn name(&self) -> &'static str;

    /// Builds the provider's scheme for one route from its secrets and the
    /// route keys this provider declares. Errors name the key, never a
    /// secret's value.
    fn scheme(&self, setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>>;

    /// Route keys this provider takes besides the common ones (e.g.
    /// Voxagent's `signature_header`); any other key on the route is an error.
    fn options(&self) -> &'static [&'static str] {
        &[]
    }

    /// Those of [`Provider::options`] that hold secrets (a string, or a
    /// table of strings, e.g. Twilio's `shared_keys`): the configuration
    /// resolves their `${NAME}` values from the environment, as it does
    /// `secrets`, before [`Provider::scheme`] sees them.
    fn secret_options(&self) -> &'static [&'static str] {
        &[]
    }

    /// How long the provider waits for an answer: a route's upstream
    /// timeout must be shorter.
    fn deadline(&self) -> Option<Duration> {
        None
    }

    /// The provider's retries after a failed attempt: the delay before each
    /// (documented where the provider publishes them). The dedup window
    /// should outlast their sum.
    fn retry_schedule(&self) -> &'static [Duration] {
        &[]
    }

    /// Header names this scheme signs (a route's `dedup_key` may use them
    /// without a warning).
    fn signed_headers(&self) -> &'static [&'static str] {
        &[]
    }

    /// One realistic payload per documented event, the first the default
    /// (`hookgate send`).
    fn samples(&self) -> &'static [Sample];

    /// JSON pointers of the ids a sample carries; `hookgate send` replaces
    /// them with fresh ones so a test event is never taken for a duplicate.
    fn sample_ids(&self) -> &'static [&'static str] {
        &[]
    }

    /// The headers of a delivery of `body`, signed as the provider signs it.
    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        delivery: &Outgoing<'_>,
    ) -> Result<Vec<(String, String)>, String>;
}

/// A provider's scheme configured for one route: it checks a request's
/// signature ([`Scheme`]) and reads its payload.
pub trait RouteScheme: Scheme {
    /// Reads a verified payload's JSON text into the provider's typed,
    /// borrowing view (`crate::normalize`). Fails only on malformed JSON.
    fn read<'a>(&self, text: &'a str) -> serde_json::Result<Box<dyn Payload<'a> + 'a>>;

    /// What this route's configuration leaves unprotected (e.g. a static
    /// token: no body integrity, no replay window). `hookgate check` and
    /// start-up print each, prefixed with the route's location; the route
    /// still loads.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// How a provider reads its payloads, for schemes shared between providers.
pub type Reader = for<'a> fn(&'a str) -> serde_json::Result<Box<dyn Payload<'a> + 'a>>;

/// A provider's typed view of one verified payload.
pub trait Payload<'a>: Send + Sync {
    /// What identifies the delivery, from signed material only: the
    /// payload's fields, and the request's signed headers.
    fn identity(&self, request: &Request<'_>) -> Identity<'a>;

    /// The normalized event. Without `with_data` only the attributes are
    /// needed (`forward = "original"`): the costly parts may be skipped.
    fn normalize(&self, with_data: bool) -> Event<'a>;
}

/// What a route gives its provider to build a [`Scheme`].
pub struct SchemeSetup<'s> {
    /// The route's secrets, resolved (several: rotation).
    pub secrets: &'s [Secret],
    /// The route's `tolerance`, where it sets one.
    pub tolerance: Option<Duration>,
    /// The route keys the provider declared in [`Provider::options`].
    pub options: &'s toml::Table,
}

/// A configuration problem with a route's provider settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupError {
    /// The route key at fault, e.g. `secrets[1]` or `signature_header`.
    pub key: String,
    pub message: String,
}

impl SetupError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        SetupError {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The signed fields that identify a delivery.
#[derive(Debug, Default)]
pub struct Identity<'v> {
    /// The dedup key's parts, in order; joined, also the CloudEvents `id`.
    /// `None` when the payload lacks them: the digest of the signed bytes
    /// stands in.
    pub key: Option<Vec<Scalar<'v>>>,
    /// An id the provider sends unsigned: reported as `providerdeliveryid`,
    /// never used to dedup or as the event's id.
    pub unsigned_id: Option<String>,
    /// The sender expects the receiver's own answer to this delivery (a
    /// synchronous request, not a notification): it is never answered from
    /// the dedup cache.
    pub exempt: bool,
}

/// A documented event's payload, for `hookgate send`.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub event: &'static str,
    pub body: &'static str,
    /// JSON, or a form (`hookgate send` posts it with its media type).
    pub format: Format,
}

/// What a provider's signer needs besides the secret and the body.
pub struct Outgoing<'a> {
    /// A fresh delivery/message id for this attempt.
    pub id: &'a str,
    /// The URL the delivery is posted to (Twilio signs it).
    pub url: &'a str,
    /// Unix seconds.
    pub timestamp: u64,
    pub event: &'a str,
    /// The provider-specific options given to `hookgate send`
    /// (e.g. Voxagent's `signature_header`).
    pub options: &'a toml::Table,
}

/// `samples![folder: "event", ...]`: the provider's fixtures
/// (`fixtures/<event>.json`), compiled in; `samples![folder form: ...]`
/// for form bodies (`fixtures/<event>.form`).
#[macro_export]
macro_rules! samples {
    ($dir:literal: $($event:literal),+ $(,)?) => {
        &[$($crate::provider::Sample {
            event: $event,
            body: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"), "/src/provider/", $dir, "/fixtures/", $event, ".json"
            )),
            format: $crate::verify::Format::Json,
        }),+]
    };
    ($dir:literal form: $($event:literal),+ $(,)?) => {
        &[$($crate::provider::Sample {
            event: $event,
            body: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"), "/src/provider/", $dir, "/fixtures/", $event, ".form"
            )),
            format: $crate::verify::Format::Form,
        }),+]
    };
}
