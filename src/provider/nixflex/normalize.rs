//! Nixflex: a flat body; `event` names the event.

use crate::normalize::{
    any, boolean, lower, number, sentiment, string, text, time_value, turns, unknown, utc_time,
    Event, EventContext, Obj,
};

pub(super) fn normalize<'a>(ctx: &EventContext<'a>) -> Event<'a> {
    let b = ctx.json();
    let name = string(b, &["event"]);
    let event_type = match name.as_deref() {
        Some("call.ended") => "call.ended",
        Some("call.failed") => "call.failed",
        Some("sms.received") => "sms.received",
        Some("sms.delivered") => "sms.delivered",
        _ => return unknown(name),
    };
    let mut event = Event {
        event_type,
        provider_event: name,
        metadata: any(b, &["metadata"]),
        ..Event::default()
    };
    if event_type.starts_with("call.") {
        let mut call = Obj::default();
        call.put("id", text(b, &["call_id"]))
            .put("direction", lower(b, &["direction"]))
            .put("from", text(b, &["from_number"]))
            .put("to", text(b, &["to_number"]))
            .put("agent_id", text(b, &["agent_id"]))
            .put("started_at", time_value(b, &["started_at"]))
            .put("ended_at", time_value(b, &["ended_at"]))
            .put("duration_seconds", number(b, &["duration_seconds"]))
            .put(
                "end_reason",
                text(b, &["ended_reason", "end_reason", "failure_reason"]),
            )
            .put("successful", boolean(b, &["call_successful"]))
            .put("summary", text(b, &["call_summary"]))
            .put(
                "sentiment",
                string(b, &["caller_sentiment"]).map(|s| sentiment(&s).into()),
            )
            .put("recording_url", text(b, &["recording_url"]))
            .put("extracted", any(b, &["extracted_data"]));
        event.call = call.done();
        if ctx.with_data() {
            event.transcript = turns(b.get("transcript"), &["role"], &["text", "content"], |t| {
                number(t, &["timestamp_ms", "offset_ms"]).map(|v| ("offset_ms", v))
            });
        }
        event.subject = string(b, &["call_id"]);
        event.time = utc_time(b, &["ended_at", "started_at", "timestamp"]);

        let inbound = string(b, &["direction"]).is_none_or(|d| d.eq_ignore_ascii_case("inbound"));
        let phone = if inbound { "from_number" } else { "to_number" };
        let mut caller = Obj::default();
        caller
            .put(
                "name",
                b.get("extracted_data")
                    .and_then(|e| text(e, &["caller_name"])),
            )
            .put("phone", text(b, &[phone]));
        event.caller = caller.done();
    } else {
        let mut sms = Obj::default();
        sms.put("id", text(b, &["message_id", "sms_id", "id"]))
            .put("direction", lower(b, &["direction"]))
            .put("from", text(b, &["from_number", "from"]))
            .put("to", text(b, &["to_number", "to"]))
            .put("text", text(b, &["text", "body", "message", "content"]))
            .put("status", lower(b, &["status"]))
            .put("sent_at", time_value(b, &["sent_at"]))
            .put("delivered_at", time_value(b, &["delivered_at"]))
            .put("received_at", time_value(b, &["received_at"]))
            .put("agent_id", text(b, &["agent_id"]))
            .put("call_id", text(b, &["call_id"]));
        event.sms = sms.done();
        event.subject = string(b, &["message_id", "sms_id", "id"]);
        event.time = utc_time(
            b,
            &[
                "delivered_at",
                "received_at",
                "sent_at",
                "timestamp",
                "created_at",
            ],
        );
        let phone = if event_type == "sms.received" {
            "from_number"
        } else {
            "to_number"
        };
        let mut caller = Obj::default();
        caller.put("phone", text(b, &[phone]));
        event.caller = caller.done();
    }
    event
}
