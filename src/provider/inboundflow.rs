//! InboundFlow: `X-InboundFlow-Signature: sha256=<hex>` over
//! `<X-InboundFlow-Timestamp>.<JSON.stringify(body)>`.

use http::{HeaderMap, HeaderName};

use super::{
    any_key_matches, check_tolerance, decode_hex_signature, header_id, parse_timestamp,
    single_header, OutgoingDelivery, Provider, ProviderKind, SigningKey, VerifyParams,
};
use crate::gate::Verified;
use crate::normalize::{Event, EventContext};
use crate::reject::Reject;

pub struct InboundFlow;

const SIGNATURE: &str = "X-InboundFlow-Signature";
const TIMESTAMP: &str = "X-InboundFlow-Timestamp";

fn parse(headers: &HeaderMap) -> Result<([u8; 32], &str, u64), Reject> {
    let sig = single_header(
        headers,
        &HeaderName::from_static("x-inboundflow-signature"),
        SIGNATURE,
    )?;
    let ts = single_header(
        headers,
        &HeaderName::from_static("x-inboundflow-timestamp"),
        TIMESTAMP,
    )?;
    let signature = sig
        .strip_prefix("sha256=")
        .and_then(decode_hex_signature)
        .ok_or(Reject::MalformedSignature { header: SIGNATURE })?;
    Ok((signature, ts, parse_timestamp(ts, TIMESTAMP)?))
}

/// `JSON.stringify(JSON.parse(body))` for a body that differs from it only by
/// insignificant whitespace: whitespace outside strings removed, nothing
/// re-ordered. `None` when there is nothing to remove.
fn compact(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let (mut in_string, mut escaped) = (false, false);
    for &b in body {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else {
            match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'"' => {
                    in_string = true;
                    out.push(b);
                }
                _ => out.push(b),
            }
        }
    }
    (out.len() != body.len()).then_some(out)
}

impl Provider for InboundFlow {
    fn kind(&self) -> ProviderKind {
        ProviderKind::InboundFlow
    }

    fn deadline(&self) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(10))
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
        let (signature, ts_text, ts) = parse(headers)?;
        check_tolerance(ts, params.now, params.tolerance)?;
        let matches = |body: &[u8]| {
            any_key_matches(
                params.keys,
                &[ts_text.as_bytes(), b".", body],
                std::iter::once(&signature),
            )
        };
        // The raw body first: it is what a compact sender signed. Only then the
        // re-serialisation, which costs a copy.
        if matches(body) || compact(body).is_some_and(|c| matches(&c)) {
            Ok(())
        } else {
            Err(Reject::InvalidSignature)
        }
    }

    fn delivery_id(&self, request: &Verified<'_>) -> Option<String> {
        request
            .scalar("/delivery_id")
            .filter(|id| id.len() <= crate::gate::MAX_ID_LEN)
            .or_else(|| header_id(request.headers(), "x-inboundflow-delivery-id"))
    }

    /// The body's `delivery_id` is signed; the header of the same name is not.
    fn dedup_key(&self, request: &Verified<'_>) -> Option<String> {
        request.scalar("/delivery_id")
    }

    fn normalize<'a>(&self, ctx: &EventContext<'a>) -> Event<'a> {
        crate::normalize::inboundflow::normalize(ctx)
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
                "X-InboundFlow-Signature".into(),
                format!("sha256={}", hex::encode(mac)),
            ),
            ("X-InboundFlow-Timestamp".into(), t),
            ("X-InboundFlow-Event".into(), d.event.to_owned()),
            ("X-InboundFlow-Delivery-Id".into(), d.id.to_owned()),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::test_support::*;

    const SECRET: &str = "ibf_secret_7f3a";
    const COMPACT: &str = r#"{"event":"call.completed","timestamp":"2026-02-24T21:00:00.000Z","delivery_id":"d-1","data":{"call_id":"c-1","summary":"Needs a  callback, \"urgent\"\n"}}"#;

    fn sig(secret: &str, ts: u64, signed_body: &str) -> HeaderMap {
        let hex = hmac_hex(secret.as_bytes(), format!("{ts}.{signed_body}").as_bytes());
        headers(&[
            ("x-inboundflow-signature", &format!("sha256={hex}")),
            ("x-inboundflow-timestamp", &ts.to_string()),
        ])
    }

    fn check(secrets: &[&str], h: &HeaderMap, body: &str) -> Result<(), Reject> {
        verify(
            ProviderKind::InboundFlow,
            &keys(ProviderKind::InboundFlow, secrets),
            h,
            body.as_bytes(),
            now(),
        )
    }

    #[test]
    fn compact_body_verifies_and_tamper_fails() {
        let h = sig(SECRET, unix(now()), COMPACT);
        assert_eq!(check(&[SECRET], &h, COMPACT), Ok(()));
        assert_eq!(
            check(&["wrong"], &h, COMPACT),
            Err(Reject::InvalidSignature)
        );
        assert_eq!(
            check(&[SECRET], &h, &COMPACT.replace("c-1", "c-2")),
            Err(Reject::InvalidSignature)
        );
    }

    #[test]
    fn pretty_printed_body_verifies_against_its_stringified_form() {
        // As a sender's pretty-printer lays it out: same keys, same order.
        let pretty =
            "{\n  \"event\": \"call.completed\",\n  \"timestamp\": \"2026-02-24T21:00:00.000Z\",\n\
                      \t\"delivery_id\" : \"d-1\",\r\n  \"data\": {\n    \"call_id\": \"c-1\",\n\
                      \"summary\": \"Needs a  callback, \\\"urgent\\\"\\n\"\n  }\n}\n";
        let h = sig(SECRET, unix(now()), COMPACT);
        assert_eq!(check(&[SECRET], &h, pretty), Ok(()));
        // Whitespace inside strings is significant and stays.
        assert_eq!(compact(pretty.as_bytes()).unwrap(), COMPACT.as_bytes());
    }

    #[test]
    fn never_reorders_keys() {
        let reordered = r#"{"timestamp":"2026-02-24T21:00:00.000Z","event":"call.completed","delivery_id":"d-1","data":{"call_id":"c-1","summary":"Needs a  callback, \"urgent\"\n"}}"#;
        let h = sig(SECRET, unix(now()), COMPACT);
        assert_eq!(
            check(&[SECRET], &h, reordered),
            Err(Reject::InvalidSignature)
        );
    }

    #[test]
    fn window_rotation_and_malformed() {
        for ts in [unix(now()) - 301, unix(now()) + 301] {
            assert_eq!(
                check(&[SECRET], &sig(SECRET, ts, COMPACT), COMPACT),
                Err(Reject::TimestampOutOfTolerance)
            );
        }
        assert_eq!(
            check(
                &["old", SECRET],
                &sig(SECRET, unix(now()), COMPACT),
                COMPACT
            ),
            Ok(())
        );
        let mut h = sig(SECRET, unix(now()), COMPACT);
        let hex = h.get("x-inboundflow-signature").unwrap().to_str().unwrap()[7..].to_owned();
        h.insert("x-inboundflow-signature", hex.parse().unwrap());
        assert_eq!(
            check(&[SECRET], &h, COMPACT),
            Err(Reject::MalformedSignature { header: SIGNATURE })
        );
        let mut h = sig(SECRET, unix(now()), COMPACT);
        h.remove("x-inboundflow-timestamp");
        assert_eq!(
            check(&[SECRET], &h, COMPACT),
            Err(Reject::MissingSignature { header: TIMESTAMP })
        );
    }
}
