//! Agntix: a flat session body; `eventType` with the session `type` (VOICE
//! or CHAT) gives the event. Chat sessions use the `call` object too, with
//! `channel` saying where they happened.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::normalize::{
    any, json_number, lower, sentiment, string, text, time_value, unknown, utc_time, Event,
    EventContext, Obj,
};

pub(super) fn normalize<'a>(ctx: &EventContext<'a>) -> Event<'a> {
    let b = ctx.json();
    let name = string(b, &["eventType", "event_type"]);
    let kind = string(b, &["type"]).map(|t| t.to_ascii_uppercase());
    let event_type = match (name.as_deref(), kind.as_deref()) {
        (Some("session.created"), Some("VOICE")) => "call.started",
        (Some("session.ended"), Some("VOICE")) => "call.ended",
        (Some("session.created"), Some("CHAT")) => "chat.started",
        (Some("session.ended"), Some("CHAT")) => "chat.ended",
        _ => return unknown(name),
    };
    let meta = b.get("metadata").unwrap_or(&Value::Null);
    let analysis = b.get("analysis").unwrap_or(&Value::Null);
    let direction = string(b, &["direction"]).map(|d| d.to_ascii_lowercase());
    let customer = text(meta, &["customerPhoneNumber", "customer_phone_number"]);
    let (from, to) = match direction.as_deref() {
        Some("inbound") => (customer.clone(), None),
        Some("outbound") => (None, customer.clone()),
        _ => (None, None),
    };
    let ended = event_type.ends_with(".ended");

    let mut call = Obj::default();
    call.put("id", text(b, &["id"]))
        .put("direction", direction.clone().map(Value::String))
        .put("channel", lower(b, &["platform"]))
        .put("from", from)
        .put("to", to)
        .put("agent_id", text(b, &["agentId", "agent_id"]))
        .put("started_at", time_value(b, &["createdAt", "created_at"]))
        .put(
            "ended_at",
            if ended {
                time_value(b, &["endedAt", "ended_at"])
            } else {
                None
            },
        )
        .put("duration_seconds", if ended { duration(b) } else { None })
        .put("summary", text(analysis, &["summary"]))
        .put(
            "sentiment",
            analysis
                .pointer("/sentiment/conversation/label")
                .and_then(Value::as_str)
                .map(|l| sentiment(l).into()),
        )
        .put(
            "extracted",
            any(analysis, &["extractedData", "extracted_data"]),
        );

    let mut caller = Obj::default();
    caller.put("phone", customer);

    Event {
        event_type,
        provider_event: name,
        subject: string(b, &["id"]),
        time: if ended {
            utc_time(b, &["endedAt", "ended_at", "lastActivityAt"])
        } else {
            utc_time(b, &["createdAt", "created_at"])
        },
        call: call.done(),
        caller: caller.done(),
        metadata: any(meta, &["sessionVariables", "session_variables"]),
        ..Event::default()
    }
}

/// `endedAt - createdAt`, both sent by Agntix; absent if either is.
fn duration(b: &Value) -> Option<Value> {
    let at = |k: &str| OffsetDateTime::parse(b.get(k)?.as_str()?, &Rfc3339).ok();
    let secs = (at("endedAt")? - at("createdAt")?).as_seconds_f64();
    (secs >= 0.0)
        .then(|| json_number((secs * 1000.0).round() / 1000.0))
        .flatten()
}
