//! The Standard Webhooks scheme (Svix's): `<id>.<timestamp>.<body>` signed
//! with a `whsec_<base64>` key, several space-separated `v1,<base64>`
//! signatures. Agntix uses it under `svix-*` headers, Allo under
//! `webhook-*`; hookgate signs what it forwards with it (`forward_secret`).

use std::time::SystemTime;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::{Payload, Reader, RouteScheme, SetupError};
use crate::reject::Reject;
use crate::secret::Secret;
use crate::verify::crypto::{body_signed_by, SigningKey};
use crate::verify::fields::{check_window, parse_timestamp, single_header};
use crate::verify::{Headers, Request, Scheme, Signed, Window};

/// The three header names a sender uses.
#[derive(Clone, Copy, Debug)]
pub struct HeaderSet {
    pub id: &'static str,
    pub timestamp: &'static str,
    pub signature: &'static str,
}

pub const SVIX: HeaderSet = HeaderSet {
    id: "svix-id",
    timestamp: "svix-timestamp",
    signature: "svix-signature",
};

pub const WEBHOOK: HeaderSet = HeaderSet {
    id: "webhook-id",
    timestamp: "webhook-timestamp",
    signature: "webhook-signature",
};

/// `whsec_<base64>` or the bare base64 key.
pub fn signing_key(secret: &Secret) -> Result<SigningKey, String> {
    let value = secret.expose();
    let encoded = value.strip_prefix("whsec_").unwrap_or(value);
    let key = BASE64
        .decode(encoded)
        .map_err(|_| "secret is not a whsec_<base64> key".to_string())?;
    if key.is_empty() {
        return Err("secret is empty".into());
    }
    Ok(SigningKey::new(&key))
}

/// One key per secret, each `whsec_<base64>`.
pub fn keys(secrets: &[Secret]) -> Result<Vec<SigningKey>, Vec<SetupError>> {
    super::per_secret(secrets, signing_key)
}

/// A route's Standard Webhooks check. `names` picks the header set per
/// request (Svix sends `webhook-*` on newer accounts).
pub struct StandardScheme {
    pub keys: Vec<SigningKey>,
    pub window: Window,
    pub names: fn(&Headers<'_>) -> HeaderSet,
    /// The provider's reading of its payloads.
    pub read: Reader,
}

impl RouteScheme for StandardScheme {
    fn read<'a>(&self, text: &'a str) -> serde_json::Result<Box<dyn Payload<'a> + 'a>> {
        (self.read)(text)
    }
}

struct Parsed<'h> {
    id: &'h str,
    timestamp_text: &'h str,
    timestamp: u64,
    signatures: Vec<[u8; 32]>,
}

fn parse<'h>(headers: &Headers<'h>, names: HeaderSet) -> Result<Parsed<'h>, Reject> {
    // The signature header is checked first so a request without one is
    // reported as unsigned rather than as missing an id.
    let signature = single_header(headers, names.signature, names.signature)?;
    let id = single_header(headers, names.id, names.id)?;
    let timestamp_text = single_header(headers, names.timestamp, names.timestamp)?;
    let timestamp = parse_timestamp(timestamp_text, names.timestamp)?;
    let signatures: Vec<[u8; 32]> = signature
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|b64| BASE64.decode(b64).ok())
        .filter_map(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .collect();
    if signatures.is_empty() {
        return Err(Reject::MalformedSignature {
            header: names.signature,
        });
    }
    Ok(Parsed {
        id,
        timestamp_text,
        timestamp,
        signatures,
    })
}

impl Scheme for StandardScheme {
    fn precheck(&self, request: &Request<'_>, _: SystemTime) -> Result<(), Reject> {
        parse(&request.headers, (self.names)(&request.headers)).map(|_| ())
    }

    fn verify(&self, request: &Request<'_>, now: SystemTime) -> Result<Signed, Reject> {
        let parsed = parse(&request.headers, (self.names)(&request.headers))?;
        check_window(parsed.timestamp, now, self.window)?;
        let signed: [&[u8]; 5] = [
            parsed.id.as_bytes(),
            b".",
            parsed.timestamp_text.as_bytes(),
            b".",
            request.body,
        ];
        body_signed_by(&self.keys, &signed, parsed.signatures.iter())
    }
}

/// The id, timestamp and signature headers of a delivery, under `names`.
pub fn signed_headers(
    names: HeaderSet,
    secret: &Secret,
    body: &[u8],
    id: &str,
    timestamp: u64,
) -> Result<Vec<(String, String)>, String> {
    let key = signing_key(secret)?;
    Ok(vec![
        (names.id.into(), id.to_owned()),
        (names.timestamp.into(), timestamp.to_string()),
        (
            names.signature.into(),
            format!("v1,{}", sign(&key, id, timestamp, body)),
        ),
    ])
}

/// Base64 of HMAC-SHA256 over `<id>.<timestamp>.<body>`: what a Standard
/// Webhooks sender puts after `v1,`.
pub fn sign(key: &SigningKey, id: &str, timestamp: u64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let mac = key.sign(&[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    BASE64.encode(mac)
}
