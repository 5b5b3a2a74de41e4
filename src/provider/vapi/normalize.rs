//! Vapi's payload: `{"message": {"type": …, "call": {…}, …}}`; `type` names
//! the event.

use std::borrow::Cow;

use crate::event::{from_to, role, Call, Caller, Event, Seconds, Text, Transfer, Turn};
use crate::normalize::{
    call_span, first_text, first_time, offset_ms, pair_key, seconds_from_ms, transcript, view,
    Field, Obj, Raw,
};
use crate::provider::{Identity, Payload};
use crate::verify::Request;

/// Messages that wait for the receiver's answer (Vapi acts on its body):
/// relayed every time, never answered from the dedup cache.
const SYNCHRONOUS: [&str; 6] = [
    "assistant-request",
    "tool-calls",
    "transfer-destination-request",
    "knowledge-base-request",
    "voice-request",
    "call.endpointing.request",
];

/// Messages Vapi sends at most once per call (per status, for status
/// updates): their type and call id identify them. The others (transcripts,
/// conversation updates, tool calls, …) come many times per call with
/// nothing signed to tell them apart, so the signed bytes' digest does.
const ONCE_PER_CALL: [&str; 3] = ["end-of-call-report", "status-update", "assistant-request"];

view! {
    pub(super) struct Body<'a> {
        message: Obj<Message<'a>>,
    }

    /// The fields hookgate maps; the rest stays in `raw`.
    #[serde(rename_all = "camelCase")]
    struct Message<'a> {
        #[serde(rename = "type")]
        kind: Field<'a>,
        status: Field<'a>,
        ended_reason: Field<'a>,
        timestamp: Field<'a>,
        started_at: Field<'a>,
        ended_at: Field<'a>,
        duration_seconds: Field<'a>,
        duration_ms: Field<'a>,
        summary: Field<'a>,
        recording_url: Field<'a>,
        call: Obj<VapiCall<'a>>,
        customer: Obj<Party<'a>>,
        phone_number: Obj<Party<'a>>,
        artifact: Obj<Artifact<'a>>,
        analysis: Obj<Analysis<'a>>,
        destination: Obj<Destination<'a>>,
    }

    #[serde(rename_all = "camelCase")]
    struct VapiCall<'a> {
        id: Field<'a>,
        #[serde(rename = "type")]
        kind: Field<'a>,
        assistant_id: Field<'a>,
        started_at: Field<'a>,
        ended_at: Field<'a>,
        ended_reason: Field<'a>,
        customer: Obj<Party<'a>>,
        phone_number: Obj<Party<'a>>,
    }

    struct Party<'a> {
        number: Field<'a>,
        name: Field<'a>,
    }

    #[serde(rename_all = "camelCase")]
    struct Artifact<'a> {
        recording_url: Field<'a>,
        messages: Raw<'a>,
    }

    #[serde(rename_all = "camelCase")]
    struct Analysis<'a> {
        summary: Field<'a>,
        success_evaluation: Field<'a>,
        structured_data: Raw<'a>,
    }

    #[serde(rename_all = "camelCase")]
    struct Destination<'a> {
        number: Field<'a>,
        sip_uri: Field<'a>,
        description: Field<'a>,
    }

    #[serde(rename_all = "camelCase")]
    struct VapiTurn<'a> {
        role: Field<'a>,
        message: Field<'a>,
        result: Field<'a>,
        seconds_from_start: Field<'a>,
        time: Field<'a>,
    }
}

impl<'a> Payload<'a> for Body<'a> {
    fn identity(&self, _: &Request<'_>) -> Identity<'a> {
        let m = &self.message.0;
        let kind = m.kind.as_str().unwrap_or_default();
        let key = ONCE_PER_CALL
            .contains(&kind)
            .then(|| pair_key(m.kind.scalar(), m.call.0.id.scalar()))
            .flatten()
            .map(|mut key| {
                if m.kind.as_str() == Some("status-update") {
                    key.extend(m.status.scalar());
                }
                key
            });
        Identity {
            key,
            unsigned_id: None,
            exempt: SYNCHRONOUS.contains(&kind),
        }
    }

    fn normalize(&self, with_data: bool) -> Event<'a> {
        let m = &self.message.0;
        let name = m.kind.text();
        let status = m.status.lower();
        let event_type = match (name.as_deref(), status.as_deref()) {
            (Some("end-of-call-report"), _) => "call.ended",
            (Some("status-update"), Some("in-progress")) => "call.started",
            (Some("status-update"), Some("forwarding")) => "call.transferred",
            _ => "unknown",
        };
        let mut event = Event {
            event_type,
            provider_event: name.clone(),
            subject: m.call.0.id.text(),
            time: m.timestamp.time(),
            ..Event::default()
        };
        match name.as_deref() {
            Some("end-of-call-report") => m.report(&mut event, with_data),
            Some("status-update") => m.status_update(&mut event, status),
            _ => {}
        }
        event
    }
}

