//! InboundFlow: an envelope `{event, timestamp, delivery_id, data}`.

use serde_json::Value;

use crate::normalize::{number, string, text, time_value, unknown, utc_time, Event, EventContext, Obj};

pub(super) fn normalize<'a>(ctx: &EventContext<'a>) -> Event<'a> {
    let b = ctx.json();
    // Only the signed body names the event: the `X-InboundFlow-Event`
    // header is not signed.
    let name = string(b, &["event"]);
    let event_type = match name.as_deref() {
        Some("call.completed") => "call.ended",
        Some("call.transferred") => "call.transferred",
        Some("appointment.booked") => "appointment.booked",
        Some("lead.created") => "lead.created",
        _ => return unknown(name),
    };
    let d = b.get("data").unwrap_or(&Value::Null);
    let mut event = Event {
        event_type,
        provider_event: name,
        subject: string(d, &["call_id"]),
        ..Event::default()
    };

    let mut caller = Obj::default();
    caller
        .put("name", text(d, &["caller_name"]))
        .put("phone", text(d, &["caller_phone"]))
        .put("email", text(d, &["caller_email"]));
    event.caller = caller.done();

    match event_type {
        "call.ended" | "call.transferred" => {
            let mut call = Obj::default();
            call.put("id", text(d, &["call_id"]))
                .put("from", text(d, &["caller_phone"]))
                .put("started_at", time_value(d, &["started_at"]))
                .put("ended_at", time_value(d, &["ended_at"]))
                .put("duration_seconds", number(d, &["duration_seconds"]))
                .put("summary", text(d, &["summary", "call_summary"]))
                .put("recording_url", text(d, &["recording_url"]));
            if event_type == "call.transferred" {
                let mut transfer = Obj::default();
                transfer
                    .put("to", text(d, &["transferred_to_number"]))
                    .put("label", text(d, &["transferred_to_label"]))
                    .put("reason", text(d, &["reason"]));
                call.put("transfer", transfer.done().map(Value::Object));
            }
            event.call = call.done();
            event.time = utc_time(d, &["ended_at"]).or_else(|| utc_time(b, &["timestamp"]));
        }
        "appointment.booked" => {
            let mut appointment = Obj::default();
            appointment
                .put("date", text(d, &["appointment_date"]))
                .put("time_start", text(d, &["appointment_time_start"]))
                .put("time_end", text(d, &["appointment_time_end"]))
                .put("service", text(d, &["service_type"]))
                .put("calendar_event_id", text(d, &["calendar_event_id"]))
                .put("calendar_event_link", text(d, &["calendar_event_link"]))
                .put("call_id", text(d, &["call_id"]));
            event.appointment = appointment.done();
            event.time = utc_time(b, &["timestamp"]);
        }
        _ => {
            let mut lead = Obj::default();
            lead.put("intent", text(d, &["intent"]))
                .put("urgency", text(d, &["urgency"]))
                .put("interest", text(d, &["interest"]))
                .put("summary", text(d, &["call_summary", "summary"]))
                .put("call_id", text(d, &["call_id"]));
            event.lead = lead.done();
            event.time = utc_time(b, &["timestamp"]);
        }
    }
    event
}
