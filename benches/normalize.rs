//! Normalization (mapping + serialization with `raw` spliced in) of a
//! call-ended event per provider, grown to ~2 KiB and ~64 KiB with transcript
//! turns.

use std::time::{Duration, SystemTime};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hookgate::event::{EventContext, EventMeta};
use hookgate::provider::{self, Provider, RouteScheme, SchemeSetup};
use hookgate::reject::Reject;
use hookgate::secret::Secret;
use hookgate::verify::{self, Format, Headers, Request, Scheme, Signed};
use serde_json::{json, Value};

/// Accepts every request: the bench measures what follows verification
/// (for a form, its reading as JSON text too).
struct Accepting(Format);

impl Scheme for Accepting {
    fn precheck(&self, _: &Request<'_>, _: SystemTime) -> Result<(), Reject> {
        Ok(())
    }
    fn verify(&self, _: &Request<'_>, _: SystemTime) -> Result<Signed, Reject> {
        Ok(Signed::Body)
    }
    fn format(&self, _: &Request<'_>) -> Format {
        self.0
    }
}

/// A Twilio call-completed form of about `size` bytes: Twilio's forms carry
/// no transcript, so it grows by extra parameters (kept in `raw`).
fn twilio_form(size: usize) -> Vec<u8> {
    let mut form = b"AccountSid=AC3f2b6a1c9d8e7f60514a3b2c1d0e9f8a&ApiVersion=2010-04-01&CallDuration=146&CallSid=CA5b1f3e9a7c2d4e6f8a0b1c2d3e4f5a6b&CallStatus=completed&CallbackSource=call-progress-events&Direction=inbound&From=%2B14155550123&To=%2B14155550100&SequenceNumber=3&Timestamp=Sun%2C+17+May+2026+03%3A47%3A38+%2B0000&RecordingUrl=https%3A%2F%2Fapi.twilio.com%2F2010-04-01%2FAccounts%2FAC3f2b6a1c9d8e7f60514a3b2c1d0e9f8a%2FRecordings%2FRE9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f".to_vec();
    let mut i = 0;
    while form.len() < size {
        form.extend_from_slice(format!("&Extra{i}=I+would+like+to+book+a+check-up").as_bytes());
        i += 1;
    }
    form
}

