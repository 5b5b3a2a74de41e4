//! Agntix: verification (signed by the `svix` crate) and the mapping of
//! each fixture.

use serde_json::json;

use super::*;
use crate::provider::test_support::*;
use crate::reject::Reject;


const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const BODY: &[u8] = br#"{"id":"4981804c-2658-4893-84ff-9c2fa90fb3c2","eventType":"session.ended","type":"VOICE","direction":"OUTBOUND"}"#;

fn signed(secret: &str, id: &str, ts: u64, body: &[u8]) -> Fields {
    let wh = svix::webhooks::Webhook::new(secret).unwrap();
    let sig = wh.sign(id, ts as i64, body).unwrap();
    Fields::new(&[
        ("svix-id", id),
        ("svix-timestamp", &ts.to_string()),
        ("svix-signature", &sig),
    ])
}

fn verify(secrets: &[&str], h: &Fields, body: &[u8]) -> Result<(), Reject> {
    check(&*scheme(&PROVIDER, secrets, ""), h, body, now())
}

#[test]
fn accepts_a_svix_signed_delivery() {
    let h = signed(SECRET, "msg_2bVx", unix(now()), BODY);
    assert_eq!(verify(&[SECRET], &h, BODY), Ok(()));
}

#[test]
fn secret_with_or_without_whsec_prefix() {
    let h = signed(SECRET, "msg_1", unix(now()), BODY);
    let bare = SECRET.strip_prefix("whsec_").unwrap();
    assert_eq!(verify(&[bare], &h, BODY), Ok(()));
}

#[test]
fn wrong_secret_and_tampered_body_fail() {
    let h = signed(SECRET, "msg_1", unix(now()), BODY);
    assert_eq!(
        verify(&["whsec_dGhpcyBpcyBub3QgdGhlIGtleQ=="], &h, BODY),
        Err(Reject::InvalidSignature)
    );
    let mut tampered = BODY.to_vec();
    tampered[10] ^= 1;
    assert_eq!(
        verify(&[SECRET], &h, &tampered),
        Err(Reject::InvalidSignature)
    );
}

#[test]
fn stale_and_future_timestamps_fail() {
    for ts in [unix(now()) - 301, unix(now()) + 301] {
        let h = signed(SECRET, "msg_1", ts, BODY);
        assert_eq!(
            verify(&[SECRET], &h, BODY),
            Err(Reject::TimestampOutOfTolerance)
        );
    }
}

#[test]
fn several_signatures_one_valid_and_rotation() {
    let other = "whsec_dGhpcyBpcyBhbm90aGVyIGtleSEhIQ==";
    let good = signed(SECRET, "msg_1", unix(now()), BODY);
    let sig = good.get("svix-signature").unwrap();
    let both = format!("v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= v1a,xyz {sig}");
    let mut h = good.clone();
    h.set("svix-signature", &both);
    assert_eq!(verify(&[SECRET], &h, BODY), Ok(()));
    // Our own rotation: the matching secret is second in the list.
    assert_eq!(verify(&[other, SECRET], &good, BODY), Ok(()));
}

#[test]
fn missing_and_malformed_headers() {
    let good = signed(SECRET, "msg_1", unix(now()), BODY);
    let mut h = good.clone();
    h.remove("svix-signature");
    assert_eq!(
        verify(&[SECRET], &h, BODY),
        Err(Reject::MissingSignature {
            header: "svix-signature"
        })
    );
    for bad in ["v1", "v2,abc", "v1,not base64!", "v1,c2hvcnQ="] {
        let mut h = good.clone();
        h.set("svix-signature", bad);
        assert_eq!(
            verify(&[SECRET], &h, BODY),
            Err(Reject::MalformedSignature {
                header: "svix-signature"
            }),
            "{bad}"
        );
    }
    let mut h = good.clone();
    h.set("svix-timestamp", "soon");
    assert_eq!(
        verify(&[SECRET], &h, BODY),
        Err(Reject::MalformedSignature {
            header: "svix-timestamp"
        })
    );
    let mut h = good;
    h.remove("svix-id");
    assert_eq!(
        verify(&[SECRET], &h, BODY),
        Err(Reject::MissingSignature { header: "svix-id" })
    );
}

#[test]
fn a_secret_that_is_not_base64_is_a_configuration_error() {
    let err = try_scheme(&PROVIDER, &["whsec_***"], "").err().unwrap();
    assert_eq!(err[0].key, "secrets[0]");
    assert!(!err[0].message.contains("***"));
}

#[test]
fn agntix_voice_and_chat_sessions() {
    let d = norm("agntix", "session.ended").doc;
    assert_eq!(d["type"], "call.ended");
    assert_eq!(d["subject"], "4981804c-2658-4893-84ff-9c2fa90fb3c2");
    assert_eq!(d["time"], "2026-04-08T05:00:10.546Z");
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
