//! The providers hookgate fronts. Each is one module implementing [`Provider`];
//! adding one is a new file plus its line in [`ProviderKind`] and [`provider`].

mod agntix;
mod allo;
mod inboundflow;
mod nixflex;
#[cfg(test)]
mod proptests;
pub(crate) mod standard;
mod voxagent;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::gate::Verified;
use crate::normalize::{Event, EventContext};
use crate::reject::Reject;
use crate::secret::Secret;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProviderKind {
    Nixflex,
    Agntix,
    InboundFlow,
    Allo,
    Voxagent,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 5] = [
        ProviderKind::Nixflex,
        ProviderKind::Agntix,
        ProviderKind::InboundFlow,
        ProviderKind::Allo,
        ProviderKind::Voxagent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Nixflex => "nixflex",
            ProviderKind::Agntix => "agntix",
            ProviderKind::InboundFlow => "inboundflow",
            ProviderKind::Allo => "allo",
            ProviderKind::Voxagent => "voxagent",
        }
    }

    pub fn parse(name: &str) -> Option<ProviderKind> {
        ProviderKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The implementation behind a provider kind.
pub fn provider(kind: ProviderKind) -> &'static dyn Provider {
    match kind {
        ProviderKind::Nixflex => &nixflex::Nixflex,
        ProviderKind::Agntix => &agntix::Agntix,
        ProviderKind::InboundFlow => &inboundflow::InboundFlow,
        ProviderKind::Allo => &allo::Allo,
        ProviderKind::Voxagent => &voxagent::Voxagent,
    }
}

/// What a route passes to its provider's verifier.
pub struct VerifyParams<'a> {
    pub keys: &'a [SigningKey],
    pub tolerance: Duration,
    pub now: SystemTime,
    /// Only Voxagent, whose header name is not published, reads this.
    pub signature_header: &'a HeaderName,
}

/// One provider's signature scheme, delivery id, dedup key and payload mapping.
pub trait Provider: Send + Sync + 'static {
    fn kind(&self) -> ProviderKind;

    /// Key material for one configured secret. The error says what is wrong
    /// with the secret without quoting it.
    fn signing_key(&self, secret: &Secret) -> Result<SigningKey, String> {
        if secret.expose().is_empty() {
            return Err("secret is empty".into());
        }
        Ok(SigningKey::new(secret.expose().as_bytes()))
    }

    /// Checks the signature headers' presence and shape from the headers
    /// alone, so a request that can never verify is refused before its body
    /// is read (and before `100 Continue` invites it).
    fn precheck(&self, headers: &HeaderMap, params: &VerifyParams<'_>) -> Result<(), Reject>;

    /// Verifies the signature over the exact raw body.
    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        params: &VerifyParams<'_>,
    ) -> Result<(), Reject>;

    /// The provider's own id for this delivery, where it sends one (it may come
    /// from an unsigned header: reported, never used as the dedup key).
    fn delivery_id(&self, request: &Verified<'_>) -> Option<String>;

    /// The default dedup key, from signed material only. `None` falls back to
    /// a SHA-256 of the body.
    fn dedup_key(&self, request: &Verified<'_>) -> Option<String>;

    /// How long the provider waits for an answer; the upstream timeout must
    /// be shorter.
    fn deadline(&self) -> Option<Duration> {
        None
    }

    /// How long after the first attempt the provider may still retry; the
    /// dedup window should outlast it.
    fn retry_horizon(&self) -> Option<Duration> {
        None
    }

    /// Header names that this scheme signs (a route's `dedup_key` may use them
    /// without a warning).
    fn signed_headers(&self) -> &'static [&'static str] {
        &[]
    }

    fn normalize<'a>(&self, ctx: &EventContext<'a>) -> Event<'a>;

    /// Signs a body the way the provider does: the headers of a delivery.
    /// Used by `hookgate send` to prove a deployment end to end.
    fn sign(
        &self,
        key: &SigningKey,
        body: &[u8],
        delivery: &OutgoingDelivery<'_>,
    ) -> Vec<(String, String)>;
}

