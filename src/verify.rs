//! Verification: the request as it arrived ([`Request`]), a route's
//! configured signature check ([`Scheme`]), and the proof that it passed
//! ([`Verified`]).
//!
//! [`verify`] is the only way to make a `Verified`: it runs the scheme over
//! the exact bytes and parses the body only once the signature checked out.
//! Everything after verification (ids, dedup keys, normalization,
//! forwarding) takes a `Verified`, so unauthenticated data cannot reach the
//! dedup store or the receiver by mistake.

#[cfg(test)]
pub(crate) mod arbitrary;
pub mod crypto;
pub mod fields;
pub mod json;

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use crate::reject::Reject;

/// A request's header fields as received, in order (names as sent; lookups
/// ignore case). Borrowed from the connection's buffer: no map is built.
#[derive(Clone, Copy, Default)]
pub struct Headers<'a> {
    fields: &'a [(&'a [u8], &'a [u8])],
}

impl<'a> Headers<'a> {
    pub fn new(fields: &'a [(&'a [u8], &'a [u8])]) -> Self {
        Headers { fields }
    }

    /// Every field, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        self.fields.iter().copied()
    }

    /// The values of the fields named `name`, in order.
    pub fn get_all(&self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| *v)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| *v)
    }

    /// The first value of `name` as text, when it is visible ASCII.
    pub fn get_str(&self, name: &str) -> Option<&'a str> {
        let v = self.get(name)?;
        std::str::from_utf8(v).ok()
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// The parts of a request a signature can cover.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    pub headers: Headers<'a>,
    /// The request target's path, as received.
    pub path: &'a [u8],
    /// The query string after `?`, as received.
    pub query: Option<&'a [u8]>,
    pub body: &'a [u8],
}

/// What a signature covered, beside headers: the body as received, or (where
/// a scheme signs a re-serialisation, as InboundFlow's `JSON.stringify`) the
/// bytes it actually signed. A dedup key derived from the body is taken
/// over these bytes, so variants that verify alike dedup alike.
pub enum Signed {
    Body,
    Other(Vec<u8>),
}

/// The payload's syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    /// `application/x-www-form-urlencoded`: read as a JSON object of strings.
    Form,
}

impl Format {
    /// The media type a body of this syntax is sent with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Form => "application/x-www-form-urlencoded",
        }
    }
}

/// A route's signature check, configured from its secrets and options.
pub trait Scheme: Send + Sync {
    /// Header-only checks, run before the body is read: a request whose
    /// signature headers are missing or malformed can never verify, so it is
    /// refused before `100 Continue` invites its body.
    fn precheck(&self, request: &Request<'_>, now: SystemTime) -> Result<(), Reject>;

    /// Verifies the signature over the exact bytes.
    fn verify(&self, request: &Request<'_>, now: SystemTime) -> Result<Signed, Reject>;

    /// The payload's syntax. Per request: a sender may use both on one
    /// route (Twilio: forms, and JSON bodies whose hash the signed URL
    /// carries).
    fn format(&self, _request: &Request<'_>) -> Format {
        Format::Json
    }
}

/// Buffers a request's payload text may need besides the body itself (a
/// cleaned copy, a form read as JSON, a copy without duplicate keys),
/// owned by the caller so everything read from the payload can borrow from
/// them. Reused across requests.
#[derive(Default)]
pub struct Scratch {
    pub text: Vec<u8>,
    pub rewritten: Vec<u8>,
}

/// A request whose signature verified, with its payload as JSON text.
pub struct Verified<'a> {
    request: Request<'a>,
    signed: Signed,
    text: &'a str,
}

/// Runs `scheme` over `request`, then reads its payload as JSON text (see
/// [`json::text`]): the only way to make a [`Verified`].
pub fn verify<'a>(
    scheme: &dyn Scheme,
    request: Request<'a>,
    scratch: &'a mut Vec<u8>,
    now: SystemTime,
) -> Result<Verified<'a>, Reject> {
    let signed = scheme.verify(&request, now)?;
    let text = match scheme.format(&request) {
        Format::Json => json::text(request.body, scratch)?,
        Format::Form => json::form_text(request.body, scratch)?,
    };
    Ok(Verified {
        request,
        signed,
        text,
    })
}

/// A scalar of signed material: a JSON string or number, or a header value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scalar<'v> {
    Text(Cow<'v, str>),
    Number(String),
}

impl Scalar<'_> {
    pub fn as_str(&self) -> &str {
        match self {
            Scalar::Text(t) => t,
            Scalar::Number(n) => n,
        }
    }
}

impl<'a> Verified<'a> {
    pub fn headers(&self) -> Headers<'a> {
        self.request.headers
    }

    pub fn request(&self) -> &Request<'a> {
        &self.request
    }

    /// The body as received.
    pub fn body(&self) -> &'a [u8] {
        self.request.body
    }

    /// The bytes the signature covered (see [`Signed`]).
    pub fn signed_bytes(&self) -> &[u8] {
        match &self.signed {
            Signed::Body => self.request.body,
            Signed::Other(bytes) => bytes,
        }
    }

    /// The payload as JSON text: the body itself, or the body with a BOM
    /// dropped and lone surrogate escapes replaced, or a form body as a
    /// JSON object.
    pub fn text(&self) -> &'a str {
        self.text
    }

    pub fn json_text(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// A non-empty string or a number of the payload at a JSON pointer (for
    /// a route's own `dedup_key`; the providers read their typed views).
    pub fn scalar(&self, pointer: &str) -> Option<Scalar<'static>> {
        let value: serde_json::Value = serde_json::from_str(self.text).ok()?;
        json::scalar(&value, pointer).map(|s| match s {
            Scalar::Text(t) => Scalar::Text(std::borrow::Cow::Owned(t.into_owned())),
            Scalar::Number(n) => Scalar::Number(n),
        })
    }

    /// A header value usable as an id: visible ASCII, at most
    /// [`fields::MAX_ID_LEN`] bytes.
    pub fn header_id(&self, name: &str) -> Option<&'a str> {
        fields::header_id(&self.request.headers, name)
    }
}

/// A timestamp window: how far a signed timestamp may be from now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub past: Duration,
    /// `None`: any future timestamp is accepted (ElevenLabs' SDKs do so).
    pub future: Option<Duration>,
}

impl Window {
    pub fn both(tolerance: Duration) -> Self {
        Window {
            past: tolerance,
            future: Some(tolerance),
        }
    }
}
