//! Nixflex: `X-Nixflex-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over
//! `<t>.<body>`, Stripe-style. A delivery is identified by the body's
//! `event` + `call_id` (signed); the `webhook_delivery_id` header (note the
//! underscores, which many proxies drop) is not signed: reported, never
//! trusted.

mod normalize;
#[cfg(test)]
mod tests;

use std::time::Duration;

use super::dotted::{DottedScheme, Format};
use super::{
    utf8_keys, Outgoing, Payload, Provider, RouteScheme, Sample, SchemeSetup, SetupError,
};
use crate::secret::Secret;
use crate::verify::Window;

pub struct Nixflex;

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

impl Provider for Nixflex {
    fn name(&self) -> &'static str {
        "nixflex"
    }

    fn scheme(&self, setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
        Ok(Box::new(DottedScheme {
            format: &FORMAT,
            keys: utf8_keys(setup.secrets)?,
            window: Window::both(super::tolerance(&setup)),
            read,
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
        Ok(vec![
            (LABEL.into(), FORMAT.sign(secret.expose().as_bytes(), d.timestamp, body)),
            ("webhook_delivery_id".into(), d.id.to_owned()),
        ])
    }
}
