//! Agntix: its secrets and the mapping of each fixture (verification, signed
//! by the `svix` crate, is tested with every Standard Webhooks provider in
//! `provider::tests`).

use serde_json::json;

use super::*;
use crate::provider::test_support::*;

#[test]
fn a_secret_that_is_not_base64_is_a_configuration_error() {
    let err = try_scheme(&PROVIDER, &["whsec_***"], "").err().unwrap();
    assert_eq!(err[0].key, "secrets[0]");
    assert!(!err[0].message.contains("***"));
}

#[test]
fn agntix_voice_and_chat_sessions() {
    let d = norm("agntix", "session.ended").doc;
    assert_envelope(
        &d,
        "call.ended",
        "4981804c-2658-4893-84ff-9c2fa90fb3c2",
        "2026-04-08T05:00:10.546Z",
    );
    let c = &d["data"]["call"];
    assert_eq!(c["direction"], "outbound");
    assert_eq!(c["to"], "+971501234567", "OUTBOUND: the customer is called");
    assert!(c.get("from").is_none());
    assert_eq!(c["channel"], "phone");
    assert_eq!(c["sentiment"], "positive");
    assert_eq!(
        c["summary"],
        "Customer confirmed delivery slot for Wednesday afternoon."
    );
    assert_eq!(c["duration_seconds"], 9.416);
    assert_eq!(c["extracted"], json!({"deliverySlot": "Wednesday PM"}));
    assert_eq!(
        d["data"]["metadata"],
        json!({"crmContactId": "CRM-7728", "customerName": "Alex Morgan"})
    );

    let d = norm("agntix", "session.created").doc;
    assert_eq!(d["type"], "call.started");
    assert_eq!(
        d["data"]["call"]["from"], "+971501234567",
        "INBOUND: the customer calls"
    );
    assert_eq!(d["time"], "2026-04-08T05:00:01.13Z");
    assert!(d["data"]["call"].get("ended_at").is_none());

    assert_eq!(
        norm("agntix", "session.created.chat").doc["type"],
        "chat.started"
    );
    let d = norm("agntix", "session.ended.chat").doc;
    assert_eq!(d["type"], "chat.ended");
    assert_eq!(d["data"]["call"]["channel"], "web");
    assert_eq!(d["data"]["call"]["sentiment"], "neutral");
    assert_eq!(d["data"]["call"]["duration_seconds"], 270);
}

/// The duration comes from the times the event reports, whichever names
/// (camelCase or snake_case) they came under.
#[test]
fn the_duration_follows_the_reported_times_under_either_name() {
    for body in [
        r#"{"id":"s1","eventType":"session.ended","type":"VOICE","createdAt":"2026-04-08T05:00:00Z","endedAt":"2026-04-08T05:02:26.500Z"}"#,
        r#"{"id":"s1","event_type":"session.ended","type":"VOICE","created_at":"2026-04-08T05:00:00Z","ended_at":"2026-04-08T05:02:26.500Z"}"#,
    ] {
        let d = normalize_body(&PROVIDER, body.as_bytes(), false, true).doc;
        assert_eq!(d["data"]["call"]["duration_seconds"], 146.5, "{body}");
    }
    let started = r#"{"id":"s1","eventType":"session.created","type":"VOICE","createdAt":"2026-04-08T05:00:00Z"}"#;
    let d = normalize_body(&PROVIDER, started.as_bytes(), false, true).doc;
    assert!(d["data"]["call"].get("duration_seconds").is_none());
}
