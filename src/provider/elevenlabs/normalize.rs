//! ElevenLabs' payload: `{type, event_timestamp, data}`; times in Unix
//! seconds, durations in seconds, turns as `{role, message,
//! time_in_call_secs}`.

use crate::event::{from_to, role, Call, Caller, Event, Seconds, Turn};
use crate::normalize::{json_number, offset_ms, pair_key, transcript, view, Field, Obj, Raw};
use crate::provider::{Identity, Payload};
use crate::verify::Request;

view! {
    /// The fields hookgate maps; the rest (the audio included) stays in `raw`.
    pub(super) struct Body<'a> {
        #[serde(rename = "type")]
        kind: Field<'a>,
        event_timestamp: Field<'a>,
        data: Obj<Data<'a>>,
    }

    struct Data<'a> {
        agent_id: Field<'a>,
        conversation_id: Field<'a>,
        failure_reason: Field<'a>,
        transcript: Raw<'a>,
        metadata: Obj<Metadata<'a>>,
        analysis: Obj<Analysis<'a>>,
        conversation_initiation_client_data: Obj<ClientData<'a>>,
    }

    struct Metadata<'a> {
        start_time_unix_secs: Field<'a>,
        call_duration_secs: Field<'a>,
        termination_reason: Field<'a>,
        phone_call: Obj<PhoneCall<'a>>,
    }

    struct PhoneCall<'a> {
        direction: Field<'a>,
        agent_number: Field<'a>,
        external_number: Field<'a>,
    }

    struct Analysis<'a> {
        transcript_summary: Field<'a>,
        call_successful: Field<'a>,
        data_collection_results: Raw<'a>,
    }

    struct ClientData<'a> {
        dynamic_variables: Raw<'a>,
    }

    struct ElevenLabsTurn<'a> {
        role: Field<'a>,
        message: Field<'a>,
        time_in_call_secs: Field<'a>,
    }
}

impl<'a> Payload<'a> for Body<'a> {
    fn identity(&self, _: &Request<'_>) -> Identity<'a> {
        Identity {
            key: pair_key(self.kind.scalar(), self.data.0.conversation_id.scalar()),
            ..Identity::default()
        }
    }

    fn normalize(&self, with_data: bool) -> Event<'a> {
        let name = self.kind.text();
        let event_type = match name.as_deref() {
            Some("post_call_transcription") => "call.ended",
            Some("call_initiation_failure") => "call.failed",
            // `post_call_audio` is the same conversation's recording, base64
            // in the body: it stays in `raw`.
            _ => return Event::unknown(name),
        };
        let data = &self.data.0;
        let mut event = Event {
            event_type,
            provider_event: name,
            subject: data.conversation_id.text(),
            time: self.event_timestamp.time(),
            metadata: data
                .conversation_initiation_client_data
                .0
                .dynamic_variables
                .value(),
            ..Event::default()
        };
        self.call(&mut event, with_data);
        event
    }
}

impl<'a> Body<'a> {
    fn call(&self, event: &mut Event<'a>, with_data: bool) {
        let data = &self.data.0;
        let meta = &data.metadata.0;
        let phone = &meta.phone_call.0;
        let analysis = &data.analysis.0;
        let (from, to) = from_to(
            phone.direction.is("outbound"),
            phone.agent_number.text(),
            phone.external_number.text(),
        );
        let start = meta.start_time_unix_secs.float();
        let duration = meta.call_duration_secs.duration();
        let ended_at = start
            .zip(duration.as_ref().map(Seconds::as_f64))
            .and_then(|(s, d)| Field::Number(json_number((s + d).floor())?).time());
        event.call = Call {
            id: data.conversation_id.text(),
            direction: phone.direction.lower(),
            from,
            to,
            agent_id: data.agent_id.text(),
            started_at: meta.start_time_unix_secs.time(),
            ended_at,
            duration_seconds: duration,
            end_reason: data
                .failure_reason
                .text()
                .or_else(|| meta.termination_reason.text()),
            successful: match analysis.call_successful.as_str() {
                Some("success") => Some(true),
                Some("failure") => Some(false),
                _ => None,
            },
            summary: analysis.transcript_summary.text(),
            extracted: analysis.data_collection_results.structured(),
            transcript: transcript(&data.transcript, with_data, turn),
            ..Call::default()
        };
        event.caller = Caller {
            phone: phone.external_number.text(),
            ..Caller::default()
        };
    }
}

/// A turn: `user` is the caller, `agent` the agent; the time into the
/// call as `offset_ms`.
fn turn(t: ElevenLabsTurn<'_>) -> Turn<'_> {
    Turn {
        role: t.role.as_str().map(role),
        text: t.message.text(),
        offset_ms: offset_ms(&t.time_in_call_secs),
        at: None,
    }
}
