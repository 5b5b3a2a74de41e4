//! Twilio: `X-Twilio-Signature`, the base64 HMAC of the URL Twilio
//! requested followed by every form parameter (name then value, sorted by
//! name, each distinct value of a repeated name sorted), keyed with the
//! account's Auth Token (HMAC-SHA1) or, when the request names one in
//! `X-Twilio-Webhooks-Signature-Settings`, a SharedKey (HMAC-SHA256). A JSON
//! body is signed through the URL instead: its query carries
//! `bodySHA256=<hex>`, the signature covers the URL alone and the body must
//! hash to it.
//!
//! The signed URL is the public one Twilio calls, not hookgate's listen
//! address: the route names it (`public_url`) and the request's query is
//! appended as received. As the official validators do, the URL verifies
//! with and without its port. Nothing is timestamped: a replay is bounded by
//! dedup alone.

mod normalize;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{
    nonempty_secrets, HeaderList, Outgoing, Provider, RouteScheme, Sample, SchemeSetup, SetupError,
};
use crate::reject::Reject;
use crate::secret::Secret;
use crate::verify::crypto::{Algorithm, HmacKey};
use crate::verify::fields::single_header;
use crate::verify::{Format, Headers, Request, Scheme, Signed};

const SIGNATURE: &str = "x-twilio-signature";
const SIGNATURE_LABEL: &str = "X-Twilio-Signature";
const SETTINGS: &str = "x-twilio-webhooks-signature-settings";
const SETTINGS_LABEL: &str = "X-Twilio-Webhooks-Signature-Settings";
/// The query parameter that carries a JSON body's hash.
const BODY_HASH: &str = "bodySHA256";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    public_url: Option<String>,
    #[serde(default)]
    shared_keys: BTreeMap<String, String>,
}

/// What `hookgate send twilio` takes besides the secret.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SendOptions {
    /// Sign this URL (with the target's query) instead of the target's.
    public_url: Option<String>,
    /// Sign with the secret as this SharedKey (HMAC-SHA256).
    shared_key_id: Option<String>,
}

/// One secret, keyed for both algorithms a request may name.
struct KeyPair {
    sha1: HmacKey,
    sha256: HmacKey,
}

impl KeyPair {
    fn new(secret: &[u8]) -> Self {
        KeyPair {
            sha1: HmacKey::new(Algorithm::Sha1, secret),
            sha256: HmacKey::new(Algorithm::Sha256, secret),
        }
    }

    fn get(&self, algorithm: Algorithm) -> &HmacKey {
        match algorithm {
            Algorithm::Sha256 => &self.sha256,
            _ => &self.sha1,
        }
    }
}

struct TwilioScheme {
    /// The public URL without and with its port (the default port added
    /// where the configured URL names none).
    urls: [String; 2],
    auth_tokens: Vec<KeyPair>,
    shared_keys: Vec<(String, KeyPair)>,
}

/// The public URL's two forms, as the official validators try them.
fn public_url(text: &str) -> Result<[String; 2], String> {
    let bad = |why: &str| Err(format!("{text:?} {why}"));
    if text.bytes().any(|b| !b.is_ascii_graphic()) {
        return bad("must be visible ASCII");
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return bad("is not an absolute URL (e.g. \"https://hooks.example.com/webhooks/twilio\")");
    };
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return bad("must be http:// or https://"),
    };
    if rest.contains(['?', '#']) {
        return bad("must not hold a query or fragment: the request's own query is appended to it");
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if authority.contains('@') {
        return bad("must not hold credentials");
    }
    // The port is what follows the last ':' outside an IPv6 literal.
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority, None),
    };
    if host.is_empty() || host.contains(':') && !host.starts_with('[') {
        return bad("has no valid host");
    }
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return bad("has no valid port");
        }
    }
    let port = port.unwrap_or(default_port);
    Ok([
        format!("{scheme}://{host}{path}"),
        format!("{scheme}://{host}:{port}{path}"),
    ])
}

/// What `X-Twilio-Webhooks-Signature-Settings` names: the SharedKey's id
/// (none: the Auth Token) and the algorithm (default HMAC-SHA1).
struct Settings<'h> {
    key: Option<&'h str>,
    algorithm: Algorithm,
}

