//! Agntix delivers through Svix: `svix-id`, `svix-timestamp`, `svix-signature`.

use http::HeaderMap;

use super::standard::{self, HeaderSet};
use super::{header_id, OutgoingDelivery, Provider, ProviderKind, SigningKey, VerifyParams};
use crate::gate::Verified;
use crate::normalize::{Event, EventContext};
use crate::reject::Reject;
use crate::secret::Secret;

pub struct Agntix;

/// Svix also sends the scheme under `webhook-*` names on newer accounts.
fn header_set(headers: &HeaderMap) -> HeaderSet {
    if !headers.contains_key("svix-signature") && headers.contains_key("webhook-signature") {
        standard::webhook_headers()
    } else {
        standard::svix_headers()
    }
}

impl Provider for Agntix {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Agntix
    }

    fn signing_key(&self, secret: &Secret) -> Result<SigningKey, String> {
        standard::signing_key(secret)
    }

    fn deadline(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(15))
    }

    fn retry_horizon(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(86400))
    }

    fn precheck(&self, headers: &HeaderMap, _: &VerifyParams<'_>) -> Result<(), Reject> {
        standard::precheck(headers, &header_set(headers))
    }

    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        params: &VerifyParams<'_>,
    ) -> Result<(), Reject> {
        standard::verify(headers, body, params, &header_set(headers))
    }

    fn delivery_id(&self, request: &Verified<'_>) -> Option<String> {
        self.dedup_key(request)
    }

    /// The body's `id` is the session, shared by `session.created` and
    /// `session.ended`; only the signed message id identifies a delivery.
    fn dedup_key(&self, request: &Verified<'_>) -> Option<String> {
        let names = header_set(request.headers());
        header_id(request.headers(), names.id.as_str())
    }

    fn signed_headers(&self) -> &'static [&'static str] {
        &[
            "svix-id",
            "svix-timestamp",
            "webhook-id",
            "webhook-timestamp",
        ]
    }

    fn normalize<'a>(&self, ctx: &EventContext<'a>) -> Event<'a> {
        crate::normalize::agntix::normalize(ctx)
    }

    fn sign(
        &self,
        key: &SigningKey,
        body: &[u8],
        d: &OutgoingDelivery<'_>,
    ) -> Vec<(String, String)> {
        standard::signed_headers(&standard::svix_headers(), key, body, d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::test_support::*;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const BODY: &[u8] = br#"{"id":"4981804c-2658-4893-84ff-9c2fa90fb3c2","eventType":"session.ended","type":"VOICE","direction":"OUTBOUND"}"#;

    fn signed(secret: &str, id: &str, ts: u64, body: &[u8]) -> HeaderMap {
        let wh = svix::webhooks::Webhook::new(secret).unwrap();
        let sig = wh.sign(id, ts as i64, body).unwrap();
        headers(&[
            ("svix-id", id),
            ("svix-timestamp", &ts.to_string()),
            ("svix-signature", &sig),
        ])
    }

    fn check(keys: &[&str], h: &HeaderMap, body: &[u8]) -> Result<(), Reject> {
        verify(ProviderKind::Agntix, &keys_for(keys), h, body, now())
    }

    fn keys_for(secrets: &[&str]) -> Vec<SigningKey> {
        keys(ProviderKind::Agntix, secrets)
    }

    #[test]
    fn accepts_a_svix_signed_delivery() {
        let h = signed(SECRET, "msg_2bVx", unix(now()), BODY);
        assert_eq!(check(&[SECRET], &h, BODY), Ok(()));
    }

    #[test]
    fn secret_with_or_without_whsec_prefix() {
        let h = signed(SECRET, "msg_1", unix(now()), BODY);
        let bare = SECRET.strip_prefix("whsec_").unwrap();
        assert_eq!(check(&[bare], &h, BODY), Ok(()));
    }

    #[test]
    fn wrong_secret_and_tampered_body_fail() {
        let h = signed(SECRET, "msg_1", unix(now()), BODY);
        assert_eq!(
            check(&["whsec_dGhpcyBpcyBub3QgdGhlIGtleQ=="], &h, BODY),
            Err(Reject::InvalidSignature)
        );
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            check(&[SECRET], &h, &tampered),
            Err(Reject::InvalidSignature)
        );
    }

    #[test]
    fn stale_and_future_timestamps_fail() {
        for ts in [unix(now()) - 301, unix(now()) + 301] {
            let h = signed(SECRET, "msg_1", ts, BODY);
            assert_eq!(
                check(&[SECRET], &h, BODY),
                Err(Reject::TimestampOutOfTolerance)
            );
        }
    }

    #[test]
    fn several_signatures_one_valid_and_rotation() {
        let other = "whsec_dGhpcyBpcyBhbm90aGVyIGtleSEhIQ==";
        let good = signed(SECRET, "msg_1", unix(now()), BODY);
        let sig = good.get("svix-signature").unwrap().to_str().unwrap();
        let both = format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1a,xyz {sig}");
        let mut h = good.clone();
        h.insert("svix-signature", both.parse().unwrap());
        assert_eq!(check(&[SECRET], &h, BODY), Ok(()));
        // Our own rotation: the matching secret is second in the list.
        assert_eq!(check(&[other, SECRET], &good, BODY), Ok(()));
    }

    #[test]
    fn missing_and_malformed_headers() {
        let good = signed(SECRET, "msg_1", unix(now()), BODY);
        let mut h = good.clone();
        h.remove("svix-signature");
        assert_eq!(
            check(&[SECRET], &h, BODY),
            Err(Reject::MissingSignature {
                header: "svix-signature"
            })
        );
        for bad in ["v1", "v2,abc", "v1,not base64!", "v1,c2hvcnQ="] {
            let mut h = good.clone();
            h.insert("svix-signature", bad.parse().unwrap());
            assert_eq!(
                check(&[SECRET], &h, BODY),
                Err(Reject::MalformedSignature {
                    header: "svix-signature"
                }),
                "{bad}"
            );
        }
        let mut h = good.clone();
        h.insert("svix-timestamp", "soon".parse().unwrap());
        assert_eq!(
            check(&[SECRET], &h, BODY),
            Err(Reject::MalformedSignature {
                header: "svix-timestamp"
            })
        );
        let mut h = good;
        h.remove("svix-id");
        assert_eq!(
            check(&[SECRET], &h, BODY),
            Err(Reject::MissingSignature { header: "svix-id" })
        );
    }

    #[test]
    fn a_secret_that_is_not_base64_is_a_configuration_error() {
        let err = Agntix.signing_key(&Secret::new("whsec_***")).unwrap_err();
        assert!(!err.contains("***"));
    }
}
