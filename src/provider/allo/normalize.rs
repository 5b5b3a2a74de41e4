//! Allo: an envelope `{topic, data}` in two generations (v1 upper-case
//! topics, v2 lower-case with `version` and `timestamp`); call fields come in
//! snake_case or camelCase.

use serde_json::Value;

use crate::normalize::{
    any, json_number, lower, number, string, text, time_value, turns, unknown, utc_time, Event,
    EventContext, Obj,
};

pub(super) fn normalize<'a>(ctx: &EventContext<'a>) -> Event<'a> {
    let b = ctx.json();
    let name = string(b, &["topic", "event"]);
    let event_type = match name.as_deref() {
        Some("CALL_RECEIVED" | "call.completed") => "call.ended",
        Some("call.received" | "call.triggered") => "call.started",
        Some("SMS_RECEIVED" | "sms.received") => "sms.received",
        Some("SMS_SENT" | "sms.sent") => "sms.sent",
        Some("CONTACT_CREATED" | "contact.created") => "contact.created",
        Some("CONTACT_UPDATED" | "contact.updated") => "contact.updated",
        Some("PING" | "ping") => "ping",
        // tag.added, tag.removed and anything newer: kept whole in `raw`.
        _ => return unknown(name),
    };
    let d = b.get("data").unwrap_or(&Value::Null);
    let envelope_time = utc_time(b, &["timestamp"]);
    let mut event = Event {
        event_type,
        provider_event: name,
        subject: string(d, &["id"]),
        ..Event::default()
    };
    match event_type {
        "call.ended" | "call.started" => {
            let direction = lower(d, &["type", "direction"]);
            let outbound = direction.as_ref().and_then(Value::as_str) == Some("outbound");
            let mut call = Obj::default();
            call.put("id", text(d, &["id"]))
                .put("direction", direction)
                .put("from", text(d, &["from_number", "fromNumber"]))
                .put("to", text(d, &["to", "to_number", "toNumber"]))
                .put("agent_email", text(d, &["user_email", "userEmail"]))
                .put("started_at", time_value(d, &["start_date", "startDate"]))
                .put("duration_seconds", duration(d))
                .put(
                    "summary",
                    text(
                        d,
                        &["summary", "one_sentence_summary", "oneSentenceSummary"],
                    ),
                )
                .put("recording_url", text(d, &["recording_url", "recordingUrl"]))
                .put("extracted", any(d, &["data_collected", "dataCollected"]))
                .put("transfer", transfer(d));
            event.call = call.done();
            if ctx.with_data() {
                let list = d.get("transcriptions").or_else(|| d.get("transcript"));
                event.transcript = turns(list, &["source", "role"], &["text"], |t| {
                    text(t, &["time"]).map(|v| ("at", v))
                });
            }
            let (name_key, phone_key): (&[&str], &[&str]) = if outbound {
                (&["to_name", "toName"], &["to", "to_number", "toNumber"])
            } else {
                (&["from_name", "fromName"], &["from_number", "fromNumber"])
            };
            let mut caller = Obj::default();
            caller
                .put("name", text(d, name_key))
                .put("phone", text(d, phone_key));
            event.caller = caller.done();
            event.time = envelope_time.or_else(|| utc_time(d, &["start_date", "startDate"]));
        }
        "sms.received" | "sms.sent" => {
            let mut sms = Obj::default();
            sms.put("id", text(d, &["id"]))
                .put("direction", lower(d, &["direction"]))
                .put("kind", lower(d, &["type"]))
                .put("from", text(d, &["from_number", "fromNumber"]))
                .put("to", text(d, &["to_number", "toNumber"]))
                .put("text", text(d, &["content", "text"]))
                .put("sent_at", time_value(d, &["sent_at", "sentAt"]));
            event.sms = sms.done();
            let (name_key, phone_key): (&[&str], &[&str]) = if event_type == "sms.received" {
                (&["from_name", "fromName"], &["from_number", "fromNumber"])
            } else {
                (&["to_name", "toName"], &["to_number", "toNumber"])
            };
            let mut caller = Obj::default();
            caller
                .put("name", text(d, name_key))
                .put("phone", text(d, phone_key));
            event.caller = caller.done();
            event.time = envelope_time.or_else(|| utc_time(d, &["sent_at", "sentAt"]));
        }
        "contact.created" | "contact.updated" => {
            let mut contact = Obj::default();
            contact
                .put("id", text(d, &["id"]))
                .put("name", text(d, &["name", "first_name", "firstName"]))
                .put("last_name", text(d, &["last_name", "lastName"]))
                .put("company", text(d, &["company"]))
                .put("emails", any(d, &["emails"]))
                .put("numbers", any(d, &["numbers"]));
            event.contact = contact.done();
            event.time = envelope_time;
        }
        _ => event.time = envelope_time,
    }
    event
}

/// `length_in_minutes` × 60, or the `length` text ("5m 30s").
fn duration(d: &Value) -> Option<Value> {
    if let Some(minutes) =
        number(d, &["length_in_minutes", "lengthInMinutes"]).and_then(|v| v.as_f64())
    {
        return json_number((minutes * 60.0 * 1000.0).round() / 1000.0);
    }
    let text = string(d, &["length"])?;
    let mut total = 0.0;
    let mut seen = false;
    for part in text.split_whitespace() {
        let (n, unit) = part.split_at(part.find(|c: char| !c.is_ascii_digit() && c != '.')?);
        let n: f64 = n.parse().ok()?;
        total += match unit {
            "h" => n * 3600.0,
            "m" => n * 60.0,
            "s" => n,
            _ => return None,
        };
        seen = true;
    }
    seen.then(|| json_number(total)).flatten()
}

fn transfer(d: &Value) -> Option<Value> {
    let t = d.get("transfer_to").or_else(|| d.get("transferTo"))?;
    let mut transfer = Obj::default();
    transfer.put("to", text(t, &["number"])).put(
        "label",
        text(t, &["user_name", "userName", "user_email", "userEmail"]),
    );
    transfer.done().map(Value::Object)
}
