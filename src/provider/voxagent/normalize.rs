//! Voxagent's payload: an envelope `{event, data}`; `history` turns come in
//! two shapes (`role`/`content`/`created_at`, or `type`/`text`/`timestamp`).

use crate::event::{role, Call, Caller, Event, Turn};
use crate::normalize::{first_text, first_time, pair_key, transcript, view, Field, Obj, Raw};
use crate::provider::{Identity, Payload};
use crate::verify::Request;

view! {
    pub(super) struct Body<'a> {
        event: Field<'a>,
        data: Obj<Data<'a>>,
    }

    struct Data<'a> {
        session_id: Field<'a>,
        agent_id: Field<'a>,
        agent_name: Field<'a>,
        from_number: Field<'a>,
        to_number: Field<'a>,
        start_time: Field<'a>,
        created_at: Field<'a>,
        duration_seconds: Field<'a>,
        audio_url: Field<'a>,
        history: Raw<'a>,
        url_parameters: Raw<'a>,
    }

    struct HistoryTurn<'a> {
        role: Field<'a>,
        #[serde(rename = "type")]
        kind: Field<'a>,
        content: Field<'a>,
        text: Field<'a>,
        created_at: Field<'a>,
        timestamp: Field<'a>,
    }
}

impl<'a> Payload<'a> for Body<'a> {
    fn identity(&self, _: &Request<'_>) -> Identity<'a> {
        Identity {
            key: pair_key(self.event.scalar(), self.data.0.session_id.scalar()),
            ..Identity::default()
        }
    }

    fn normalize(&self, with_data: bool) -> Event<'a> {
        let name = self.event.text();
        let event_type = match name.as_deref() {
            Some("SessionStarted") => "call.started",
            Some("ConversationComplete") => "call.ended",
            _ => return Event::unknown(name),
        };
        let d = &self.data.0;
        Event {
            event_type,
            provider_event: name,
            subject: d.session_id.text(),
            // ConversationComplete carries no end time: the receipt time
            // stands in.
            time: if event_type == "call.started" {
                first_time(&[&d.start_time, &d.created_at])
            } else {
                None
            },
            call: Call {
                id: d.session_id.text(),
                from: d.from_number.text(),
                to: d.to_number.text(),
                agent_id: d.agent_id.text(),
                agent_name: d.agent_name.text(),
                started_at: first_time(&[&d.start_time, &d.created_at]),
                duration_seconds: d.duration_seconds.duration(),
                recording_url: d.audio_url.text(),
                transcript: transcript(&d.history, with_data, turn),
                ..Call::default()
            },
            caller: Caller {
                phone: d.from_number.text(),
                ..Caller::default()
            },
            metadata: d.url_parameters.value(),
            ..Event::default()
        }
    }
}

/// A `history` turn, in either of its shapes.
fn turn(t: HistoryTurn<'_>) -> Turn<'_> {
    Turn {
        role: t.role.as_str().or(t.kind.as_str()).map(role),
        text: first_text(&[&t.content, &t.text]),
        at: first_time(&[&t.created_at, &t.timestamp]).map(Into::into),
        offset_ms: None,
    }
}
