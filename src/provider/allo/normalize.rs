//! Allo's payload: an envelope `{topic, data}` in two generations (v1
//! upper-case topics, v2 lower-case with `version` and `timestamp`); call
//! fields come in snake_case or camelCase.

use crate::event::{role, Call, Caller, Contact, Event, Seconds, Sms, Text, Transfer, Turn};
use crate::normalize::{
    first_text, first_time, header_scalar, json_number, seconds, transcript, view, Field, Obj, Raw,
};
use crate::provider::{Identity, Payload};
use crate::verify::Request;

view! {
    pub(super) struct Body<'a> {
        topic: Field<'a>,
        event: Field<'a>,
        timestamp: Field<'a>,
        data: Obj<Data<'a>>,
    }

    /// Call, SMS and contact fields, both casings.
    struct Data<'a> {
        id: Field<'a>,
        #[serde(rename = "type")]
        kind: Field<'a>,
        direction: Field<'a>,
        from_number: Field<'a>,
        #[serde(rename = "fromNumber")]
        from_number_camel: Field<'a>,
        from_name: Field<'a>,
        #[serde(rename = "fromName")]
        from_name_camel: Field<'a>,
        to: Field<'a>,
        to_number: Field<'a>,
        #[serde(rename = "toNumber")]
        to_number_camel: Field<'a>,
        to_name: Field<'a>,
        #[serde(rename = "toName")]
        to_name_camel: Field<'a>,
        user_email: Field<'a>,
        #[serde(rename = "userEmail")]
        user_email_camel: Field<'a>,
        start_date: Field<'a>,
        #[serde(rename = "startDate")]
        start_date_camel: Field<'a>,
        length_in_minutes: Field<'a>,
        #[serde(rename = "lengthInMinutes")]
        length_in_minutes_camel: Field<'a>,
        length: Field<'a>,
        summary: Field<'a>,
        one_sentence_summary: Field<'a>,
        #[serde(rename = "oneSentenceSummary")]
        one_sentence_summary_camel: Field<'a>,
        recording_url: Field<'a>,
        #[serde(rename = "recordingUrl")]
        recording_url_camel: Field<'a>,
        data_collected: Raw<'a>,
        #[serde(rename = "dataCollected")]
        data_collected_camel: Raw<'a>,
        transfer_to: Obj<TransferTo<'a>>,
        #[serde(rename = "transferTo")]
        transfer_to_camel: Obj<TransferTo<'a>>,
        transcriptions: Raw<'a>,
        transcript: Raw<'a>,
        content: Field<'a>,
        text: Field<'a>,
        sent_at: Field<'a>,
        #[serde(rename = "sentAt")]
        sent_at_camel: Field<'a>,
        name: Field<'a>,
        first_name: Field<'a>,
        #[serde(rename = "firstName")]
        first_name_camel: Field<'a>,
        last_name: Field<'a>,
        #[serde(rename = "lastName")]
        last_name_camel: Field<'a>,
        company: Field<'a>,
        emails: Raw<'a>,
        numbers: Raw<'a>,
    }

    struct TransferTo<'a> {
        number: Field<'a>,
        user_name: Field<'a>,
        #[serde(rename = "userName")]
        user_name_camel: Field<'a>,
        user_email: Field<'a>,
        #[serde(rename = "userEmail")]
        user_email_camel: Field<'a>,
    }

    struct AlloTurn<'a> {
        source: Field<'a>,
        role: Field<'a>,
        text: Field<'a>,
        time: Field<'a>,
    }
}

