//! `provider = "static"`: a shared token the sender puts in a header, for
//! senders that offer nothing better (Vapi's default credential, AssemblyAI,
//! a callback URL's secret). The token is compared in constant time (as
//! digests, so its length does not show either), but it signs nothing: a
//! request seen once can be sent again with any body. `hookgate check`
//! says so for every such route.

#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime};

use super::hmac::normalize::{DeliveryId, Reading};
use super::hmac::Opts;
use super::{
    per_secret, HeaderList, Outgoing, Payload, Provider, RouteScheme, Sample, SchemeSetup,
    SetupError,
};
use crate::reject::Reject;
use crate::secret::Secret;
use crate::verify::crypto::{token_digest, token_known};
use crate::verify::fields::single_header;
use crate::verify::{Request, Scheme, Signed};

const OPTIONS: &[&str] = &["token_header", "bearer", "delivery_id", "event_pointer"];

/// Where the token is.
struct Config {
    header: &'static str,
    /// As written, for `hookgate send`.
    label: String,
    bearer: bool,
    reading: Reading,
}

impl Config {
    fn parse(table: &toml::Table, tolerance: Option<Duration>) -> Result<Config, Vec<SetupError>> {
        let mut o = Opts::new(table);
        let bearer = o.boolean("bearer").unwrap_or(false);
        let header = o.header("token_header");
        if !o.has("token_header") && !bearer {
            o.error(
                "token_header",
                "is required: the header that carries the token (or bearer = true for Authorization: Bearer)",
            );
        }
        if tolerance.is_some() {
            o.error(
                "tolerance",
                "a static token has no timestamp: there is no window to set",
            );
        }
        let delivery_id = match o.delivery_id() {
            // The token covers the request as a whole: a body field is as
            // trustworthy as the rest of the body, a header no more.
            Some(DeliveryId::Json { pointer, .. }) => Some(DeliveryId::Json {
                pointer,
                signed: true,
            }),
            other => other,
        };
        let event_pointer = o.event_pointer();
        let (header, label) = header
            .map_or(("authorization", "Authorization".to_owned()), |(h, l)| {
                (h, l.to_owned())
            });
        o.done(Config {
            header,
            label,
            bearer,
            reading: Reading {
                event_pointer,
                delivery_id,
            },
        })
    }
}

struct StaticScheme {
    /// SHA-256 of each accepted token.
    tokens: Vec<[u8; 32]>,
    header: &'static str,
    /// As written, for the warning.
    label: String,
    bearer: bool,
    reading: Reading,
}

impl StaticScheme {
    fn token<'h>(&self, request: &Request<'h>) -> Result<&'h str, Reject> {
        let value = single_header(&request.headers, self.header, self.header)?;
        if !self.bearer {
            return Ok(value);
        }
        match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() => {
                Ok(token.trim())
            }
            _ => Err(Reject::MalformedSignature {
                header: self.header,
            }),
        }
    }
}

impl Scheme for StaticScheme {
    fn precheck(&self, request: &Request<'_>, _: SystemTime) -> Result<(), Reject> {
        self.token(request).map(|_| ())
    }

    fn verify(&self, request: &Request<'_>, _: SystemTime) -> Result<Signed, Reject> {
        token_known(&self.tokens, self.token(request)?.as_bytes())
    }
}

impl RouteScheme for StaticScheme {
    fn read<'a>(&self, text: &'a str) -> serde_json::Result<Box<dyn Payload<'a> + 'a>> {
        Ok(Box::new(self.reading.read(text)?))
    }

    fn warnings(&self) -> Vec<String> {
        vec![format!(
            "static token in {}: no body integrity, no replay window (a request seen once can be sent again with any body); use the sender's signing where it offers one",
            self.label
        )]
    }
}

pub static PROVIDER: Provider = super::configured("static", route_scheme, sign, SAMPLES, OPTIONS);

const SAMPLES: &[Sample] = crate::samples!["static": "call.ended"];

fn route_scheme(setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
    let config = Config::parse(setup.options, setup.tolerance)?;
    let tokens = per_secret(setup.secrets, |s| {
        let token = s.expose();
        if token.is_empty() || token.trim() != token || token.contains(['\r', '\n']) {
            Err("a token must be non-empty, without surrounding spaces or line breaks".into())
        } else {
            Ok(token_digest(token.as_bytes()))
        }
    })?;
    Ok(Box::new(StaticScheme {
        tokens,
        header: config.header,
        label: config.label,
        bearer: config.bearer,
        reading: config.reading,
    }))
}

fn sign(secret: &Secret, _body: &[u8], d: &Outgoing<'_>) -> Result<HeaderList, String> {
    super::unknown_option("static", d.options, OPTIONS)?;
    let config = Config::parse(d.options, None).map_err(super::describe)?;
    let value = if config.bearer {
        format!("Bearer {}", secret.expose())
    } else {
        secret.expose().to_owned()
    };
    Ok(vec![(config.label, value)])
}
