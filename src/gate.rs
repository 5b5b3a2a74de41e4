//! The domain core: `(route, headers, body, now) -> Accepted | Reject`.
//! Nothing here knows about sockets or pingora.
//!
//! Only [`inspect`] constructs a [`Verified`], after the signature checked
//! out, so dedup and normalization (which take a `Verified`) can never see
//! unauthenticated data.

pub(crate) mod skeleton;

use std::time::SystemTime;

use http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::config::{DedupKeySpec, ForwardMode, KeyPart, Route};
use crate::normalize::EventContext;
use crate::provider::VerifyParams;
use crate::reject::Reject;

/// Longest delivery id or dedup key kept as is; longer ones are hashed so
/// cache entries and headers stay bounded.
pub const MAX_ID_LEN: usize = 200;

/// A request whose signature verified and whose body is JSON.
pub struct Verified<'a> {
    headers: &'a HeaderMap,
    body: &'a [u8],
    /// The body parsed once: whole, or without its arrays when only the
    /// event's attributes are needed (see [`skeleton`]).
    json: serde_json::Value,
    arrays_skipped: bool,
}

impl<'a> Verified<'a> {
    pub fn headers(&self) -> &'a HeaderMap {
        self.headers
    }

    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    pub fn json(&self) -> &serde_json::Value {
        &self.json
    }

    /// A string or number of the body at a JSON pointer. Exact even when
    /// arrays were skipped: a pointer through one is looked up in a full
    /// parse (only a route's own `dedup_key` can name such a path).
    pub fn scalar(&self, pointer: &str) -> Option<String> {
        crate::provider::json_scalar(&self.json, pointer).or_else(|| {
            if !self.arrays_skipped {
                return None;
            }
            let full: serde_json::Value = serde_json::from_slice(self.body).ok()?;
            crate::provider::json_scalar(&full, pointer)
        })
    }
}

/// A delivery's identity for dedup: the route and the delivery's signed key
/// parts, encoded unambiguously (typed, length-delimited) and hashed. Only
/// [`inspect`] makes one, from a verified request, so nothing unverified can
/// reach the dedup store.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DedupKey([u8; 32]);

impl DedupKey {
    fn new(route: &str, key: &str) -> DedupKey {
        let mut h = Sha256::new();
        h.update(b"hookgate-dedup-v1");
        for part in [route.as_bytes(), key.as_bytes()] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
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
        DedupKey::new("test", label)
    }
}

impl std::fmt::Debug for DedupKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DedupKey({})", hex::encode(&self.0[..8]))
    }
}

/// A verified request, ready for dedup and forwarding.
pub struct Accepted<'a> {
    pub request: Verified<'a>,
    /// The provider's delivery id (or the dedup key's id where it sends none):
    /// CloudEvents `id` and `X-Hookgate-Delivery-Id`.
    pub delivery_id: String,
    /// From signed material; `None` when dedup is off.
    pub dedup_key: Option<DedupKey>,
}

impl Accepted<'_> {
    /// What normalization may look at for this request.
    pub fn event_context<'s>(
        &'s self,
        route: &'s Route,
        received_at: SystemTime,
    ) -> EventContext<'s> {
        EventContext {
            provider: route.kind(),
            route: &route.name,
            headers: self.request.headers,
            body: self.request.body,
            json: &self.request.json,
            delivery_id: &self.delivery_id,
            received_at,
            include_raw: route.include_raw,
            with_data: route.forward == crate::config::ForwardMode::Normalized,
        }
    }
}

fn params<'r>(route: &'r Route, now: SystemTime) -> VerifyParams<'r> {
    VerifyParams {
        keys: &route.keys,
        tolerance: route.tolerance,
        now,
        signature_header: &route.signature_header,
    }
}

/// Header-only checks, run before the body is read.
pub fn precheck(route: &Route, headers: &HeaderMap, now: SystemTime) -> Result<(), Reject> {
    route.provider.precheck(headers, &params(route, now))
}

/// Verifies the request, parses its body once, and derives its ids.
pub fn inspect<'a>(
    route: &Route,
    headers: &'a HeaderMap,
    body: &'a [u8],
    now: SystemTime,
) -> Result<Accepted<'a>, Reject> {
    route.provider.verify(headers, body, &params(route, now))?;
    // Forwarding the original bytes needs only the event's attributes, none
    // of which is inside an array: skip building the arrays.
    let arrays_skipped = route.forward == ForwardMode::Original;
    let json = if arrays_skipped {
        skeleton::parse(body)
    } else {
        serde_json::from_slice(body)
    }
    .map_err(|_| Reject::InvalidJson)?;
    let request = Verified {
        headers,
        body,
        json,
        arrays_skipped,
    };
    let natural_key = route.provider.dedup_key(&request).map(bounded);
    let dedup_key = route.dedup.as_ref().map(|spec| {
        let key = match spec {
            DedupKeySpec::Provider => natural_key.clone(),
            DedupKeySpec::Parts(parts) => key_from_parts(parts, &request),
        };
        DedupKey::new(
            &route.name,
            &key.unwrap_or_else(|| body_digest(request.body)),
        )
    });
    let delivery_id = route
        .provider
        .delivery_id(&request)
        .map(bounded)
        .or(natural_key)
        .unwrap_or_else(|| body_digest(request.body));
    Ok(Accepted {
        request,
        delivery_id,
        dedup_key,
    })
}

