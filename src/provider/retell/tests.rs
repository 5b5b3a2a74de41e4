//! Retell: the SDKs' worked example, the window in milliseconds, the
//! anchored format, and the mapping of each fixture.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::*;
use crate::provider::test_support::*;

const KEY: &str = "key_live_2f8c0e1d";
const BODY: &[u8] = br#"{"event":"call_ended","call":{"call_id":"c1","duration_ms":146400}}"#;

fn header_for(key: &str, ms: u64, body: &[u8]) -> String {
    let mut msg = body.to_vec();
    msg.extend_from_slice(ms.to_string().as_bytes());
    format!("v={ms},d={}", hmac_hex(key.as_bytes(), &msg))
}

fn now_ms() -> u64 {
    unix(now()) * 1000
}

fn verify_at(
    secrets: &[&str],
    sig: &str,
    body: &[u8],
    at: std::time::SystemTime,
) -> Result<(), Reject> {
    let s = scheme(&PROVIDER, secrets, "");
    check(&*s, &Fields::new(&[("x-retell-signature", sig)]), body, at)
}

fn verify(secrets: &[&str], sig: &str, body: &[u8]) -> Result<(), Reject> {
    verify_at(secrets, sig, body, now())
}

/// retell-typescript-sdk `tests/webhook-auth.test.ts`, verbatim.
#[test]
fn the_sdk_worked_example() {
    let body = br#"{"event":"call_ended"}"#;
    let sig = "v=1700000000000,d=07024cabe7dd8f6d1c6e4a8324ca92c812e6ad4a7ee506c04f7e462e3321823e";
    let at = UNIX_EPOCH + Duration::from_millis(1_700_000_000_000);
    assert_eq!(verify_at(&["test-api-key"], sig, body, at), Ok(()));
    assert_eq!(header_for("test-api-key", 1_700_000_000_000, body), sig);
    assert_eq!(
        verify_at(&["test-api-keY"], sig, body, at),
        Err(Reject::InvalidSignature)
    );
    // What `hookgate send` signs is the same HMAC.
    let signed = PROVIDER
        .sign(
            &Secret::new("test-api-key"),
            body,
            &Outgoing {
                url: "https://hooks.example.test/hook",
                id: "x",
                timestamp: 1_700_000_000,
                event: "call_ended",
                options: &toml::Table::new(),
            },
        )
        .unwrap();
    assert_eq!(signed, [("X-Retell-Signature".to_owned(), sig.to_owned())]);
}

#[test]
fn accepts_valid_and_rejects_wrong_key_and_tamper_with_rotation() {
    let sig = header_for(KEY, now_ms(), BODY);
    let tampered = String::from_utf8(BODY.to_vec())
        .unwrap()
        .replace("146400", "146401");
    signed_by_key_only(KEY, "key_old", BODY, tampered.as_bytes(), |keys, body| {
        verify(keys, &sig, body)
    });
}

#[test]
fn five_minutes_either_way_to_the_millisecond() {
    for ms in [now_ms() - 300_000, now_ms() + 300_000] {
        assert_eq!(verify(&[KEY], &header_for(KEY, ms, BODY), BODY), Ok(()));
    }
    for ms in [now_ms() - 300_001, now_ms() + 300_001] {
        assert_eq!(
            verify(&[KEY], &header_for(KEY, ms, BODY), BODY),
            Err(Reject::TimestampOutOfTolerance)
        );
    }
    // Seconds where milliseconds belong are 56 years stale.
    assert_eq!(
        verify(&[KEY], &header_for(KEY, unix(now()), BODY), BODY),
        Err(Reject::TimestampOutOfTolerance)
    );
}

#[test]
fn only_the_anchored_format_is_read() {
    let s = scheme(&PROVIDER, &[KEY], "");
    assert_eq!(
        check(&*s, &Fields::default(), BODY, now()),
        Err(Reject::MissingSignature { header: LABEL })
    );
    let good = header_for(KEY, now_ms(), BODY);
    let (v, d) = good.split_once(',').unwrap();
    let bad = [
        "garbage".to_string(),
        v.to_string(),
        d.to_string(),
        format!("{d},{v}"),
        format!("{v},{}", d.to_uppercase().replace("D=", "d=")),
        format!("{v},{d},{d}"),
        format!("{v}, {d}"),
        format!("{v},{}", &d[..60]),
        format!("v=-5,{d}"),
        format!("v=12.5,{d}"),
        format!("v=99999999999999999,{d}"),
        format!("t=1,{d}"),
    ];
    refused_as_malformed(LABEL, bad, |bad| verify(&[KEY], bad, BODY));
}

