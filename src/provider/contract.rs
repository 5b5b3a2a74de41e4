//! What a provider is: how it signs (a [`Scheme`] built per route), what
//! identifies a delivery, how its payload maps into the normalized event,
//! and how to sign a test event as it would.

use std::time::Duration;

use crate::event::Event;
use crate::secret::Secret;
use crate::verify::{Format, Request, Scalar, Scheme};

/// Builds a provider's scheme for one route (see [`Provider::scheme`]).
pub type SchemeFn = fn(SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>>;

/// Signs a delivery as the provider does (see [`Provider::sign`]).
pub type SignFn = fn(&Secret, &[u8], &Outgoing<'_>) -> Result<HeaderList, String>;

/// Header names and values, in order.
pub type HeaderList = Vec<(String, String)>;

/// One provider: what hookgate knows of it, as data, and its two functions.
/// Each is a `static` in `src/provider/<name>/`, listed once in the
/// registry (`src/provider.rs`), built with [`Provider::new`] and the
/// `with_` setters for what differs from "none".
pub struct Provider {
    name: &'static str,
    scheme: SchemeFn,
    sign: SignFn,
    samples: &'static [Sample],
    options: &'static [&'static str],
    secret_options: &'static [&'static str],
    deadline: Option<Duration>,
    retries: &'static [Duration],
    signed_headers: &'static [&'static str],
    sample_ids: &'static [&'static str],
}

impl Provider {
    /// A provider that takes no route keys of its own, publishes no deadline
    /// or retries, signs no header a `dedup_key` may use, and whose samples
    /// carry no ids.
    pub const fn new(
        name: &'static str,
        scheme: SchemeFn,
        sign: SignFn,
        samples: &'static [Sample],
    ) -> Provider {
        Provider {
            name,
            scheme,
            sign,
            samples,
            options: &[],
            secret_options: &[],
            deadline: None,
            retries: &[],
            signed_headers: &[],
            sample_ids: &[],
        }
    }

    pub const fn with_options(mut self, keys: &'static [&'static str]) -> Provider {
        self.options = keys;
        self
    }

    pub const fn with_secret_options(mut self, keys: &'static [&'static str]) -> Provider {
        self.secret_options = keys;
        self
    }

    pub const fn with_deadline(mut self, deadline: Duration) -> Provider {
        self.deadline = Some(deadline);
        self
    }

    pub const fn with_retries(mut self, schedule: &'static [Duration]) -> Provider {
        self.retries = schedule;
        self
    }

    pub const fn with_signed_headers(mut self, names: &'static [&'static str]) -> Provider {
        self.signed_headers = names;
        self
    }

    pub const fn with_sample_ids(mut self, pointers: &'static [&'static str]) -> Provider {
        self.sample_ids = pointers;
        self
    }

    /// The name routes use (`provider = "nixflex"`); also the metrics label
    /// and the normalized event's `provider`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Builds the provider's scheme for one route from its secrets and the
    /// route keys this provider declares. Errors name the key, never a
    /// secret's value.
    pub fn scheme(&self, setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
        (self.scheme)(setup)
    }

    /// Route keys this provider takes besides the common ones (e.g.
    /// Voxagent's `signature_header`); any other key on the route is an error.
    pub fn options(&self) -> &'static [&'static str] {
        self.options
    }

    /// Those of [`Provider::options`] that hold secrets (a string, or a
    /// table of strings, e.g. Twilio's `shared_keys`): the configuration
    /// resolves their `${NAME}` values from the environment, as it does
    /// `secrets`, before [`Provider::scheme`] sees them.
    pub fn secret_options(&self) -> &'static [&'static str] {
        self.secret_options
    }

    /// How long the provider waits for an answer: a route's upstream
    /// timeout must be shorter.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// The provider's retries after a failed attempt: the delay before each
    /// (documented where the provider publishes them). The dedup window
    /// should outlast their sum.
    pub fn retry_schedule(&self) -> &'static [Duration] {
        self.retries
    }

    /// How long after the first attempt the provider may still retry.
    pub fn retry_horizon(&self) -> Duration {
        self.retries.iter().sum()
    }

    /// Header names this scheme signs (a route's `dedup_key` may use them
    /// without a warning).
    pub fn signed_headers(&self) -> &'static [&'static str] {
        self.signed_headers
    }

    /// One realistic payload per documented event, the first the default
    /// (`hookgate send`).
    pub fn samples(&self) -> &'static [Sample] {
        self.samples
    }

    /// JSON pointers of the ids a sample carries; `hookgate send` replaces
    /// them with fresh ones so a test event is never taken for a duplicate.
    pub fn sample_ids(&self) -> &'static [&'static str] {
        self.sample_ids
    }

    /// The headers of a delivery of `body`, signed as the provider signs it.
    pub fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        delivery: &Outgoing<'_>,
    ) -> Result<HeaderList, String> {
        (self.sign)(secret, body, delivery)
    }
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
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
