//! Voxagent: an envelope `{event, data}`; `history` turns come in two shapes
//! (`role`/`content`/`created_at`, or `type`/`text`/`timestamp`).

use serde_json::Value;

use crate::normalize::{
    any, number, string, text, time_value, turns, unknown, utc_time, Event, EventContext, Obj,
};

pub(super) fn normalize<'a>(ctx: &EventContext<'a>) -> Event<'a> {
    let b = ctx.json();
    let name = string(b, &["event"]);
    let event_type = match name.as_deref() {
        Some("SessionStarted") => "call.started",
        Some("ConversationComplete") => "call.ended",
        _ => return unknown(name),
    };
    let d = b.get("data").unwrap_or(&Value::Null);
    let mut call = Obj::default();
    call.put("id", text(d, &["session_id"]))
        .put("from", text(d, &["from_number"]))
        .put("to", text(d, &["to_number"]))
        .put("agent_id", text(d, &["agent_id"]))
        .put("agent_name", text(d, &["agent_name"]))
        .put("started_at", time_value(d, &["start_time", "created_at"]))
        .put("duration_seconds", number(d, &["duration_seconds"]))
        .put("recording_url", text(d, &["audio_url"]));
    let mut caller = Obj::default();
    caller.put("phone", text(d, &["from_number"]));
    Event {
        event_type,
        provider_event: name,
        subject: string(d, &["session_id"]),
        // ConversationComplete carries no end time: the receipt time stands in.
        time: if event_type == "call.started" {
            utc_time(d, &["start_time", "created_at"])
        } else {
            None
        },
        call: call.done(),
        transcript: ctx
            .with_data()
            .then(|| {
                turns(
                    d.get("history"),
                    &["role", "type"],
                    &["content", "text"],
                    |t| time_value(t, &["created_at", "timestamp"]).map(|v| ("at", v)),
                )
            })
            .flatten(),
        caller: caller.done(),
        metadata: any(d, &["url_parameters"]),
        ..Event::default()
    }
}