#[test]
fn identity_is_the_signed_event_and_call_id() {
    let s = scheme(&PROVIDER, &[KEY], "");
    let f = Fields::new(&[("x-retell-signature", &header_for(KEY, now_ms(), BODY))]);
    verified(&*s, &f, BODY, |v, payload| {
        let id = payload.identity(v.request());
        assert_eq!(key_parts(&id).unwrap(), ["call_ended", "c1"]);
        assert!(id.unsigned_id.is_none());
    });
}

#[test]
fn retell_call_ended() {
    let d = norm("retell", "call_ended").doc;
    assert_envelope(
        &d,
        "call.ended",
        "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6",
        "2026-05-17T07:47:38Z",
    );
    assert_eq!(d["providerevent"], "call_ended");
    let c = &d["data"]["call"];
    assert_eq!(c["id"], "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6");
    assert_eq!(c["direction"], "inbound");
    assert_eq!(c["channel"], "phone");
    assert_eq!(c["from"], "+12137771234");
    assert_eq!(c["to"], "+12137771235");
    assert_eq!(c["agent_id"], "oBeDLoLOeuAbiuaMFXRtDOLriTJ5tSxD");
    assert_eq!(c["started_at"], "2026-05-17T07:45:12Z");
    assert_eq!(c["ended_at"], "2026-05-17T07:47:38Z");
    assert_eq!(c["duration_seconds"], 146.4);
    assert_eq!(c["end_reason"], "user_hangup");
    assert_eq!(
        c["transcript"][0],
        json!({"role": "agent", "text": "Hi, this is Acme Dental, how can I help?", "offset_ms": 700})
    );
    assert_eq!(
        c["transcript"][1],
        json!({"role": "caller", "text": "I'd like to book a check-up.", "offset_ms": 3200})
    );
    assert!(
        c.get("summary").is_none(),
        "analysis comes with call_analyzed"
    );
    assert_eq!(d["data"]["caller"], json!({"phone": "+12137771234"}));
    assert_eq!(d["data"]["metadata"], json!({"crm_lead": "L-2210"}));
}

#[test]
fn retell_call_analyzed_carries_summary_success_and_sentiment() {
    let d = norm("retell", "call_analyzed").doc;
    assert_eq!(d["type"], "call.ended");
    assert_eq!(d["providerevent"], "call_analyzed");
    let c = &d["data"]["call"];
    assert_eq!(
        c["summary"],
        "The caller booked a check-up for Tuesday at 2pm."
    );
    assert_eq!(c["successful"], true);
    assert_eq!(c["sentiment"], "positive");
    assert_eq!(c["extracted"], json!({"appointment_day": "Tuesday"}));
}

#[test]
fn retell_call_started_transfer_and_others() {
    let d = norm("retell", "call_started").doc;
    assert_eq!(d["type"], "call.started");
    assert_eq!(d["time"], "2026-05-17T07:45:12Z");
    assert!(d["data"]["call"].get("ended_at").is_none());
    assert_eq!(
        d["data"]["metadata"],
        json!({"crm_lead": "L-2210"}),
        "metadata before dynamic variables"
    );

    let d = norm("retell", "transfer_bridged").doc;
    assert_eq!(d["type"], "call.transferred");
    assert_eq!(d["data"]["call"]["transfer"], json!({"to": "+14155550100"}));

    for e in [
        "transcript_updated",
        "transfer_started",
        "transfer_cancelled",
        "transfer_ended",
    ] {
        let d = norm("retell", e).doc;
        assert_eq!(d["type"], "unknown", "{e}");
        assert_eq!(d["providerevent"], e);
    }
}

#[test]
fn a_call_that_never_connected_is_failed() {
    let p = crate::provider::find("retell").unwrap();
    for body in [
        r#"{"event":"call_ended","call":{"call_id":"c","call_status":"not_connected","disconnection_reason":"dial_no_answer","direction":"outbound","to_number":"+14155550100"}}"#,
        r#"{"event":"call_ended","call":{"call_id":"c","disconnection_reason":"dial_busy"}}"#,
    ] {
        let d = normalize_body(p, body.as_bytes(), false, true).doc;
        assert_eq!(d["type"], "call.failed", "{body}");
    }
    let d = normalize_body(
        p,
        br#"{"event":"call_ended","call":{"call_id":"c","direction":"outbound","to_number":"+14155550100","duration_ms":"n/a"}}"#,
        false,
        true,
    )
    .doc;
    assert_eq!(d["type"], "call.ended");
    assert_eq!(
        d["data"]["caller"]["phone"], "+14155550100",
        "outbound: the callee"
    );
    assert!(d["data"]["call"].get("duration_seconds").is_none());
}