/// The gateway's allocator, so the figures are the ones it gets.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A call-ended body of about `size` bytes.
fn body(kind: &str, size: usize) -> Vec<u8> {
    let turn = |i: usize| -> Value {
        match kind {
            "nixflex" => {
                json!({"role": if i.is_multiple_of(2) { "agent" } else { "caller" }, "text": "I would like to book a check-up next Tuesday afternoon if possible.", "timestamp_ms": i * 1500})
            }
            "allo" => {
                json!({"source": if i.is_multiple_of(2) { "AGENT" } else { "USER" }, "time": "00:10", "text": "I would like to book a check-up next Tuesday afternoon if possible."})
            }
            "voxagent" => {
                json!({"role": "Assistant", "content": "I would like to book a check-up next Tuesday afternoon if possible.", "kind": "Message", "created_at": "2026-08-24T14:15:24Z"})
            }
            "vapi" => {
                json!({"role": if i.is_multiple_of(2) { "bot" } else { "user" }, "message": "I would like to book a check-up next Tuesday afternoon if possible.", "time": 1779000313545u64 + i as u64 * 1500, "secondsFromStart": i as f64 * 1.5, "duration": 1400})
            }

            "retell" => {
                json!({"role": if i.is_multiple_of(2) { "agent" } else { "user" }, "content": "I would like to book a check-up next Tuesday afternoon if possible.", "words": [{"word": "I", "start": i as f64 * 1.5, "end": i as f64 * 1.5 + 0.2}]})
            }
            "elevenlabs" => {
                json!({"role": if i.is_multiple_of(2) { "agent" } else { "user" }, "message": "I would like to book a check-up next Tuesday afternoon if possible.", "time_in_call_secs": i * 2})
            }
            _ => json!("I would like to book a check-up next Tuesday afternoon if possible."),
        }
    };
    let mut turns = Vec::new();
    loop {
        let doc = match kind {
            "nixflex" => {
                json!({"event": "call.ended", "call_id": "CA1234567890", "agent_id": "agent_1", "direction": "inbound", "from_number": "+447386172392", "to_number": "+447446466847", "started_at": "2026-05-17T03:45:12Z", "ended_at": "2026-05-17T03:47:38Z", "duration_seconds": 146, "ended_reason": "agent_hangup", "call_summary": "Booked.", "caller_sentiment": "happy", "call_successful": true, "transcript": turns, "metadata": {"crm": "1"}})
            }
            "agntix" => {
                json!({"id": "4981804c-2658-4893-84ff-9c2fa90fb3c2", "eventType": "session.ended", "type": "VOICE", "platform": "PHONE", "direction": "OUTBOUND", "createdAt": "2026-04-08T05:00:01.130Z", "endedAt": "2026-04-08T05:00:10.546Z", "metadata": {"customerPhoneNumber": "+971501234567", "sessionVariables": {"crm": "1"}}, "analysis": {"summary": "Confirmed.", "sentiment": {"conversation": {"label": "POSITIVE"}}, "extractedData": {"notes": turns}}})
            }
            "inboundflow" => {
                json!({"event": "call.completed", "timestamp": "2026-02-24T21:00:00.000Z", "delivery_id": "d-1", "data": {"call_id": "c-1", "caller_phone": "+1234567890", "caller_name": "Dave", "duration_seconds": 55, "summary": turns, "started_at": "2026-02-24T20:59:00Z", "ended_at": "2026-02-24T21:00:00Z"}})
            }
            "allo" => {
                json!({"topic": "call.completed", "version": "2.0", "timestamp": "2026-02-25T08:02:00Z", "data": {"id": "call_1", "start_date": "2026-02-25T08:00:00Z", "from_number": "+33612345678", "to": "+33187654321", "length_in_minutes": 2.5, "type": "INBOUND", "transcriptions": turns}})
            }
            "voxagent" => {
                json!({"event": "ConversationComplete", "data": {"session_id": "1ffd059c", "agent_id": "a", "start_time": "2026-08-24T14:15:22Z", "duration_seconds": 93.4, "from_number": "+14155550199", "to_number": "+14155550100", "history": turns, "url_parameters": {"crm_id": "42"}}})
            }
            "vapi" => {
                json!({"message": {"type": "end-of-call-report", "timestamp": 1779000458910u64, "endedReason": "customer-ended-call", "call": {"id": "7c1e7f3a-52b4-4c3e-9f0d-2b8a61d5e4c9", "type": "inboundPhoneCall", "assistantId": "a3f1c2d4", "customer": {"number": "+14155550123"}}, "phoneNumber": {"number": "+14155550100"}, "customer": {"number": "+14155550123", "name": "Sarah Johnson"}, "analysis": {"summary": "Booked.", "successEvaluation": "true", "structuredData": {"caller_name": "Sarah Johnson"}}, "artifact": {"messages": turns, "recordingUrl": "https://storage.vapi.ai/x-mono.wav"}, "startedAt": "2026-05-17T06:45:12.345Z", "endedAt": "2026-05-17T06:47:38.512Z", "durationSeconds": 146.167, "cost": 0.1432}})
            }
            "twilio" => return twilio_form(size),
            "retell" => {
                json!({"event": "call_analyzed", "call": {"call_type": "phone_call", "call_id": "Jabr9TXYYJHfvl6Syypi88rdAHYHmcq6", "agent_id": "a", "direction": "inbound", "from_number": "+12137771234", "to_number": "+12137771235", "start_timestamp": 1779003912000u64, "end_timestamp": 1779004058400u64, "duration_ms": 146400, "disconnection_reason": "user_hangup", "transcript_object": turns, "call_analysis": {"call_summary": "Booked.", "user_sentiment": "Positive", "call_successful": true}, "metadata": {"crm": "1"}}})
            }
            "elevenlabs" => {
                json!({"type": "post_call_transcription", "event_timestamp": 1779004060, "data": {"agent_id": "a", "conversation_id": "conv_1", "status": "done", "transcript": turns, "metadata": {"start_time_unix_secs": 1779003912, "call_duration_secs": 146, "phone_call": {"direction": "inbound", "agent_number": "+15550123456", "external_number": "+447386172392"}}, "analysis": {"call_successful": "success", "transcript_summary": "Booked."}, "conversation_initiation_client_data": {"dynamic_variables": {"crm": "1"}}}})
            }
            // No transcript: the size grows in a field kept in `raw`.
            "telnyx" => {
                json!({"data": {"event_type": "call.hangup", "id": "0ccc7b54-4df3-4bca-a65a-3da1ecc777f0", "occurred_at": "2026-05-17T07:47:38Z", "payload": {"call_control_id": "v3:x", "direction": "incoming", "from": "+13129457420", "to": "+13129457421", "start_time": "2026-05-17T07:45:12Z", "end_time": "2026-05-17T07:47:38Z", "hangup_cause": "normal_clearing", "custom_headers": turns}, "record_type": "event"}, "meta": {"attempt": 1}})
            }
            "hmac" | "static" => {
                json!({"id": "evt_1", "type": "call.ended", "data": {"call_id": "c1", "notes": turns}})
            }
            other => panic!("no bench body for {other}"),
        };
        let bytes = serde_json::to_vec(&doc).unwrap();
        if bytes.len() >= size {
            return bytes;
        }
        turns.push(turn(turns.len()));
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("normalize");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    for size in [2 * 1024, 64 * 1024] {
        for p in provider::all() {
            let body = body(p.name(), size);
            // Parsing happens once in the gateway whatever the mode; it is
            // measured here with the mapping, as the request path pays it.
            group.throughput(Throughput::Bytes(body.len() as u64));
            let scheme = route_scheme(p);
            group.bench_with_input(BenchmarkId::new(p.name(), size), &body, |b, body| {
                b.iter(|| normalize(p, &*scheme, body))
            });
        }
    }
    group.finish();
}

/// Parse, map and serialize with `raw`, as the request path does.
fn normalize(p: &Provider, scheme: &dyn RouteScheme, body: &[u8]) -> Vec<u8> {
    let request = Request {
        headers: Headers::default(),
        path: b"/bench",
        query: None,
        body,
    };
    let now = SystemTime::now();
    let mut scratch = Vec::new();
    let format = match p.name() {
        "twilio" => Format::Form,
        _ => Format::Json,
    };
    let v = verify::verify(&Accepting(format), request, &mut scratch, now).unwrap();
    let payload = scheme.read(v.text()).unwrap();
    let ctx = EventContext::new(
        &v,
        EventMeta {
            provider: p.name(),
            route: "bench",
            delivery_id: "dlv-1",
            provider_delivery_id: None,
            received_at: now,
            include_raw: true,
            with_data: true,
        },
    );
    payload.normalize(true).to_structured(&ctx)
}

/// The provider's scheme, with a secret of the kind it takes (Twilio's
/// public URL; for the generic schemes, the keys that read the event type
/// and delivery id).
fn route_scheme(p: &Provider) -> Box<dyn RouteScheme> {
    let options: toml::Table = toml::from_str(match p.name() {
        "twilio" => "public_url = \"https://hooks.example.test/twilio\"",
        "hmac" => {
            "signature_header = \"X-Sig\"\ndelivery_id = \"json:/id\"\nevent_pointer = \"/type\""
        }
        "static" => {
            "token_header = \"X-Token\"\ndelivery_id = \"json:/id\"\nevent_pointer = \"/type\""
        }
        _ => "",
    })
    .unwrap();
    [
        "bench-secret",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "sG3MRU54tm5D0z5KKnMlwfIbhtI0iNhA8S7UseD2W5I=",
    ]
    .iter()
    .find_map(|s| {
        p.scheme(SchemeSetup {
            secrets: &[Secret::new(*s)],
            tolerance: None,
            options: &options,
        })
        .ok()
    })
    .expect("a secret the scheme takes")
}

criterion_group!(benches, bench);
criterion_main!(benches);
