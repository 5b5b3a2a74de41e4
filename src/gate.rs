//! The domain core: `(route, request, now) -> Accepted | Reject`. Nothing
//! here knows about sockets.
//!
//! [`inspect`] verifies a request through [`verify::verify`] (the only maker
//! of a `Verified`), then derives from signed material only the delivery's
//! id and its [`DedupKey`] (which only this module makes). Forwarding takes
//! what it sends from [`Accepted::render`], so nothing unverified reaches
//! the receiver or the dedup store.

use std::borrow::Cow;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::event::{EventContext, EventMeta};
use crate::provider::Payload;
use crate::reject::Reject;
use crate::route::{DedupKeySpec, ForwardMode, KeyPart, Route};
use crate::verify::fields::MAX_ID_LEN;
use crate::verify::{self, Request, Scalar, Scratch, Verified};

/// A delivery's identity for dedup: the route and the delivery's signed key
/// parts, encoded unambiguously (each part typed and length-delimited, so
/// `"a:b","c"` and `"a","b:c"`, or `123` and `"123"`, differ) and hashed.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DedupKey([u8; 32]);

/// One part of a dedup key.
enum Part<'p> {
    Scalar(&'p Scalar<'p>),
    /// The SHA-256 of the signed bytes, where the key's fields are absent.
    SignedDigest([u8; 32]),
}

impl DedupKey {
    fn new(route: &str, parts: &[Part<'_>]) -> DedupKey {
        let mut h = Sha256::new();
        h.update(b"hookgate-dedup-v1");
        let mut field = |tag: u8, bytes: &[u8]| {
            h.update([tag]);
            h.update((bytes.len() as u64).to_be_bytes());
            h.update(bytes);
        };
        field(b'r', route.as_bytes());
        for part in parts {
            match part {
                Part::Scalar(Scalar::Text(t)) => field(b's', t.as_bytes()),
                Part::Scalar(Scalar::Number(n)) => field(b'n', n.as_bytes()),
                Part::SignedDigest(d) => field(b'd', d),
            }
        }
        DedupKey(h.finalize().into())
    }

    /// The key's SHA-256: what the stores keep.
    pub fn digest(&self) -> &[u8; 32] {
        &self.0
    }

    /// A key from a label, for the stores' own tests.
    #[cfg(test)]
    pub(crate) fn for_tests(label: &str) -> DedupKey {
        let s = Scalar::Text(label.into());
        DedupKey::new("test", &[Part::Scalar(&s)])
    }
}

impl std::fmt::Debug for DedupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DedupKey({})", hex::encode(&self.0[..8]))
    }
}

/// A verified request, ready for dedup and forwarding.
pub struct Accepted<'a> {
    request: Verified<'a>,
    /// The provider's typed view of the payload.
    payload: Box<dyn Payload<'a> + 'a>,
    /// The CloudEvents `id` and `X-Hookgate-Delivery-Id`.
    delivery_id: String,
    /// What the provider sent unsigned as its delivery id.
    provider_delivery_id: Option<String>,
    dedup_key: Option<DedupKey>,
    /// The provider does not want this delivery deduplicated.
    exempt: bool,
}

/// What goes upstream for an accepted request.
pub struct Rendered<'a> {
    pub body: Cow<'a, [u8]>,
    /// Binary-mode `ce-*` attributes (original mode only).
    pub ce_headers: Vec<(&'static str, String)>,
}

impl<'a> Accepted<'a> {
    pub fn delivery_id(&self) -> &str {
        &self.delivery_id
    }

    pub fn provider_delivery_id(&self) -> Option<&str> {
        self.provider_delivery_id.as_deref()
    }

    /// `None` when dedup is off for the route or the delivery.
    pub fn dedup_key(&self) -> Option<&DedupKey> {
        self.dedup_key.as_ref().filter(|_| !self.exempt)
    }

    pub fn body_len(&self) -> usize {
        self.request.body().len()
    }

    /// The event as the route forwards it: the normalized document, or the
    /// provider's exact bytes with the attributes as `ce-*` headers.
    pub fn render(&self, route: &Route, received_at: SystemTime) -> Rendered<'_> {
        let ctx = EventContext::new(
            &self.request,
            EventMeta {
                provider: route.provider_name(),
                route: &route.name,
                delivery_id: &self.delivery_id,
                provider_delivery_id: self.provider_delivery_id.as_deref(),
                received_at,
                include_raw: route.include_raw,
                with_data: route.forward == ForwardMode::Normalized,
            },
        );
        let event = self.payload.normalize(ctx.with_data());
        match route.forward {
            ForwardMode::Normalized => Rendered {
                body: Cow::Owned(event.to_structured(&ctx)),
                ce_headers: Vec::new(),
            },
            ForwardMode::Original => Rendered {
                body: Cow::Borrowed(self.request.body()),
                ce_headers: event.binary_headers(&ctx),
            },
        }
    }
}

