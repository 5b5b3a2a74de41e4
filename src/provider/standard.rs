//! The Standard Webhooks scheme (Svix's): `<id>.<timestamp>.<body>` signed with
//! a `whsec_<base64>` key, several space-separated `v1,<base64>` signatures.
//! Agntix uses it under `svix-*` headers, Allo under `webhook-*`.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use http::{HeaderMap, HeaderName};

use super::{
    any_key_matches, check_tolerance, parse_timestamp, single_header, SigningKey, VerifyParams,
};
use crate::reject::Reject;
use crate::secret::Secret;

pub(crate) struct HeaderSet {
    pub id: HeaderName,
    pub timestamp: HeaderName,
    pub signature: HeaderName,
    pub id_label: &'static str,
    pub timestamp_label: &'static str,
    pub signature_label: &'static str,
}

pub(crate) fn svix_headers() -> HeaderSet {
    HeaderSet {
        id: HeaderName::from_static("svix-id"),
        timestamp: HeaderName::from_static("svix-timestamp"),
        signature: HeaderName::from_static("svix-signature"),
        id_label: "svix-id",
        timestamp_label: "svix-timestamp",
        signature_label: "svix-signature",
    }
}

pub(crate) fn webhook_headers() -> HeaderSet {
    HeaderSet {
        id: HeaderName::from_static("webhook-id"),
        timestamp: HeaderName::from_static("webhook-timestamp"),
        signature: HeaderName::from_static("webhook-signature"),
        id_label: "webhook-id",
        timestamp_label: "webhook-timestamp",
        signature_label: "webhook-signature",
    }
}

/// `whsec_<base64>` or the bare base64 key.
pub(crate) fn signing_key(secret: &Secret) -> Result<SigningKey, String> {
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

struct Parsed<'h> {
    id: &'h str,
    timestamp_text: &'h str,
    timestamp: u64,
    signatures: Vec<[u8; 32]>,
}

fn parse<'h>(headers: &'h HeaderMap, names: &HeaderSet) -> Result<Parsed<'h>, Reject> {
    // The signature header is checked first so a request without one is
    // reported as unsigned rather than as missing an id.
    let signature = single_header(headers, &names.signature, names.signature_label)?;
    let id = single_header(headers, &names.id, names.id_label)?;
    let timestamp_text = single_header(headers, &names.timestamp, names.timestamp_label)?;
    let timestamp = parse_timestamp(timestamp_text, names.timestamp_label)?;
    let signatures: Vec<[u8; 32]> = signature
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|b64| BASE64.decode(b64).ok())
        .filter_map(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .collect();
    if signatures.is_empty() {
        return Err(Reject::MalformedSignature {
            header: names.signature_label,
        });
    }
    Ok(Parsed {
        id,
        timestamp_text,
        timestamp,
        signatures,
    })
}

pub(crate) fn precheck(headers: &HeaderMap, names: &HeaderSet) -> Result<(), Reject> {
    parse(headers, names).map(|_| ())
}

pub(crate) fn verify(
    headers: &HeaderMap,
    body: &[u8],
    params: &VerifyParams<'_>,
    names: &HeaderSet,
) -> Result<(), Reject> {
    let parsed = parse(headers, names)?;
    check_tolerance(parsed.timestamp, params.now, params.tolerance)?;
    let signed: [&[u8]; 5] = [
        parsed.id.as_bytes(),
        b".",
        parsed.timestamp_text.as_bytes(),
        b".",
        body,
    ];
    if any_key_matches(params.keys, &signed, parsed.signatures.iter()) {
        Ok(())
    } else {
        Err(Reject::InvalidSignature)
    }
}

/// The id, timestamp and signature headers of a delivery, under `names`.
pub(crate) fn signed_headers(
    names: &HeaderSet,
    key: &SigningKey,
    body: &[u8],
    d: &super::OutgoingDelivery<'_>,
) -> Vec<(String, String)> {
    let sig = sign(key, d.id, d.timestamp, body);
    vec![
        (names.id_label.into(), d.id.to_owned()),
        (names.timestamp_label.into(), d.timestamp.to_string()),
        (names.signature_label.into(), format!("v1,{sig}")),
    ]
}

/// Base64 of HMAC-SHA256 over `<id>.<timestamp>.<body>`: what a Standard
/// Webhooks sender puts after `v1,`. Used to sign what hookgate forwards.
pub(crate) fn sign(key: &SigningKey, id: &str, timestamp: u64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let mac = key.sign(&[id.as_bytes(), b".", ts.as_bytes(), b".", body]);
    BASE64.encode(mac)
}
