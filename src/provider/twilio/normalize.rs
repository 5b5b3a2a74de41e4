//! Twilio's payload: a form (read as a JSON object of strings), or a JSON
//! body with the same names. No field names the event: a voice callback is
//! `call.<CallStatus>`, a messaging one `message.<MessageStatus>` (or
//! `SmsStatus`), and that is its `providerevent`.

use std::borrow::Cow;

use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::OffsetDateTime;

use crate::event::{format_utc, other_party, Call, Caller, Event, Sms, Text};
use crate::normalize::{first_text, pair_key, unsigned_header_id, view, Field};
use crate::provider::{Identity, Payload};
use crate::verify::Request;

/// Unsigned: Twilio's id for one delivery attempt's content, reported only.
const IDEMPOTENCY_TOKEN: &str = "i-twilio-idempotency-token";

view! {
    /// The fields hookgate maps; the rest stays in `raw`.
    #[serde(rename_all = "PascalCase")]
    pub(super) struct Body<'a> {
        call_sid: Field<'a>,
        call_status: Field<'a>,
        sequence_number: Field<'a>,
        callback_source: Field<'a>,
        direction: Field<'a>,
        from: Field<'a>,
        to: Field<'a>,
        caller_name: Field<'a>,
        call_duration: Field<'a>,
        timestamp: Field<'a>,
        recording_url: Field<'a>,
        message_sid: Field<'a>,
        sms_sid: Field<'a>,
        message_status: Field<'a>,
        sms_status: Field<'a>,
        body: Field<'a>,
        num_media: Field<'a>,
    }
}

/// What a payload is about: a call (its `CallSid`), a message (its
/// `MessageSid`), or neither.
enum Kind {
    Call,
    Message,
    Other,
}

impl<'a> Body<'a> {
    fn kind(&self) -> Kind {
        if self.call_sid.text().is_some() {
            Kind::Call
        } else if self.message_id().is_some() {
            Kind::Message
        } else {
            Kind::Other
        }
    }

    fn message_id(&self) -> Option<Text<'a>> {
        first_text(&[&self.message_sid, &self.sms_sid])
    }

    fn message_status(&self) -> &Field<'a> {
        match self.message_status.as_str() {
            Some(_) => &self.message_status,
            None => &self.sms_status,
        }
    }

    /// A voice request that asks for TwiML (the call waits on the
    /// receiver's answer) rather than a status callback: it carries none of
    /// the callback's fields.
    fn asks_for_twiml(&self) -> bool {
        [
            &self.timestamp,
            &self.callback_source,
            &self.sequence_number,
            &self.call_duration,
        ]
        .iter()
        .all(|f| f.text().is_none())
    }
}

impl<'a> Payload<'a> for Body<'a> {
    fn identity(&self, request: &Request<'_>) -> Identity<'a> {
        let (key, exempt) = match self.kind() {
            Kind::Call => {
                let key =
                    pair_key(self.call_sid.scalar(), self.call_status.scalar()).map(|mut key| {
                        key.extend(self.sequence_number.scalar());
                        key
                    });
                (key, self.asks_for_twiml())
            }
            Kind::Message => {
                let message = self.message_sid.scalar().or_else(|| self.sms_sid.scalar());
                let key = pair_key(message, self.message_status().scalar());
                (key, false)
            }
            Kind::Other => (None, false),
        };
        Identity {
            key,
            unsigned_id: unsigned_header_id(request, IDEMPOTENCY_TOKEN),
            exempt,
        }
    }

    fn normalize(&self, _with_data: bool) -> Event<'a> {
        match self.kind() {
            Kind::Call => self.call(),
            Kind::Message => self.message(),
            Kind::Other => Event::unknown(None),
        }
    }
}

impl<'a> Body<'a> {
    fn call(&self) -> Event<'a> {
        let status = self.call_status.lower();
        let event_type = match status.as_deref() {
            Some("ringing" | "in-progress") => "call.started",
            Some("completed") => "call.ended",
            Some("busy" | "failed" | "no-answer" | "canceled") => "call.failed",
            _ => "unknown",
        };
        let at = self.timestamp.as_str().and_then(twilio_time);
        let ended = matches!(event_type, "call.ended" | "call.failed");
        let direction = direction(&self.direction);
        let inbound = direction.as_deref() == Some("inbound");
        let call = Call {
            id: self.call_sid.text(),
            direction,
            from: self.from.text(),
            to: self.to.text(),
            started_at: (status.as_deref() == Some("in-progress"))
                .then(|| at.clone())
                .flatten(),
            ended_at: ended.then(|| at.clone()).flatten(),
            duration_seconds: self.call_duration.duration(),
            end_reason: (event_type == "call.failed")
                .then(|| status.clone())
                .flatten(),
            recording_url: self.recording_url.text(),
            ..Call::default()
        };
        Event {
            event_type,
            provider_event: Some(Cow::Owned(match &status {
                Some(s) => format!("call.{s}"),
                None => "call".to_owned(),
            })),
            subject: self.call_sid.text(),
            time: at,
            caller: Caller {
                name: inbound.then(|| self.caller_name.text()).flatten(),
                phone: other_party(!inbound, &self.from, &self.to).text(),
                ..Caller::default()
            },
            call,
            ..Event::default()
        }
    }

    fn message(&self) -> Event<'a> {
        let status = self.message_status().lower();
        let event_type = match status.as_deref() {
            Some("received") => "sms.received",
            Some("sent") => "sms.sent",
            Some("delivered") => "sms.delivered",
            _ => "unknown",
        };
        let id = self.message_id();
        let kind = self.num_media.float().map(|n| {
            if n > 0.0 {
                Cow::Borrowed("mms")
            } else {
                Cow::Borrowed("sms")
            }
        });
        let outbound = event_type != "sms.received";
        Event {
            event_type,
            provider_event: Some(Cow::Owned(match &status {
                Some(s) => format!("message.{s}"),
                None => "message".to_owned(),
            })),
            subject: id.clone(),
            sms: Sms {
                id,
                kind,
                from: self.from.text(),
                to: self.to.text(),
                text: self.body.text(),
                status,
                ..Sms::default()
            },
            caller: Caller {
                phone: other_party(outbound, &self.from, &self.to).text(),
                ..Caller::default()
            },
            ..Event::default()
        }
    }
}

/// `inbound`, or `outbound` for Twilio's `outbound-api` and
/// `outbound-dial` (the exact value stays in `raw`).
fn direction<'a>(field: &Field<'a>) -> Option<Text<'a>> {
    let d = field.lower()?;
    Some(if d.starts_with("outbound") {
        Cow::Borrowed("outbound")
    } else {
        d
    })
}

/// Twilio's callback `Timestamp` is RFC 2822 (`Tue, 14 Jan 2025 18:32:42
/// +0000`); RFC 3339 is read too.
fn twilio_time(text: &str) -> Option<String> {
    let text = text.trim();
    OffsetDateTime::parse(text, &Rfc2822)
        .or_else(|_| OffsetDateTime::parse(text, &Rfc3339))
        .ok()
        .and_then(format_utc)
}
