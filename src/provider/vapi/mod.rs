//! Vapi: one of two credentials a Vapi account configures for its server
//! URL. By default a static token, sent in `X-Vapi-Secret` (legacy) or as
//! `Authorization: Bearer <token>`: it proves the sender knows the token,
//! but covers neither the body nor the time, so `hookgate check` warns
//! about it. The HMAC credential signs a template over the body (default
//! `{timestamp}.{body}`) with SHA-256, SHA-512 or SHA-1, hex or base64, in
//! headers the account names.
//!
//! Some messages (`assistant-request`, `tool-calls`, …) wait for the
//! receiver's answer: they are relayed, never answered from the dedup
//! cache.

mod normalize;
#[cfg(test)]
mod tests;

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::Deserialize;

use super::{
    nonempty_secrets, per_secret, HeaderList, Outgoing, Payload, Provider, RouteScheme, Sample,
    SchemeSetup, SetupError,
};
use crate::reject::Reject;
use crate::secret::Secret;
use crate::verify::crypto::{body_signed_if, token_digest, token_known, Algorithm, HmacKey};
use crate::verify::fields::{check_window, single_header};
use crate::verify::fields::{intern_header, is_header_name};
use crate::verify::{Headers, Request, Scheme, Signed, Window};

const TOKEN_HEADER: &str = "x-vapi-secret";
const TOKEN_LABEL: &str = "X-Vapi-Secret";
const AUTHORIZATION_LABEL: &str = "Authorization";

/// The route keys (and `hookgate send vapi --option`s).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Options {
    credential: Option<String>,
    algorithm: Option<String>,
    signature_header: Option<String>,
    timestamp_header: Option<String>,
    signature_prefix: Option<String>,
    payload_format: Option<String>,
    signature_encoding: Option<String>,
    secret_encoding: Option<String>,
    message_id_header: Option<String>,
}

/// The route keys: the credential, then those only the HMAC credential takes.
const ROUTE_KEYS: &[&str] = &[
    "credential",
    "algorithm",
    "signature_header",
    "timestamp_header",
    "signature_prefix",
    "payload_format",
    "signature_encoding",
    "secret_encoding",
    "message_id_header",
];
const HMAC_KEYS: &[&str] = ROUTE_KEYS.split_at(1).1;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Hex,
    Base64,
}

/// One piece of the signed content's template.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Body,
    Timestamp,
    Method,
    MessageId,
}

/// How the HMAC credential signs.
struct Hmac {
    algorithm: Algorithm,
    signature_header: &'static str,
    timestamp_header: &'static str,
    message_id_header: Option<&'static str>,
    prefix: String,
    encoding: Encoding,
    secret_is_base64: bool,
    template: Vec<Piece>,
}

impl Hmac {
    fn signs(&self, piece: &Piece) -> bool {
        self.template.contains(piece)
    }

    fn key(&self, secret: &str) -> Result<HmacKey, String> {
        let bytes = if self.secret_is_base64 {
            BASE64
                .decode(secret.trim())
                .map_err(|_| "secret is not base64 (secret_encoding = \"base64\")".to_owned())?
        } else {
            secret.as_bytes().to_vec()
        };
        if bytes.is_empty() {
            return Err("secret is empty".into());
        }
        Ok(HmacKey::new(self.algorithm, &bytes))
    }

    /// The signed content's parts, in order.
    fn content<'p>(
        &'p self,
        body: &'p [u8],
        timestamp: &'p str,
        message_id: &'p str,
    ) -> Vec<&'p [u8]> {
        self.template
            .iter()
            .map(|piece| match piece {
                Piece::Text(t) => t.as_bytes(),
                Piece::Body => body,
                Piece::Timestamp => timestamp.as_bytes(),
                Piece::Method => b"POST",
                Piece::MessageId => message_id.as_bytes(),
            })
            .collect()
    }

    fn encode(&self, mac: &[u8]) -> String {
        let encoded = match self.encoding {
            Encoding::Hex => hex::encode(mac),
            Encoding::Base64 => BASE64.encode(mac),
        };
        format!("{}{encoded}", self.prefix)
    }
}

enum Credential {
    Token,
    Hmac(Hmac),
}

