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

use std::time::{Duration, SystemTime};

use super::{
    utf8_keys, Outgoing, Provider, RouteScheme, Sample, SchemeSetup, SetupError,
};
use crate::reject::Reject;
use crate::secret::Secret;
use crate::verify::crypto::{body_signed_by, sign_dotted, decode_hex_signature, SigningKey};
use crate::verify::fields::{check_window, parse_timestamp, single_header};
use crate::verify::{Request, Scheme, Signed, Window};

pub struct ElevenLabs;

const HEADER: &str = "elevenlabs-signature";
const LABEL: &str = "ElevenLabs-Signature";
/// The SDKs' window, for the past only.
const TOLERANCE: Duration = Duration::from_secs(30 * 60);

struct ElevenLabsScheme {
    keys: Vec<SigningKey>,
    window: Window,
}

struct Parsed<'h> {
    timestamp_text: &'h str,
    timestamp: u64,
    signatures: Vec<[u8; 32]>,
}

fn parse<'h>(request: &Request<'h>) -> Result<Parsed<'h>, Reject> {
    let malformed = Reject::MalformedSignature { header: LABEL };
    let value = single_header(&request.headers, HEADER, LABEL)?;
    let mut timestamp_text = None;
    let mut signatures = Vec::new();
    for item in value.split(',') {
        let (key, val) = item.trim().split_once('=').ok_or(malformed.clone())?;
        match key {
            "t" if timestamp_text.is_none() => timestamp_text = Some(val),
            "t" => return Err(malformed),
            "v0" => signatures.push(decode_hex_signature(val).ok_or(malformed.clone())?),
            // Entries of schemes hookgate does not know are ignored.
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

impl Scheme for ElevenLabsScheme {
    fn precheck(&self, request: &Request<'_>, _: SystemTime) -> Result<(), Reject> {
        parse(request).map(|_| ())
    }

    fn verify(&self, request: &Request<'_>, now: SystemTime) -> Result<Signed, Reject> {
        let parsed = parse(request)?;
        check_window(parsed.timestamp, now, self.window)?;
        let signed: [&[u8]; 3] = [parsed.timestamp_text.as_bytes(), b".", request.body];
        body_signed_by(&self.keys, &signed, parsed.signatures.iter())
    }
}

super::reads!(ElevenLabsScheme, normalize::Body);

impl Provider for ElevenLabs {
    fn name(&self) -> &'static str {
        "elevenlabs"
    }

    /// The route's `tolerance` replaces the 30 minutes for the past; a
    /// future timestamp is accepted whatever it is, as the SDKs accept it.
    fn scheme(&self, setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
        Ok(Box::new(ElevenLabsScheme {
            keys: utf8_keys(setup.secrets)?,
            window: Window {
                past: setup.tolerance.unwrap_or(TOLERANCE),
                future: None,
            },
        }))
    }

    /// Retries are off unless enabled on the webhook; their delays are not
    /// published (assumed). A webhook failing 10 times in a row with no
    /// success for 7 days is disabled.
    fn retry_schedule(&self) -> &'static [Duration] {
        const SCHEDULE: &[Duration] = &[
            super::mins(1),
            super::mins(5),
            super::mins(30),
        ];
        SCHEDULE
    }

    fn samples(&self) -> &'static [Sample] {
        crate::samples!["elevenlabs":
            "post_call_transcription", "call_initiation_failure", "post_call_audio"]
    }

    fn sample_ids(&self) -> &'static [&'static str] {
        &["/data/conversation_id"]
    }

    fn sign(
        &self,
        secret: &Secret,
        body: &[u8],
        d: &Outgoing<'_>,
    ) -> Result<Vec<(String, String)>, String> {
        if secret.expose().is_empty() {
            return Err("the secret is empty".into());
        }
        let (t, mac) = sign_dotted(secret.expose().as_bytes(), d.timestamp, body);
        Ok(vec![(LABEL.into(), format!("t={t},v0={}", hex::encode(mac)))])
    }
}