impl<'a> Payload<'a> for Body<'a> {
    fn identity(&self, request: &Request<'_>) -> Identity<'a> {
        Identity {
            key: header_scalar(request, "webhook-id").map(|id| vec![id]),
            unsigned_id: None,
            exempt: false,
        }
    }

    fn normalize(&self, with_data: bool) -> Event<'a> {
        let name = first_text(&[&self.topic, &self.event]);
        let event_type = match name.as_deref() {
            Some("CALL_RECEIVED" | "call.completed") => "call.ended",
            Some("call.received" | "call.triggered") => "call.started",
            Some("SMS_RECEIVED" | "sms.received") => "sms.received",
            Some("SMS_SENT" | "sms.sent") => "sms.sent",
            Some("CONTACT_CREATED" | "contact.created") => "contact.created",
            Some("CONTACT_UPDATED" | "contact.updated") => "contact.updated",
            Some("PING" | "ping") => "ping",
            // tag.added, tag.removed and anything newer: kept whole in `raw`.
            _ => return Event::unknown(name),
        };
        let d = &self.data.0;
        let envelope_time = self.timestamp.time();
        let mut event = Event {
            event_type,
            provider_event: name,
            subject: d.id.text(),
            ..Event::default()
        };
        let from_phone = || first_text(&[&d.from_number, &d.from_number_camel]);
        // The other party (the recipient of what went out, else the sender),
        // with its name.
        let caller = |outbound: bool, to_phone: Option<Text<'a>>| {
            if outbound {
                Caller {
                    name: first_text(&[&d.to_name, &d.to_name_camel]),
                    phone: to_phone,
                    ..Caller::default()
                }
            } else {
                Caller {
                    name: first_text(&[&d.from_name, &d.from_name_camel]),
                    phone: from_phone(),
                    ..Caller::default()
                }
            }
        };
        match event_type {
            "call.ended" | "call.started" => {
                let direction =
                    first_text(&[&d.kind, &d.direction]).map(|t| t.to_ascii_lowercase().into());
                let outbound = direction.as_deref() == Some("outbound");
                let to_phone = first_text(&[&d.to, &d.to_number, &d.to_number_camel]);
                event.call = Call {
                    id: d.id.text(),
                    direction,
                    from: from_phone(),
                    to: to_phone.clone(),
                    agent_email: first_text(&[&d.user_email, &d.user_email_camel]),
                    started_at: first_time(&[&d.start_date, &d.start_date_camel]),
                    duration_seconds: d.duration(),
                    summary: first_text(&[
                        &d.summary,
                        &d.one_sentence_summary,
                        &d.one_sentence_summary_camel,
                    ]),
                    recording_url: first_text(&[&d.recording_url, &d.recording_url_camel]),
                    extracted: d.data_collected.value().or(d.data_collected_camel.value()),
                    transfer: d.transfer(),
                    transcript: transcript(d.transcript(), with_data, turn),
                    ..Call::default()
                };
                event.caller = caller(outbound, to_phone);
                event.time =
                    envelope_time.or_else(|| first_time(&[&d.start_date, &d.start_date_camel]));
            }
            "sms.received" | "sms.sent" => {
                let to_phone = first_text(&[&d.to_number, &d.to_number_camel]);
                event.sms = Sms {
                    id: d.id.text(),
                    direction: d.direction.lower(),
                    kind: d.kind.lower(),
                    from: from_phone(),
                    to: to_phone.clone(),
                    text: first_text(&[&d.content, &d.text]),
                    sent_at: first_time(&[&d.sent_at, &d.sent_at_camel]),
                    ..Sms::default()
                };
                event.caller = caller(event_type != "sms.received", to_phone);
                event.time = envelope_time.or_else(|| first_time(&[&d.sent_at, &d.sent_at_camel]));
            }
            "contact.created" | "contact.updated" => {
                event.contact = Contact {
                    id: d.id.text(),
                    name: first_text(&[&d.name, &d.first_name, &d.first_name_camel]),
                    last_name: first_text(&[&d.last_name, &d.last_name_camel]),
                    company: d.company.text(),
                    emails: d.emails.value(),
                    numbers: d.numbers.value(),
                };
                event.time = envelope_time;
            }
            _ => event.time = envelope_time,
        }
        event
    }
}

impl<'a> Data<'a> {
    /// `length_in_minutes` × 60, or the `length` text ("5m 30s").
    fn duration(&self) -> Option<Seconds> {
        let minutes = self
            .length_in_minutes
            .float()
            .or_else(|| self.length_in_minutes_camel.float());
        if let Some(minutes) = minutes {
            return Seconds::new(seconds(minutes * 60.0)?);
        }
        let text = self.length.as_str()?;
        let mut total = 0.0;
        let mut seen = false;
        for part in text.split_whitespace() {
            let (n, unit) = part.split_at(part.find(|c: char| !c.is_ascii_digit() && c != '.')?);
            let n: f64 = n.parse().ok()?;
            total += match unit {
                "h" => n * 3600.0,
                "m" => n * 60.0,
                "s" => n,
                _ => return None,
            };
            seen = true;
        }
        if !seen {
            return None;
        }
        Seconds::new(json_number(total)?)
    }

    fn transfer(&self) -> Option<Transfer<'a>> {
        let t = if self.transfer_to.0.number.as_str().is_some()
            || self.transfer_to.0.user_name.as_str().is_some()
            || self.transfer_to.0.user_email.as_str().is_some()
        {
            &self.transfer_to.0
        } else {
            &self.transfer_to_camel.0
        };
        Transfer {
            to: t.number.text(),
            label: first_text(&[
                &t.user_name,
                &t.user_name_camel,
                &t.user_email,
                &t.user_email_camel,
            ]),
            reason: None,
        }
        .non_empty()
    }

    /// `transcriptions`, or the older `transcript`.
    fn transcript(&self) -> &Raw<'a> {
        if self.transcriptions.value().is_some() {
            &self.transcriptions
        } else {
            &self.transcript
        }
    }
}

/// A turn: `source` (or `role`) mapped, its `time` as sent as `at`.
fn turn(t: AlloTurn<'_>) -> Turn<'_> {
    Turn {
        role: t.source.as_str().or(t.role.as_str()).map(role),
        text: t.text.text(),
        at: t.time.text(),
        offset_ms: None,
    }
}
