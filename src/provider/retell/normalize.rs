//! Retell's payload: `{event, call}`; times in Unix milliseconds, the
//! duration in milliseconds, the transcript as `transcript_object` turns.

use crate::event::{other_party, role, sentiment, Call, Caller, Event, Seconds, Transfer, Turn};
use crate::normalize::{
    first_text, offset_ms, pair_key, seconds_from_ms, transcript, view, Field, List, Obj, Raw,
};
use crate::provider::{Identity, Payload};
use crate::verify::Request;

view! {
    /// The fields hookgate maps; the rest stays in `raw`.
    pub(super) struct Body<'a> {
        event: Field<'a>,
        call: Obj<RetellCall<'a>>,
        transfer_destination: Raw<'a>,
    }

    struct RetellCall<'a> {
        call_id: Field<'a>,
        call_type: Field<'a>,
        call_status: Field<'a>,
        agent_id: Field<'a>,
        agent_name: Field<'a>,
        direction: Field<'a>,
        from_number: Field<'a>,
        to_number: Field<'a>,
        start_timestamp: Field<'a>,
        end_timestamp: Field<'a>,
        duration_ms: Field<'a>,
        disconnection_reason: Field<'a>,
        recording_url: Field<'a>,
        transcript_object: Raw<'a>,
        call_analysis: Obj<Analysis<'a>>,
        metadata: Raw<'a>,
        retell_llm_dynamic_variables: Raw<'a>,
        transfer_destination: Raw<'a>,
    }

    struct Analysis<'a> {
        call_summary: Field<'a>,
        user_sentiment: Field<'a>,
        call_successful: Field<'a>,
        custom_analysis_data: Raw<'a>,
    }

    struct RetellTurn<'a> {
        role: Field<'a>,
        content: Field<'a>,
        words: List<Word<'a>>,
    }

    struct Word<'a> {
        start: Field<'a>,
    }

    struct Destination<'a> {
        number: Field<'a>,
        description: Field<'a>,
    }
}

/// Why a call ended that means it never connected (Retell sends no
/// `call_started` for these).
const NOT_CONNECTED: &[&str] = &[
    "dial_busy",
    "dial_failed",
    "dial_no_answer",
    "invalid_destination",
    "telephony_provider_permission_denied",
    "telephony_provider_unavailable",
    "sip_routing_error",
    "marked_as_spam",
    "user_declined",
    "concurrency_limit_reached",
    "no_valid_payment",
    "scam_detected",
    "error_user_not_joined",
    "registered_call_timeout",
];

impl<'a> Payload<'a> for Body<'a> {
    fn identity(&self, _: &Request<'_>) -> Identity<'a> {
        Identity {
            key: pair_key(self.event.scalar(), self.call.0.call_id.scalar()),
            ..Identity::default()
        }
    }

    fn normalize(&self, with_data: bool) -> Event<'a> {
        let name = self.event.text();
        let call = &self.call.0;
        let failed = call
            .call_status
            .as_str()
            .is_some_and(|s| s == "not_connected" || s == "error")
            || call
                .disconnection_reason
                .as_str()
                .is_some_and(|r| NOT_CONNECTED.contains(&r));
        let event_type = match name.as_deref() {
            Some("call_started") => "call.started",
            // `call_analyzed` repeats the ended call with its analysis.
            Some("call_ended" | "call_analyzed") if failed => "call.failed",
            Some("call_ended" | "call_analyzed") => "call.ended",
            Some("transfer_bridged") => "call.transferred",
            _ => return Event::unknown(name),
        };
        let mut event = Event {
            event_type,
            provider_event: name,
            metadata: call
                .metadata
                .value()
                .or(call.retell_llm_dynamic_variables.value()),
            ..Event::default()
        };
        self.call(&mut event, with_data);
        event
    }
}

impl<'a> Body<'a> {
    fn call(&self, event: &mut Event<'a>, with_data: bool) {
        let call = &self.call.0;
        let analysis = &call.call_analysis.0;
        let transfer = if event.event_type == "call.transferred" {
            let raw = self
                .transfer_destination
                .value()
                .map_or(call.transfer_destination, |_| self.transfer_destination);
            destination(&raw)
        } else {
            Transfer::default()
        };
        event.call = Call {
            id: call.call_id.text(),
            direction: call.direction.lower(),
            channel: call.call_type.as_str().map(|t| {
                t.strip_suffix("_call")
                    .map_or_else(|| t.to_ascii_lowercase().into(), |c| c.to_owned().into())
            }),
            from: call.from_number.text(),
            to: call.to_number.text(),
            agent_id: call.agent_id.text(),
            agent_name: call.agent_name.text(),
            started_at: call.start_timestamp.time(),
            ended_at: call.end_timestamp.time(),
            duration_seconds: call
                .duration_ms
                .float()
                .and_then(seconds_from_ms)
                .and_then(Seconds::new),
            end_reason: call.disconnection_reason.text(),
            successful: analysis.call_successful.boolean(),
            summary: analysis.call_summary.text(),
            sentiment: analysis
                .user_sentiment
                .as_str()
                .filter(|s| !s.eq_ignore_ascii_case("unknown"))
                .map(sentiment),
            recording_url: call.recording_url.text(),
            extracted: analysis.custom_analysis_data.structured(),
            transcript: transcript(&call.transcript_object, with_data, turn),
            transfer: transfer.non_empty(),
            ..Call::default()
        };
        event.subject = call.call_id.text();
        event.time = match event.event_type {
            "call.started" | "call.transferred" => call.start_timestamp.time(),
            _ => call.end_timestamp.time(),
        };
        let outbound = call.direction.is("outbound");
        event.caller = Caller {
            phone: other_party(outbound, &call.from_number, &call.to_number).text(),
            ..Caller::default()
        };
    }
}

/// `transfer_destination`: a number, or `{number, description}`.
fn destination<'a>(raw: &Raw<'a>) -> Transfer<'a> {
    let Obj(d) = raw.read::<Obj<Destination<'a>>>();
    Transfer {
        to: first_text(&[&raw.field(), &d.number]),
        label: d.description.text(),
        reason: None,
    }
}

/// A turn: Retell's `agent`/`user` roles mapped, the first word's start
/// (seconds into the call) as `offset_ms`.
fn turn(t: RetellTurn<'_>) -> Turn<'_> {
    Turn {
        role: t.role.as_str().map(role),
        text: t.content.text(),
        offset_ms: t.words.0.first().and_then(|w| offset_ms(&w.start)),
        at: None,
    }
}
