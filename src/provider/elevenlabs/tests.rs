//! ElevenLabs: verification as its SDKs do it (past-only window, any `v0`),
//! and the mapping of each fixture.

use serde_json::json;

use super::*;
use crate::provider::test_support::*;
use crate::reject::Reject;

const SECRET: &str = "wsec_8a1f9e0c2b7d4e6f";
const BODY: &[u8] =
    br#"{"type":"post_call_transcription","data":{"conversation_id":"conv_1","metadata":{"call_duration_secs":146}}}"#;

fn v0(secret: &str, t: u64, body: &[u8]) -> String {
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    format!("v0={}", hmac_hex(secret.as_bytes(), &msg))
}

fn header_for(secret: &str, t: u64, body: &[u8]) -> String {
    format!("t={t},{}", v0(secret, t, body))
}

fn verify(secrets: &[&str], sig: &str, body: &[u8]) -> Result<(), Reject> {
    let s = scheme(&PROVIDER, secrets, "");
    check(
        &*s,
        &Fields::new(&[("ElevenLabs-Signature", sig)]),
        body,
        now(),
    )
}

#[test]
fn thirty_minutes_in_the_past_and_any_future() {
    let t = unix(now());
    assert_eq!(
        verify(&[SECRET], &header_for(SECRET, t - 1800, BODY), BODY),
        Ok(())
    );
    assert_eq!(
        verify(&[SECRET], &header_for(SECRET, t - 1801, BODY), BODY),
        Err(Reject::TimestampOutOfTolerance)
    );
    // The SDKs accept any future timestamp; so does hookgate.
    for ahead in [301, 86_400, 10 * 365 * 86_400] {
        assert_eq!(
            verify(&[SECRET], &header_for(SECRET, t + ahead, BODY), BODY),
            Ok(()),
            "+{ahead}"
        );
    }
    // A route's tolerance narrows the past, never the future.
    let secrets = [Secret::new(SECRET)];
    let narrow = PROVIDER
        .scheme(SchemeSetup {
            secrets: &secrets,
            tolerance: Some(Duration::from_secs(60)),
            options: &toml::Table::new(),
        })
        .unwrap();
    let sig = header_for(SECRET, t - 61, BODY);
    assert_eq!(
        check(
            &*narrow,
            &Fields::new(&[("elevenlabs-signature", &sig)]),
            BODY,
            now()
        ),
        Err(Reject::TimestampOutOfTolerance)
    );
}

#[test]
fn any_v0_entry_may_match() {
    let t = unix(now());
    let good = v0(SECRET, t, BODY);
    let stale = v0("wsec_old", t, BODY);
    // The Python SDK reads only the last `v0=`; hookgate accepts the
    // header when any entry matches, in either position.
    for sig in [
        format!("t={t},{good},{stale}"),
        format!("t={t},{stale},{good}"),
        format!("t={t},v1=ignored,{good}"),
    ] {
        assert_eq!(verify(&[SECRET], &sig, BODY), Ok(()), "{sig}");
    }
    assert_eq!(
        verify(&[SECRET], &format!("t={t},{stale},{stale}"), BODY),
        Err(Reject::InvalidSignature)
    );
}

/// Accepting, refusing and the malformed headers every Stripe-form provider
/// shares are tested once, in `provider::tests`; ElevenLabs' own: a
/// fractional time, a truncated signature.
#[test]
fn malformed() {
    let t = unix(now());
    let good = v0(SECRET, t, BODY);
    let bad = [format!("t={t}.5,{good}"), format!("t={t},{}", &good[..40])];
    refused_as_malformed(LABEL, bad, |bad| verify(&[SECRET], bad, BODY));
}

#[test]
fn identity_is_the_signed_type_and_conversation() {
    let s = scheme(&PROVIDER, &[SECRET], "");
    let f = Fields::new(&[(
        "elevenlabs-signature",
        &header_for(SECRET, unix(now()), BODY),
    )]);
    verified(&*s, &f, BODY, |v, payload| {
        let id = payload.identity(v.request());
        assert_eq!(
            key_parts(&id).unwrap(),
            ["post_call_transcription", "conv_1"]
        );
    });
}

#[test]
fn elevenlabs_post_call_transcription() {
    let d = norm("elevenlabs", "post_call_transcription").doc;
    assert_envelope(
        &d,
        "call.ended",
        "conv_01jvq1x0vhfwy8mkwr4yd6c3gr",
        "2026-05-17T07:47:40Z",
    );
    let c = &d["data"]["call"];
    assert_eq!(c["id"], "conv_01jvq1x0vhfwy8mkwr4yd6c3gr");
    assert_eq!(c["direction"], "inbound");
    assert_eq!(
        c["from"], "+447386172392",
        "inbound: the external number calls"
    );
    assert_eq!(c["to"], "+15550123456");
    assert_eq!(c["agent_id"], "xyz5bF2w5CMGaq9dMCC4");
    assert_eq!(c["started_at"], "2026-05-17T07:45:12Z");
    assert_eq!(c["ended_at"], "2026-05-17T07:47:38Z");
    assert_eq!(c["duration_seconds"], 146);
    assert_eq!(c["end_reason"], "Call ended by remote party");
    assert_eq!(c["successful"], true);
    assert_eq!(c["summary"], "The caller moved her appointment to Friday.");
    assert!(c.get("sentiment").is_none(), "not reported");
    assert_eq!(c["extracted"]["caller_name"]["value"], "Sarah Johnson");
    assert_eq!(
        c["transcript"][0],
        json!({"role": "agent", "text": "Hello, Acme Dental, how can I help?", "offset_ms": 0})
    );
    assert_eq!(
        c["transcript"][1],
        json!({"role": "caller", "text": "I'd like to move my appointment to Friday.", "offset_ms": 4000})
    );
    assert_eq!(d["data"]["caller"], json!({"phone": "+447386172392"}));
    assert_eq!(d["data"]["metadata"], json!({"crm_contact_id": "CRM-7728"}));
}

#[test]
fn elevenlabs_failure_and_audio() {
    let d = norm("elevenlabs", "call_initiation_failure").doc;
    assert_eq!(d["type"], "call.failed");
    assert_eq!(d["subject"], "conv_01jvq2a8m3e7t9s5x2k4c6b8n0");
    assert_eq!(d["data"]["call"]["end_reason"], "busy");
    assert_eq!(d["time"], "2026-05-17T07:48:20Z");

    let d = norm("elevenlabs", "post_call_audio").doc;
    assert_eq!(d["type"], "unknown");
    assert_eq!(d["providerevent"], "post_call_audio");
    assert!(d["data"]["raw"]["data"]["full_audio"].is_string());

    let p = crate::provider::find("elevenlabs").unwrap();
    let d = normalize_body(
        p,
        br#"{"type":"post_call_transcription","data":{"conversation_id":"c","analysis":{"call_successful":"unknown"},"metadata":{"phone_call":{"direction":"outbound","agent_number":"+1","external_number":"+2"}}}}"#,
        false,
        true,
    )
    .doc;
    assert!(d["data"]["call"].get("successful").is_none());
    assert_eq!(d["data"]["call"]["from"], "+1");
    assert_eq!(d["data"]["call"]["to"], "+2");
    assert_eq!(d["data"]["caller"]["phone"], "+2");
}
