//! A configured generic HMAC check: find the signatures and the timestamp
//! where the route says, rebuild the signed content from its template, and
//! compare every key's MAC with every candidate in constant time.

use std::time::SystemTime;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use subtle::ConstantTimeEq;

use super::normalize::Reading;
use super::template::Piece;
use crate::provider::{Payload, RouteScheme};
use crate::reject::Reject;
use crate::verify::crypto::body_signed_if;
use crate::verify::fields::{check_window, check_window_ms, single_header};
use crate::verify::{Request, Scheme, Signed, Window};

/// Base64 that takes its padding or leaves it out, as senders differ.
pub(crate) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
pub(crate) const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

/// HMAC key material, keyed once when the route loads.
#[derive(Clone)]
pub(crate) enum MacKey {
    Sha1(::hmac::Hmac<sha1::Sha1>),
    Sha256(::hmac::Hmac<sha2::Sha256>),
    Sha512(::hmac::Hmac<sha2::Sha512>),
}

impl std::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacKey([redacted])")
    }
}

impl MacKey {
    pub(crate) fn new(algorithm: Algorithm, key: &[u8]) -> MacKey {
        use ::hmac::Mac;
        const ANY: &str = "HMAC accepts keys of any length";
        match algorithm {
            Algorithm::Sha1 => MacKey::Sha1(Mac::new_from_slice(key).expect(ANY)),
            Algorithm::Sha256 => MacKey::Sha256(Mac::new_from_slice(key).expect(ANY)),
            Algorithm::Sha512 => MacKey::Sha512(Mac::new_from_slice(key).expect(ANY)),
        }
    }

    /// The MAC over the concatenation of `parts`, in the first `len()`
    /// bytes.
    pub(crate) fn sign(&self, parts: &[&[u8]]) -> [u8; 64] {
        use ::hmac::Mac;
        fn run<M: Mac + Clone>(m: &M, parts: &[&[u8]], out: &mut [u8; 64]) {
            let mut m = m.clone();
            for p in parts {
                m.update(p);
            }
            let bytes = m.finalize().into_bytes();
            out[..bytes.len()].copy_from_slice(&bytes);
        }
        let mut out = [0u8; 64];
        match self {
            MacKey::Sha1(m) => run(m, parts, &mut out),
            MacKey::Sha256(m) => run(m, parts, &mut out),
            MacKey::Sha512(m) => run(m, parts, &mut out),
        }
        out
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            MacKey::Sha1(_) => 20,
            MacKey::Sha256(_) => 32,
            MacKey::Sha512(_) => 64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Hex,
    Base64,
    Base64Url,
}

impl Encoding {
    pub(crate) fn decode(self, text: &str) -> Option<Vec<u8>> {
        match self {
            Encoding::Hex => hex::decode(text).ok(),
            Encoding::Base64 => BASE64.decode(text).ok(),
            Encoding::Base64Url => BASE64URL.decode(text).ok(),
        }
    }

    pub(crate) fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => hex::encode(bytes),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(bytes),
            Encoding::Base64Url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        }
    }
}