/// A header name (an RFC 9110 token), lower-cased and interned.
fn header_name(key: &str, name: &str) -> Result<&'static str, SetupError> {
    if is_header_name(name) {
        Ok(intern_header(name))
    } else {
        Err(SetupError::new(
            key,
            format!("{name:?} is not a valid header name"),
        ))
    }
}

/// `{timestamp}.{body}` into pieces. Placeholders as Vapi documents them;
/// `{url}` is refused: which URL Vapi signs is not documented.
fn template(text: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            pieces.push(Piece::Text(rest[..open].to_owned()));
        }
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("{text:?}: a '{{' is not closed"))?
            + open;
        pieces.push(match &rest[open + 1..close] {
            "body" => Piece::Body,
            "timestamp" => Piece::Timestamp,
            "method" => Piece::Method,
            "svix-id" => Piece::MessageId,
            "url" => {
                return Err(format!(
                    "{text:?}: {{url}} is not supported (which URL Vapi signs is not documented)"
                ))
            }
            other => {
                return Err(format!(
                    "{text:?}: unknown placeholder {{{other}}} (known: {{body}}, {{timestamp}}, {{method}}, {{svix-id}})"
                ))
            }
        });
        rest = &rest[close + 1..];
    }
    if rest.contains('}') {
        return Err(format!("{text:?}: a '}}' is not opened"));
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    if !pieces.contains(&Piece::Body) {
        return Err(format!("{text:?} must sign the body ({{body}})"));
    }
    Ok(pieces)
}

/// The credential the options describe; every error names its key.
fn credential(options: &Options) -> Result<Credential, Vec<SetupError>> {
    let mut errors = Vec::new();
    let hmac = match options.credential.as_deref() {
        None | Some("token") => false,
        Some("hmac") => true,
        Some(other) => {
            return Err(vec![SetupError::new(
                "credential",
                format!("{other:?} is not \"token\" or \"hmac\""),
            )])
        }
    };
    if !hmac {
        let given = [
            &options.algorithm,
            &options.signature_header,
            &options.timestamp_header,
            &options.signature_prefix,
            &options.payload_format,
            &options.signature_encoding,
            &options.secret_encoding,
            &options.message_id_header,
        ];
        for (key, value) in HMAC_KEYS.iter().zip(given) {
            if value.is_some() {
                errors.push(SetupError::new(
                    *key,
                    "only with credential = \"hmac\" (the token credential signs nothing)",
                ));
            }
        }
        return if errors.is_empty() {
            Ok(Credential::Token)
        } else {
            Err(errors)
        };
    }
    let algorithm = match options.algorithm.as_deref().unwrap_or("sha256") {
        "sha256" => Algorithm::Sha256,
        "sha512" => Algorithm::Sha512,
        "sha1" => Algorithm::Sha1,
        other => {
            errors.push(SetupError::new(
                "algorithm",
                format!("{other:?} is not sha256, sha512 or sha1"),
            ));
            Algorithm::Sha256
        }
    };
    let mut header = |key: &str, value: &Option<String>, default: &str| {
        header_name(key, value.as_deref().unwrap_or(default))
            .map_err(|e| errors.push(e))
            .unwrap_or("")
    };
    let signature_header = header("signature_header", &options.signature_header, "x-signature");
    let timestamp_header = header("timestamp_header", &options.timestamp_header, "x-timestamp");
    let message_id_header = options
        .message_id_header
        .as_ref()
        .map(|_| header("message_id_header", &options.message_id_header, ""));
    let encoding = match options.signature_encoding.as_deref() {
        None | Some("hex") => Encoding::Hex,
        Some("base64") => Encoding::Base64,
        Some(other) => {
            errors.push(SetupError::new(
                "signature_encoding",
                format!("{other:?} is not hex or base64"),
            ));
            Encoding::Hex
        }
    };
    let secret_is_base64 = match options.secret_encoding.as_deref() {
        None | Some("utf8") => false,
        Some("base64") => true,
        Some(other) => {
            errors.push(SetupError::new(
                "secret_encoding",
                format!("{other:?} is not utf8 or base64"),
            ));
            false
        }
    };
    let template = template(
        options
            .payload_format
            .as_deref()
            .unwrap_or("{timestamp}.{body}"),
    )
    .map_err(|why| errors.push(SetupError::new("payload_format", why)))
    .unwrap_or_default();
    match (template.contains(&Piece::MessageId), message_id_header) {
        (true, None) => errors.push(SetupError::new(
            "message_id_header",
            "required: payload_format signs {svix-id}",
        )),
        (false, Some(_)) => errors.push(SetupError::new(
            "message_id_header",
            "payload_format does not sign {svix-id}",
        )),
        _ => {}
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Credential::Hmac(Hmac {
        algorithm,
        signature_header,
        timestamp_header,
        message_id_header,
        prefix: options.signature_prefix.clone().unwrap_or_default(),
        encoding,
        secret_is_base64,
        template,
    }))
}

