//! Voxagent: hex HMAC-SHA256 of the raw body, in a header whose name the
//! provider does not publish (configurable per route). No timestamp, so no
//! replay window: dedup is the only replay defence.

use http::HeaderMap;

use super::{
    any_key_matches, decode_hex_signature, single_header, OutgoingDelivery, Provider, ProviderKind,
    SigningKey, VerifyParams,
};
use crate::gate::Verified;
use crate::normalize::{Event, EventContext};
use crate::reject::Reject;

pub struct Voxagent;

const LABEL: &str = "signature_header";

fn parse(headers: &HeaderMap, params: &VerifyParams<'_>) -> Result<[u8; 32], Reject> {
    let value = single_header(headers, params.signature_header, LABEL)?;
    let hex = match value.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("sha256=") => &value[7..],
        _ => value,
    };
    decode_hex_signature(hex).ok_or(Reject::MalformedSignature { header: LABEL })
}

impl Provider for Voxagent {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Voxagent
    }

    fn precheck(&self, headers: &HeaderMap, params: &VerifyParams<'_>) -> Result<(), Reject> {
        parse(headers, params).map(|_| ())
    }

    fn verify(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        params: &VerifyParams<'_>,
    ) -> Result<(), Reject> {
        let signature = parse(headers, params)?;
        if any_key_matches(params.keys, &[body], std::iter::once(&signature)) {
            Ok(())
        } else {
            Err(Reject::InvalidSignature)
        }
    }

    fn delivery_id(&self, request: &Verified<'_>) -> Option<String> {
        self.dedup_key(request)
    }

    fn dedup_key(&self, request: &Verified<'_>) -> Option<String> {
        let event = request.scalar("/event")?;
        let session = request.scalar("/data/session_id")?;
        Some(format!("{event}:{session}"))
    }

    fn normalize<'a>(&self, ctx: &EventContext<'a>) -> Event<'a> {
        crate::normalize::voxagent::normalize(ctx)
    }

    fn sign(
        &self,
        key: &SigningKey,
        body: &[u8],
        d: &OutgoingDelivery<'_>,
    ) -> Vec<(String, String)> {
        vec![(
            d.signature_header.as_str().to_owned(),
            hex::encode(key.sign(&[body])),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::test_support::*;

    const SECRET: &str = "vox-signing-secret";
    const BODY: &[u8] = br#"{"event":"ConversationComplete","data":{"session_id":"1ffd059c","duration_seconds":93.4}}"#;

    fn check(secrets: &[&str], value: &str, body: &[u8]) -> Result<(), Reject> {
        let h = headers(&[("x-voxagent-signature", value)]);
        verify(
            ProviderKind::Voxagent,
            &keys(ProviderKind::Voxagent, secrets),
            &h,
            body,
            now(),
        )
    }

    #[test]
    fn accepts_plain_prefixed_and_uppercase_hex() {
        let hex = hmac_hex(SECRET.as_bytes(), BODY);
        assert_eq!(check(&[SECRET], &hex, BODY), Ok(()));
        assert_eq!(check(&[SECRET], &format!("sha256={hex}"), BODY), Ok(()));
        assert_eq!(check(&[SECRET], &hex.to_uppercase(), BODY), Ok(()));
        assert_eq!(
            check(&[SECRET], &format!("SHA256={}", hex.to_uppercase()), BODY),
            Ok(())
        );
    }

    #[test]
    fn rejects_wrong_secret_tamper_and_malformed() {
        let hex = hmac_hex(SECRET.as_bytes(), BODY);
        assert_eq!(check(&["nope"], &hex, BODY), Err(Reject::InvalidSignature));
        assert_eq!(check(&["nope", SECRET], &hex, BODY), Ok(()));
        let mut tampered = BODY.to_vec();
        tampered[3] = b'E';
        assert_eq!(
            check(&[SECRET], &hex, &tampered),
            Err(Reject::InvalidSignature)
        );
        for bad in ["sha256=", "xyz", "sha1=abcd", &hex[..60]] {
            assert_eq!(
                check(&[SECRET], bad, BODY),
                Err(Reject::MalformedSignature { header: LABEL }),
                "{bad}"
            );
        }
        let keys = keys(ProviderKind::Voxagent, &[SECRET]);
        assert_eq!(
            verify(ProviderKind::Voxagent, &keys, &headers(&[]), BODY, now()),
            Err(Reject::MissingSignature { header: LABEL })
        );
    }
}
