//! Allo signs per Standard Webhooks: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature`. A delivery is identified by the signed
//! `webhook-id`.

mod normalize;
#[cfg(test)]
mod tests;

use std::time::Duration;

use super::standard::{self, StandardScheme};
use super::{Outgoing, Payload, Provider, RouteScheme, Sample, SchemeSetup, SetupError};
use crate::secret::Secret;
use crate::verify::Window;

pub struct Allo;

impl Provider for Allo {
    fn name(&self) -> &'static str {
        "allo"
    }

    fn scheme(&self, setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
        Ok(Box::new(StandardScheme {
            keys: standard::keys(setup.secrets)?,
            window: Window::both(super::tolerance(&setup)),
            names: |_| standard::WEBHOOK,
            read,
        }))
    }

    fn deadline(&self) -> Option<Duration> {
        Some(Duration::from_secs(20))
    }

    /// None published; Standard Webhooks senders typically follow Svix's
    /// (5 s, 5 m, 30 m, 2 h, 5 h, 10 h, 10 h). Allo disables an endpoint
    /// after 5 days of failures.
    fn retry_schedule(&self) -> &'static [Duration] {
        super::SVIX_RETRIES
    }

    fn signed_headers(&self) -> &'static [&'static str] {
        &["webhook-id", "webhook-timestamp"]
    }

    fn samples(&self) -> &'static [Sample] {
        crate::samples!["allo":
            "call.completed", "call.received", "call.triggered", "sms.received", "sms.sent",
            "contact.created", "contact.updated", "tag.added", "tag.removed", "CALL_RECEIVED",
            "SMS_RECEIVED", "SMS_SENT", "CONTACT_CREATED", "CONTACT_UPDATED", "PING"]
    }

    fn sample_ids(&self) -> &'static [&'static str] {
        &["/data/id"]
    }

    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        d: &Outgoing<'_>,
    ) -> Result<Vec<(String, String)>, String> {
        standard::signed_headers(standard::WEBHOOK, secret, body, d.id, d.timestamp)
    }
}

fn read<'a>(text: &'a str) -> serde_json::Result<Box<dyn Payload<'a> + 'a>> {
    Ok(Box::new(crate::normalize::read::<normalize::Body>(text)?))
}
