//! ElevenLabs (Agents platform, post-call webhooks):
//! `ElevenLabs-Signature: t=<unix s>,v0=<hex>` over `<t>.<raw body>`,
//! HMAC-SHA256 with the secret as UTF-8. The SDKs refuse a timestamp older
//! than 30 minutes and accept any future one; hookgate does the same. A
//! header with several `v0=` entries verifies when any of them matches (the
//! Python SDK reads only the last). No delivery id: a delivery is
//! identified by the body's `type` + `data.conversation_id`.

mod normalize;
#[cfg(test)]
mod tests;

use std::time::Duration;

use super::dotted::{DottedScheme, Format};
use super::{
    mins, utf8_keys, HeaderList, Outgoing, Payload, Provider, RouteScheme, Sample, SchemeSetup,
    SetupError,
};
use crate::secret::Secret;
use crate::verify::Window;

static FORMAT: Format = Format {
    header: "elevenlabs-signature",
    label: "ElevenLabs-Signature",
    version: "v0",
    // The SDKs refuse a header whose signature is not hex.
    strict_hex: true,
};
const LABEL: &str = FORMAT.label;
/// The SDKs' window, for the past only.
const TOLERANCE: Duration = Duration::from_secs(30 * 60);

fn read<'a>(text: &'a str) -> serde_json::Result<Box<dyn Payload<'a> + 'a>> {
    Ok(Box::new(crate::normalize::read::<normalize::Body>(text)?))
}

pub static PROVIDER: Provider = Provider::new("elevenlabs", route_scheme, sign, SAMPLES)
    // Retries are off unless enabled on the webhook; their delays are not
    // published (assumed). A webhook failing 10 times in a row with no success
    // for 7 days is disabled.
    .with_retries(&[mins(1), mins(5), mins(30)])
    .with_sample_ids(&["/data/conversation_id"]);

const SAMPLES: &[Sample] = crate::samples!["elevenlabs":
    "post_call_transcription", "call_initiation_failure", "post_call_audio"];

/// The route's `tolerance` replaces the 30 minutes for the past; a future
/// timestamp is accepted whatever it is, as the SDKs accept it.
fn route_scheme(setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
    Ok(Box::new(DottedScheme {
        format: &FORMAT,
        keys: utf8_keys(setup.secrets)?,
        window: Window {
            past: setup.tolerance.unwrap_or(TOLERANCE),
            future: None,
        },
        read,
    }))
}

fn sign(secret: &Secret, body: &[u8], d: &Outgoing<'_>) -> Result<HeaderList, String> {
    let value = FORMAT.sign(secret.expose().as_bytes(), d.timestamp, body);
    Ok(vec![(LABEL.into(), value)])
}