/// A route's `dedup_key` parts joined with `:`; `None` (so the body digest
/// is used) when any part is absent, since a partial key would merge
/// unrelated deliveries.
fn key_from_parts(parts: &[KeyPart], request: &Verified<'_>) -> Option<String> {
    let mut key = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            key.push(':');
        }
        let value = match part {
            KeyPart::Header(name) => request
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .filter(|v| !v.is_empty())
                .map(str::to_owned),
            KeyPart::Json(pointer) => request.scalar(pointer),
        }?;
        key.push_str(&value);
    }
    Some(bounded(key))
}

fn bounded(id: String) -> String {
    if id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic()) {
        id
    } else {
        format!("sha256:{}", hex::encode(Sha256::digest(id.as_bytes())))
    }
}

fn body_digest(body: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(body)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use crate::provider::test_support::{hmac_hex, now, unix};

    fn route(extra: &str, provider: &str, secret: &str) -> std::sync::Arc<Route> {
        let text = format!(
            "[server]\nlisten = \"127.0.0.1:8080\"\n[upstream]\nurl = \"http://127.0.0.1:3000\"\n\
             [[route]]\nname = \"r\"\npath = \"/r\"\nprovider = \"{provider}\"\nsecrets = [\"{secret}\"]\n\
             timeout = \"3s\"\n{extra}"
        );
        let loaded = config::parse(&text, &|_| None).unwrap();
        loaded.config.route("/r").unwrap().clone()
    }

    fn nixflex(body: &str, delivery: Option<&str>) -> HeaderMap {
        let t = unix(now());
        let sig = hmac_hex(b"s3cret", format!("{t}.{body}").as_bytes());
        let mut h = HeaderMap::new();
        h.insert(
            "x-nixflex-signature",
            format!("t={t},v1={sig}").parse().unwrap(),
        );
        if let Some(d) = delivery {
            h.insert("webhook_delivery_id", d.parse().unwrap());
        }
        h
    }

    #[test]
    fn nixflex_dedup_key_ignores_the_unsigned_delivery_header() {
        let r = route("", "nixflex", "s3cret");
        let body = r#"{"event":"call.ended","call_id":"CA1"}"#;
        let h1 = nixflex(body, Some("dlv-1"));
        let h2 = nixflex(body, Some("dlv-2"));
        let a = inspect(&r, &h1, body.as_bytes(), now()).unwrap();
        let b = inspect(&r, &h2, body.as_bytes(), now()).unwrap();
        assert_eq!(a.delivery_id, "dlv-1");
        assert_eq!(b.delivery_id, "dlv-2");
        assert_eq!(a.dedup_key, Some(DedupKey::new("r", "call.ended:CA1")));
        assert_eq!(a.dedup_key, b.dedup_key);
    }

    #[test]
    fn falls_back_to_the_body_digest() {
        let r = route("", "nixflex", "s3cret");
        let body = r#"{"event":"sms.received","message_id":"SM1"}"#;
        let h = nixflex(body, None);
        let a = inspect(&r, &h, body.as_bytes(), now()).unwrap();
        assert!(a.delivery_id.starts_with("sha256:"), "{}", a.delivery_id);
        assert_eq!(a.dedup_key, Some(DedupKey::new("r", &a.delivery_id)));
    }

    #[test]
    fn verified_but_not_json_is_400_and_unverified_is_401_first() {
        let r = route("", "nixflex", "s3cret");
        let body = "not json";
        assert_eq!(
            inspect(&r, &nixflex(body, None), body.as_bytes(), now()).err(),
            Some(Reject::InvalidJson)
        );
        let forged = nixflex("{}", None);
        assert_eq!(
            inspect(&r, &forged, b"also not json", now()).err(),
            Some(Reject::InvalidSignature)
        );
    }

    /// The (delivery id, dedup key) of a signed Nixflex body on `route`.
    fn ids(route: &Route, body: &str, delivery: Option<&str>) -> (String, Option<DedupKey>) {
        let h = nixflex(body, delivery);
        let a = inspect(route, &h, body.as_bytes(), now()).unwrap();
        (a.delivery_id, a.dedup_key)
    }

    #[test]
    fn route_key_parts_and_dedup_off() {
        let r = route(
            "dedup_key = [\"json:/event\", \"json:/call_id\"]",
            "nixflex",
            "s3cret",
        );
        let body = r#"{"event":"call.ended","call_id":7}"#;
        assert_eq!(
            ids(&r, body, None).1,
            Some(DedupKey::new("r", "call.ended:7"))
        );

        let missing = r#"{"event":"call.ended"}"#;
        let digest = body_digest(missing.as_bytes());
        assert_eq!(ids(&r, missing, None).1, Some(DedupKey::new("r", &digest)));

        let off = route("dedup = false", "nixflex", "s3cret");
        assert_eq!(ids(&off, body, None), ("call.ended:7".to_string(), None));
    }

    #[test]
    fn oversized_ids_are_hashed() {
        let r = route("", "nixflex", "s3cret");
        let long = "x".repeat(5000);
        let body = format!(r#"{{"event":"call.ended","call_id":"{long}"}}"#);
        let (delivery_id, key) = ids(&r, &body, Some(&long));
        assert!(key.is_some());
        assert!(delivery_id.len() < 100);
    }

    #[test]
    fn voxagent_keys_on_event_and_session() {
        let r = route("", "voxagent", "vsecret");
        let body = r#"{"event":"SessionStarted","data":{"session_id":"s-1"}}"#;
        let mut h = HeaderMap::new();
        h.insert(
            "x-voxagent-signature",
            hmac_hex(b"vsecret", body.as_bytes()).parse().unwrap(),
        );
        let a = inspect(&r, &h, body.as_bytes(), now()).unwrap();
        assert_eq!(a.delivery_id, "SessionStarted:s-1");
        assert_eq!(a.dedup_key, Some(DedupKey::new("r", "SessionStarted:s-1")));
    }
}
