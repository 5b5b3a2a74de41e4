//! Every fixture normalized, checked field by field, and validated against
//! the published schema.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use serde_json::{json, Value};

use super::{header_value, normalize, EventContext, HeaderMap, ProviderKind, TYPES};

const SCHEMA: &str = include_str!("../../schema/event.schema.json");

fn received_at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_779_000_000)
}

fn fixture(provider: &str, event: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/{provider}/{event}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Normalized {
    doc: Value,
    headers: Vec<(String, String)>,
}

fn run(kind: ProviderKind, body: &[u8], include_raw: bool) -> Normalized {
    let json: Value = serde_json::from_slice(body).unwrap();
    run_on(kind, body, &json, include_raw, true)
}

fn run_on(
    kind: ProviderKind,
    body: &[u8],
    json: &Value,
    include_raw: bool,
    with_data: bool,
) -> Normalized {
    let headers = HeaderMap::new();
    let ctx = EventContext {
        provider: kind,
        route: "route-1",
        headers: &headers,
        body,
        json,
        delivery_id: "dlv-1",
        received_at: received_at(),
        include_raw,
        with_data,
    };
    let event = normalize(&ctx);
    let bytes = event.to_structured(&ctx);
    let doc: Value = serde_json::from_slice(&bytes).expect("structured output is JSON");
    let headers = event
        .binary_headers(&ctx)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    Normalized { doc, headers }
}

fn norm(provider: &str, event: &str) -> Normalized {
    run(
        ProviderKind::parse(provider).unwrap(),
        &fixture(provider, event),
        true,
    )
}

fn all_fixtures() -> Vec<(String, String)> {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for provider in ["nixflex", "agntix", "inboundflow", "allo", "voxagent"] {
        for entry in std::fs::read_dir(format!("{dir}/{provider}")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            out.push((
                provider.to_owned(),
                name.trim_end_matches(".json").to_owned(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn every_fixture_validates_against_the_schema_and_keeps_raw_intact() {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let fixtures = all_fixtures();
    assert!(fixtures.len() >= 29, "{}", fixtures.len());
    for (provider, event) in fixtures {
        let n = norm(&provider, &event);
        let errors: Vec<String> = validator
            .iter_errors(&n.doc)
            .map(|e| format!("{e} at {}", e.instance_path))
            .collect();
        assert!(
            errors.is_empty(),
            "{provider}/{event}: {errors:?}\n{}",
            n.doc
        );
        let raw: Value = serde_json::from_slice(&fixture(&provider, &event)).unwrap();
        assert_eq!(n.doc["data"]["raw"], raw, "{provider}/{event}");
        assert_eq!(n.doc["id"], "dlv-1");
        assert_eq!(n.doc["source"], "/route-1");
        assert_eq!(n.doc["provider"], provider);
        assert_eq!(
            n.doc["providerevent"],
            event.trim_end_matches(".chat"),
            "{provider}/{event}"
        );
        // Binary mode carries the same attributes.
        let h = |k: &str| {
            n.headers
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(h("ce-type").as_deref(), n.doc["type"].as_str());
        assert_eq!(h("ce-id").as_deref(), Some("dlv-1"));
        assert_eq!(h("ce-time").as_deref(), n.doc["time"].as_str());
        assert_eq!(h("ce-subject").as_deref(), n.doc["subject"].as_str());
    }
}

#[test]
fn raw_is_the_provider_bytes_verbatim_and_can_be_turned_off() {
    let body = fixture("nixflex", "call.ended");
    let kind = ProviderKind::Nixflex;
    let json: Value = serde_json::from_slice(&body).unwrap();
    let headers = HeaderMap::new();
    let ctx = EventContext {
        provider: kind,
        route: "r",
        headers: &headers,
        body: &body,
        json: &json,
        delivery_id: "d",
        received_at: received_at(),
        include_raw: true,
        with_data: true,
    };
    let out = normalize(&ctx).to_structured(&ctx);
    let text = String::from_utf8(out).unwrap();
    let spliced = format!(
        "\"raw\":{}}}}}",
        String::from_utf8(body.trim_ascii().to_vec()).unwrap()
    );
    assert!(text.ends_with(&spliced), "raw must be the body's bytes");

    let off = run(kind, &body, false);
    assert!(off.doc["data"].get("raw").is_none());
    assert!(off.doc["data"].get("call").is_some());
}

#[test]
fn nixflex_call_ended() {
    let n = norm("nixflex", "call.ended");
    let d = &n.doc;
    assert_eq!(d["type"], "call.ended");
    assert_eq!(d["subject"], "CA1234567890");
    assert_eq!(d["time"], "2026-05-17T03:47:38Z");
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

#[test]
fn unknown_events_are_forwarded_as_unknown_never_dropped() {
    for (kind, body) in [
        (
            ProviderKind::Nixflex,
            r#"{"event":"call.analyzed","call_id":"x"}"#,
        ),
        (
            ProviderKind::Agntix,
            r#"{"eventType":"session.updated","type":"VOICE"}"#,
        ),
        (
            ProviderKind::Agntix,
            r#"{"eventType":"session.ended","type":"VIDEO"}"#,
        ),
        (
            ProviderKind::InboundFlow,
            r#"{"event":"voicemail.left","data":{}}"#,
        ),
        (ProviderKind::Allo, r#"{"topic":"VOICEMAIL","data":{}}"#),
        (
            ProviderKind::Voxagent,
            r#"{"event":"AgentHandoff","data":{"session_id":"s"}}"#,
        ),
    ] {
        let n = run(kind, body.as_bytes(), true);
        assert_eq!(n.doc["type"], "unknown", "{body}");
        assert!(n.doc["providerevent"].is_string(), "{body}");
        assert_eq!(
            n.doc["data"]["raw"],
            serde_json::from_str::<Value>(body).unwrap()
        );
    }
}

#[test]
fn wrong_types_are_left_out_not_invented() {
    let body = br#"{"event":"call.ended","call_id":12,"duration_seconds":"n/a","direction":7,"transcript":"no","started_at":"yesterday","metadata":null}"#;
    let d = run(ProviderKind::Nixflex, body, false).doc;
    assert_eq!(d["type"], "call.ended");
    assert_eq!(d["subject"], "12");
    let c = &d["data"]["call"];
    assert!(c.get("duration_seconds").is_none());
    assert!(c.get("transcript").is_none());
    assert!(c.get("started_at").is_none());
    assert!(d["data"].get("metadata").is_none());
}

/// `forward = "original"` parses the body without its arrays and builds no
/// `data`: the `ce-*` attributes must come out exactly as from a full parse.
fn original_mode_attributes_match(kind: ProviderKind, body: &[u8]) -> Result<(), String> {
    let full = run(kind, body, false).headers;
    let skeleton = crate::gate::skeleton::parse(body).unwrap();
    let original = run_on(kind, body, &skeleton, false, false).headers;
    if full == original {
        Ok(())
    } else {
        Err(format!("{kind:?}: {full:?} != {original:?}"))
    }
}

#[test]
fn original_mode_attributes_do_not_need_arrays() {
    for (provider, event) in all_fixtures() {
        let kind = ProviderKind::parse(&provider).unwrap();
        original_mode_attributes_match(kind, &fixture(&provider, &event)).unwrap();
    }
}

#[test]
fn header_values_are_percent_encoded() {
    assert_eq!(header_value("a b").to_str().unwrap(), "a b");
    assert_eq!(header_value("é\r\n%").to_str().unwrap(), "%C3%A9%0D%0A%25");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(
        kind in prop::sample::select(ProviderKind::ALL.to_vec()),
        value in arbitrary_json(),
    ) {
        let body = serde_json::to_vec(&value).unwrap();
        let n = run(kind, &body, true);
        prop_assert!(TYPES.contains(&n.doc["type"].as_str().unwrap()));
        prop_assert_eq!(original_mode_attributes_match(kind, &body), Ok(()));
    }

    #[test]
    fn known_event_names_with_garbage_fields_never_panic(
        kind in prop::sample::select(ProviderKind::ALL.to_vec()),
        event in prop::sample::select(vec!["call.ended", "session.ended", "call.completed", "CALL_RECEIVED", "ConversationComplete", "sms.received", "contact.created"]),
        data in arbitrary_json(),
    ) {
        let body = serde_json::to_vec(&json!({
            "event": event, "eventType": event, "topic": event, "type": "VOICE",
            "data": data.clone(), "transcript": data.clone(), "metadata": data,
        })).unwrap();
        run(kind, &body, true);
        prop_assert_eq!(original_mode_attributes_match(kind, &body), Ok(()));
    }
}

pub(crate) fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "event",
                        "call_id",
                        "data",
                        "id",
                        "transcript",
                        "history",
                        "role",
                        "text",
                        "started_at",
                        "duration_seconds",
                        "length",
                        "length_in_minutes",
                        "metadata",
                        "direction",
                        "type",
                        "from_number",
                        "transcriptions",
                        "transfer_to",
                        "analysis",
                    ])
                    .prop_map(str::to_owned),
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}