fn settings<'h>(headers: &Headers<'h>) -> Result<Settings<'h>, Reject> {
    let mut settings = Settings {
        key: None,
        algorithm: Algorithm::Sha1,
    };
    if !headers.contains(SETTINGS) {
        return Ok(settings);
    }
    let malformed = Reject::MalformedSignature {
        header: SETTINGS_LABEL,
    };
    let value = single_header(headers, SETTINGS, SETTINGS_LABEL)?;
    for part in value.split(',') {
        // As the official validator reads it: `name=value` items, others ignored.
        let Some((name, value)) = part.split_once('=') else {
            continue;
        };
        match (name.trim(), value.trim()) {
            ("key", "") => return Err(malformed),
            ("key", id) => settings.key = Some(id),
            ("algorithm", "") => {}
            ("algorithm", a) if a.eq_ignore_ascii_case("HMAC_SHA1") => {
                settings.algorithm = Algorithm::Sha1
            }
            ("algorithm", a) if a.eq_ignore_ascii_case("HMAC_SHA256") => {
                settings.algorithm = Algorithm::Sha256
            }
            ("algorithm", _) => return Err(malformed),
            _ => {}
        }
    }
    Ok(settings)
}

/// The signature's bytes: base64 of a MAC of the named algorithm's length.
fn signature(headers: &Headers<'_>, algorithm: Algorithm) -> Result<Vec<u8>, Reject> {
    let value = single_header(headers, SIGNATURE, SIGNATURE_LABEL)?;
    BASE64
        .decode(value)
        .ok()
        .filter(|mac| mac.len() == algorithm.output_len())
        .ok_or(Reject::MalformedSignature {
            header: SIGNATURE_LABEL,
        })
}

/// Form decoding as the official validator's frameworks do it: `+` is a
/// space, a valid `%XX` a byte, anything else kept as it is, and bytes that
/// are not UTF-8 read as U+FFFD. Never fails: the signature decides.
fn unquote_plus(raw: &[u8]) -> Cow<'_, str> {
    if memchr::memchr2(b'+', b'%', raw).is_none() {
        return String::from_utf8_lossy(raw);
    }
    // Decoding never lengthens: write in place into a buffer of the input's
    // size, then cut it to what was written.
    let mut out = vec![0u8; raw.len()];
    let (mut i, mut n) = (0, 0);
    while i < raw.len() {
        let (byte, used) = match raw[i] {
            b'+' => (b' ', 1),
            b'%' => match raw.get(i + 1..i + 3) {
                Some(&[hi, lo]) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                    (hex_value(hi) << 4 | hex_value(lo), 3)
                }
                _ => (b'%', 1),
            },
            b => (b, 1),
        };
        out[n] = byte;
        n += 1;
        i += used;
    }
    out.truncate(n);
    Cow::Owned(
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        _ => (digit | 0x20) - b'a' + 10,
    }
}

/// `name=value` pairs of a form or query, decoded; a pair without `=` has
/// an empty value; empty pairs are skipped.
fn pairs(raw: &[u8]) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    raw.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| match pair.iter().position(|b| *b == b'=') {
            Some(i) => (unquote_plus(&pair[..i]), unquote_plus(&pair[i + 1..])),
            None => (unquote_plus(pair), Cow::Borrowed("")),
        })
}

/// Appends what the signature covers after the URL to `out`: each distinct
/// parameter as name then value, sorted by name then value (identical
/// repeats once).
fn signed_params(body: &[u8], out: &mut Vec<u8>) {
    let mut params: Vec<_> = pairs(body).collect();
    params.sort_unstable();
    params.dedup();
    out.reserve(body.len());
    for (name, value) in &params {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(value.as_bytes());
    }
}

/// The `bodySHA256` the URL's query carries: the first non-empty one.
fn body_hash(query: &[u8]) -> Option<Cow<'_, str>> {
    pairs(query)
        .find(|(name, value)| name == BODY_HASH && !value.is_empty())
        .map(|(_, value)| value)
}

impl TwilioScheme {
    /// The keys the request's settings select, and its signature.
    fn credentials(&self, headers: &Headers<'_>) -> Result<(Vec<&HmacKey>, Vec<u8>), Reject> {
        let settings = settings(headers)?;
        let signature = signature(headers, settings.algorithm)?;
        let keys = match settings.key {
            None => self
                .auth_tokens
                .iter()
                .map(|k| k.get(settings.algorithm))
                .collect(),
            Some(id) => self
                .shared_keys
                .iter()
                .filter(|(key_id, _)| key_id == id)
                .map(|(_, k)| k.get(settings.algorithm))
                .collect(),
        };
        Ok((keys, signature))
    }
}

impl Scheme for TwilioScheme {
    fn precheck(&self, request: &Request<'_>, _: SystemTime) -> Result<(), Reject> {
        self.credentials(&request.headers).map(|_| ())
    }

