//! Allo: verification (signed by the `standardwebhooks` crate) and the
//! mapping of each fixture, both payload generations.

use serde_json::json;

use super::*;
use crate::provider::test_support::*;
use crate::reject::Reject;


const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const BODY: &[u8] = br#"{"topic":"call.completed","version":"2.0","data":{"id":"call_9","length_in_minutes":2.5}}"#;

fn signed(secret: &str, id: &str, ts: u64, body: &[u8]) -> Fields {
    let wh = standardwebhooks::Webhook::new(secret).unwrap();
    let sig = wh.sign(id, ts as i64, body).unwrap();
    Fields::new(&[
        ("webhook-id", id),
        ("webhook-timestamp", &ts.to_string()),
        ("webhook-signature", &sig),
    ])
}

fn verify(secrets: &[&str], h: &Fields, body: &[u8]) -> Result<(), Reject> {
    check(&*scheme(&PROVIDER, secrets, ""), h, body, now())
}

#[test]
fn accepts_a_standard_webhooks_delivery_with_or_without_prefix() {
    let h = signed(SECRET, "msg_allo_1", unix(now()), BODY);
    assert_eq!(verify(&[SECRET], &h, BODY), Ok(()));
    assert_eq!(
        verify(&[SECRET.strip_prefix("whsec_").unwrap()], &h, BODY),
        Ok(())
    );
}

#[test]
fn rejects_wrong_secret_tamper_and_window() {
    let h = signed(SECRET, "msg_allo_1", unix(now()), BODY);
    assert_eq!(
        verify(&["whsec_dGhpcyBpcyBub3QgdGhlIGtleQ=="], &h, BODY),
        Err(Reject::InvalidSignature)
    );
    let mut tampered = BODY.to_vec();
    *tampered.last_mut().unwrap() = b' ';
    assert_eq!(
        verify(&[SECRET], &h, &tampered),
        Err(Reject::InvalidSignature)
    );
    for ts in [unix(now()) - 301, unix(now()) + 301] {
        let h = signed(SECRET, "msg_allo_1", ts, BODY);
        assert_eq!(
            verify(&[SECRET], &h, BODY),
            Err(Reject::TimestampOutOfTolerance)
        );
    }
}

#[test]
fn the_id_is_signed() {
    let mut h = signed(SECRET, "msg_allo_1", unix(now()), BODY);
    h.set("webhook-id", "msg_allo_2");
    assert_eq!(verify(&[SECRET], &h, BODY), Err(Reject::InvalidSignature));
}

#[test]
fn rotation_several_signatures_and_missing_header() {
    let h = signed(SECRET, "m", unix(now()), BODY);
    let sig = h
        .get("webhook-signature").unwrap()
        .to_owned();
    let mut several = h.clone();
    several.set("webhook-signature", &format!("v1,Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmFyYmF6Zm9vYmE= {sig}")
            );
    assert_eq!(verify(&[SECRET], &several, BODY), Ok(()));
    assert_eq!(verify(&["whsec_b3RoZXI=", SECRET], &h, BODY), Ok(()));
    let mut missing = h;
    missing.remove("webhook-signature");
    assert_eq!(
        verify(&[SECRET], &missing, BODY),
        Err(Reject::MissingSignature {
            header: "webhook-signature"
        })
    );
}

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
