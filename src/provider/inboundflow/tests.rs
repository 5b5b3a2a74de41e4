//! InboundFlow: verification of the raw and the `JSON.stringify` form, what
//! the signature covered, and the mapping of each fixture.

use serde_json::json;

use super::*;
use crate::provider::test_support::*;

const SECRET: &str = "ibf_secret_7f3a";
const COMPACT: &str = r#"{"event":"call.completed","timestamp":"2026-02-24T21:00:00.000Z","delivery_id":"d-1","data":{"call_id":"c-1","summary":"Needs a  callback, \"urgent\"\n"}}"#;

fn sig(secret: &str, ts: u64, signed_body: &str) -> Fields {
    let hex = hmac_hex(secret.as_bytes(), format!("{ts}.{signed_body}").as_bytes());
    Fields::new(&[
        ("x-inboundflow-signature", &format!("sha256={hex}")),
        ("x-inboundflow-timestamp", &ts.to_string()),
    ])
}

fn verify(secrets: &[&str], h: &Fields, body: &str) -> Result<(), Reject> {
    check(&*scheme(&PROVIDER, secrets, ""), h, body.as_bytes(), now())
}

#[test]
fn compact_body_verifies_and_tamper_fails() {
    let h = sig(SECRET, unix(now()), COMPACT);
    let tampered = COMPACT.replace("c-1", "c-2");
    signed_by_key_only(
        SECRET,
        "wrong",
        COMPACT.as_bytes(),
        tampered.as_bytes(),
        |keys, body| verify(keys, &h, std::str::from_utf8(body).unwrap()),
    );
}

#[test]
fn pretty_printed_body_verifies_against_its_stringified_form() {
    // As a sender's pretty-printer lays it out: same keys, same order.
    let pretty =
        "{\n  \"event\": \"call.completed\",\n  \"timestamp\": \"2026-02-24T21:00:00.000Z\",\n\
                  \t\"delivery_id\" : \"d-1\",\r\n  \"data\": {\n    \"call_id\": \"c-1\",\n\
                  \"summary\": \"Needs a  callback, \\\"urgent\\\"\\n\"\n  }\n}\n";
    let h = sig(SECRET, unix(now()), COMPACT);
    assert_eq!(verify(&[SECRET], &h, pretty), Ok(()));
    // Whitespace inside strings is significant and stays.
    assert_eq!(compact(pretty.as_bytes()).unwrap(), COMPACT.as_bytes());
}

#[test]
fn never_reorders_keys() {
    let reordered = r#"{"timestamp":"2026-02-24T21:00:00.000Z","event":"call.completed","delivery_id":"d-1","data":{"call_id":"c-1","summary":"Needs a  callback, \"urgent\"\n"}}"#;
    let h = sig(SECRET, unix(now()), COMPACT);
    assert_eq!(
        verify(&[SECRET], &h, reordered),
        Err(Reject::InvalidSignature)
    );
}

#[test]
fn window_rotation_and_malformed() {
    for ts in [unix(now()) - 301, unix(now()) + 301] {
        assert_eq!(
            verify(&[SECRET], &sig(SECRET, ts, COMPACT), COMPACT),
            Err(Reject::TimestampOutOfTolerance)
        );
    }
    assert_eq!(
        verify(
            &["old", SECRET],
            &sig(SECRET, unix(now()), COMPACT),
            COMPACT
        ),
        Ok(())
    );
    let mut h = sig(SECRET, unix(now()), COMPACT);
    let hex = h.get("x-inboundflow-signature").unwrap()[7..].to_owned();
    h.set("x-inboundflow-signature", &hex);
    assert_eq!(
        verify(&[SECRET], &h, COMPACT),
        Err(Reject::MalformedSignature { header: SIGNATURE })
    );
    let mut h = sig(SECRET, unix(now()), COMPACT);
    h.remove("x-inboundflow-timestamp");
    assert_eq!(
        verify(&[SECRET], &h, COMPACT),
        Err(Reject::MissingSignature { header: TIMESTAMP })
    );
}

#[test]
fn a_pretty_body_is_signed_as_its_compact_form() {
    let pretty = "{ \"event\": \"call.completed\",\n  \"data\": {} }";
    let compact = r#"{"event":"call.completed","data":{}}"#;
    let s = scheme(&PROVIDER, &[SECRET], "");
    let h = sig(SECRET, unix(now()), compact);
    match check_at(&*s, &h, "/hook", pretty.as_bytes(), now()).unwrap() {
        Signed::Other(bytes) => assert_eq!(bytes, compact.as_bytes()),
        Signed::Body => panic!("the compact form was signed, not the body"),
    }
    let h = sig(SECRET, unix(now()), compact);
    assert!(matches!(
        check_at(&*s, &h, "/hook", compact.as_bytes(), now()).unwrap(),
        Signed::Body
    ));
}

#[test]
fn inboundflow_events() {
    let d = norm("inboundflow", "call.completed").doc;
    assert_eq!(d["type"], "call.ended");
    assert_eq!(d["time"], "2026-02-24T21:00:00Z");
    assert_eq!(d["data"]["call"]["duration_seconds"], 55);
    assert_eq!(d["data"]["call"]["from"], "+12025550143");
    assert_eq!(
        d["data"]["caller"],
        json!({"name": "Dave", "phone": "+12025550143", "email": "dave@example.com"})
    );

    let d = norm("inboundflow", "call.transferred").doc;
    assert_eq!(d["type"], "call.transferred");
    assert_eq!(
        d["data"]["call"]["transfer"],
        json!({"to": "+12025550100", "label": "Emergency line", "reason": "emergency"})
    );
    assert_eq!(d["time"], "2026-02-24T21:00:00Z", "the envelope timestamp");

    let d = norm("inboundflow", "appointment.booked").doc;
    assert_eq!(d["type"], "appointment.booked");
    assert_eq!(
        d["subject"], "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d",
        "the call it came from"
    );
    assert_eq!(d["data"]["appointment"]["date"], "2026-03-02");
    assert_eq!(d["data"]["appointment"]["time_start"], "09:00");
    assert_eq!(d["data"]["appointment"]["service"], "Boiler service");

    let d = norm("inboundflow", "lead.created").doc;
    assert_eq!(d["type"], "lead.created");
    assert_eq!(d["data"]["lead"]["interest"], "Heat pump");
    assert_eq!(
        d["data"]["lead"]["summary"],
        "Lena is comparing heat pump quotes for spring."
    );
}
