//! Nixflex's payload: a flat body; `event` names the event.

use crate::event::{other_party, role, sentiment, Call, Caller, Event, Sms, Turn};
use crate::normalize::{
    first_text, first_time, pair_key, transcript, unsigned_header_id, view, Field, Obj, Raw,
};
use crate::provider::{Identity, Payload};
use crate::verify::Request;

view! {
    /// The fields hookgate maps; the rest stays in `raw`.
    pub(super) struct Body<'a> {
        event: Field<'a>,
        call_id: Field<'a>,
        agent_id: Field<'a>,
        direction: Field<'a>,
        from_number: Field<'a>,
        to_number: Field<'a>,
        started_at: Field<'a>,
        ended_at: Field<'a>,
        timestamp: Field<'a>,
        duration_seconds: Field<'a>,
        ended_reason: Field<'a>,
        end_reason: Field<'a>,
        failure_reason: Field<'a>,
        call_successful: Field<'a>,
        call_summary: Field<'a>,
        caller_sentiment: Field<'a>,
        recording_url: Field<'a>,
        extracted_data: Raw<'a>,
        metadata: Raw<'a>,
        transcript: Raw<'a>,
        // SMS events (their fields are not documented: what is present maps).
        message_id: Field<'a>,
        sms_id: Field<'a>,
        id: Field<'a>,
        from: Field<'a>,
        to: Field<'a>,
        text: Field<'a>,
        body: Field<'a>,
        message: Field<'a>,
        content: Field<'a>,
        status: Field<'a>,
        sent_at: Field<'a>,
        delivered_at: Field<'a>,
        received_at: Field<'a>,
        created_at: Field<'a>,
    }

    struct Extracted<'a> {
        caller_name: Field<'a>,
    }

    struct NixflexTurn<'a> {
        role: Field<'a>,
        text: Field<'a>,
        content: Field<'a>,
        timestamp_ms: Field<'a>,
        offset_ms: Field<'a>,
    }
}

impl<'a> Payload<'a> for Body<'a> {
    fn identity(&self, request: &Request<'_>) -> Identity<'a> {
        let key = pair_key(self.event.scalar(), self.call_id.scalar());
        // Unsigned (and underscored, which many proxies drop): reported only.
        let unsigned_id = unsigned_header_id(request, "webhook_delivery_id")
            .or_else(|| unsigned_header_id(request, "webhook-delivery-id"));
        Identity {
            key,
            unsigned_id,
            exempt: false,
        }
    }

    fn normalize(&self, with_data: bool) -> Event<'a> {
        let name = self.event.text();
        let event_type = match name.as_deref() {
            Some("call.ended") => "call.ended",
            Some("call.failed") => "call.failed",
            Some("sms.received") => "sms.received",
            Some("sms.delivered") => "sms.delivered",
            _ => return Event::unknown(name),
        };
        let mut event = Event {
            event_type,
            provider_event: name,
            metadata: self.metadata.value(),
            ..Event::default()
        };
        if event_type.starts_with("call.") {
            self.call(&mut event, with_data);
        } else {
            self.sms(&mut event);
        }
        event
    }
}

impl<'a> Body<'a> {
    fn call(&self, event: &mut Event<'a>, with_data: bool) {
        event.call = Call {
            id: self.call_id.text(),
            direction: self.direction.lower(),
            from: self.from_number.text(),
            to: self.to_number.text(),
            agent_id: self.agent_id.text(),
            started_at: self.started_at.time(),
            ended_at: self.ended_at.time(),
            duration_seconds: self.duration_seconds.duration(),
            end_reason: first_text(&[&self.ended_reason, &self.end_reason, &self.failure_reason]),
            successful: self.call_successful.boolean(),
            summary: self.call_summary.text(),
            sentiment: self.caller_sentiment.as_str().map(sentiment),
            recording_url: self.recording_url.text(),
            extracted: self.extracted_data.value(),
            transcript: transcript(&self.transcript, with_data, turn),
            ..Call::default()
        };
        event.subject = self.call_id.text();
        event.time = first_time(&[&self.ended_at, &self.started_at, &self.timestamp]);
        let inbound = self
            .direction
            .as_str()
            .is_none_or(|d| d.eq_ignore_ascii_case("inbound"));
        let Obj(extracted) = self.extracted_data.read::<Obj<Extracted<'a>>>();
        event.caller = Caller {
            name: extracted.caller_name.text(),
            phone: other_party(!inbound, &self.from_number, &self.to_number).text(),
            ..Caller::default()
        };
    }

    fn sms(&self, event: &mut Event<'a>) {
        let id = first_text(&[&self.message_id, &self.sms_id, &self.id]);
        event.sms = Sms {
            id: id.clone(),
            direction: self.direction.lower(),
            from: first_text(&[&self.from_number, &self.from]),
            to: first_text(&[&self.to_number, &self.to]),
            text: first_text(&[&self.text, &self.body, &self.message, &self.content]),
            status: self.status.lower(),
            sent_at: self.sent_at.time(),
            delivered_at: self.delivered_at.time(),
            received_at: self.received_at.time(),
            agent_id: self.agent_id.text(),
            call_id: self.call_id.text(),
            ..Sms::default()
        };
        event.subject = id;
        event.time = first_time(&[
            &self.delivered_at,
            &self.received_at,
            &self.sent_at,
            &self.timestamp,
            &self.created_at,
        ]);
        let outbound = event.event_type != "sms.received";
        event.caller = Caller {
            phone: other_party(outbound, &self.from_number, &self.to_number).text(),
            ..Caller::default()
        };
    }
}

/// A turn, mapped: the role to hookgate's, the time as `offset_ms`.
fn turn(t: NixflexTurn<'_>) -> Turn<'_> {
    Turn {
        role: t.role.as_str().map(role),
        text: first_text(&[&t.text, &t.content]),
        offset_ms: t.timestamp_ms.number().or_else(|| t.offset_ms.number()),
        at: None,
    }
}
