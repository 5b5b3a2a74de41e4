//! Properties of every signature scheme: hostile headers and bodies never
//! panic, what the reference signer signed verifies, and any change to the
//! signed bytes does not.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use hmac::{Hmac, Mac};
use proptest::prelude::*;

use ed25519_dalek::Signer;

use super::test_support::{check, hmac_hex, scheme, test_route, Fields, TEST_URL};
use super::{all, find, Provider};
use crate::reject::Reject;

const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const RAW_SECRET: &str = "prop-secret";
/// Telnyx: the seed of the test key pair (its public key is the route's).
const TELNYX_SEED: &str = "LBwQTNroPxutpoBX0OMffNAqq+e0nGOXBA2ThRbHwK0=";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_779_000_000)
}

fn secret(p: &Provider) -> &'static str {
    match p.name() {
        "agntix" | "allo" => STANDARD_SECRET,
        "telnyx" => test_route(p).secret,
        _ => RAW_SECRET,
    }
}

fn kind_strategy() -> impl Strategy<Value = &'static Provider> {
    prop::sample::select(all().to_vec())
}

/// A form's parameters as Twilio signs them, read by the `url` crate:
/// sorted by name then value, identical pairs once.
fn twilio_params(body: &[u8]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(body).into_owned().collect();
    pairs.sort();
    pairs.dedup();
    pairs
}

/// Signs `body` (UTF-8, as the reference crates require) with reference code that shares nothing with the verifiers:
/// the `svix` and `standardwebhooks` crates, or HMAC written out here.
fn reference_headers(p: &Provider, body: &[u8], ts: u64) -> Fields {
    let mut h = Fields::default();
    let mut put = |k: &str, v: String| h.add(k, &v);
    match p.name() {
        "nixflex" => {
            let mut msg = format!("{ts}.").into_bytes();
            msg.extend_from_slice(body);
            put(
                "x-nixflex-signature",
                format!("t={ts},v1={}", hmac_hex(RAW_SECRET.as_bytes(), &msg)),
            );
        }
        "inboundflow" => {
            let mut msg = format!("{ts}.").into_bytes();
            msg.extend_from_slice(body);
            let sig = hmac_hex(RAW_SECRET.as_bytes(), &msg);
            put("x-inboundflow-signature", format!("sha256={sig}"));
            put("x-inboundflow-timestamp", ts.to_string());
        }
        "voxagent" => {
            put(
                "x-voxagent-signature",
                hmac_hex(RAW_SECRET.as_bytes(), body),
            );
        }
        "agntix" => {
            let sig = svix::webhooks::Webhook::new(STANDARD_SECRET)
                .unwrap()
                .sign("msg_prop", ts as i64, body)
                .unwrap();
            put("svix-id", "msg_prop".into());
            put("svix-timestamp", ts.to_string());
            put("svix-signature", sig);
        }
        "allo" => {
            let sig = standardwebhooks::Webhook::new(STANDARD_SECRET)
                .unwrap()
                .sign("msg_prop", ts as i64, body)
                .unwrap();
            put("webhook-id", "msg_prop".into());
            put("webhook-timestamp", ts.to_string());
            put("webhook-signature", sig);
        }
        "twilio" => {
            // The URL the test routes name, then each parameter.
            let mut content = TEST_URL.to_owned();
            for (name, value) in twilio_params(body) {
                content.push_str(&name);
                content.push_str(&value);
            }
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(RAW_SECRET.as_bytes()).unwrap();
            mac.update(content.as_bytes());
            put(
                "x-twilio-signature",
                BASE64.encode(mac.finalize().into_bytes()),
            );
        }
        "vapi" => {
            // The HMAC credential's defaults: hex HMAC-SHA256 of `<t>.<body>`.
            let mut msg = format!("{ts}.").into_bytes();
            msg.extend_from_slice(body);
            put("x-signature", hmac_hex(RAW_SECRET.as_bytes(), &msg));
            put("x-timestamp", ts.to_string());
        }
        "retell" => {
            let ms = (ts * 1000).to_string();
            let mut msg = body.to_vec();
            msg.extend_from_slice(ms.as_bytes());
            put(
                "x-retell-signature",
                format!("v={ms},d={}", hmac_hex(RAW_SECRET.as_bytes(), &msg)),
            );
        }
        "elevenlabs" => {
            let mut msg = format!("{ts}.").into_bytes();
            msg.extend_from_slice(body);
            put(
                "elevenlabs-signature",
                format!("t={ts},v0={}", hmac_hex(RAW_SECRET.as_bytes(), &msg)),
            );
        }
        "telnyx" => {
            let seed: [u8; 32] = BASE64.decode(TELNYX_SEED).unwrap().try_into().unwrap();
            let mut msg = format!("{ts}|").into_bytes();
            msg.extend_from_slice(body);
            let sig = ed25519_dalek::SigningKey::from_bytes(&seed).sign(&msg);
            put("telnyx-signature-ed25519", BASE64.encode(sig.to_bytes()));
            put("telnyx-timestamp", ts.to_string());
        }
        // The test route of test_support: HMAC-SHA512, base64, `t=,v1=`.
        "hmac" => {
            let mut mac = Hmac::<sha2::Sha512>::new_from_slice(RAW_SECRET.as_bytes()).unwrap();
            mac.update(format!("{ts}.").as_bytes());
            mac.update(body);
            let sig = BASE64.encode(mac.finalize().into_bytes());
            put("x-webhook-signature", format!("t={ts},v1={sig}"));
        }
        "static" => put("x-webhook-token", RAW_SECRET.into()),
        other => panic!("no reference signer for {other}: add one here"),
    }
    h
}

