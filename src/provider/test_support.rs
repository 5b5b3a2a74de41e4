//! Helpers for the providers' unit tests.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{Outgoing, Provider, RouteScheme, SchemeSetup};
use crate::reject::Reject;
use crate::secret::Secret;
use crate::verify::{self, Headers, Request, Scheme, Signed, Verified};

pub fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_779_000_000)
}

pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

pub fn hmac_hex(secret: &[u8], message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// The public URL the tests' Twilio routes name (their requests' target is
/// `/hook`).
pub const TEST_URL: &str = "https://hooks.example.test/hook";

/// A route's scheme for `provider` with `secrets` and provider options
/// given as TOML (`""` for none).
pub fn scheme(provider: &Provider, secrets: &[&str], options: &str) -> Box<dyn RouteScheme> {
    try_scheme(provider, secrets, options).unwrap()
}

pub fn try_scheme(
    provider: &Provider,
    secrets: &[&str],
    options: &str,
) -> Result<Box<dyn RouteScheme>, Vec<super::SetupError>> {
    let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
    let options: toml::Table = toml::from_str(options).unwrap();
    provider.scheme(SchemeSetup {
        secrets: &secrets,
        tolerance: None,
        options: &options,
    })
}

/// Header fields as owned strings, viewed as [`Headers`] on demand.
#[derive(Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    pub fn new(pairs: &[(&str, &str)]) -> Self {
        Fields(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    pub fn from_owned(pairs: Vec<(String, String)>) -> Self {
        Fields(pairs)
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.remove(name);
        self.0.push((name.to_owned(), value.to_owned()));
    }

    pub fn add(&mut self, name: &str, value: &str) {
        self.0.push((name.to_owned(), value.to_owned()));
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Runs `f` on a request carrying these headers, `body` and `target`
    /// (`/path?query`).
    pub fn with<R>(&self, target: &str, body: &[u8], f: impl FnOnce(Request<'_>) -> R) -> R {
        let view: Vec<(&[u8], &[u8])> = self
            .0
            .iter()
            .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
            .collect();
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p, Some(q.as_bytes())),
            None => (target, None),
        };
        f(Request {
            headers: Headers::new(&view),
            path: path.as_bytes(),
            query,
            body,
        })
    }
}

/// A test delivery of `event` to [`TEST_URL`], now, as `msg_1`: what a
/// provider's signer is given.
pub fn delivery<'a>(event: &'a str, options: &'a toml::Table) -> Outgoing<'a> {
    Outgoing {
        id: "msg_1",
        url: TEST_URL,
        timestamp: unix(now()),
        event,
        options,
    }
}

/// Asserts the verdicts every scheme owes one signed request, given how
/// to verify it with some keys and a body: accepted with its `key`, also
/// second in a rotation; refused as an invalid signature with only an
/// `other` key, or with the `tampered` body.
pub fn signed_by_key_only(
    key: &str,
    other: &str,
    body: &[u8],
    tampered: &[u8],
    verify: impl Fn(&[&str], &[u8]) -> Result<(), Reject>,
) {
    assert_eq!(verify(&[key], body), Ok(()));
    assert_eq!(verify(&[other, key], body), Ok(()), "rotation");
    assert_eq!(
        verify(&[other], body),
        Err(Reject::InvalidSignature),
        "another key"
    );
    assert_eq!(
        verify(&[key], tampered),
        Err(Reject::InvalidSignature),
        "tampered"
    );
}

/// Asserts that `verify` refuses each of `bad` as a malformed `header`,
/// naming the value it did not.
pub fn refused_as_malformed<T: std::fmt::Debug>(
    header: &'static str,
    bad: impl IntoIterator<Item = T>,
    verify: impl Fn(&T) -> Result<(), Reject>,
) {
    for value in bad {
        assert_eq!(
            verify(&value),
            Err(Reject::MalformedSignature { header }),
            "{value:?}"
        );
    }
}

/// Precheck then verify, as the gate runs them.
pub fn check(
    scheme: &dyn Scheme,
    fields: &Fields,
    body: &[u8],
    at: SystemTime,
) -> Result<(), Reject> {
    check_at(scheme, fields, "/hook", body, at).map(|_| ())
}

pub fn check_at(
    scheme: &dyn Scheme,
    fields: &Fields,
    target: &str,
    body: &[u8],
    at: SystemTime,
) -> Result<Signed, Reject> {
    fields.with(target, body, |req| {
        scheme.precheck(&req, at)?;
        scheme.verify(&req, at)
    })
}

/// Runs `f` on the request verified and its payload read by the scheme
/// (panics when it does not verify or read).
pub fn verified<R>(
    scheme: &dyn RouteScheme,
    fields: &Fields,
    body: &[u8],
    f: impl FnOnce(&Verified<'_>, &dyn super::Payload<'_>) -> R,
) -> R {
    fields.with("/hook", body, |req| {
        let mut scratch = Vec::new();
        let v = verify::verify(scheme, req, &mut scratch, now()).expect("verifies");
        let payload = scheme.read(v.text()).expect("reads");
        f(&v, &*payload)
    })
}

/// Accepts anything: for tests of what comes after verification.
struct Unchecked;

impl Scheme for Unchecked {
    fn precheck(&self, _: &Request<'_>, _: SystemTime) -> Result<(), Reject> {
        Ok(())
    }
    fn verify(&self, _: &Request<'_>, _: SystemTime) -> Result<Signed, Reject> {
        Ok(Signed::Body)
    }
}

/// A route of each provider, for the tests that run over the registry.
pub struct TestRoute {
    /// What the route's `secrets` take.
    pub secret: &'static str,
    /// What the provider's signer takes: the same secret, except where the
    /// scheme is asymmetric (Telnyx: the private key of `secret`).
    pub signing_secret: &'static str,
    /// The route's provider keys, as TOML.
    pub options: &'static str,
}

/// Options of the generic schemes' test routes: the event type at `/type`,
/// the delivery id at `/id`.
pub const HMAC_OPTIONS: &str = r#"
algorithm = "sha512"
encoding = "base64"
signature_header = "X-Webhook-Signature"
signature_format = "list"
timestamp_key = "t"
signed_content = "{timestamp}.{body}"
delivery_id = "json:/id"
event_pointer = "/type"
"#;
pub const STATIC_OPTIONS: &str = r#"
token_header = "X-Webhook-Token"
delivery_id = "json:/id"
event_pointer = "/type"
"#;

pub fn test_route(provider: &Provider) -> TestRoute {
    const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const RAW: &str = "a-raw-secret";
    let (secret, signing_secret, options) = match provider.name() {
        "agntix" | "allo" => (WHSEC, WHSEC, ""),
        "telnyx" => (
            "sG3MRU54tm5D0z5KKnMlwfIbhtI0iNhA8S7UseD2W5I=",
            "LBwQTNroPxutpoBX0OMffNAqq+e0nGOXBA2ThRbHwK0=",
            "",
        ),
        "twilio" => (RAW, RAW, "public_url = \"https://hooks.example.test/hook\""),
        "vapi" => (RAW, RAW, "credential = \"hmac\""),
        "hmac" => (RAW, RAW, HMAC_OPTIONS),
        "static" => (RAW, RAW, STATIC_OPTIONS),
        _ => (RAW, RAW, ""),
    };
    TestRoute {
        secret,
        signing_secret,
        options,
    }
}

/// The test route's options as a table (what `hookgate send` is given).
pub fn test_options(provider: &Provider) -> toml::Table {
    toml::from_str(test_route(provider).options).unwrap()
}

/// The provider's test route, for reading payloads.
pub fn any_scheme(provider: &Provider) -> Box<dyn RouteScheme> {
    let route = test_route(provider);
    try_scheme(provider, &[route.secret], route.options)
        .unwrap_or_else(|e| panic!("{}: the test route does not load: {e:?}", provider.name()))
}

/// A fixture of `provider` (`src/provider/<name>/fixtures/<event>.json`,
/// or `.form` for a form body).
pub fn fixture(provider: &str, event: &str) -> Vec<u8> {
    let dir = format!(
        "{}/src/provider/{provider}/fixtures",
        env!("CARGO_MANIFEST_DIR")
    );
    let json = format!("{dir}/{event}.json");
    let form = format!("{dir}/{event}.form");
    std::fs::read(&json)
        .or_else(|_| std::fs::read(&form))
        .unwrap_or_else(|e| panic!("{json} (or .form): {e}"))
}

/// A fixture as the JSON text the gateway reads it as (a form as an object
/// of strings).
pub fn fixture_json(provider: &str, event: &str) -> Vec<u8> {
    let bytes = fixture(provider, event);
    let form = format!(
        "{}/src/provider/{provider}/fixtures/{event}.form",
        env!("CARGO_MANIFEST_DIR")
    );
    if std::path::Path::new(&form).exists() {
        let mut scratch = Vec::new();
        crate::verify::json::form_text(&bytes, &mut scratch).expect("a fixture form reads");
        scratch
    } else {
        bytes
    }
}

/// Every provider's fixtures, as (provider, event).
pub fn all_fixtures() -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for p in super::all() {
        let dir = format!(
            "{}/src/provider/{}/fixtures",
            env!("CARGO_MANIFEST_DIR"),
            p.name()
        );
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            let name = entry.unwrap().file_name().into_string().unwrap();
            let event = name
                .strip_suffix(".json")
                .or_else(|| name.strip_suffix(".form"))
                .unwrap_or_else(|| panic!("{dir}/{name}: a fixture is .json or .form"));
            out.push((p.name(), event.to_owned()));
        }
    }
    out.sort();
    out
}