enum Check {
    /// The SHA-256 of each token: compared in constant time whatever the
    /// lengths.
    Token(Vec<[u8; 32]>),
    Hmac {
        hmac: Hmac,
        keys: Vec<HmacKey>,
        /// `None` when the template does not sign the timestamp: an
        /// unsigned time bounds nothing.
        window: Option<Window>,
    },
}

struct VapiScheme {
    check: Check,
}

/// The token a request presents: `X-Vapi-Secret`, else
/// `Authorization: Bearer <token>`.
fn presented_token<'h>(headers: &Headers<'h>) -> Result<&'h str, Reject> {
    if headers.contains(TOKEN_HEADER) {
        return single_header(headers, TOKEN_HEADER, TOKEN_LABEL);
    }
    if !headers.contains("authorization") {
        return Err(Reject::MissingSignature {
            header: TOKEN_LABEL,
        });
    }
    let value = single_header(headers, "authorization", AUTHORIZATION_LABEL)?;
    let malformed = Reject::MalformedSignature {
        header: AUTHORIZATION_LABEL,
    };
    let (scheme, token) = value.split_once(' ').ok_or(malformed.clone())?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed);
    }
    Ok(token)
}

/// A signed Unix time in seconds or milliseconds (Vapi does not document
/// which: a value past 10^11, the year 5138 in seconds, is milliseconds).
fn timestamp_seconds(text: &str, label: &'static str) -> Result<u64, Reject> {
    let malformed = Reject::MalformedSignature { header: label };
    if text.is_empty() || text.len() > 16 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed);
    }
    let value: u64 = text.parse().map_err(|_| malformed)?;
    Ok(if value >= 100_000_000_000 {
        value / 1000
    } else {
        value
    })
}

/// What an HMAC request presents: its MAC, and the timestamp and message
/// id the template signs.
struct Presented<'h> {
    mac: Vec<u8>,
    timestamp: Option<(&'h str, u64)>,
    message_id: &'h str,
}

fn presented<'h>(hmac: &Hmac, headers: &Headers<'h>) -> Result<Presented<'h>, Reject> {
    let label = hmac.signature_header;
    let malformed = Reject::MalformedSignature { header: label };
    let value = single_header(headers, hmac.signature_header, label)?;
    let encoded = match value.get(..hmac.prefix.len()) {
        Some(p) if p.eq_ignore_ascii_case(&hmac.prefix) => &value[hmac.prefix.len()..],
        _ => return Err(malformed),
    };
    let mac = match hmac.encoding {
        Encoding::Hex => hex::decode(encoded).ok(),
        Encoding::Base64 => BASE64.decode(encoded).ok(),
    }
    .filter(|mac| mac.len() == hmac.algorithm.output_len())
    .ok_or(malformed)?;
    let timestamp = if hmac.signs(&Piece::Timestamp) {
        let label = hmac.timestamp_header;
        let text = single_header(headers, hmac.timestamp_header, label)?;
        Some((text, timestamp_seconds(text, label)?))
    } else {
        None
    };
    let message_id = match hmac.message_id_header {
        Some(name) => single_header(headers, name, name)?,
        None => "",
    };
    Ok(Presented {
        mac,
        timestamp,
        message_id,
    })
}