/// How the signature header holds its signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Format {
    /// The whole value is one signature (after the prefix).
    Bare,
    /// `k=v,k=v`: every `signature_key` entry is a candidate; the timestamp
    /// may be the `timestamp_key` entry.
    List {
        signature_key: String,
        timestamp_key: Option<String>,
    },
    /// Space-separated `<version>,<signature>` entries (Standard Webhooks);
    /// entries of other versions are ignored.
    Spaced { version: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Seconds,
    Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimestampSource {
    Header(&'static str),
    /// The signature list's `timestamp_key` entry.
    SignatureField,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timestamp {
    pub source: TimestampSource,
    pub unit: Unit,
    pub window: Window,
}

/// A route's generic HMAC check.
pub(crate) struct HmacScheme {
    pub keys: Vec<MacKey>,
    /// Lower-cased; also the name in rejections.
    pub header: &'static str,
    pub format: Format,
    pub prefix: String,
    pub encoding: Encoding,
    pub timestamp: Option<Timestamp>,
    pub template: Vec<Piece>,
    /// The header `{id}` reads.
    pub id_header: Option<&'static str>,
    pub reading: Reading,
    pub warnings: Vec<String>,
}

/// What the headers hold, before any MAC is computed.
struct Parsed<'h> {
    candidates: Vec<Vec<u8>>,
    timestamp: Option<&'h str>,
}

impl HmacScheme {
    fn candidate(&self, text: &str) -> Option<Vec<u8>> {
        let mut text = text.trim();
        if !self.prefix.is_empty() {
            match text.get(..self.prefix.len()) {
                Some(p) if p.eq_ignore_ascii_case(&self.prefix) => {
                    text = &text[self.prefix.len()..];
                }
                _ => return None,
            }
        }
        let bytes = self.encoding.decode(text)?;
        (bytes.len() == self.keys[0].len()).then_some(bytes)
    }

    fn parse<'h>(&self, request: &Request<'h>) -> Result<Parsed<'h>, Reject> {
        let malformed = Reject::MalformedSignature {
            header: self.header,
        };
        let value = single_header(&request.headers, self.header, self.header)?;
        let mut candidates = Vec::new();
        let mut timestamp = None;
        match &self.format {
            Format::Bare => candidates.extend(self.candidate(value)),
            Format::List {
                signature_key,
                timestamp_key,
            } => {
                for item in value.split(',') {
                    let (key, val) = item.trim().split_once('=').ok_or(malformed.clone())?;
                    if Some(key) == timestamp_key.as_deref() {
                        if timestamp.replace(val).is_some() {
                            return Err(malformed);
                        }
                    } else if key == signature_key {
                        candidates.extend(self.candidate(val));
                    }
                }
            }
            Format::Spaced { version } => {
                for entry in value.split_ascii_whitespace() {
                    if let Some((v, sig)) = entry.split_once(',') {
                        if v == version {
                            candidates.extend(self.candidate(sig));
                        }
                    }
                }
            }
        }
        if candidates.is_empty() {
            return Err(malformed);
        }
        if let Some(ts) = &self.timestamp {
            let (text, header) = match ts.source {
                TimestampSource::Header(name) => {
                    (single_header(&request.headers, name, name)?, name)
                }
                TimestampSource::SignatureField => (timestamp.ok_or(malformed)?, self.header),
            };
            let digits = match ts.unit {
                Unit::Seconds => 12,
                Unit::Millis => 16,
            };
            if text.is_empty() || text.len() > digits || !text.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Reject::MalformedSignature { header });
            }
            timestamp = Some(text);
        }
        // Every header the template signs must be there, once.
        for piece in &self.template {
            match piece {
                Piece::Id => {
                    header_value(request, self.id_header.unwrap_or_default())?;
                }
                Piece::Header(name) => {
                    header_value(request, name)?;
                }
                _ => {}
            }
        }
        Ok(Parsed {
            candidates,
            timestamp,
        })
    }
}

/// A signed header's value: exactly once, as received (not trimmed: the
/// sender signed what it sent).
fn header_value<'h>(request: &Request<'h>, name: &'static str) -> Result<&'h [u8], Reject> {
    let mut values = request.headers.get_all(name);
    let value = values
        .next()
        .ok_or(Reject::MissingSignature { header: name })?;
    if values.next().is_some() {
        return Err(Reject::MalformedSignature { header: name });
    }
    Ok(value)
}

impl Scheme for HmacScheme {
    fn precheck(&self, request: &Request<'_>, _: SystemTime) -> Result<(), Reject> {
        self.parse(request).map(|_| ())
    }

    fn verify(&self, request: &Request<'_>, now: SystemTime) -> Result<Signed, Reject> {
        let parsed = self.parse(request)?;
        let timestamp = parsed.timestamp.unwrap_or_default();
        if let Some(ts) = &self.timestamp {
            let value: u64 = timestamp.parse().map_err(|_| Reject::MalformedSignature {
                header: self.header,
            })?;
            match ts.unit {
                Unit::Seconds => check_window(value, now, ts.window)?,
                Unit::Millis => check_window_ms(value, now, ts.window)?,
            }
        }
        let mut parts: Vec<&[u8]> = Vec::with_capacity(self.template.len());
        for piece in &self.template {
            parts.push(match piece {
                Piece::Literal(bytes) => bytes,
                Piece::Body => request.body,
                Piece::Timestamp => timestamp.as_bytes(),
                Piece::Id => header_value(request, self.id_header.unwrap_or_default())?,
                Piece::Header(name) => header_value(request, name)?,
            });
        }
        let matched = self.keys.iter().any(|key| {
            let mac = key.sign(&parts);
            let mac = &mac[..key.len()];
            parsed
                .candidates
                .iter()
                .fold(false, |found, c| found | bool::from(mac.ct_eq(c)))
        });
        body_signed_if(matched)
    }
}

impl RouteScheme for HmacScheme {
    fn read<'a>(&self, text: &'a str) -> serde_json::Result<Box<dyn Payload<'a> + 'a>> {
        Ok(Box::new(self.reading.read(text)?))
    }

    fn warnings(&self) -> Vec<String> {
        self.warnings.clone()
    }
}