impl<'a> Message<'a> {
    fn customer(&self) -> &Party<'a> {
        match self.customer.0.number.as_str() {
            Some(_) => &self.customer.0,
            None => &self.call.0.customer.0,
        }
    }

    fn our_number(&self) -> Option<Text<'a>> {
        first_text(&[
            &self.phone_number.0.number,
            &self.call.0.phone_number.0.number,
        ])
    }

    /// The call as far as this message tells it: who called whom, when.
    fn call(&self) -> Call<'a> {
        let call = &self.call.0;
        let (direction, channel) = match call.kind.as_str() {
            Some("inboundPhoneCall") => (Some("inbound"), Some("phone")),
            Some("outboundPhoneCall") => (Some("outbound"), Some("phone")),
            Some("webCall") => (None, Some("web")),
            _ => (None, None),
        };
        let customer = self.customer().number.text();
        let ours = self.our_number();
        let (from, to) = match direction {
            Some(d) => from_to(d == "outbound", ours, customer),
            None => (None, None),
        };
        Call {
            id: call.id.text(),
            direction: direction.map(Cow::Borrowed),
            channel: channel.map(Cow::Borrowed),
            from,
            to,
            agent_id: call.assistant_id.text(),
            started_at: first_time(&[&self.started_at, &call.started_at]),
            ended_at: first_time(&[&self.ended_at, &call.ended_at]),
            end_reason: first_text(&[&self.ended_reason, &call.ended_reason]),
            ..Call::default()
        }
    }

    fn caller(&self) -> Caller<'a> {
        let customer = self.customer();
        Caller {
            name: customer.name.text(),
            phone: customer.number.text(),
            ..Caller::default()
        }
    }

    fn report(&self, event: &mut Event<'a>, with_data: bool) {
        let analysis = &self.analysis.0;
        let mut call = self.call();
        call.duration_seconds = self.duration(&call);
        call.summary = first_text(&[&analysis.summary, &self.summary]);
        call.successful = success(&analysis.success_evaluation);
        call.recording_url = first_text(&[&self.artifact.0.recording_url, &self.recording_url]);
        call.extracted = analysis.structured_data.structured();
        call.transcript = transcript(&self.artifact.0.messages, with_data, turn);
        event.time = call.ended_at.clone().or(event.time.take());
        event.call = call;
        event.caller = self.caller();
    }

    fn status_update(&self, event: &mut Event<'a>, status: Option<Text<'a>>) {
        let mut call = self.call();
        if status.as_deref() == Some("forwarding") {
            let d = &self.destination.0;
            let transfer = Transfer {
                to: first_text(&[&d.number, &d.sip_uri]),
                label: d.description.text(),
                ..Transfer::default()
            };
            call.transfer = transfer.non_empty();
        }
        event.call = call;
        event.caller = self.caller();
    }

    /// `durationSeconds`, else `durationMs`, else the span from start to end.
    fn duration(&self, call: &Call<'_>) -> Option<Seconds> {
        if let Some(s) = self.duration_seconds.number() {
            return Seconds::new(s);
        }
        if let Some(ms) = self.duration_ms.float() {
            return Seconds::new(seconds_from_ms(ms)?);
        }
        call_span(call)
    }
}

/// Vapi's `successEvaluation` as a boolean where it is one (the default
/// rubric gives `"true"` / `"false"`); scores and labels stay in `raw`.
fn success(field: &Field<'_>) -> Option<bool> {
    match field {
        Field::Bool(b) => Some(*b),
        Field::Text(t) if t.eq_ignore_ascii_case("true") => Some(true),
        Field::Text(t) if t.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Vapi's roles: `bot` the agent, `user` the caller, `tool_calls` and
/// `tool_call_result` tools.
fn vapi_role(label: &str) -> Text<'static> {
    match label {
        "tool_calls" | "tool_call_result" => Cow::Borrowed("tool"),
        other => role(other),
    }
}

/// One of `artifact.messages[]`: the role mapped, `secondsFromStart` as
/// `offset_ms`, `time` (Unix ms) as `at`.
fn turn(t: VapiTurn<'_>) -> Turn<'_> {
    Turn {
        role: t.role.as_str().map(vapi_role),
        text: first_text(&[&t.message, &t.result]),
        offset_ms: offset_ms(&t.seconds_from_start),
        at: t.time.time().map(Cow::Owned),
    }
}