/// Header-only checks, run before the body is read.
pub fn precheck(route: &Route, request: &Request<'_>, now: SystemTime) -> Result<(), Reject> {
    route.scheme.precheck(request, now)
}

/// Verifies the request, reads its payload once, and derives its ids.
pub fn inspect<'a>(
    route: &Route,
    request: Request<'a>,
    scratch: &'a mut Scratch,
    now: SystemTime,
) -> Result<Accepted<'a>, Reject> {
    let Scratch { text, rewritten } = scratch;
    let request = verify::verify(&*route.scheme, request, text, now)?;
    let payload = read(route, request.text(), rewritten)?;
    let identity = payload.identity(request.request());
    let signed_digest = || -> [u8; 32] { Sha256::digest(request.signed_bytes()).into() };

    let delivery_id = match &identity.key {
        Some(parts) => bounded(join_id(parts)),
        None => format!("sha256:{}", hex::encode(signed_digest())),
    };
    let dedup_key = route.dedup.as_ref().map(|spec| {
        let parts: Option<Cow<'_, [Scalar<'_>]>> = match spec {
            DedupKeySpec::Provider => identity.key.as_deref().map(Cow::Borrowed),
            DedupKeySpec::Parts(parts) => key_from_parts(parts, &request).map(Cow::Owned),
        };
        match parts {
            Some(parts) => {
                let parts: Vec<Part<'_>> = parts.iter().map(Part::Scalar).collect();
                DedupKey::new(&route.name, &parts)
            }
            None => DedupKey::new(&route.name, &[Part::SignedDigest(signed_digest())]),
        }
    });
    let provider_delivery_id = identity.unsigned_id;
    let exempt = identity.exempt;
    Ok(Accepted {
        request,
        payload,
        delivery_id,
        provider_delivery_id,
        dedup_key,
        exempt,
    })
}

/// The provider's typed view of the payload. JSON may repeat a key, which
/// a typed view refuses: such a payload is read again from its text with
/// the last of each repeated key kept, as a JSON parser keeps it.
fn read<'a>(
    route: &Route,
    text: &'a str,
    rewritten: &'a mut Vec<u8>,
) -> Result<Box<dyn Payload<'a> + 'a>, Reject> {
    if let Ok(payload) = route.scheme.read(text) {
        return Ok(payload);
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| Reject::InvalidJson)?;
    rewritten.clear();
    serde_json::to_writer(&mut *rewritten, &value).map_err(|_| Reject::InvalidJson)?;
    let text = std::str::from_utf8(rewritten).map_err(|_| Reject::InvalidJson)?;
    route.scheme.read(text).map_err(|_| Reject::InvalidJson)
}

/// The id of a delivery from its key's parts: one part as it is; several
/// joined with `:`, each with `%` and `:` written `%25` and `%3A` so
/// different parts never make the same id.
fn join_id(parts: &[Scalar<'_>]) -> String {
    if let [one] = parts {
        return one.as_str().to_owned();
    }
    let mut out = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        for c in part.as_str().chars() {
            match c {
                '%' => out.push_str("%25"),
                ':' => out.push_str("%3A"),
                c => out.push(c),
            }
        }
    }
    out
}

/// A route's `dedup_key` parts; `None` (so the digest of the signed bytes is
/// used) when any part is absent, since a partial key would merge unrelated
/// deliveries.
fn key_from_parts(parts: &[KeyPart], request: &Verified<'_>) -> Option<Vec<Scalar<'static>>> {
    parts
        .iter()
        .map(|part| match part {
            KeyPart::Header(name) => {
                let v = request.headers().get_str(name)?.trim();
                (!v.is_empty()).then(|| Scalar::Text(Cow::Owned(v.to_owned())))
            }
            KeyPart::Json(pointer) => request.scalar(pointer),
        })
        .collect()
}

/// Ids longer than [`MAX_ID_LEN`] or with bytes outside visible ASCII are
/// replaced by their SHA-256, so headers and log lines stay bounded.
fn bounded(id: String) -> String {
    if id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic()) {
        id
    } else {
        format!("sha256:{}", hex::encode(Sha256::digest(id.as_bytes())))
    }
}

#[cfg(test)]
mod tests;