/// What a provider's signer needs besides the key and the body.
pub struct OutgoingDelivery<'a> {
    /// The provider's delivery/message id for this attempt.
    pub id: &'a str,
    pub timestamp: u64,
    pub event: &'a str,
    /// Voxagent's configurable signature header.
    pub signature_header: &'a HeaderName,
}

/// HMAC-SHA256 key material, keyed once at configuration load.
#[derive(Clone)]
pub struct SigningKey(Hmac<Sha256>);

impl SigningKey {
    pub fn new(key: &[u8]) -> Self {
        SigningKey(Hmac::new_from_slice(key).expect("HMAC accepts keys of any length"))
    }

    /// HMAC-SHA256 over the concatenation of `parts`.
    pub fn sign(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// True when any key's MAC over `parts` equals any candidate signature,
/// compared in constant time.
pub(crate) fn any_key_matches<'c>(
    keys: &[SigningKey],
    parts: &[&[u8]],
    candidates: impl Iterator<Item = &'c [u8; 32]> + Clone,
) -> bool {
    keys.iter().any(|key| {
        let mac = key.sign(parts);
        candidates
            .clone()
            .fold(false, |found, c| found | bool::from(mac.ct_eq(c)))
    })
}

/// The one value of a header that must appear exactly once.
pub(crate) fn single_header<'h>(
    headers: &'h HeaderMap,
    name: &HeaderName,
    label: &'static str,
) -> Result<&'h str, Reject> {
    let mut values = headers.get_all(name).iter();
    let value = values
        .next()
        .ok_or(Reject::MissingSignature { header: label })?;
    if values.next().is_some() {
        return Err(Reject::MalformedSignature { header: label });
    }
    let value = value
        .to_str()
        .map_err(|_| Reject::MalformedSignature { header: label })?
        .trim();
    if value.is_empty() {
        return Err(Reject::MalformedSignature { header: label });
    }
    Ok(value)
}

/// Unix seconds, digits only (no sign, no fraction, no overflow).
pub(crate) fn parse_timestamp(value: &str, label: &'static str) -> Result<u64, Reject> {
    let malformed = Reject::MalformedSignature { header: label };
    if value.is_empty() || value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed);
    }
    value.parse().map_err(|_| malformed)
}

/// Rejects a timestamp further than `tolerance` from `now`, in either direction.
pub(crate) fn check_tolerance(
    timestamp: u64,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), Reject> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if now.abs_diff(timestamp) > tolerance.as_secs() {
        return Err(Reject::TimestampOutOfTolerance);
    }
    Ok(())
}

/// A lower- or upper-case hex SHA-256 signature.
pub(crate) fn decode_hex_signature(value: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(value, &mut out).ok()?;
    Some(out)
}

