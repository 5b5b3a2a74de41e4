//! Allo signs per Standard Webhooks: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature`. A delivery is identified by the signed
//! `webhook-id`.

mod normalize;
#[cfg(test)]
mod tests;

use super::standard::{self, StandardScheme};
use super::{
    secs, HeaderList, Outgoing, Payload, Provider, RouteScheme, Sample, SchemeSetup, SetupError,
};
use crate::secret::Secret;
use crate::verify::Window;

pub static PROVIDER: Provider = Provider::new("allo", route_scheme, sign, SAMPLES)
    .with_deadline(secs(20))
    // None published; Standard Webhooks senders typically follow Svix's (5 s,
    // 5 m, 30 m, 2 h, 5 h, 10 h, 10 h). Allo disables an endpoint after 5 days
    // of failures.
    .with_retries(super::SVIX_RETRIES)
    .with_signed_headers(&["webhook-id", "webhook-timestamp"])
    .with_sample_ids(&["/data/id"]);

const SAMPLES: &[Sample] = crate::samples!["allo":
    "call.completed", "call.received", "call.triggered", "sms.received", "sms.sent",
    "contact.created", "contact.updated", "tag.added", "tag.removed", "CALL_RECEIVED",
    "SMS_RECEIVED", "SMS_SENT", "CONTACT_CREATED", "CONTACT_UPDATED", "PING"];

fn route_scheme(setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
    Ok(Box::new(StandardScheme {
        keys: standard::keys(setup.secrets)?,
        window: Window::both(super::tolerance(&setup)),
        names: |_| standard::WEBHOOK,
        read,
    }))
}

fn sign(secret: &Secret, body: &[u8], d: &Outgoing<'_>) -> Result<HeaderList, String> {
    standard::signed_headers(standard::WEBHOOK, secret, body, d.id, d.timestamp)
}

fn read<'a>(text: &'a str) -> serde_json::Result<Box<dyn Payload<'a> + 'a>> {
    Ok(Box::new(crate::normalize::read::<normalize::Body>(text)?))
}
