//! The normalized event: one CloudEvents 1.0 schema for every provider
//! (schema/event.schema.json; docs/NORMALIZATION.md), serialized in
//! structured mode (`application/cloudevents+json`) or as binary-mode `ce-*`
//! headers. Providers fill an [`Event`] from their typed view of the
//! payload; its text fields borrow from the payload where they can, and
//! pass-through parts (`metadata`, `extracted`, `raw`) are the provider's
//! bytes, never a re-serialised copy.

use std::borrow::Cow;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::Number;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::verify::Verified;

/// A text field as the provider gave it, borrowed where it could be.
pub type Text<'a> = Cow<'a, str>;

/// What serialization needs besides the event: the ids the gate derived,
/// the route, and the payload's JSON text. Made only from a verified
/// request.
pub struct EventContext<'a> {
    text: &'a [u8],
    meta: EventMeta<'a>,
}

/// Everything about an event that is not the provider's payload.
#[derive(Clone, Copy)]
pub struct EventMeta<'a> {
    pub provider: &'static str,
    pub route: &'a str,
    /// The CloudEvents `id`: from signed material or hookgate itself.
    pub delivery_id: &'a str,
    /// An id the provider sent unsigned: the `providerdeliveryid`
    /// extension, documented as unverified.
    pub provider_delivery_id: Option<&'a str>,
    pub received_at: SystemTime,
    pub include_raw: bool,
    /// Whether `data` is wanted. With `forward = "original"` only the
    /// attributes travel (as `ce-*` headers), so the costly parts of `data`
    /// (transcripts) are not built.
    pub with_data: bool,
}

impl<'a> EventContext<'a> {
    pub fn new(request: &'a Verified<'a>, meta: EventMeta<'a>) -> Self {
        EventContext {
            text: request.json_text(),
            meta,
        }
    }

    pub fn with_data(&self) -> bool {
        self.meta.with_data
    }

    pub fn meta(&self) -> &EventMeta<'a> {
        &self.meta
    }
}

/// The canonical event types.
pub const TYPES: [&str; 15] = [
    "call.started",
    "call.ended",
    "call.failed",
    "call.transferred",
    "chat.started",
    "chat.ended",
    "sms.received",
    "sms.sent",
    "sms.delivered",
    "appointment.booked",
    "lead.created",
    "contact.created",
    "contact.updated",
    "ping",
    "unknown",
];

/// A duration in seconds, never negative: a provider's negative value is
/// left out of the event (the schema's minimum is 0), not published.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct Seconds(Number);

impl Seconds {
    pub fn new(seconds: Number) -> Option<Seconds> {
        (seconds.as_f64()? >= 0.0).then_some(Seconds(seconds))
    }

    pub fn as_f64(&self) -> f64 {
        self.0.as_f64().unwrap_or_default()
    }
}

/// An object of `data` whose every field is optional: absent fields are
/// left out of the JSON, and an object with none is left out whole.
macro_rules! object {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Default, Serialize)]
        pub struct $name<'a> {
            $(
                $(#[$fdoc])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<$ty>,
            )+
        }

        impl $name<'_> {
            pub fn is_empty(&self) -> bool {
                $(self.$field.is_none())&&+
            }

            /// The object, or `None` when it has no field (an optional
            /// part of another object is then left out).
            #[inline]
            pub fn non_empty(self) -> Option<Self> {
                (!self.is_empty()).then_some(self)
            }
        }
    };
}

object! {
    /// `data.call`: a call, or a chat session.
    Call {
        id: Text<'a>,
        /// Lower-cased: `inbound` or `outbound`.
        direction: Text<'a>,
        /// Where a session happened (Agntix: phone, web, whatsapp).
        channel: Text<'a>,
        from: Text<'a>,
        to: Text<'a>,
        agent_id: Text<'a>,
        agent_name: Text<'a>,
        agent_email: Text<'a>,
        /// RFC 3339 UTC.
        started_at: String,
        ended_at: String,
        duration_seconds: Seconds,
        end_reason: Text<'a>,
        successful: bool,
        summary: Text<'a>,
        /// `positive`, `neutral` or `negative` where the label maps.
        sentiment: Text<'a>,
        recording_url: Text<'a>,
        transcript: Vec<Turn<'a>>,
        /// What the provider's analysis extracted, as given.
        extracted: &'a RawValue,
        transfer: Transfer<'a>,
    }
}

object! {
    /// One turn of a transcript.
    Turn {
        /// `agent`, `caller`, `system` or `tool` where the label maps.
        role: Text<'a>,
        text: Text<'a>,
        offset_ms: Number,
        at: Text<'a>,
    }
}

object! {
    /// Where a call was transferred.
    Transfer {
        to: Text<'a>,
        label: Text<'a>,
        reason: Text<'a>,
    }
}

