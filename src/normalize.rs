//! One schema for every provider: a CloudEvents 1.0 event whose `data`
//! holds `call`, `sms`, `contact`, `appointment`, `lead`, `caller`,
//! `metadata` and `raw` (schema/event.schema.json; docs/NORMALIZATION.md).
//!
//! Mapping never fails: an event it does not know becomes type `unknown`
//! with its provider event name, and a field the provider did not send is
//! left out, never invented. The body was parsed once by the caller; `raw`
//! is the provider's bytes spliced in verbatim, not a re-serialised copy.

pub mod agntix;
pub mod allo;
pub mod inboundflow;
pub mod nixflex;
pub mod voxagent;

use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

pub use crate::provider::ProviderKind;

/// Everything normalization may look at. The body is verified and parsed.
pub struct EventContext<'a> {
    pub provider: ProviderKind,
    pub route: &'a str,
    pub headers: &'a HeaderMap,
    /// The raw verified bytes (valid JSON).
    pub body: &'a [u8],
    pub json: &'a Value,
    /// The CloudEvents `id`.
    pub delivery_id: &'a str,
    pub received_at: SystemTime,
    pub include_raw: bool,
    /// Whether `data` is wanted. With `forward = "original"` only the
    /// attributes travel (as `ce-*` headers), so the costly parts of `data`
    /// (transcripts) are not built.
    pub with_data: bool,
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
            .unwrap_or_else(|| format_utc(OffsetDateTime::from(ctx.received_at)))
    }

    /// The structured-mode document (`application/cloudevents+json`).
    pub fn to_structured(&self, ctx: &EventContext<'_>) -> Vec<u8> {
        let source = format!("/{}", ctx.route);
        let time = self.time_or_received(ctx);
        let envelope = Envelope {
            specversion: "1.0",
            id: ctx.delivery_id,
            source: &source,
            ty: self.event_type,
            subject: self.subject.as_deref(),
            time: &time,
            datacontenttype: "application/json",
            provider: ctx.provider.as_str(),
            providerevent: self.provider_event.as_deref(),
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
        let mut out = Vec::with_capacity(ctx.body.len() + 1024);
        serde_json::to_writer(&mut out, &envelope).expect("borrowed JSON values serialize");
        if ctx.include_raw {
            // `data` is the envelope's last member: splice `raw` into it from
            // the verified bytes instead of re-serializing a copy.
            out.truncate(out.len() - 2);
            if !envelope.data.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(b"\"raw\":");
            out.extend_from_slice(ctx.body.trim_ascii());
            out.extend_from_slice(b"}}");
        }
        out
    }

    /// Binary-mode attributes, as `ce-*` headers (values percent-encoded
    /// where they are not visible ASCII, per the CloudEvents HTTP binding).
    pub fn binary_headers(&self, ctx: &EventContext<'_>) -> Vec<(HeaderName, HeaderValue)> {
        let mut out = Vec::with_capacity(8);
        let mut put = |name: &'static str, value: &str| {
            out.push((HeaderName::from_static(name), header_value(value)));
        };
        put("ce-specversion", "1.0");
        put("ce-id", ctx.delivery_id);
        put("ce-source", &format!("/{}", ctx.route));
        put("ce-type", self.event_type);
        if let Some(s) = &self.subject {
            put("ce-subject", s);
        }
        put("ce-time", &self.time_or_received(ctx));
        put("ce-provider", ctx.provider.as_str());
        if let Some(e) = &self.provider_event {
            put("ce-providerevent", e);
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

fn header_value(value: &str) -> HeaderValue {
    let mut encoded = String::with_capacity(value.len());
    for b in value.bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'%' || b == b' ' {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&encoded).expect("visible ASCII is a valid header value")
}

/// Dispatches to the provider's mapping.
pub fn normalize<'a>(ctx: &EventContext<'a>) -> Event<'a> {
    match ctx.provider {
        ProviderKind::Nixflex => nixflex::normalize(ctx),
        ProviderKind::Agntix => agntix::normalize(ctx),
        ProviderKind::InboundFlow => inboundflow::normalize(ctx),
        ProviderKind::Allo => allo::normalize(ctx),
        ProviderKind::Voxagent => voxagent::normalize(ctx),
    }
}

// Shared helpers for the mappings.

/// An object under construction: `put` skips what is absent.
#[derive(Default)]
pub(crate) struct Obj(Map<String, Value>);

