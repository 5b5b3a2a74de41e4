//! Nixflex: `X-Nixflex-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over
//! `<t>.<body>`, Stripe-style. A delivery is identified by the body's
//! `event` + `call_id` (signed); the `webhook_delivery_id` header (note the
//! underscores, which many proxies drop) is not signed: reported, never
//! trusted.

mod normalize;
#[cfg(test)]
mod tests;

use super::dotted::{DottedScheme, Format};
use super::{
    mins, secs, utf8_keys, HeaderList, Outgoing, Payload, Provider, RouteScheme, Sample,
    SchemeSetup, SetupError,
};
use crate::secret::Secret;
use crate::verify::Window;

static FORMAT: Format = Format {
    header: "x-nixflex-signature",
    label: "X-Nixflex-Signature",
    version: "v1",
    // A `v1` that is not hex is skipped, as Stripe skips it: another may
    // still verify.
    strict_hex: false,
};
const LABEL: &str = FORMAT.label;

fn read<'a>(text: &'a str) -> serde_json::Result<Box<dyn Payload<'a> + 'a>> {
    Ok(Box::new(crate::normalize::read::<normalize::Body>(text)?))
}

pub static PROVIDER: Provider = Provider::new("nixflex", route_scheme, sign, SAMPLES)
    .with_deadline(secs(10))
    // Documented: 1 m, 5 m, 30 m, 2 h, 12 h, then it gives up.
    .with_retries(&[mins(1), mins(5), mins(30), mins(120), mins(720)])
    .with_sample_ids(&["/call_id", "/message_id"]);

const SAMPLES: &[Sample] =
    crate::samples!["nixflex": "call.ended", "call.failed", "sms.received", "sms.delivered"];

fn route_scheme(setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
    Ok(Box::new(DottedScheme {
        format: &FORMAT,
        keys: utf8_keys(setup.secrets)?,
        window: Window::both(super::tolerance(&setup)),
        read,
    }))
}

fn sign(secret: &Secret, body: &[u8], d: &Outgoing<'_>) -> Result<HeaderList, String> {
    Ok(vec![
        (
            LABEL.into(),
            FORMAT.sign(secret.expose().as_bytes(), d.timestamp, body),
        ),
        ("webhook_delivery_id".into(), d.id.to_owned()),
    ])
}
