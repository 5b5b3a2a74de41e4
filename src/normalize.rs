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

/// A normalized event, before serialization.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Event {
    pub event_type: &'static str,
    /// The provider's own event name, as sent.
    pub provider_event: Option<String>,
    pub subject: Option<String>,
    /// When it happened per the provider, RFC 3339 UTC.
    pub time: Option<String>,
    pub call: Option<Map<String, Value>>,
    pub sms: Option<Map<String, Value>>,
    pub contact: Option<Map<String, Value>>,
    pub appointment: Option<Map<String, Value>>,
    pub lead: Option<Map<String, Value>>,
    pub caller: Option<Map<String, Value>>,
    /// The customer's own correlation data, verbatim.
    pub metadata: Option<Value>,
}

impl Event {
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
                call: self.call.as_ref(),
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
    call: Option<&'a Map<String, Value>>,
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
pub fn normalize(ctx: &EventContext<'_>) -> Event {
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

/// A transcript: each turn's role (mapped), text, and its time or offset
/// under the key `when` gives, from a provider's list of turns.
pub(crate) fn turns(
    list: Option<&Value>,
    role_keys: &[&str],
    text_keys: &[&str],
    when: impl Fn(&Value) -> Option<(&'static str, Value)>,
) -> Option<Value> {
    let list = list?.as_array()?;
    Some(Value::Array(
        list.iter()
            .map(|t| {
                let mut turn = Obj::default();
                turn.put("role", string(t, role_keys).map(|r| role(&r).into()))
                    .put("text", text(t, text_keys));
                if let Some((key, value)) = when(t) {
                    turn.put(key, Some(value));
                }
                Value::Object(turn.done().unwrap_or_default())
            })
            .collect(),
    ))
}

/// `agent`, `caller`, `system` or `tool` where the provider's role maps;
/// otherwise the label lower-cased.
pub(crate) fn role(label: &str) -> String {
    match label.to_ascii_lowercase().as_str() {
        "agent" | "assistant" | "bot" | "ai" | "agent_turn" | "assistant_turn" => "agent".into(),
        "caller" | "user" | "customer" | "human" | "user_turn" | "contact" => "caller".into(),
        "system" => "system".into(),
        "tool" | "function" | "tool_call" | "tool_result" | "function_call" => "tool".into(),
        other => other.to_owned(),
    }
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
pub(crate) fn unknown(provider_event: Option<String>) -> Event {
    Event {
        event_type: "unknown",
        provider_event,
        ..Event::default()
    }
}

#[cfg(test)]
pub(crate) mod tests;