impl Obj {
    pub fn put(&mut self, key: &str, value: Option<Value>) -> &mut Self {
        if let Some(v) = value.filter(|v| !v.is_null()) {
            self.0.insert(key.to_owned(), v);
        }
        self
    }

    pub fn done(self) -> Option<Map<String, Value>> {
        (!self.0.is_empty()).then_some(self.0)
    }
}

/// The first present field among `keys` (snake_case and camelCase alike).
pub(crate) fn field<'v>(obj: &'v Value, keys: &[&str]) -> Option<&'v Value> {
    keys.iter()
        .find_map(|k| obj.get(k))
        .filter(|v| !v.is_null())
}

pub(crate) fn string(obj: &Value, keys: &[&str]) -> Option<String> {
    match field(obj, keys)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A string field as a JSON value.
pub(crate) fn text(obj: &Value, keys: &[&str]) -> Option<Value> {
    string(obj, keys).map(Value::String)
}

/// A field as is (objects, arrays, numbers, booleans, strings).
pub(crate) fn any(obj: &Value, keys: &[&str]) -> Option<Value> {
    field(obj, keys).cloned()
}

pub(crate) fn number(obj: &Value, keys: &[&str]) -> Option<Value> {
    match field(obj, keys)? {
        Value::Number(n) => Some(Value::Number(n.clone())),
        Value::String(s) => s.trim().parse::<f64>().ok().and_then(json_number),
        _ => None,
    }
}

pub(crate) fn json_number(n: f64) -> Option<Value> {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Some(Value::from(n as i64))
    } else {
        serde_json::Number::from_f64(n).map(Value::Number)
    }
}

pub(crate) fn boolean(obj: &Value, keys: &[&str]) -> Option<Value> {
    match field(obj, keys)? {
        Value::Bool(b) => Some(Value::Bool(*b)),
        _ => None,
    }
}

pub(crate) fn lower(obj: &Value, keys: &[&str]) -> Option<Value> {
    string(obj, keys).map(|s| Value::String(s.to_lowercase()))
}

fn format_utc(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .expect("a UTC time formats as RFC 3339")
}

/// A provider time as RFC 3339 UTC: RFC 3339 with any offset, or
/// `YYYY-MM-DD HH:MM:SS[.fff]` taken as UTC, or Unix seconds/milliseconds.
/// Anything else is left out rather than guessed.
pub(crate) fn utc_time(obj: &Value, keys: &[&str]) -> Option<String> {
    match field(obj, keys)? {
        Value::String(s) => parse_time(s.trim()),
        Value::Number(n) => {
            let secs = n.as_i64()?;
            let secs = if secs > 100_000_000_000 {
                secs / 1000
            } else {
                secs
            };
            OffsetDateTime::from_unix_timestamp(secs)
                .ok()
                .map(format_utc)
        }
        _ => None,
    }
}

fn parse_time(s: &str) -> Option<String> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(format_utc(t));
    }
    let naive = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    let t = PrimitiveDateTime::parse(s, naive)
        .or_else(|_| PrimitiveDateTime::parse(&s.replacen('T', " ", 1), naive))
        .ok()?;
    Some(format_utc(t.assume_utc()))
}

pub(crate) fn time_value(obj: &Value, keys: &[&str]) -> Option<Value> {
    utc_time(obj, keys).map(Value::String)
}

/// A provider's list of turns as a transcript (see [`Transcript`]); `None`
/// when `list` is not a list.
pub(crate) fn turns<'a>(
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
pub(crate) fn role(label: &str) -> std::borrow::Cow<'static, str> {
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

/// `positive`, `neutral` or `negative` where the label maps; otherwise the
/// label lower-cased.
pub(crate) fn sentiment(label: &str) -> String {
    match label.to_ascii_lowercase().as_str() {
        "positive" | "happy" | "satisfied" | "pleased" | "very_positive" => "positive".into(),
        "neutral" | "mixed" => "neutral".into(),
        "negative" | "unhappy" | "angry" | "frustrated" | "upset" | "dissatisfied"
        | "very_negative" => "negative".into(),
        other => other.to_owned(),
    }
}

/// The provider's event name and an `unknown` event, for bodies the
/// mapping does not recognise.
pub(crate) fn unknown<'a>(provider_event: Option<String>) -> Event<'a> {
    Event {
        event_type: "unknown",
        provider_event,
        ..Event::default()
    }
}

#[cfg(test)]
pub(crate) mod tests;