object! {
    /// `data.sms`.
    Sms {
        id: Text<'a>,
        direction: Text<'a>,
        /// `sms` or `mms`.
        kind: Text<'a>,
        from: Text<'a>,
        to: Text<'a>,
        text: Text<'a>,
        status: Text<'a>,
        sent_at: String,
        delivered_at: String,
        received_at: String,
        agent_id: Text<'a>,
        call_id: Text<'a>,
    }
}

object! {
    /// `data.contact`.
    Contact {
        id: Text<'a>,
        name: Text<'a>,
        last_name: Text<'a>,
        company: Text<'a>,
        emails: &'a RawValue,
        numbers: &'a RawValue,
    }
}

object! {
    /// `data.appointment`.
    Appointment {
        date: Text<'a>,
        time_start: Text<'a>,
        time_end: Text<'a>,
        service: Text<'a>,
        calendar_event_id: Text<'a>,
        calendar_event_link: Text<'a>,
        call_id: Text<'a>,
    }
}

object! {
    /// `data.lead`.
    Lead {
        intent: Text<'a>,
        urgency: Text<'a>,
        interest: Text<'a>,
        summary: Text<'a>,
        call_id: Text<'a>,
    }
}

object! {
    /// `data.caller`: the other party.
    Caller {
        name: Text<'a>,
        phone: Text<'a>,
        email: Text<'a>,
    }
}

/// Of a call's or message's two ends, the other party (`data.caller`): the
/// recipient of what went out, else the sender.
#[inline]
pub fn other_party<T>(outbound: bool, from: T, to: T) -> T {
    if outbound {
        to
    } else {
        from
    }
}

/// A call's `(from, to)` given our end and the other party's: an outbound
/// call is from us.
#[inline]
pub fn from_to<T>(outbound: bool, ours: T, theirs: T) -> (T, T) {
    if outbound {
        (ours, theirs)
    } else {
        (theirs, ours)
    }
}

/// A normalized event, before serialization.
#[derive(Debug, Default)]
pub struct Event<'a> {
    pub event_type: &'static str,
    /// The provider's own event name, as sent.
    pub provider_event: Option<Text<'a>>,
    pub subject: Option<Text<'a>>,
    /// When it happened per the provider, RFC 3339 UTC.
    pub time: Option<String>,
    pub call: Call<'a>,
    pub sms: Sms<'a>,
    pub contact: Contact<'a>,
    pub appointment: Appointment<'a>,
    pub lead: Lead<'a>,
    pub caller: Caller<'a>,
    /// The customer's own correlation data, verbatim.
    pub metadata: Option<&'a RawValue>,
}

impl<'a> Event<'a> {
    /// An event the mapping does not know: forwarded as `unknown`, never
    /// dropped; its payload stays in `raw`.
    pub fn unknown(provider_event: Option<Text<'a>>) -> Event<'a> {
        Event {
            event_type: "unknown",
            provider_event,
            ..Event::default()
        }
    }

    fn time_or_received(&self, ctx: &EventContext<'_>) -> String {
        self.time
            .clone()
            .or_else(|| format_utc(OffsetDateTime::from(ctx.meta.received_at)))
            .unwrap_or_default()
    }

    /// The structured-mode document (`application/cloudevents+json`).
    pub fn to_structured(&self, ctx: &EventContext<'_>) -> Vec<u8> {
        let meta = &ctx.meta;
        let source = format!("/{}", meta.route);
        let time = self.time_or_received(ctx);
        let some = |empty: bool| !empty;
        let data = Data {
            call: some(self.call.is_empty()).then_some(&self.call),
            sms: some(self.sms.is_empty()).then_some(&self.sms),
            contact: some(self.contact.is_empty()).then_some(&self.contact),
            appointment: some(self.appointment.is_empty()).then_some(&self.appointment),
            lead: some(self.lead.is_empty()).then_some(&self.lead),
            caller: some(self.caller.is_empty()).then_some(&self.caller),
            metadata: self.metadata,
        };
        let has_data = data.call.is_some()
            || data.sms.is_some()
            || data.contact.is_some()
            || data.appointment.is_some()
            || data.lead.is_some()
            || data.caller.is_some()
            || data.metadata.is_some();
        let envelope = Envelope {
            specversion: "1.0",
            id: meta.delivery_id,
            source: &source,
            ty: self.event_type,
            subject: self.subject.as_deref(),
            time: &time,
            datacontenttype: "application/json",
            provider: meta.provider,
            providerevent: self.provider_event.as_deref(),
            providerdeliveryid: meta.provider_delivery_id,
            data,
        };
        let raw = ctx.text.trim_ascii();
        let mut out = Vec::with_capacity(raw.len() * 2 + 1024);
        serde_json::to_writer(&mut out, &envelope).expect("borrowed JSON values serialize");
        if meta.include_raw {
            // `data` is the envelope's last member: splice `raw` into it from
            // the verified bytes instead of re-serializing a copy.
            out.truncate(out.len() - 2);
            if has_data {
                out.push(b',');
            }
            out.extend_from_slice(b"\"raw\":");
            out.extend_from_slice(raw);
            out.extend_from_slice(b"}}");
        }
        out
    }

    /// Binary-mode attributes, as `ce-*` headers (values percent-encoded
    /// where they are not visible ASCII, per the CloudEvents HTTP binding).
    pub fn binary_headers(&self, ctx: &EventContext<'_>) -> Vec<(&'static str, String)> {
        let meta = &ctx.meta;
        let mut out = Vec::with_capacity(9);
        let mut put = |name: &'static str, value: &str| {
            out.push((name, header_value(value)));
        };
        put("ce-specversion", "1.0");
        put("ce-id", meta.delivery_id);
        put("ce-source", &format!("/{}", meta.route));
        put("ce-type", self.event_type);
        if let Some(s) = &self.subject {
            put("ce-subject", s);
        }
        put("ce-time", &self.time_or_received(ctx));
        put("ce-provider", meta.provider);
        if let Some(e) = &self.provider_event {
            put("ce-providerevent", e);
        }
        if let Some(id) = meta.provider_delivery_id {
            put("ce-providerdeliveryid", id);
        }
        out
    }
}