    fn verify(&self, request: &Request<'_>, _: SystemTime) -> Result<Signed, Reject> {
        let (keys, signature) = self.credentials(&request.headers)?;
        // The signed content with the port-less URL; the other form differs
        // only before `rest`. An empty query is no query, as the validator
        // rebuilds the URL.
        let query = request.query.filter(|q| !q.is_empty());
        let mut content = self.urls[0].as_bytes().to_vec();
        if let Some(q) = query {
            content.push(b'?');
            content.extend_from_slice(q);
        }
        let rest = self.urls[0].len();
        let json = query.and_then(body_hash);
        let body_ok = match &json {
            // Lower-case hex, compared as text, as the validator does.
            Some(hash) => {
                let digest = hex::encode(Sha256::digest(request.body));
                bool::from(digest.as_bytes().ct_eq(hash.as_bytes()))
            }
            None => {
                signed_params(request.body, &mut content);
                true
            }
        };
        // The port-less form first (what Twilio signs for a URL configured
        // without a port), the other only if it fails: which form matched
        // is all the timing tells.
        let matched = self.urls.iter().any(|url| {
            let parts: [&[u8]; 2] = [url.as_bytes(), &content[rest..]];
            keys.iter().any(|key| key.matches(&parts, &signature))
        });
        if !(matched && body_ok) {
            return Err(Reject::InvalidSignature);
        }
        Ok(match json {
            Some(_) => Signed::Body,
            // A form's signed content, not its bytes: re-encodings of one
            // form verify alike, so they dedup alike.
            None => Signed::Other(content),
        })
    }

    fn format(&self, request: &Request<'_>) -> Format {
        match request.query.and_then(body_hash) {
            Some(_) => Format::Json,
            None => Format::Form,
        }
    }
}

super::reads!(TwilioScheme, normalize::Body);

pub static PROVIDER: Provider = Provider::new("twilio", route_scheme, sign, SAMPLES)
    .with_options(&["public_url", "shared_keys"])
    .with_secret_options(&["shared_keys"])
    // The read timeout and the total time of a webhook request (its connection
    // overrides' defaults): 15 s.
    .with_deadline(Duration::from_secs(15))
    // By default Twilio retries once, at once, when it cannot connect
    // (connection overrides `#rc=` raise it to 5); it does not retry an answer
    // it got.
    .with_retries(&[Duration::ZERO])
    .with_sample_ids(&["/CallSid", "/MessageSid", "/SmsSid", "/SmsMessageSid"]);

const SAMPLES: &[Sample] = crate::samples!["twilio" form:
    "call.completed", "call.ringing", "call.in-progress", "call.no-answer", "message.received",
    "message.sent", "message.delivered"];

fn route_scheme(setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
    let options: Options = super::options(setup.options)?;
    let mut errors = Vec::new();
    let urls = match options.public_url.as_deref() {
        None => Err(
            "required: the URL Twilio requests, as configured in Twilio, without its query (e.g. \"https://hooks.example.com/webhooks/twilio\")"
                .to_owned(),
        ),
        Some(text) => public_url(text),
    }
    .map_err(|why| errors.push(SetupError::new("public_url", why)))
    .ok();
    let auth_tokens = nonempty_secrets(setup.secrets, KeyPair::new)
        .map_err(|e| errors.extend(e))
        .ok();
    let mut shared_keys = Vec::new();
    for (id, secret) in &options.shared_keys {
        if id.is_empty() || secret.is_empty() {
            errors.push(SetupError::new(
                format!("shared_keys.{id}"),
                "a SharedKey needs an id and a non-empty secret",
            ));
        }
        shared_keys.push((id.clone(), KeyPair::new(secret.as_bytes())));
    }
    match (urls, auth_tokens) {
        (Some(urls), Some(auth_tokens)) if errors.is_empty() => Ok(Box::new(TwilioScheme {
            urls,
            auth_tokens,
            shared_keys,
        })),
        _ => Err(errors),
    }
}

fn sign(secret: &Secret, body: &[u8], d: &Outgoing<'_>) -> Result<HeaderList, String> {
    let options: SendOptions = super::send_options(d.options)?;
    let url = match &options.public_url {
        None => d.url.to_owned(),
        Some(public) => match d.url.split_once('?') {
            Some((_, query)) => format!("{public}?{query}"),
            None => public.clone(),
        },
    };
    let (algorithm, settings) = match &options.shared_key_id {
        None => (Algorithm::Sha1, None),
        Some(id) => (
            Algorithm::Sha256,
            Some(format!("key={id},algorithm=HMAC_SHA256")),
        ),
    };
    let key = HmacKey::new(algorithm, secret.expose().as_bytes());
    let mut content = url.into_bytes();
    signed_params(body, &mut content);
    let mac = key.sign(&[&content]);
    let mut headers = vec![(SIGNATURE_LABEL.to_owned(), BASE64.encode(mac.as_bytes()))];
    if let Some(settings) = settings {
        headers.push((SETTINGS_LABEL.to_owned(), settings));
    }
    headers.push(("I-Twilio-Idempotency-Token".to_owned(), d.id.to_owned()));
    Ok(headers)
}
