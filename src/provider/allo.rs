//! Allo signs per Standard Webhooks: `webhook-id`, `webhook-timestamp`,
//! `webhook-signature`.

use http::HeaderMap;

use super::standard;
use super::{header_id, OutgoingDelivery, Provider, ProviderKind, SigningKey, VerifyParams};
use crate::gate::Verified;
use crate::normalize::{Event, EventContext};
use crate::reject::Reject;
use crate::secret::Secret;

pub struct Allo;

impl Provider for Allo {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Allo
    }

    fn signing_key(&self, secret: &Secret) -> Result<SigningKey, String> {
        standard::signing_key(secret)
    }

    fn deadline(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(20))
    }

    fn retry_horizon(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(432000))
    }

    fn precheck(&self, headers: &HeaderMap, _: &VerifyParams<'_>) -> Result<(), Reject> {
        standard::precheck(headers, &standard::webhook_headers())
    }

    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        params: &VerifyParams<'_>,
    ) -> Result<(), Reject> {
        standard::verify(headers, body, params, &standard::webhook_headers())
    }

    fn delivery_id(&self, request: &Verified<'_>) -> Option<String> {
        self.dedup_key(request)
    }

    fn dedup_key(&self, request: &Verified<'_>) -> Option<String> {
        header_id(request.headers(), "webhook-id")
    }

    fn signed_headers(&self) -> &'static [&'static str] {
        &["webhook-id", "webhook-timestamp"]
    }

    fn normalize<'a>(&self, ctx: &EventContext<'a>) -> Event<'a> {
        crate::normalize::allo::normalize(ctx)
    }

    fn sign(
        &self,
        key: &SigningKey,
        body: &[u8],
        d: &OutgoingDelivery<'_>,
    ) -> Vec<(String, String)> {
        standard::signed_headers(&standard::webhook_headers(), key, body, d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::test_support::*;

    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const BODY: &[u8] = br#"{"topic":"call.completed","version":"2.0","data":{"id":"call_9","length_in_minutes":2.5}}"#;

    fn signed(secret: &str, id: &str, ts: u64, body: &[u8]) -> HeaderMap {
        let wh = standardwebhooks::Webhook::new(secret).unwrap();
        let sig = wh.sign(id, ts as i64, body).unwrap();
        headers(&[
            ("webhook-id", id),
            ("webhook-timestamp", &ts.to_string()),
            ("webhook-signature", &sig),
        ])
    }

    fn check(secrets: &[&str], h: &HeaderMap, body: &[u8]) -> Result<(), Reject> {
        verify(
            ProviderKind::Allo,
            &keys(ProviderKind::Allo, secrets),
            h,
            body,
            now(),
        )
    }

    #[test]
    fn accepts_a_standard_webhooks_delivery_with_or_without_prefix() {
        let h = signed(SECRET, "msg_allo_1", unix(now()), BODY);
        assert_eq!(check(&[SECRET], &h, BODY), Ok(()));
        assert_eq!(
            check(&[SECRET.strip_prefix("whsec_").unwrap()], &h, BODY),
            Ok(())
        );
    }

    #[test]
    fn rejects_wrong_secret_tamper_and_window() {
        let h = signed(SECRET, "msg_allo_1", unix(now()), BODY);
        assert_eq!(
            check(&["whsec_dGhpcyBpcyBub3QgdGhlIGtleQ=="], &h, BODY),
            Err(Reject::InvalidSignature)
        );
        let mut tampered = BODY.to_vec();
        *tampered.last_mut().unwrap() = b' ';
        assert_eq!(
            check(&[SECRET], &h, &tampered),
            Err(Reject::InvalidSignature)
        );
        for ts in [unix(now()) - 301, unix(now()) + 301] {
            let h = signed(SECRET, "msg_allo_1", ts, BODY);
            assert_eq!(
                check(&[SECRET], &h, BODY),
                Err(Reject::TimestampOutOfTolerance)
            );
        }
    }

    #[test]
    fn the_id_is_signed() {
        let mut h = signed(SECRET, "msg_allo_1", unix(now()), BODY);
        h.insert("webhook-id", "msg_allo_2".parse().unwrap());
        assert_eq!(check(&[SECRET], &h, BODY), Err(Reject::InvalidSignature));
    }

    #[test]
    fn rotation_several_signatures_and_missing_header() {
        let h = signed(SECRET, "m", unix(now()), BODY);
        let sig = h
            .get("webhook-signature")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let mut several = h.clone();
        several.insert(
            "webhook-signature",
            format!("v1,Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmE= {sig}")
                .parse()
                .unwrap(),
        );
        assert_eq!(check(&[SECRET], &several, BODY), Ok(()));
        assert_eq!(check(&["whsec_b3RoZXI=", SECRET], &h, BODY), Ok(()));
        let mut missing = h;
        missing.remove("webhook-signature");
        assert_eq!(
            check(&[SECRET], &missing, BODY),
            Err(Reject::MissingSignature {
                header: "webhook-signature"
            })
        );
    }
}
