//! Retell AI: `x-retell-signature: v=<unix ms>,d=<hex>`, HMAC-SHA256 keyed
//! with the API key over the raw body immediately followed by the
//! timestamp's digits. The SDKs anchor the format (`^v=(\d+),d=([0-9a-f]{64})$`)
//! and allow ±5 minutes, compared in milliseconds. No delivery id: a
//! delivery is identified by the body's `event` + `call.call_id`.

mod normalize;
#[cfg(test)]
mod tests;

use std::time::SystemTime;

use super::{
    secs, utf8_keys, HeaderList, Outgoing, Provider, RouteScheme, Sample, SchemeSetup, SetupError,
};
use crate::reject::Reject;
use crate::secret::Secret;
use crate::verify::crypto::{body_signed_by, SigningKey};
use crate::verify::fields::{check_window_ms, single_header};
use crate::verify::{Request, Scheme, Signed, Window};

const HEADER: &str = "x-retell-signature";
const LABEL: &str = "X-Retell-Signature";

struct RetellScheme {
    keys: Vec<SigningKey>,
    window: Window,
}

struct Parsed<'h> {
    timestamp_text: &'h str,
    timestamp_ms: u64,
    signature: [u8; 32],
}

/// `v=<digits>,d=<64 lower-case hex>` and nothing else, as the SDKs match it.
fn parse<'h>(request: &Request<'h>) -> Result<Parsed<'h>, Reject> {
    let malformed = Reject::MalformedSignature { header: LABEL };
    let value = single_header(&request.headers, HEADER, LABEL)?;
    let (v, d) = value.split_once(',').ok_or(malformed.clone())?;
    let timestamp_text = v.strip_prefix("v=").ok_or(malformed.clone())?;
    let digest = d.strip_prefix("d=").ok_or(malformed.clone())?;
    // 16 digits reach the year 2286 in milliseconds; more cannot be a time.
    let timestamp_ok = !timestamp_text.is_empty()
        && timestamp_text.len() <= 16
        && timestamp_text.bytes().all(|b| b.is_ascii_digit());
    let digest_ok = digest.len() == 64
        && digest
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !timestamp_ok || !digest_ok {
        return Err(malformed);
    }
    let mut signature = [0u8; 32];
    hex::decode_to_slice(digest, &mut signature).map_err(|_| malformed.clone())?;
    Ok(Parsed {
        timestamp_text,
        timestamp_ms: timestamp_text.parse().map_err(|_| malformed)?,
        signature,
    })
}

impl Scheme for RetellScheme {
    fn precheck(&self, request: &Request<'_>, _: SystemTime) -> Result<(), Reject> {
        parse(request).map(|_| ())
    }

    fn verify(&self, request: &Request<'_>, now: SystemTime) -> Result<Signed, Reject> {
        let parsed = parse(request)?;
        check_window_ms(parsed.timestamp_ms, now, self.window)?;
        let signed: [&[u8]; 2] = [request.body, parsed.timestamp_text.as_bytes()];
        body_signed_by(&self.keys, &signed, std::iter::once(&parsed.signature))
    }
}

super::reads!(RetellScheme, normalize::Body);

pub static PROVIDER: Provider = Provider::new("retell", route_scheme, sign, SAMPLES)
    // Documented default (`webhook_timeout_ms` can change it per agent).
    .with_deadline(secs(10))
    // "Retried up to 3 times"; the delays are not published (assumed).
    .with_retries(&[secs(1), secs(10), secs(60)])
    .with_sample_ids(&["/call/call_id"]);

const SAMPLES: &[Sample] = crate::samples!["retell":
    "call_ended", "call_started", "call_analyzed", "transcript_updated",
    "transfer_started", "transfer_bridged", "transfer_cancelled", "transfer_ended"];

/// Each secret is an API key carrying the webhook badge; several while keys
/// are rotated.
fn route_scheme(setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
    Ok(Box::new(RetellScheme {
        keys: utf8_keys(setup.secrets)?,
        window: Window::both(super::tolerance(&setup)),
    }))
}

fn sign(secret: &Secret, body: &[u8], d: &Outgoing<'_>) -> Result<HeaderList, String> {
    let key = SigningKey::new(secret.expose().as_bytes());
    let ms = (d.timestamp * 1000).to_string();
    let mac = key.sign(&[body, ms.as_bytes()]);
    Ok(vec![(
        LABEL.into(),
        format!("v={ms},d={}", hex::encode(mac)),
    )])
}
