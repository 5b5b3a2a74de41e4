//! Telnyx: Ed25519 verification against signatures made with
//! `ed25519-dalek` (independent of `ring`), the ±300 s window, key
//! rotation, and the mapping of each fixture.

use ed25519_dalek::Signer;
use serde_json::json;

use super::*;
use crate::provider::test_support::*;

/// Test keys: the seed (what `hookgate send` takes) and its public key
/// (what a route takes), derived with Python's `cryptography`.
pub(crate) const SEED: &str = "LBwQTNroPxutpoBX0OMffNAqq+e0nGOXBA2ThRbHwK0=";
pub(crate) const PUBLIC: &str = "sG3MRU54tm5D0z5KKnMlwfIbhtI0iNhA8S7UseD2W5I=";
const PKCS8: &str = "MC4CAQAwBQYDK2VwBCIEICwcEEza6D8braaAV9DjH3zQKqvntJxjlwQNk4UWx8Ct";
const OTHER_PUBLIC: &str = "FxoAIW9r9durnyqAgKanTGij+33BhNRaI8VhVJnuweE=";
const OTHER_SEED: &str = "VCwSHZ6C2TOFV3IxNwBe9clURXo3Dtw97qjFJTCVsCs=";
const BODY: &[u8] = br#"{"data":{"event_type":"call.hangup","id":"e7a1c1b0","payload":{"hangup_cause":"normal_clearing"}}}"#;

fn dalek(seed_b64: &str) -> ed25519_dalek::SigningKey {
    let seed: [u8; 32] = BASE64.decode(seed_b64).unwrap().try_into().unwrap();
    ed25519_dalek::SigningKey::from_bytes(&seed)
}

fn headers_for(seed: &str, t: u64, body: &[u8]) -> Fields {
    let mut msg = format!("{t}|").into_bytes();
    msg.extend_from_slice(body);
    let sig = dalek(seed).sign(&msg);
    Fields::new(&[
        ("telnyx-signature-ed25519", &BASE64.encode(sig.to_bytes())),
        ("telnyx-timestamp", &t.to_string()),
    ])
}

fn verify(keys: &[&str], headers: &Fields, body: &[u8]) -> Result<(), Reject> {
    check(&*scheme(&PROVIDER, keys, ""), headers, body, now())
}

#[test]
fn the_test_keys_are_a_pair() {
    assert_eq!(
        BASE64.encode(dalek(SEED).verifying_key().to_bytes()),
        PUBLIC
    );
    assert_eq!(
        BASE64.encode(dalek(OTHER_SEED).verifying_key().to_bytes()),
        OTHER_PUBLIC
    );
}

/// A signature made by Python's `cryptography` with the first test key,
/// over `1779000000|{"data":{}}`.
#[test]
fn a_signature_from_another_implementation_verifies() {
    let body = br#"{"data":{}}"#;
    let f = Fields::new(&[
        ("telnyx-signature-ed25519", "R0qZT85aFXSm66gCkdhTb73grRAYbzMUkXSroLMfx1lrRoONQVA5NBwdHBUfq3n10WfP1YWUGkkeGii3eW+8AQ=="),
        ("telnyx-timestamp", "1779000000"),
    ]);
    assert_eq!(verify(&[PUBLIC], &f, body), Ok(()));
    assert_eq!(
        verify(&[OTHER_PUBLIC], &f, body),
        Err(Reject::InvalidSignature)
    );
}

#[test]
fn accepts_valid_and_rejects_wrong_key_and_tamper_with_rotation() {
    let f = headers_for(SEED, unix(now()), BODY);
    let tampered = String::from_utf8(BODY.to_vec())
        .unwrap()
        .replace("normal", "abnormal");
    signed_by_key_only(
        PUBLIC,
        OTHER_PUBLIC,
        BODY,
        tampered.as_bytes(),
        |keys, body| verify(keys, &f, body),
    );
    // The timestamp is signed: moving it breaks the signature.
    let mut moved = f.clone();
    moved.set("telnyx-timestamp", &(unix(now()) + 1).to_string());
    assert_eq!(
        verify(&[PUBLIC], &moved, BODY),
        Err(Reject::InvalidSignature)
    );
}

