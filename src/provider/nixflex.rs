//! Nixflex: `X-Nixflex-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]` over
//! `<t>.<body>`, Stripe-style.

use http::{HeaderMap, HeaderName};

use super::{
    any_key_matches, check_tolerance, decode_hex_signature, header_id, parse_timestamp,
    single_header, OutgoingDelivery, Provider, ProviderKind, SigningKey, VerifyParams,
};
use crate::gate::Verified;
use crate::normalize::{Event, EventContext};
use crate::reject::Reject;

pub struct Nixflex;

const LABEL: &str = "X-Nixflex-Signature";

struct Parsed<'h> {
    timestamp_text: &'h str,
    timestamp: u64,
    signatures: Vec<[u8; 32]>,
}

fn parse(headers: &HeaderMap) -> Result<Parsed<'_>, Reject> {
    let malformed = Reject::MalformedSignature { header: LABEL };
    let value = single_header(
        headers,
        &HeaderName::from_static("x-nixflex-signature"),
        LABEL,
    )?;
    let mut timestamp_text = None;
    let mut signatures = Vec::new();
    for item in value.split(',') {
        let (key, val) = item.trim().split_once('=').ok_or(malformed.clone())?;
        match key {
            "t" if timestamp_text.is_none() => timestamp_text = Some(val),
            "t" => return Err(malformed),
            "v1" => signatures.extend(decode_hex_signature(val)),
            // Other schemes (e.g. a future v2) are ignored, as Stripe's are.
            _ => {}
        }
    }
    let timestamp_text = timestamp_text.ok_or(malformed.clone())?;
    if signatures.is_empty() {
        return Err(malformed);
    }
    Ok(Parsed {
        timestamp_text,
        timestamp: parse_timestamp(timestamp_text, LABEL)?,
        signatures,
    })
}

impl Provider for Nixflex {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Nixflex
    }

    fn deadline(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(10))
    }

    fn retry_horizon(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(54000))
    }

    fn precheck(&self, headers: &HeaderMap, _: &VerifyParams<'_>) -> Result<(), Reject> {
        parse(headers).map(|_| ())
    }

    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        params: &VerifyParams<'_>,
    ) -> Result<(), Reject> {
        let parsed = parse(headers)?;
        check_tolerance(parsed.timestamp, params.now, params.tolerance)?;
        let signed: [&[u8]; 3] = [parsed.timestamp_text.as_bytes(), b".", body];
        if any_key_matches(params.keys, &signed, parsed.signatures.iter()) {
            Ok(())
        } else {
            Err(Reject::InvalidSignature)
        }
    }

    /// The delivery-id header is unsigned (and underscored, which many proxies
    /// drop): reported, never trusted for dedup.
    fn delivery_id(&self, request: &Verified<'_>) -> Option<String> {
        header_id(request.headers(), "webhook_delivery_id")
            .or_else(|| header_id(request.headers(), "webhook-delivery-id"))
    }

    fn dedup_key(&self, request: &Verified<'_>) -> Option<String> {
        let event = request.scalar("/event")?;
        let call = request.scalar("/call_id")?;
        Some(format!("{event}:{call}"))
    }

    fn normalize<'a>(&self, ctx: &EventContext<'a>) -> Event<'a> {
        crate::normalize::nixflex::normalize(ctx)
    }

    fn sign(
        &self,
        key: &SigningKey,
        body: &[u8],
        d: &OutgoingDelivery<'_>,
    ) -> Vec<(String, String)> {
        let t = d.timestamp.to_string();
        let mac = key.sign(&[t.as_bytes(), b".", body]);
        vec![
            (
                "X-Nixflex-Signature".into(),
                format!("t={t},v1={}", hex::encode(mac)),
            ),
            ("webhook_delivery_id".into(), d.id.to_owned()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::test_support::*;
    use crate::provider::SigningKey;

    const SECRET: &str = "nfx_live_8d2c1f0a9b";
    const BODY: &[u8] =
        br#"{"event":"call.ended","call_id":"CA1234567890","duration_seconds":146}"#;

    fn header_for(secret: &str, t: u64, body: &[u8]) -> String {
        let mut msg = format!("{t}.").into_bytes();
        msg.extend_from_slice(body);
        format!("t={t},v1={}", hmac_hex(secret.as_bytes(), &msg))
    }

    fn check(secrets: &[&str], sig: &str, body: &[u8]) -> Result<(), Reject> {
        let keys: Vec<SigningKey> = keys(ProviderKind::Nixflex, secrets);
        verify(
            ProviderKind::Nixflex,
            &keys,
            &headers(&[("x-nixflex-signature", sig)]),
            body,
            now(),
        )
    }

    #[test]
    fn accepts_valid_and_rejects_wrong_secret_and_tamper() {
        let sig = header_for(SECRET, unix(now()), BODY);
        assert_eq!(check(&[SECRET], &sig, BODY), Ok(()));
        assert_eq!(check(&["other"], &sig, BODY), Err(Reject::InvalidSignature));
        let tampered = String::from_utf8(BODY.to_vec())
            .unwrap()
            .replace("146", "147");
        assert_eq!(
            check(&[SECRET], &sig, tampered.as_bytes()),
            Err(Reject::InvalidSignature)
        );
    }

    #[test]
    fn rotation_and_several_v1_and_upper_hex() {
        let sig = header_for(SECRET, unix(now()), BODY);
        assert_eq!(check(&["old", SECRET], &sig, BODY), Ok(()));
        let (t, v1) = sig.split_once(',').unwrap();
        let several = format!("{t},v1={},{v1},v0=ignored", "ab".repeat(32));
        assert_eq!(check(&[SECRET], &several, BODY), Ok(()));
        assert_eq!(
            check(
                &[SECRET],
                &sig.to_uppercase().replace("T=", "t=").replace("V1=", "v1="),
                BODY
            ),
            Ok(())
        );
    }

    #[test]
    fn stale_and_future_timestamps() {
        for t in [unix(now()) - 301, unix(now()) + 301] {
            let sig = header_for(SECRET, t, BODY);
            assert_eq!(
                check(&[SECRET], &sig, BODY),
                Err(Reject::TimestampOutOfTolerance)
            );
        }
    }

    #[test]
    fn missing_and_malformed() {
        let keys = keys(ProviderKind::Nixflex, &[SECRET]);
        assert_eq!(
            verify(ProviderKind::Nixflex, &keys, &headers(&[]), BODY, now()),
            Err(Reject::MissingSignature { header: LABEL })
        );
        let t = unix(now());
        for bad in [
            "garbage".to_string(),
            format!("t={t}"),
            format!("v1={}", "ab".repeat(32)),
            format!("t={t},v1=zz"),
            format!("t={t},t={t},v1={}", "ab".repeat(32)),
            format!("t=-5,v1={}", "ab".repeat(32)),
            format!("t={t},v1={}", "ab".repeat(31)),
        ] {
            assert_eq!(
                check(&[SECRET], &bad, BODY),
                Err(Reject::MalformedSignature { header: LABEL }),
                "{bad}"
            );
        }
    }
}
