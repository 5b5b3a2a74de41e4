//! Agntix delivers through Svix: `svix-id`, `svix-timestamp`,
//! `svix-signature` (Standard Webhooks). A delivery is identified by the
//! signed `svix-id`; the body's `id` is the session, shared by
//! `session.created` and `session.ended`, so never a key alone.

mod normalize;
#[cfg(test)]
mod tests;

use super::standard::{self, HeaderSet, StandardScheme};
use super::{
    secs, HeaderList, Outgoing, Payload, Provider, RouteScheme, Sample, SchemeSetup, SetupError,
};
use crate::secret::Secret;
use crate::verify::{Headers, Window};

/// Svix also sends the scheme under `webhook-*` names on newer accounts.
fn header_set(headers: &Headers<'_>) -> HeaderSet {
    if !headers.contains("svix-signature") && headers.contains("webhook-signature") {
        standard::WEBHOOK
    } else {
        standard::SVIX
    }
}

pub static PROVIDER: Provider = Provider::new("agntix", route_scheme, sign, SAMPLES)
    .with_deadline(secs(15))
    // Svix's published schedule: 5 s, 5 m, 30 m, 2 h, 5 h, 10 h, 10 h.
    .with_retries(super::SVIX_RETRIES)
    .with_signed_headers(&[
        "svix-id",
        "svix-timestamp",
        "webhook-id",
        "webhook-timestamp",
    ])
    .with_sample_ids(&["/id"]);

const SAMPLES: &[Sample] = crate::samples!["agntix": "session.ended", "session.created", "session.created.chat", "session.ended.chat"];

fn route_scheme(setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
    Ok(Box::new(StandardScheme {
        keys: standard::keys(setup.secrets)?,
        window: Window::both(super::tolerance(&setup)),
        names: header_set,
        read,
    }))
}

fn sign(secret: &Secret, body: &[u8], d: &Outgoing<'_>) -> Result<HeaderList, String> {
    standard::signed_headers(standard::SVIX, secret, body, d.id, d.timestamp)
}

fn read<'a>(text: &'a str) -> serde_json::Result<Box<dyn Payload<'a> + 'a>> {
    Ok(Box::new(crate::normalize::read::<normalize::Body>(text)?))
}