#[test]
fn three_hundred_seconds_either_way() {
    let t = unix(now());
    for ok in [t - 300, t + 300] {
        assert_eq!(
            verify(&[PUBLIC], &headers_for(SEED, ok, BODY), BODY),
            Ok(())
        );
    }
    for stale in [t - 301, t + 301] {
        assert_eq!(
            verify(&[PUBLIC], &headers_for(SEED, stale, BODY), BODY),
            Err(Reject::TimestampOutOfTolerance)
        );
    }
}

#[test]
fn missing_and_malformed() {
    let good = headers_for(SEED, unix(now()), BODY);
    let mut no_sig = good.clone();
    no_sig.remove("telnyx-signature-ed25519");
    assert_eq!(
        verify(&[PUBLIC], &no_sig, BODY),
        Err(Reject::MissingSignature { header: SIGNATURE })
    );
    let mut no_ts = good.clone();
    no_ts.remove("telnyx-timestamp");
    assert_eq!(
        verify(&[PUBLIC], &no_ts, BODY),
        Err(Reject::MissingSignature { header: TIMESTAMP })
    );
    let sig = good.get("telnyx-signature-ed25519").unwrap().to_owned();
    let with = |name: &str, value: &str| {
        let mut f = good.clone();
        f.set(name, value);
        verify(&[PUBLIC], &f, BODY)
    };
    let bad = ["!!!", "AAAA", &sig[..sig.len() - 4], &sig.replace('=', "")];
    refused_as_malformed(SIGNATURE, bad, |bad| with("telnyx-signature-ed25519", bad));
    refused_as_malformed(TIMESTAMP, ["soon", "-1", "1.5"], |bad| {
        with("telnyx-timestamp", bad)
    });
}

#[test]
fn public_keys_are_checked_when_the_route_loads() {
    for (bad, says) in [
        ("not base64!", "not base64"),
        (SEED.trim_end_matches('='), "not base64"),
        (PKCS8, "48 bytes"),
        ("AAAA", "3 bytes"),
    ] {
        let errors = try_scheme(&PROVIDER, &[PUBLIC, bad], "").err().unwrap();
        assert_eq!(errors[0].key, "secrets[1]");
        assert!(errors[0].message.contains(says), "{}", errors[0].message);
    }
}

#[test]
fn send_signs_with_a_seed_a_pkcs8_key_or_pem() {
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{PKCS8}\n-----END PRIVATE KEY-----\n");
    let options = toml::Table::new();
    let d = delivery("call.hangup", &options);
    for secret in [SEED, PKCS8, pem.as_str()] {
        let headers = PROVIDER.sign(&Secret::new(secret), BODY, &d).unwrap();
        assert_eq!(
            verify(&[PUBLIC], &Fields::from_owned(headers), BODY),
            Ok(()),
            "{secret}"
        );
    }
    // A public key where the private one belongs is refused, not misused.
    assert!(PROVIDER.sign(&Secret::new("AAAA"), BODY, &d).is_err());
}

#[test]
fn identity_is_the_signed_data_id() {
    let s = scheme(&PROVIDER, &[PUBLIC], "");
    verified(
        &*s,
        &headers_for(SEED, unix(now()), BODY),
        BODY,
        |v, payload| {
            let id = payload.identity(v.request());
            assert_eq!(key_parts(&id).unwrap(), ["e7a1c1b0"]);
        },
    );
}

