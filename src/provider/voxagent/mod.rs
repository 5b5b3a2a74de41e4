//! Voxagent: hex HMAC-SHA256 of the raw body, in a header whose name the
//! provider does not publish (route key `signature_header`, default
//! `X-Voxagent-Signature`). No timestamp, so no replay window: dedup is the
//! only replay defence. A delivery is identified by the body's `event` +
//! `data.session_id`.

mod normalize;
#[cfg(test)]
mod tests;

use std::time::SystemTime;

use serde::Deserialize;

use super::{
    mins, secs, utf8_keys, HeaderList, Outgoing, Provider, RouteScheme, Sample, SchemeSetup,
    SetupError,
};
use crate::reject::Reject;
use crate::secret::Secret;
use crate::verify::crypto::{body_signed_by, decode_hex_signature, SigningKey};
use crate::verify::fields::single_header;
use crate::verify::fields::{intern_header, is_header_name};
use crate::verify::{Request, Scheme, Signed};

const LABEL: &str = "signature_header";
const DEFAULT_HEADER: &str = "x-voxagent-signature";

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Options {
    signature_header: Option<String>,
}

/// A header name: an RFC 9110 token.
fn header_name(name: &str) -> Option<&'static str> {
    is_header_name(name).then(|| intern_header(name))
}

struct VoxagentScheme {
    keys: Vec<SigningKey>,
    header: &'static str,
}

impl VoxagentScheme {
    fn signature(&self, request: &Request<'_>) -> Result<[u8; 32], Reject> {
        let value = single_header(&request.headers, self.header, LABEL)?;
        let hex = match value.get(..7) {
            Some(prefix) if prefix.eq_ignore_ascii_case("sha256=") => &value[7..],
            _ => value,
        };
        decode_hex_signature(hex).ok_or(Reject::MalformedSignature { header: LABEL })
    }
}

impl Scheme for VoxagentScheme {
    fn precheck(&self, request: &Request<'_>, _: SystemTime) -> Result<(), Reject> {
        self.signature(request).map(|_| ())
    }

    fn verify(&self, request: &Request<'_>, _: SystemTime) -> Result<Signed, Reject> {
        let signature = self.signature(request)?;
        body_signed_by(&self.keys, &[request.body], std::iter::once(&signature))
    }
}

super::reads!(VoxagentScheme, normalize::Body);

pub static PROVIDER: Provider = Provider::new("voxagent", route_scheme, sign, SAMPLES)
    .with_options(&["signature_header"])
    // "May retry on non-2xx"; no schedule is published. Assumed: 30 s, 2 m,
    // 10 m, 1 h, 6 h.
    .with_retries(&[secs(30), mins(2), mins(10), mins(60), mins(360)])
    .with_sample_ids(&["/data/session_id"]);

const SAMPLES: &[Sample] = crate::samples!["voxagent": "ConversationComplete", "SessionStarted"];

fn route_scheme(setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
    let options: Options = super::options(setup.options)?;
    let header = match options.signature_header.as_deref() {
        None => DEFAULT_HEADER,
        Some(name) => header_name(name).ok_or_else(|| {
            vec![SetupError::new(
                "signature_header",
                format!("{name:?} is not a valid header name"),
            )]
        })?,
    };
    Ok(Box::new(VoxagentScheme {
        keys: utf8_keys(setup.secrets)?,
        header,
    }))
}

fn sign(secret: &Secret, body: &[u8], d: &Outgoing<'_>) -> Result<HeaderList, String> {
    let options: Options = super::send_options(d.options)?;
    let header = options
        .signature_header
        .unwrap_or_else(|| "X-Voxagent-Signature".to_owned());
    let key = SigningKey::new(secret.expose().as_bytes());
    Ok(vec![(header, hex::encode(key.sign(&[body])))])
}
