//! Telnyx's payload: `{data: {event_type, id, occurred_at, payload}, meta}`;
//! directions `incoming`/`outgoing`, times RFC 3339, message parties as
//! objects.

use crate::event::{other_party, Call, Caller, Event, Sms, Text};
use crate::normalize::{call_span, view, Field, List, Obj, Raw};
use crate::provider::{Identity, Payload};
use crate::verify::Request;

view! {
    /// The fields hookgate maps; the rest stays in `raw`.
    pub(super) struct Body<'a> {
        data: Obj<Data<'a>>,
    }

    struct Data<'a> {
        id: Field<'a>,
        event_type: Field<'a>,
        occurred_at: Field<'a>,
        payload: Obj<Detail<'a>>,
    }

    /// The fields of call and message events, side by side (each event has
    /// its own).
    struct Detail<'a> {
        // Calls.
        call_control_id: Field<'a>,
        direction: Field<'a>,
        from: Raw<'a>,
        to: Raw<'a>,
        start_time: Field<'a>,
        end_time: Field<'a>,
        hangup_cause: Field<'a>,
        client_state: Raw<'a>,
        // Messages.
        id: Field<'a>,
        #[serde(rename = "type")]
        kind: Field<'a>,
        text: Field<'a>,
        sent_at: Field<'a>,
        received_at: Field<'a>,
        completed_at: Field<'a>,
    }

    /// A message party: `{phone_number, status}`.
    struct Party<'a> {
        phone_number: Field<'a>,
        status: Field<'a>,
    }
}

/// Hang-up causes of a call that never connected.
const NOT_CONNECTED: &[&str] = &[
    "busy",
    "user_busy",
    "call_rejected",
    "no_answer",
    "not_found",
    "timeout",
    "unallocated_number",
];

impl<'a> Payload<'a> for Body<'a> {
    fn identity(&self, _: &Request<'_>) -> Identity<'a> {
        Identity {
            key: self.data.0.id.scalar().map(|id| vec![id]),
            ..Identity::default()
        }
    }

    fn normalize(&self, _with_data: bool) -> Event<'a> {
        let data = &self.data.0;
        let p = &data.payload.0;
        let name = data.event_type.text();
        let delivered = || first_party(&p.to).status.as_str() == Some("delivered");
        let event_type = match name.as_deref() {
            Some("call.answered") => "call.started",
            Some("call.hangup")
                if p.hangup_cause
                    .as_str()
                    .is_some_and(|c| NOT_CONNECTED.contains(&c)) =>
            {
                "call.failed"
            }
            Some("call.hangup") => "call.ended",
            Some("message.received") => "sms.received",
            Some("message.sent") => "sms.sent",
            Some("message.finalized") if delivered() => "sms.delivered",
            _ => return Event::unknown(name),
        };
        let mut event = Event {
            event_type,
            provider_event: name,
            time: data.occurred_at.time(),
            ..Event::default()
        };
        if event_type.starts_with("call.") {
            call(p, &mut event);
        } else {
            sms(p, &mut event);
        }
        event
    }
}

fn call<'a>(p: &Detail<'a>, event: &mut Event<'a>) {
    let direction = direction(&p.direction);
    let (from, to) = (party_text(&p.from), party_text(&p.to));
    let outbound = direction.as_deref() == Some("outbound");
    event.call = Call {
        id: p.call_control_id.text(),
        direction,
        from: from.clone(),
        to: to.clone(),
        started_at: p.start_time.time(),
        ended_at: p.end_time.time(),
        end_reason: p.hangup_cause.text(),
        ..Call::default()
    };
    event.call.duration_seconds = call_span(&event.call);
    event.subject = p.call_control_id.text();
    event.metadata = p.client_state.value();
    event.caller = Caller {
        phone: other_party(outbound, from, to),
        ..Caller::default()
    };
}

fn sms<'a>(p: &Detail<'a>, event: &mut Event<'a>) {
    let to = first_party(&p.to);
    let outbound = event.event_type != "sms.received";
    let (from, to_phone) = (party_text(&p.from), to.phone_number.text());
    event.sms = Sms {
        id: p.id.text(),
        direction: direction(&p.direction),
        kind: p.kind.lower(),
        from: from.clone(),
        to: to_phone.clone(),
        text: p.text.text(),
        status: to.status.lower(),
        sent_at: p.sent_at.time(),
        received_at: p.received_at.time(),
        delivered_at: (event.event_type == "sms.delivered")
            .then(|| p.completed_at.time())
            .flatten(),
        ..Sms::default()
    };
    event.subject = p.id.text();
    event.caller = Caller {
        phone: other_party(outbound, from, to_phone),
        ..Caller::default()
    };
}

/// `incoming`/`outgoing` (calls) or `inbound`/`outbound` (messages), as
/// `inbound`/`outbound`.
fn direction<'a>(field: &Field<'a>) -> Option<Text<'a>> {
    match field.as_str() {
        Some(d) if d.eq_ignore_ascii_case("incoming") => Some("inbound".into()),
        Some(d) if d.eq_ignore_ascii_case("outgoing") => Some("outbound".into()),
        _ => field.lower(),
    }
}

/// A party given as a number (calls) or as `{phone_number}` (messages).
fn party_text<'a>(raw: &Raw<'a>) -> Option<Text<'a>> {
    raw.field()
        .text()
        .or_else(|| raw.read::<Obj<Party<'a>>>().0.phone_number.text())
}

/// The first recipient of a message (`to` is a list).
fn first_party<'a>(raw: &Raw<'a>) -> Party<'a> {
    raw.read::<List<Party<'a>>>()
        .0
        .into_iter()
        .next()
        .unwrap_or_default()
}