fn verify(p: &Provider, headers: &Fields, body: &[u8]) -> Result<(), Reject> {
    check(
        &*scheme(p, &[secret(p)], test_route(p).options),
        headers,
        body,
        now(),
    )
}

/// Whether `tampered` differs from `body` in what the scheme signs. Twilio
/// signs a form's decoded parameters, so a byte may change and the
/// parameters stay (`+` for a space, `%4a` for `%4A`): that is no tamper.
fn signed_content_differs(p: &Provider, body: &[u8], tampered: &[u8]) -> bool {
    match p.name() {
        "twilio" => twilio_params(body) != twilio_params(tampered),
        _ => body != tampered,
    }
}

/// Header names every scheme reads.
const SIGNATURE_HEADERS: &[&str] = &[
    "x-nixflex-signature",
    "x-inboundflow-signature",
    "x-inboundflow-timestamp",
    "x-voxagent-signature",
    "svix-id",
    "svix-timestamp",
    "svix-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "x-twilio-signature",
    "x-twilio-webhooks-signature-settings",
    "x-signature",
    "x-timestamp",
    "x-vapi-secret",
    "authorization",
    "x-retell-signature",
    "elevenlabs-signature",
    "telnyx-signature-ed25519",
    "telnyx-timestamp",
    "x-webhook-signature",
    "x-webhook-token",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn reference_signed_bodies_verify(kind in kind_strategy(), body in "\\PC{0,1024}", skew in -300i64..=300) {
        let body = body.into_bytes();
        let ts = (1_779_000_000i64 + skew) as u64;
        let headers = reference_headers(kind, &body, ts);
        prop_assert_eq!(verify(kind, &headers, &body), Ok(()));
    }

    #[test]
    fn any_changed_byte_fails(kind in kind_strategy(), body in "\\PC{1,512}", at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let body = body.into_bytes();
        let headers = reference_headers(kind, &body, 1_779_000_000);
        let mut tampered = body.clone();
        let i = at.index(tampered.len());
        tampered[i] ^= flip;
        prop_assume!(signed_content_differs(kind, &body, &tampered));
        // InboundFlow's fallback only removes whitespace outside strings, so a
        // change can verify only if it turns the body into the signed bytes
        // plus insignificant whitespace, which a one-byte flip of non-JSON
        // cannot do while keeping the length. A static token covers no
        // byte of the body (its route is warned about).
        let expected = if kind.name() == "static" { Ok(()) } else { Err(Reject::InvalidSignature) };
        prop_assert_eq!(verify(kind, &headers, &tampered), expected);
    }

    #[test]
    fn hostile_headers_never_panic_and_never_verify(
        kind in kind_strategy(),
        values in prop::collection::vec((prop::sample::select(SIGNATURE_HEADERS.to_vec()), prop::collection::vec(any::<u8>(), 0..300)), 0..8),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let mut headers = Fields::default();
        for (name, raw) in values {
            if let Ok(v) = String::from_utf8(raw) {
                headers.add(name, &v);
            }
        }
        prop_assert!(verify(kind, &headers, &body).is_err());
    }

    #[test]
    fn structured_garbage_in_signature_headers_never_verifies(
        kind in kind_strategy(),
        ts in "[0-9]{0,25}|-[0-9]{1,5}|[0-9]+\\.[0-9]+",
        sig in "(v1[,=]|sha256=|t=)?[A-Za-z0-9+/=]{0,100}",
        body in "\\PC{0,200}",
    ) {
        let mut headers = Fields::default();
        let mut put = |k: &'static str, v: &str| headers.set(k, v);
        put("x-nixflex-signature", &format!("t={ts},{sig}"));
        put("x-inboundflow-signature", &sig);
        put("x-inboundflow-timestamp", &ts);
        put("x-voxagent-signature", &sig);
        put("svix-id", "msg_1");
        put("svix-timestamp", &ts);
        put("svix-signature", &sig);
        put("webhook-id", "msg_1");
        put("webhook-timestamp", &ts);
        put("webhook-signature", &sig);
        put("x-twilio-signature", &sig);
        put("x-twilio-webhooks-signature-settings", &format!("key={ts},algorithm={sig}"));
        put("x-signature", &sig);
        put("x-timestamp", &ts);
        put("x-retell-signature", &format!("v={ts},d={sig}"));
        put("elevenlabs-signature", &format!("t={ts},v0={sig}"));
        put("telnyx-signature-ed25519", &sig);
        put("telnyx-timestamp", &ts);
        put("x-webhook-signature", &format!("t={ts},{sig}"));
        put("x-webhook-token", &sig);
        prop_assert!(verify(kind, &headers, body.as_bytes()).is_err());
    }

    /// Vapi's token credential: nothing but the exact token verifies,
    /// in either header.
    #[test]
    fn only_the_exact_vapi_token_verifies(
        token in "[!-~]{1,64}",
        presented in "[ -~]{0,80}",
        bearer in any::<bool>(),
        body in "\\PC{0,200}",
    ) {
        let vapi = find("vapi").unwrap();
        let s = scheme(vapi, &[&token], "");
        let headers = if bearer {
            Fields::new(&[("Authorization", &format!("Bearer {presented}"))])
        } else {
            Fields::new(&[("X-Vapi-Secret", &presented)])
        };
        let got = check(&*s, &headers, body.as_bytes(), now());
        prop_assert_eq!(got.is_ok(), presented.trim() == token, "{:?}", got);
        let exact = Fields::new(&[("X-Vapi-Secret", &token)]);
        prop_assert_eq!(check(&*s, &exact, body.as_bytes(), now()), Ok(()));
    }
}
