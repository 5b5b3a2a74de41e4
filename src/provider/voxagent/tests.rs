//! Voxagent: verification with the default and a configured header, and
//! the mapping of both history shapes.

use serde_json::json;

use super::*;
use crate::provider::test_support::*;

const SECRET: &str = "vox-signing-secret";
const BODY: &[u8] =
    br#"{"event":"ConversationComplete","data":{"session_id":"1ffd059c","duration_seconds":93.4}}"#;

fn verify(secrets: &[&str], value: &str, body: &[u8]) -> Result<(), Reject> {
    let h = Fields::new(&[("x-voxagent-signature", value)]);
    check(&*scheme(&PROVIDER, secrets, ""), &h, body, now())
}

#[test]
fn accepts_plain_prefixed_and_uppercase_hex() {
    let hex = hmac_hex(SECRET.as_bytes(), BODY);
    assert_eq!(verify(&[SECRET], &hex, BODY), Ok(()));
    assert_eq!(verify(&[SECRET], &format!("sha256={hex}"), BODY), Ok(()));
    assert_eq!(verify(&[SECRET], &hex.to_uppercase(), BODY), Ok(()));
    assert_eq!(
        verify(&[SECRET], &format!("SHA256={}", hex.to_uppercase()), BODY),
        Ok(())
    );
}

#[test]
fn rejects_wrong_secret_tamper_and_malformed() {
    let hex = hmac_hex(SECRET.as_bytes(), BODY);
    let mut tampered = BODY.to_vec();
    tampered[3] = b'E';
    signed_by_key_only(SECRET, "nope", BODY, &tampered, |keys, body| {
        verify(keys, &hex, body)
    });
    let bad = ["sha256=", "xyz", "sha1=abcd", &hex[..60]];
    refused_as_malformed(LABEL, bad, |bad| verify(&[SECRET], bad, BODY));
    let s = scheme(&PROVIDER, &[SECRET], "");
    assert_eq!(
        check(&*s, &Fields::default(), BODY, now()),
        Err(Reject::MissingSignature { header: LABEL })
    );
}

#[test]
fn the_signature_header_is_configurable_and_validated() {
    let s = scheme(&PROVIDER, &[SECRET], "signature_header = \"X-Vox-Sig\"");
    let hex = hmac_hex(SECRET.as_bytes(), BODY);
    assert_eq!(
        check(&*s, &Fields::new(&[("x-vox-sig", &hex)]), BODY, now()),
        Ok(())
    );
    assert_eq!(
        check(
            &*s,
            &Fields::new(&[("x-voxagent-signature", &hex)]),
            BODY,
            now()
        ),
        Err(Reject::MissingSignature { header: LABEL })
    );
    let err = try_scheme(&PROVIDER, &[SECRET], "signature_header = \"bad header\"")
        .err()
        .unwrap();
    assert_eq!(err[0].key, "signature_header");
    let err = try_scheme(&PROVIDER, &[SECRET], "sekret_header = \"x\"")
        .err()
        .unwrap();
    assert!(err[0].message.contains("sekret_header"), "{:?}", err);
}

#[test]
fn voxagent_both_history_shapes() {
    let d = norm("voxagent", "ConversationComplete").doc;
    assert_eq!(d["type"], "call.ended");
    assert_eq!(d["subject"], "1ffd059c-17ea-40a8-8aef-70fd0307db82");
    let c = &d["data"]["call"];
    assert_eq!(c["duration_seconds"], 93.4);
    assert_eq!(
        c["recording_url"],
        "https://cdn.voxagent.ai/audio/1ffd059c.wav"
    );
    assert_eq!(
        c["transcript"][0],
        json!({"role": "agent", "text": "Hello!", "at": "2026-08-24T14:15:24Z"})
    );
    assert_eq!(
        c["transcript"][1],
        json!({"role": "caller", "text": "Hi, I need a table for two.", "at": "2026-08-24T14:15:27Z"})
    );
    assert_eq!(d["data"]["metadata"], json!({"crm_id": "42"}));

    let d = norm("voxagent", "SessionStarted").doc;
    assert_eq!(d["type"], "call.started");
    assert_eq!(d["time"], "2026-08-24T14:15:22Z");
}
