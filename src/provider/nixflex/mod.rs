//! Nixflex: `X-Nixflex-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over
//! `<t>.<body>`, Stripe-style. A delivery is identified by the body's
//! `event` + `call_id` (signed); the `webhook_delivery_id` header (note the
//! underscores, which many proxies drop) is not signed: reported, never
//! trusted.

mod normalize;
#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime};

use super::{
    utf8_keys, Outgoing, Provider, RouteScheme, Sample, SchemeSetup, SetupError,
};
use crate::reject::Reject;
use crate::secret::Secret;
use crate::verify::crypto::{body_signed_by, sign_dotted, decode_hex_signature, SigningKey};
use crate::verify::fields::{check_window, parse_timestamp, single_header};
use crate::verify::{Headers, Request, Scheme, Signed, Window};

pub struct Nixflex;

const HEADER: &str = "x-nixflex-signature";
const LABEL: &str = "X-Nixflex-Signature";

struct NixflexScheme {
    keys: Vec<SigningKey>,
    window: Window,
}

struct Parsed<'h> {
    timestamp_text: &'h str,
    timestamp: u64,
    signatures: Vec<[u8; 32]>,
}

fn parse<'h>(headers: &Headers<'h>) -> Result<Parsed<'h>, Reject> {
    let malformed = Reject::MalformedSignature { header: LABEL };
    let value = single_header(headers, HEADER, LABEL)?;
    let mut timestamp_text = None;
    let mut signatures = Vec::new();
    for item in value.split(',') {
        let (key, val) = item.trim().split_once('=').ok_or(malformed.clone())?;
        match key {
            "t" if timestamp_text.is_none() => timestamp_text = Some(val),
            "t" => return Err(malformed),
            "v1" => signatures.extend(decode_hex_signature(val)),
            // Other schemes (e.g. a future v2) are ignored, as Stripe's are.
            _ => {}
        }
    }
    let timestamp_text = timestamp_text.ok_or(malformed.clone())?;
    if signatures.is_empty() {
        return Err(malformed);
    }
    Ok(Parsed {
        timestamp_text,
        timestamp: parse_timestamp(timestamp_text, LABEL)?,
        signatures,
    })
}

impl Scheme for NixflexScheme {
    fn precheck(&self, request: &Request<'_>, _: SystemTime) -> Result<(), Reject> {
        parse(&request.headers).map(|_| ())
    }

    fn verify(&self, request: &Request<'_>, now: SystemTime) -> Result<Signed, Reject> {
        let parsed = parse(&request.headers)?;
        check_window(parsed.timestamp, now, self.window)?;
        let signed: [&[u8]; 3] = [parsed.timestamp_text.as_bytes(), b".", request.body];
        body_signed_by(&self.keys, &signed, parsed.signatures.iter())
    }
}

super::reads!(NixflexScheme, normalize::Body);

impl Provider for Nixflex {
    fn name(&self) -> &'static str {
        "nixflex"
    }

    fn scheme(&self, setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
        Ok(Box::new(NixflexScheme {
            keys: utf8_keys(setup.secrets)?,
            window: Window::both(super::tolerance(&setup)),
        }))
    }

    fn deadline(&self) -> Option<Duration> {
        Some(Duration::from_secs(10))
    }

    /// Documented: 1 m, 5 m, 30 m, 2 h, 12 h, then it gives up.
    fn retry_schedule(&self) -> &'static [Duration] {
        const SCHEDULE: &[Duration] = &[
            super::mins(1),
            super::mins(5),
            super::mins(30),
            super::mins(120),
            super::mins(720),
        ];
        SCHEDULE
    }

    fn samples(&self) -> &'static [Sample] {
        crate::samples!["nixflex": "call.ended", "call.failed", "sms.received", "sms.delivered"]
    }

    fn sample_ids(&self) -> &'static [&'static str] {
        &["/call_id", "/message_id"]
    }

    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        d: &Outgoing<'_>,
    ) -> Result<Vec<(String, String)>, String> {
        let (t, mac) = sign_dotted(secret.expose().as_bytes(), d.timestamp, body);
        Ok(vec![
            (LABEL.into(), format!("t={t},v1={}", hex::encode(mac))),
            ("webhook_delivery_id".into(), d.id.to_owned()),
        ])
    }
}