/// A string field of the body at a JSON pointer, when present and a string
/// or a number.
pub(crate) fn json_scalar(json: &serde_json::Value, pointer: &str) -> Option<String> {
    match json.pointer(pointer)? {
        serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A header value usable as an id: visible ASCII, bounded length.
pub(crate) fn header_id(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?.trim();
    let usable = !value.is_empty()
        && value.len() <= crate::gate::MAX_ID_LEN
        && value.bytes().all(|b| b.is_ascii_graphic());
    usable.then(|| value.to_owned())
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_779_000_000)
    }

    pub fn unix(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    pub fn keys(kind: ProviderKind, secrets: &[&str]) -> Vec<SigningKey> {
        secrets
            .iter()
            .map(|s| provider(kind).signing_key(&Secret::new(*s)).unwrap())
            .collect()
    }

    pub fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        map
    }

    pub fn hmac_hex(secret: &[u8], message: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(message);
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn verify(
        kind: ProviderKind,
        keys: &[SigningKey],
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), Reject> {
        let header = HeaderName::from_static("x-voxagent-signature");
        let params = VerifyParams {
            keys,
            tolerance: Duration::from_secs(300),
            now,
            signature_header: &header,
        };
        let p = provider(kind);
        p.precheck(headers, &params)?;
        p.verify(headers, body, &params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_is_enforced_in_both_directions() {
        let now = test_support::now();
        let t = test_support::unix(now);
        let tol = Duration::from_secs(300);
        assert!(check_tolerance(t - 300, now, tol).is_ok());
        assert!(check_tolerance(t + 300, now, tol).is_ok());
        assert_eq!(
            check_tolerance(t - 301, now, tol),
            Err(Reject::TimestampOutOfTolerance)
        );
        assert_eq!(
            check_tolerance(t + 301, now, tol),
            Err(Reject::TimestampOutOfTolerance)
        );
    }

    #[test]
    fn timestamps_are_digits_only() {
        for bad in [
            "",
            "-1",
            "+5",
            "1.5",
            "12a",
            "99999999999999999999999",
            " 1",
        ] {
            assert!(parse_timestamp(bad, "t").is_err(), "{bad:?}");
        }
        assert_eq!(parse_timestamp("1779000000", "t"), Ok(1_779_000_000));
    }

    #[test]
    fn repeated_signature_headers_are_malformed() {
        let h = test_support::headers(&[("x-sig", "a"), ("x-sig", "b")]);
        let name = HeaderName::from_static("x-sig");
        assert_eq!(
            single_header(&h, &name, "x-sig"),
            Err(Reject::MalformedSignature { header: "x-sig" })
        );
    }

    fn sample_secret(kind: ProviderKind) -> &'static str {
        match kind {
            ProviderKind::Agntix | ProviderKind::Allo => "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            _ => "a-raw-secret",
        }
    }

    #[test]
    fn every_signer_round_trips_through_its_verifier() {
        let body = br#"{"event":"call.ended","call_id":"c1","data":{"session_id":"s1"}}"#;
        let header = HeaderName::from_static("x-voxagent-signature");
        for kind in ProviderKind::ALL {
            let keys = test_support::keys(kind, &[sample_secret(kind)]);
            let delivery = OutgoingDelivery {
                id: "msg_1",
                timestamp: test_support::unix(test_support::now()),
                event: "call.ended",
                signature_header: &header,
            };
            let pairs = provider(kind).sign(&keys[0], body, &delivery);
            let pairs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let headers = test_support::headers(&pairs);
            assert_eq!(
                test_support::verify(kind, &keys, &headers, body, test_support::now()),
                Ok(()),
                "{kind}"
            );
            let mut tampered = body.to_vec();
            tampered[2] ^= 1;
            assert_eq!(
                test_support::verify(kind, &keys, &headers, &tampered, test_support::now()),
                Err(Reject::InvalidSignature),
                "{kind}"
            );
        }
    }

    #[test]
    fn standard_webhooks_signer_agrees_with_the_reference_libraries() {
        let secret = sample_secret(ProviderKind::Allo);
        let key = provider(ProviderKind::Allo)
            .signing_key(&Secret::new(secret))
            .unwrap();
        let body = br#"{"topic":"PING"}"#;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let sig = format!("v1,{}", standard::sign(&key, "msg_x", now, body));
        let mut h = http::HeaderMap::new();
        h.insert("webhook-id", "msg_x".parse().unwrap());
        h.insert("webhook-timestamp", now.to_string().parse().unwrap());
        h.insert("webhook-signature", sig.parse().unwrap());
        standardwebhooks::Webhook::new(secret)
            .unwrap()
            .verify(body, &h)
            .unwrap();
        let mut svix_headers = http::HeaderMap::new();
        svix_headers.insert("svix-id", "msg_x".parse().unwrap());
        svix_headers.insert("svix-timestamp", now.to_string().parse().unwrap());
        svix_headers.insert("svix-signature", sig.parse().unwrap());
        svix::webhooks::Webhook::new(secret)
            .unwrap()
            .verify(body, &svix_headers)
            .unwrap();
    }

    #[test]
    fn provider_names_round_trip() {
        for kind in ProviderKind::ALL {
            assert_eq!(ProviderKind::parse(kind.as_str()), Some(kind));
            assert_eq!(provider(kind).kind(), kind);
        }
    }
}
