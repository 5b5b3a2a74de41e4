//! Nixflex: verification and the mapping of each fixture.

use serde_json::json;

use super::*;
use crate::provider::test_support::*;
use crate::reject::Reject;

const SECRET: &str = "nfx_live_8d2c1f0a9b";
const BODY: &[u8] = br#"{"event":"call.ended","call_id":"CA1234567890","duration_seconds":146}"#;

fn header_for(secret: &str, t: u64, body: &[u8]) -> String {
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    format!("t={t},v1={}", hmac_hex(secret.as_bytes(), &msg))
}

fn verify(secrets: &[&str], sig: &str, body: &[u8]) -> Result<(), Reject> {
    let s = scheme(&PROVIDER, secrets, "");
    check(
        &*s,
        &Fields::new(&[("x-nixflex-signature", sig)]),
        body,
        now(),
    )
}

/// Accepting, refusing and the malformed headers every Stripe-form provider
/// shares are tested once, in `provider::tests`.
#[test]
fn several_v1_and_upper_hex() {
    let sig = header_for(SECRET, unix(now()), BODY);
    let (t, v1) = sig.split_once(',').unwrap();
    let several = format!("{t},v1={},{v1},v0=ignored", "ab".repeat(32));
    assert_eq!(verify(&[SECRET], &several, BODY), Ok(()));
    assert_eq!(
        verify(
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
            verify(&[SECRET], &sig, BODY),
            Err(Reject::TimestampOutOfTolerance)
        );
    }
}

#[test]
fn identity_is_the_signed_event_and_call_and_the_header_is_only_reported() {
    let body = br#"{"event":"call.ended","call_id":"CA1"}"#;
    let s = scheme(&PROVIDER, &[SECRET], "");
    let mut f = Fields::new(&[(
        "x-nixflex-signature",
        &header_for(SECRET, unix(now()), body),
    )]);
    f.add("webhook_delivery_id", "dlv-7");
    verified(&*s, &f, body, |v, payload| {
        let id = payload.identity(v.request());
        assert_eq!(key_parts(&id).unwrap(), ["call.ended", "CA1"]);
        assert_eq!(id.unsigned_id.as_deref(), Some("dlv-7"));
    });
}

#[test]
fn nixflex_call_ended() {
    let n = norm("nixflex", "call.ended");
    let d = &n.doc;
    assert_envelope(d, "call.ended", "CA1234567890", "2026-05-17T03:47:38Z");
    let c = &d["data"]["call"];
    assert_eq!(c["id"], "CA1234567890");
    assert_eq!(c["direction"], "inbound");
    assert_eq!(c["from"], "+447386172392");
    assert_eq!(c["to"], "+447446466847");
    assert_eq!(c["agent_id"], "agent_125207e452f8714a");
    assert_eq!(c["started_at"], "2026-05-17T03:45:12Z");
    assert_eq!(c["ended_at"], "2026-05-17T03:47:38Z");
    assert_eq!(c["duration_seconds"], 146);
    assert_eq!(c["end_reason"], "agent_hangup");
    assert_eq!(c["successful"], true);
    assert_eq!(
        c["summary"],
        "Caller booked a check-up for Tuesday 8th March at 2pm."
    );
    assert_eq!(
        c["sentiment"], "positive",
        "Nixflex 'happy' maps to positive"
    );
    assert_eq!(
        c["recording_url"],
        "https://storage.nixflex.com/recordings/CA1234567890.mp3"
    );
    assert_eq!(
        c["transcript"][0],
        json!({"role": "agent", "text": "Hello, Acme Dental, how can I help?", "offset_ms": 1200})
    );
    assert_eq!(c["transcript"][1]["role"], "caller");
    assert_eq!(c["extracted"]["caller_name"], "Sarah Johnson");
    assert_eq!(
        d["data"]["caller"],
        json!({"name": "Sarah Johnson", "phone": "+447386172392"})
    );
    assert_eq!(d["data"]["metadata"], json!({"crm_lead": "L-991"}));
}

#[test]
fn nixflex_call_failed_and_sms() {
    let d = norm("nixflex", "call.failed").doc;
    assert_eq!(d["type"], "call.failed");
    assert_eq!(d["time"], "2026-05-17T08:00:02Z", "offset converted to UTC");
    assert_eq!(d["data"]["call"]["direction"], "outbound");
    assert_eq!(d["data"]["call"]["end_reason"], "no_answer");
    assert_eq!(
        d["data"]["caller"]["phone"], "+447700900123",
        "outbound: the callee"
    );
    assert!(
        d["data"]["call"].get("duration_seconds").is_none(),
        "not invented"
    );

    let d = norm("nixflex", "sms.received").doc;
    assert_eq!(d["type"], "sms.received");
    assert_eq!(d["subject"], "SM7f3a9c");
    assert_eq!(
        d["data"]["sms"]["text"],
        "Can I move my appointment to Friday?"
    );
    assert_eq!(d["data"]["sms"]["from"], "+447386172392");
    assert_eq!(d["time"], "2026-05-17T10:15:00Z");

    let d = norm("nixflex", "sms.delivered").doc;
    assert_eq!(d["type"], "sms.delivered");
    assert_eq!(d["data"]["sms"]["status"], "delivered");
    assert_eq!(d["time"], "2026-05-17T10:16:04Z");
}