impl Scheme for VapiScheme {
    fn precheck(&self, request: &Request<'_>, _: SystemTime) -> Result<(), Reject> {
        match &self.check {
            Check::Token(_) => presented_token(&request.headers).map(|_| ()),
            Check::Hmac { hmac, .. } => presented(hmac, &request.headers).map(|_| ()),
        }
    }

    fn verify(&self, request: &Request<'_>, now: SystemTime) -> Result<Signed, Reject> {
        match &self.check {
            Check::Token(tokens) => {
                token_known(tokens, presented_token(&request.headers)?.as_bytes())
            }
            Check::Hmac { hmac, keys, window } => {
                let p = presented(hmac, &request.headers)?;
                if let (Some((_, seconds)), Some(window)) = (p.timestamp, window) {
                    check_window(seconds, now, *window)?;
                }
                let timestamp = p.timestamp.map_or("", |(text, _)| text);
                let parts = hmac.content(request.body, timestamp, p.message_id);
                let matched = keys
                    .iter()
                    .fold(false, |found, k| found | k.matches(&parts, &p.mac));
                body_signed_if(matched)
            }
        }
    }
}

impl RouteScheme for VapiScheme {
    fn read<'a>(&self, text: &'a str) -> serde_json::Result<Box<dyn Payload<'a> + 'a>> {
        Ok(Box::new(crate::normalize::read::<normalize::Body>(text)?))
    }

    fn warnings(&self) -> Vec<String> {
        match &self.check {
            Check::Token(_) => vec![
                "vapi credential \"token\": a static token protects neither the body nor against replay (no timestamp); prefer Vapi's HMAC credential (credential = \"hmac\")".to_owned(),
            ],
            Check::Hmac { window: None, .. } => vec![
                "vapi payload_format does not sign {timestamp}: no replay window, dedup is the only replay defence".to_owned(),
            ],
            Check::Hmac { .. } => Vec::new(),
        }
    }
}

pub static PROVIDER: Provider = Provider::new("vapi", route_scheme, sign, SAMPLES)
    .with_options(ROUTE_KEYS)
    // `assistant-request` must be answered within 7.5 s end to end (other
    // messages wait `server.timeoutSeconds`, 20 s by default): one route serves
    // both, so the shorter bounds it.
    .with_deadline(Duration::from_millis(7_500))
    .with_sample_ids(&["/message/call/id"]);

const SAMPLES: &[Sample] = crate::samples!["vapi":
    "end-of-call-report", "status-update", "assistant-request", "tool-calls", "transcript",
    "conversation-update"];

fn route_scheme(setup: SchemeSetup<'_>) -> Result<Box<dyn RouteScheme>, Vec<SetupError>> {
    let options: Options = super::options(setup.options)?;
    let check = match credential(&options)? {
        Credential::Token => Check::Token(nonempty_secrets(setup.secrets, token_digest)?),
        Credential::Hmac(hmac) => {
            let keys = per_secret(setup.secrets, |s| hmac.key(s.expose()))?;
            let window = hmac
                .signs(&Piece::Timestamp)
                .then(|| Window::both(super::tolerance(&setup)));
            Check::Hmac { hmac, keys, window }
        }
    };
    Ok(Box::new(VapiScheme { check }))
}

fn sign(secret: &Secret, body: &[u8], d: &Outgoing<'_>) -> Result<HeaderList, String> {
    let options: Options = super::send_options(d.options)?;
    match credential(&options).map_err(super::describe)? {
        Credential::Token => Ok(vec![(
            AUTHORIZATION_LABEL.to_owned(),
            format!("Bearer {}", secret.expose()),
        )]),
        Credential::Hmac(hmac) => {
            let key = hmac.key(secret.expose())?;
            let timestamp = d.timestamp.to_string();
            let mac = key.sign(&hmac.content(body, &timestamp, d.id));
            let mut headers = vec![(
                hmac.signature_header.to_owned(),
                hmac.encode(mac.as_bytes()),
            )];
            if hmac.signs(&Piece::Timestamp) {
                headers.push((hmac.timestamp_header.to_owned(), timestamp));
            }
            if let Some(name) = hmac.message_id_header {
                headers.push((name.to_owned(), d.id.to_owned()));
            }
            Ok(headers)
        }
    }
}
