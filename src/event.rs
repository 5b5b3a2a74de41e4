//! The normalized event: one CloudEvents 1.0 schema for every provider
//! (schema/event.schema.json; docs/NORMALIZATION.md), serialized in
//! structured mode (`application/cloudevents+json`) or as binary-mode `ce-*`
//! headers. Providers fill an [`Event`] from an [`EventContext`], which only
//! a verified request yields.

use std::time::SystemTime;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use crate::verify::{Headers, Verified};

/// What a provider's mapping may look at: a verified request and the ids
/// the gate derived for it.
pub struct EventContext<'a> {
    request: &'a Verified<'a>,
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
        EventContext { request, meta }
    }

    /// The parsed payload.
    pub fn json(&self) -> &'a Value {
        self.request.json()
    }

    /// The payload's JSON text (spliced verbatim as `data.raw`).
    pub fn json_text(&self) -> &'a [u8] {
        self.request.json_text()
    }

    pub fn headers(&self) -> Headers<'a> {
        self.request.headers()
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

/// A normalized event, before serialization. It borrows the parsed body
/// where it passes parts through (the transcript).
#[derive(Debug, Default)]
pub struct Event<'a> {
    pub event_type: &'static str,
    /// The provider's own event name, as sent.
    pub provider_event: Option<String>,
    pub subject: Option<String>,
    /// When it happened per the provider, RFC 3339 UTC.
    pub time: Option<String>,
    pub call: Option<Map<String, Value>>,
    /// `call.transcript`, written straight from the provider's turns when
    /// the event is serialized (a tree per turn cost more than all the rest
    /// of normalization).
    pub transcript: Option<Transcript<'a>>,
    pub sms: Option<Map<String, Value>>,
    pub contact: Option<Map<String, Value>>,
    pub appointment: Option<Map<String, Value>>,
    pub lead: Option<Map<String, Value>>,
    pub caller: Option<Map<String, Value>>,
    /// The customer's own correlation data, verbatim.
    pub metadata: Option<Value>,
}

impl Event<'_> {
    fn time_or_received(&self, ctx: &EventContext<'_>) -> String {
        self.time
            .clone()
            .unwrap_or_else(|| format_utc(OffsetDateTime::from(ctx.meta.received_at)))
    }

    /// The structured-mode document (`application/cloudevents+json`).
    pub fn to_structured(&self, ctx: &EventContext<'_>) -> Vec<u8> {
        let meta = &ctx.meta;
        let source = format!("/{}", meta.route);
        let time = self.time_or_received(ctx);
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
            data: Data {
                call: (self.call.is_some() || self.transcript.is_some()).then_some(Call {
                    fields: self.call.as_ref(),
                    transcript: self.transcript.as_ref(),
                }),
                sms: self.sms.as_ref(),
                contact: self.contact.as_ref(),
                appointment: self.appointment.as_ref(),
                lead: self.lead.as_ref(),
                caller: self.caller.as_ref(),
                metadata: self.metadata.as_ref(),
            },
        };
        let raw = ctx.json_text().trim_ascii();
        let mut out = Vec::with_capacity(raw.len() + 1024);
        serde_json::to_writer(&mut out, &envelope).expect("borrowed JSON values serialize");
        if meta.include_raw {
            // `data` is the envelope's last member: splice `raw` into it from
            // the verified bytes instead of re-serializing a copy.
            out.truncate(out.len() - 2);
            if !envelope.data.is_empty() {
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
#[derive(serde::Serialize)]
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

#[derive(serde::Serialize)]
struct Data<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    call: Option<Call<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sms: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    appointment: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lead: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    caller: Option<&'a Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<&'a Value>,
}

impl Data<'_> {
    fn is_empty(&self) -> bool {
        self.call.is_none()
            && self.sms.is_none()
            && self.contact.is_none()
            && self.appointment.is_none()
            && self.lead.is_none()
            && self.caller.is_none()
            && self.metadata.is_none()
    }
}

/// `data.call`: its mapped fields, then its transcript.
struct Call<'a> {
    fields: Option<&'a Map<String, Value>>,
    transcript: Option<&'a Transcript<'a>>,
}

impl serde::Serialize for Call<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.fields.into_iter().flatten() {
            map.serialize_entry(k, v)?;
        }
        if let Some(t) = self.transcript {
            map.serialize_entry("transcript", t)?;
        }
        map.end()
    }
}

/// A provider's list of turns, mapped as it is serialized: each turn's role
/// (mapped), text, and its time or offset under the key `when` gives.
#[derive(Clone, Copy)]
pub struct Transcript<'a> {
    turns: &'a [Value],
    role_keys: &'static [&'static str],
    text_keys: &'static [&'static str],
    when: fn(&Value) -> Option<(&'static str, Value)>,
}

impl std::fmt::Debug for Transcript<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Transcript({} turns)", self.turns.len())
    }
}

impl serde::Serialize for Transcript<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        let mut seq = s.serialize_seq(Some(self.turns.len()))?;
        for t in self.turns {
            seq.serialize_element(&Turn(self, t))?;
        }
        return seq.end();

        struct Turn<'t>(&'t Transcript<'t>, &'t Value);
        impl serde::Serialize for Turn<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let Turn(spec, turn) = self;
                let mut map = s.serialize_map(None)?;
                if let Some(label) = scalar_text(turn, spec.role_keys) {
                    map.serialize_entry("role", &role(&label))?;
                }
                if let Some(text) = scalar_text(turn, spec.text_keys) {
                    map.serialize_entry("text", &text)?;
                }
                if let Some((key, value)) = (spec.when)(turn).filter(|(_, v)| !v.is_null()) {
                    map.serialize_entry(key, &value)?;
                }
                map.end()
            }
        }
    }
}

/// [`string`] without the copy: a non-empty string field, or a number as text.
fn scalar_text<'v>(obj: &'v Value, keys: &[&str]) -> Option<std::borrow::Cow<'v, str>> {
    match field(obj, keys)? {
        Value::String(s) if !s.is_empty() => Some(std::borrow::Cow::Borrowed(s)),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        _ => None,
    }
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

/// A time as RFC 3339 UTC.
pub fn format_utc(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .expect("a UTC time formats as RFC 3339")
}

/// A provider's list of turns as a transcript (see [`Transcript`]); `None`
/// when `list` is not a list.
pub fn turns<'a>(
    list: Option<&'a Value>,
    role_keys: &'static [&'static str],
    text_keys: &'static [&'static str],
    when: fn(&Value) -> Option<(&'static str, Value)>,
) -> Option<Transcript<'a>> {
    Some(Transcript {
        turns: list?.as_array()?,
        role_keys,
        text_keys,
        when,
    })
}

/// `agent`, `caller`, `system` or `tool` where the provider's role maps;
/// otherwise the label lower-cased.
pub fn role(label: &str) -> std::borrow::Cow<'static, str> {
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
            return std::borrow::Cow::Borrowed(canonical);
        }
    }
    std::borrow::Cow::Owned(label.to_ascii_lowercase())
}

/// The first present, non-null field among `keys`.
fn field<'v>(obj: &'v Value, keys: &[&str]) -> Option<&'v Value> {
    keys.iter()
        .find_map(|k| obj.get(k))
        .filter(|v| !v.is_null())
}
