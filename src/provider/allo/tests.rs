//! Allo: the mapping of each fixture, both payload generations
//! (verification, signed by the `standardwebhooks` crate, is tested with
//! every Standard Webhooks provider in `provider::tests`).

use serde_json::json;

use crate::provider::test_support::*;

#[test]
fn allo_both_generations_and_both_casings() {
    let d = norm("allo", "CALL_RECEIVED").doc;
    assert_eq!(d["type"], "call.ended");
    let c = &d["data"]["call"];
    assert_eq!(c["duration_seconds"], 330, "5.5 minutes");
    assert_eq!(c["direction"], "inbound");
    assert_eq!(
        c["transcript"][1],
        json!({"role": "caller", "text": "Bonjour, quels sont vos horaires ?", "at": "00:03"})
    );
    assert_eq!(
        d["data"]["caller"],
        json!({"name": "Claire Martin", "phone": "+33612345678"})
    );
    assert_eq!(d["time"], "2026-02-24T20:55:10Z");

    let d = norm("allo", "call.completed").doc;
    assert_eq!(d["type"], "call.ended");
    let c = &d["data"]["call"];
    assert_eq!(
        c["recording_url"], "https://files.allo.com/rec/call_9Kd3rT.mp3",
        "camelCase read"
    );
    assert_eq!(c["duration_seconds"], 120);
    assert_eq!(
        c["transfer"],
        json!({"to": "+33100000000", "label": "Sophie"})
    );
    assert_eq!(
        d["data"]["caller"],
        json!({"name": "Marc Petit", "phone": "+33698765432"}),
        "outbound: the callee"
    );
    assert_eq!(d["time"], "2026-02-25T08:02:00Z", "the envelope timestamp");

    assert_eq!(norm("allo", "call.received").doc["type"], "call.started");
    assert_eq!(norm("allo", "call.triggered").doc["type"], "call.started");
    for (event, ty) in [
        ("SMS_RECEIVED", "sms.received"),
        ("sms.received", "sms.received"),
        ("SMS_SENT", "sms.sent"),
        ("sms.sent", "sms.sent"),
    ] {
        let d = norm("allo", event).doc;
        assert_eq!(d["type"], ty, "{event}");
        assert!(d["data"]["sms"]["text"].is_string(), "{event}");
    }
    let d = norm("allo", "SMS_SENT").doc;
    assert_eq!(d["data"]["sms"]["kind"], "mms");
    assert_eq!(d["data"]["caller"]["phone"], "+33611112222");
    for (event, ty) in [
        ("CONTACT_CREATED", "contact.created"),
        ("contact.created", "contact.created"),
        ("CONTACT_UPDATED", "contact.updated"),
        ("contact.updated", "contact.updated"),
    ] {
        let d = norm("allo", event).doc;
        assert_eq!(d["type"], ty);
        assert_eq!(d["subject"], "ct_77");
        assert_eq!(d["data"]["contact"]["last_name"], "Martin");
    }
    let d = norm("allo", "PING").doc;
    assert_eq!(d["type"], "ping");
    assert_eq!(
        d["time"], "2026-05-17T06:40:00Z",
        "no time sent: the receipt time"
    );
    for event in ["tag.added", "tag.removed"] {
        let d = norm("allo", event).doc;
        assert_eq!(d["type"], "unknown");
        assert_eq!(d["providerevent"], event);
        assert_eq!(d["data"]["raw"]["data"]["tag"], "vip");
    }
}