#[test]
fn telnyx_call_hangup() {
    let d = norm("telnyx", "call.hangup").doc;
    assert_eq!(d["type"], "call.ended");
    assert_eq!(d["providerevent"], "call.hangup");
    let id = "v3:MdI91X4lWFEs7IgbBEOT9M4AigoY08M0WWZFISt1Yw2axZ_IiE4pqg";
    assert_eq!(d["subject"], id);
    assert_eq!(d["time"], "2026-05-17T07:47:38Z");
    let c = &d["data"]["call"];
    assert_eq!(c["id"], id);
    assert_eq!(c["direction"], "inbound", "incoming");
    assert_eq!(c["from"], "+13129457420");
    assert_eq!(c["to"], "+13129457421");
    assert_eq!(c["started_at"], "2026-05-17T07:45:12Z");
    assert_eq!(c["ended_at"], "2026-05-17T07:47:38Z");
    assert_eq!(c["duration_seconds"], 146);
    assert_eq!(c["end_reason"], "normal_clearing");
    assert_eq!(d["data"]["caller"], json!({"phone": "+13129457420"}));
    assert_eq!(d["data"]["metadata"], "eyJjcm1fbGVhZCI6IkwtMjIxMCJ9");
}

#[test]
fn telnyx_call_lifecycle() {
    let d = norm("telnyx", "call.answered").doc;
    assert_eq!(d["type"], "call.started");
    assert_eq!(d["time"], "2026-05-17T07:45:12Z");
    for e in ["call.initiated", "call.bridged", "call.recording.saved"] {
        let d = norm("telnyx", e).doc;
        assert_eq!(d["type"], "unknown", "{e}");
        assert_eq!(d["providerevent"], e);
    }
    let p = crate::provider::find("telnyx").unwrap();
    let d = normalize_body(
        p,
        br#"{"data":{"event_type":"call.hangup","id":"1","payload":{"call_control_id":"v3:x","direction":"outgoing","from":"+1","to":"+2","hangup_cause":"user_busy"}}}"#,
        false,
        true,
    )
    .doc;
    assert_eq!(d["type"], "call.failed");
    assert_eq!(d["data"]["call"]["direction"], "outbound");
    assert_eq!(d["data"]["caller"]["phone"], "+2", "outbound: the callee");
}

#[test]
fn telnyx_messages() {
    let d = norm("telnyx", "message.received").doc;
    assert_envelope(
        &d,
        "sms.received",
        "b0c7e8cb-6227-4c74-9f32-c7f80c30934b",
        "2026-05-17T10:15:00.193Z",
    );
    let s = &d["data"]["sms"];
    assert_eq!(s["id"], "b0c7e8cb-6227-4c74-9f32-c7f80c30934b");
    assert_eq!(s["direction"], "inbound");
    assert_eq!(s["kind"], "sms");
    assert_eq!(s["from"], "+13125550001");
    assert_eq!(s["to"], "+17735550002");
    assert_eq!(s["text"], "Can I move my appointment to Friday?");
    assert_eq!(s["received_at"], "2026-05-17T10:15:00Z");
    assert_eq!(d["data"]["caller"], json!({"phone": "+13125550001"}));

    let d = norm("telnyx", "message.sent").doc;
    assert_eq!(d["type"], "sms.sent");
    assert_eq!(d["data"]["sms"]["status"], "sent");
    assert_eq!(
        d["data"]["caller"]["phone"], "+13125550001",
        "the recipient"
    );

    let d = norm("telnyx", "message.finalized").doc;
    assert_eq!(d["type"], "sms.delivered");
    assert_eq!(d["data"]["sms"]["delivered_at"], "2026-05-17T10:16:04Z");
    let failed = String::from_utf8(fixture("telnyx", "message.finalized"))
        .unwrap()
        .replace("\"delivered\"", "\"delivery_failed\"");
    let d = normalize_body(&PROVIDER, failed.as_bytes(), false, true).doc;
    assert_eq!(
        d["type"], "unknown",
        "a failed delivery has no type of its own"
    );
}