pub fn received_at() -> SystemTime {
    now()
}

/// A payload normalized as the gate does: the structured document and the
/// binary-mode `ce-*` headers.
pub struct Normalized {
    pub doc: serde_json::Value,
    pub headers: Vec<(String, String)>,
    pub bytes: Vec<u8>,
}

pub fn normalize_body(
    provider: &Provider,
    body: &[u8],
    include_raw: bool,
    with_data: bool,
) -> Normalized {
    use crate::event::{EventContext, EventMeta};
    Fields::default().with("/hook", body, |req| {
        let mut scratch = Vec::new();
        let v = verify::verify(&Unchecked, req, &mut scratch, now()).expect("parses");
        let payload = any_scheme(provider).read(v.text()).expect("reads");
        let ctx = EventContext::new(
            &v,
            EventMeta {
                provider: provider.name(),
                route: "route-1",
                delivery_id: "dlv-1",
                provider_delivery_id: None,
                received_at: received_at(),
                include_raw,
                with_data,
            },
        );
        let event = payload.normalize(with_data);
        let bytes = event.to_structured(&ctx);
        let doc = serde_json::from_slice(&bytes).expect("structured output is JSON");
        let headers = event
            .binary_headers(&ctx)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        Normalized {
            doc,
            headers,
            bytes,
        }
    })
}

/// A fixture normalized (with `raw`).
/// The dedup key's parts of an identity, as text.
pub fn key_parts(identity: &super::Identity<'_>) -> Option<Vec<String>> {
    let key = identity.key.as_ref()?;
    Some(key.iter().map(|p| p.as_str().to_owned()).collect())
}

/// Asserts a normalized event's envelope: its type, subject and time.
pub fn assert_envelope(doc: &serde_json::Value, event_type: &str, subject: &str, time: &str) {
    assert_eq!(doc["type"], event_type);
    assert_eq!(doc["subject"], subject);
    assert_eq!(doc["time"], time);
}

pub fn norm(provider: &str, event: &str) -> Normalized {
    let p = super::find(provider).unwrap();
    normalize_body(p, &fixture_json(provider, event), true, true)
}

pub use crate::verify::arbitrary::arbitrary_json;
