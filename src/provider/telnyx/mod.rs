//! Telnyx: `telnyx-signature-ed25519` (base64, 64 bytes) and
//! `telnyx-timestamp` (Unix seconds). An Ed25519 signature over
//! `<timestamp>|<raw body>`, verified with the account's public key
//! (base64, 32 bytes: the route's `secrets`, several while keys rotate)
//! with `ring`. ±300 s, as the SDK. A delivery is identified by the body's
//! `data.id`, which the signature covers.

mod normalize;
#[cfg(test)]
mod tests;

use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::signature::{Ed25519KeyPair, UnparsedPublicKey, ED25519};

use super::{
    per_secret, secs, HeaderList, Outgoing, Provider, RouteScheme, Sample, SchemeSetup, SetupError,
};
use crate::reject::Reject;
use crate::secret::Secret;
use crate::verify::crypto::body_signed_if;
use crate::verify::fields::{check_window, parse_timestamp, single_header};
use crate::verify::{Request, Scheme, Signed, Window};

const SIGNATURE: &str = "telnyx-signature-ed25519";
const TIMESTAMP: &str = "telnyx-timestamp";

struct TelnyxScheme {
    keys: Vec<UnparsedPublicKey<[u8; 32]>>,
    window: Window,
}

struct Parsed<'h> {
    timestamp_text: &'h str,
    timestamp: u64,
    signature: [u8; 64],
}

fn parse<'h>(request: &Request<'h>) -> Result<Parsed<'h>, Reject> {
    let value = single_header(&request.headers, SIGNATURE, SIGNATURE)?;
    let timestamp_text = single_header(&request.headers, TIMESTAMP, TIMESTAMP)?;
    let timestamp = parse_timestamp(timestamp_text, TIMESTAMP)?;
    let signature = BASE64
        .decode(value)
        .ok()
        .and_then(|bytes| <[u8; 64]>::try_from(bytes.as_slice()).ok())
        .ok_or(Reject::MalformedSignature { header: SIGNATURE })?;
    Ok(Parsed {
        timestamp_text,
        timestamp,
        signature,
    })
}

impl Scheme for TelnyxScheme {
    fn precheck(&self, request: &Request<'_>, _: SystemTime) -> Result<(), Reject> {
        parse(request).map(|_| ())
    }

    fn verify(&self, request: &Request<'_>, now: SystemTime) -> Result<Signed, Reject> {
        let parsed = parse(request)?;
        check_window(parsed.timestamp, now, self.window)?;
        // Ed25519 hashes the message twice, so it is needed whole.
        let mut message = Vec::with_capacity(parsed.timestamp_text.len() + 1 + request.body.len());
        message.extend_from_slice(parsed.timestamp_text.as_bytes());
        message.push(b'|');
        message.extend_from_slice(request.body);
        // Verification checks a public signature: nothing secret to leak
        // by timing, so the first key that verifies ends the search.
        body_signed_if(
            self.keys
                .iter()
                .any(|key| key.verify(&message, &parsed.signature).is_ok()),
        )
    }
}

super::reads!(TelnyxScheme, normalize::Body);

/// A public key as Telnyx shows it: base64 of the 32 raw bytes.
fn public_key(secret: &Secret) -> Result<[u8; 32], String> {
    let bytes = BASE64
        .decode(secret.expose().trim())
        .map_err(|_| "not base64: expected the account's Ed25519 public key (base64, 32 bytes)")?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        format!(
            "{} bytes: an Ed25519 public key is 32 (is this a private key?)",
            bytes.len()
        )
    })
}

/// The key `hookgate send telnyx --secret` signs with: base64 of the
/// 32-byte seed, or of a PKCS#8 document (DER, or PEM with its armour).
pub fn signing_key(secret: &Secret) -> Result<Ed25519KeyPair, String> {
    let text = secret.expose().trim();
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    let der = BASE64
        .decode(body.trim())
        .map_err(|_| "not base64: expected an Ed25519 private key (base64 seed or PKCS#8)")?;
    if der.len() == 32 {
        return Ed25519KeyPair::from_seed_unchecked(&der)
            .map_err(|_| "not an Ed25519 seed".to_owned());
    }
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| {
        format!(
            "{} bytes that are neither a 32-byte Ed25519 seed nor a PKCS#8 Ed25519 key",
            der.len()
        )
    })
}

pub static PROVIDER: Provider = Provider::new("telnyx", route_scheme, sign, SAMPLES)
    // Up to 3 attempts per URL, then the failover URL (messaging asks for an
    // answer within 2 s; Voice API's timeout is set per connection). The delays
    // are not published (assumed).
    .with_retries(&[secs(5), secs(30), secs(60), secs(120), secs(300)])
    .with_signed_headers(&[TIMESTAMP])
    .with_sample_ids(&["/data/id"]);

const SAMPLES: &[Sample] = crate::samples!["telnyx":
    "call.hangup", "call.initiated", "call.answered", "call.bridged",
    "call.recording.saved", "message.received", "message.sent", "message.finalized"];

fn route_scheme(setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
    Ok(Box::new(TelnyxScheme {
        keys: per_secret(setup.secrets, |s| {
            public_key(s).map(|k| UnparsedPublicKey::new(&ED25519, k))
        })?,
        window: Window::both(super::tolerance(&setup)),
    }))
}

fn sign(secret: &Secret, body: &[u8], d: &Outgoing<'_>) -> Result<HeaderList, String> {
    let key = signing_key(secret)?;
    let t = d.timestamp.to_string();
    let mut message = t.clone().into_bytes();
    message.push(b'|');
    message.extend_from_slice(body);
    let signature = key.sign(&message);
    Ok(vec![
        (
            "telnyx-signature-ed25519".into(),
            BASE64.encode(signature.as_ref()),
        ),
        ("telnyx-timestamp".into(), t),
    ])
}