/// The CloudEvents envelope, serialized from borrowed parts; `data` last.
#[derive(Serialize)]
struct Envelope<'a> {
    specversion: &'static str,
    id: &'a str,
    source: &'a str,
    #[serde(rename = "type")]
    ty: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
    time: &'a str,
    datacontenttype: &'static str,
    provider: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    providerevent: Option<&'a str>,
    /// Unverified: the provider sent it in an unsigned header.
    #[serde(skip_serializing_if = "Option::is_none")]
    providerdeliveryid: Option<&'a str>,
    data: Data<'a>,
}

#[derive(Serialize)]
struct Data<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    call: Option<&'a Call<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sms: Option<&'a Sms<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<&'a Contact<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    appointment: Option<&'a Appointment<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lead: Option<&'a Lead<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    caller: Option<&'a Caller<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a RawValue>,
}

/// A `ce-*` value: visible ASCII and spaces kept, everything else (and `%`)
/// percent-encoded, per the CloudEvents HTTP binding.
pub fn header_value(value: &str) -> String {
    use std::fmt::Write;
    let mut encoded = String::with_capacity(value.len());
    for b in value.bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'%' || b == b' ' {
            encoded.push(b as char);
        } else {
            let _ = write!(encoded, "%{b:02X}");
        }
    }
    encoded
}

/// A time as RFC 3339 UTC; `None` for a time RFC 3339 cannot write (a
/// year before 0000 or after 9999 once in UTC), which a provider's field can
/// still hold: it is left out of the event.
pub fn format_utc(t: OffsetDateTime) -> Option<String> {
    t.checked_to_offset(UtcOffset::UTC)?.format(&Rfc3339).ok()
}

/// `agent`, `caller`, `system` or `tool` where the provider's role maps;
/// otherwise the label lower-cased.
pub fn role(label: &str) -> Text<'static> {
    const MAPPED: [(&str, &[&str]); 4] = [
        (
            "agent",
            &[
                "agent",
                "assistant",
                "bot",
                "ai",
                "agent_turn",
                "assistant_turn",
            ],
        ),
        (
            "caller",
            &[
                "caller",
                "user",
                "customer",
                "human",
                "user_turn",
                "contact",
            ],
        ),
        ("system", &["system"]),
        (
            "tool",
            &[
                "tool",
                "function",
                "tool_call",
                "tool_result",
                "function_call",
            ],
        ),
    ];
    for (canonical, labels) in MAPPED {
        if labels.iter().any(|l| l.eq_ignore_ascii_case(label)) {
            return Cow::Borrowed(canonical);
        }
    }
    Cow::Owned(label.to_ascii_lowercase())
}

/// `positive`, `neutral` or `negative` where the label maps; otherwise the
/// label lower-cased.
pub fn sentiment(label: &str) -> Text<'static> {
    const POSITIVE: &[&str] = &["positive", "happy", "satisfied", "pleased", "very_positive"];
    const NEUTRAL: &[&str] = &["neutral", "mixed"];
    const NEGATIVE: &[&str] = &[
        "negative",
        "unhappy",
        "angry",
        "frustrated",
        "upset",
        "dissatisfied",
        "very_negative",
    ];
    let is = |set: &[&str]| set.iter().any(|l| l.eq_ignore_ascii_case(label));
    if is(POSITIVE) {
        Cow::Borrowed("positive")
    } else if is(NEUTRAL) {
        Cow::Borrowed("neutral")
    } else if is(NEGATIVE) {
        Cow::Borrowed("negative")
    } else {
        Cow::Owned(label.to_ascii_lowercase())
    }
}
