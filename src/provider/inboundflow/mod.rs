//! InboundFlow: `X-InboundFlow-Signature: sha256=<hex>` over
//! `<X-InboundFlow-Timestamp>.<JSON.stringify(body)>`. A delivery is
//! identified by the body's `delivery_id` (signed); the
//! `X-InboundFlow-Delivery-Id` and `X-InboundFlow-Event` headers are not.

mod normalize;
#[cfg(test)]
mod tests;

use std::time::SystemTime;

use super::{
    mins, secs, utf8_keys, HeaderList, Outgoing, Provider, RouteScheme, Sample, SchemeSetup,
    SetupError,
};
use crate::reject::Reject;
use crate::secret::Secret;
use crate::verify::crypto::{any_key_matches, decode_hex_signature, sign_dotted, SigningKey};
use crate::verify::fields::{check_window, parse_timestamp, single_header};
use crate::verify::{Headers, Request, Scheme, Signed, Window};

const SIGNATURE: &str = "X-InboundFlow-Signature";
const TIMESTAMP: &str = "X-InboundFlow-Timestamp";

struct InboundFlowScheme {
    keys: Vec<SigningKey>,
    window: Window,
}

fn parse<'h>(headers: &Headers<'h>) -> Result<([u8; 32], &'h str, u64), Reject> {
    let sig = single_header(headers, "x-inboundflow-signature", SIGNATURE)?;
    let ts = single_header(headers, "x-inboundflow-timestamp", TIMESTAMP)?;
    let signature = sig
        .strip_prefix("sha256=")
        .and_then(decode_hex_signature)
        .ok_or(Reject::MalformedSignature { header: SIGNATURE })?;
    Ok((signature, ts, parse_timestamp(ts, TIMESTAMP)?))
}

/// `JSON.stringify(JSON.parse(body))` for a body that differs from it only by
/// insignificant whitespace: whitespace outside strings removed, nothing
/// re-ordered. `None` when there is nothing to remove.
fn compact(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'"' => {
                    in_string = true;
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
    }
    (out.len() != body.len()).then_some(out)
}

impl Scheme for InboundFlowScheme {
    fn precheck(&self, request: &Request<'_>, _: SystemTime) -> Result<(), Reject> {
        parse(&request.headers).map(|_| ())
    }

    fn verify(&self, request: &Request<'_>, now: SystemTime) -> Result<Signed, Reject> {
        let (signature, ts_text, ts) = parse(&request.headers)?;
        check_window(ts, now, self.window)?;
        let matches = |body: &[u8]| {
            any_key_matches(
                &self.keys,
                &[ts_text.as_bytes(), b".", body],
                std::iter::once(&signature),
            )
        };
        // The raw body first: it is what a compact sender signed. Only then the
        // re-serialisation, which costs a copy; it is what was signed, so it
        // is what a body-derived dedup key is taken over.
        if matches(request.body) {
            return Ok(Signed::Body);
        }
        match compact(request.body) {
            Some(c) if matches(&c) => Ok(Signed::Other(c)),
            _ => Err(Reject::InvalidSignature),
        }
    }
}

super::reads!(InboundFlowScheme, normalize::Body);

pub static PROVIDER: Provider = Provider::new("inboundflow", route_scheme, sign, SAMPLES)
    .with_deadline(secs(10))
    // Only "disabled after 10 consecutive failures" is documented: ten attempts
    // are assumed, at 1 m, 2 m, 5 m, 10 m, 30 m, 1 h, 2 h, 4 h, 8 h.
    .with_retries(&[
        mins(1),
        mins(2),
        mins(5),
        mins(10),
        mins(30),
        mins(60),
        mins(120),
        mins(240),
        mins(480),
    ])
    .with_sample_ids(&["/delivery_id", "/data/call_id"]);

const SAMPLES: &[Sample] = crate::samples!["inboundflow": "call.completed", "call.transferred", "appointment.booked", "lead.created"];

fn route_scheme(setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
    Ok(Box::new(InboundFlowScheme {
        keys: utf8_keys(setup.secrets)?,
        window: Window::both(super::tolerance(&setup)),
    }))
}

/// The delivery id header repeats the body's, as InboundFlow sends it.
fn sign(secret: &Secret, body: &[u8], d: &Outgoing<'_>) -> Result<HeaderList, String> {
    let (t, mac) = sign_dotted(secret.expose().as_bytes(), d.timestamp, body);
    let delivery = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("delivery_id")?.as_str().map(str::to_owned))
        .unwrap_or_else(|| d.id.to_owned());
    Ok(vec![
        (SIGNATURE.into(), format!("sha256={}", hex::encode(mac))),
        (TIMESTAMP.into(), t),
        ("X-InboundFlow-Event".into(), d.event.to_owned()),
        ("X-InboundFlow-Delivery-Id".into(), delivery),
    ])
}
