//! Agntix's payload: a flat session body; `eventType` with the session
//! `type` (VOICE or CHAT) gives the event. Chat sessions use the `call`
//! object too, with `channel` saying where they happened.

use crate::event::{sentiment, Call, Caller, Event};
use crate::normalize::{call_span, first_text, first_time, header_scalar, view, Field, Obj, Raw};
use crate::provider::{Identity, Payload};
use crate::verify::Request;

view! {
    pub(super) struct Body<'a> {
        id: Field<'a>,
        #[serde(rename = "eventType")]
        event_type_camel: Field<'a>,
        event_type: Field<'a>,
        #[serde(rename = "type")]
        kind: Field<'a>,
        platform: Field<'a>,
        direction: Field<'a>,
        #[serde(rename = "agentId")]
        agent_id_camel: Field<'a>,
        agent_id: Field<'a>,
        #[serde(rename = "createdAt")]
        created_at_camel: Field<'a>,
        created_at: Field<'a>,
        #[serde(rename = "endedAt")]
        ended_at_camel: Field<'a>,
        ended_at: Field<'a>,
        #[serde(rename = "lastActivityAt")]
        last_activity_at: Field<'a>,
        metadata: Obj<Metadata<'a>>,
        analysis: Obj<Analysis<'a>>,
    }

    struct Metadata<'a> {
        #[serde(rename = "customerPhoneNumber")]
        customer_phone_camel: Field<'a>,
        customer_phone_number: Field<'a>,
        #[serde(rename = "sessionVariables")]
        session_variables_camel: Raw<'a>,
        session_variables: Raw<'a>,
    }

    struct Analysis<'a> {
        summary: Field<'a>,
        sentiment: Obj<Sentiment<'a>>,
        #[serde(rename = "extractedData")]
        extracted_camel: Raw<'a>,
        extracted_data: Raw<'a>,
    }

    struct Sentiment<'a> {
        conversation: Obj<Label<'a>>,
    }

    struct Label<'a> {
        label: Field<'a>,
    }
}

impl<'a> Payload<'a> for Body<'a> {
    /// The signed message id: the body's `id` is the session, shared by its
    /// `session.created` and `session.ended`.
    fn identity(&self, request: &Request<'_>) -> Identity<'a> {
        let names = super::header_set(&request.headers);
        Identity {
            key: header_scalar(request, names.id).map(|id| vec![id]),
            unsigned_id: None,
            exempt: false,
        }
    }

    fn normalize(&self, _with_data: bool) -> Event<'a> {
        let name = first_text(&[&self.event_type_camel, &self.event_type]);
        let kind = self.kind.as_str().map(str::to_ascii_uppercase);
        let event_type = match (name.as_deref(), kind.as_deref()) {
            (Some("session.created"), Some("VOICE")) => "call.started",
            (Some("session.ended"), Some("VOICE")) => "call.ended",
            (Some("session.created"), Some("CHAT")) => "chat.started",
            (Some("session.ended"), Some("CHAT")) => "chat.ended",
            _ => return Event::unknown(name),
        };
        let meta = &self.metadata.0;
        let analysis = &self.analysis.0;
        let direction = self.direction.lower();
        let customer = first_text(&[&meta.customer_phone_camel, &meta.customer_phone_number]);
        let (from, to) = match direction.as_deref() {
            Some("inbound") => (customer.clone(), None),
            Some("outbound") => (None, customer.clone()),
            _ => (None, None),
        };
        let ended = event_type.ends_with(".ended");
        let started_at = first_time(&[&self.created_at_camel, &self.created_at]);
        let ended_at = first_time(&[&self.ended_at_camel, &self.ended_at]);
        let mut event = Event {
            event_type,
            provider_event: name,
            subject: self.id.text(),
            time: if ended {
                first_time(&[&self.ended_at_camel, &self.ended_at, &self.last_activity_at])
            } else {
                started_at.clone()
            },
            call: Call {
                id: self.id.text(),
                direction,
                channel: self.platform.lower(),
                from,
                to,
                agent_id: first_text(&[&self.agent_id_camel, &self.agent_id]),
                started_at,
                ended_at: if ended { ended_at } else { None },
                summary: analysis.summary.text(),
                sentiment: analysis
                    .sentiment
                    .0
                    .conversation
                    .0
                    .label
                    .as_str()
                    .map(sentiment),
                extracted: analysis
                    .extracted_camel
                    .value()
                    .or(analysis.extracted_data.value()),
                ..Call::default()
            },
            caller: Caller {
                phone: customer,
                ..Caller::default()
            },
            metadata: meta
                .session_variables_camel
                .value()
                .or(meta.session_variables.value()),
            ..Event::default()
        };
        // `endedAt - createdAt`, as Agntix sends them (an ended session only).
        event.call.duration_seconds = call_span(&event.call);
        event
    }
}
