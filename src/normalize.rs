//! Helpers for the providers' mappings into the normalized event
//! ([`crate::event`]).
//!
//! Mapping never fails: an event a mapping does not know becomes type
//! `unknown` with its provider event name, and a field the provider did not
//! send is left out, never invented.

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::event::format_utc;
pub use crate::event::{role, turns, Event, EventContext};

/// An object under construction: `put` skips what is absent.
#[derive(Default)]
pub struct Obj(Map<String, Value>);

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
pub fn field<'v>(obj: &'v Value, keys: &[&str]) -> Option<&'v Value> {
    keys.iter()
        .find_map(|k| obj.get(k))
        .filter(|v| !v.is_null())
}

pub fn string(obj: &Value, keys: &[&str]) -> Option<String> {
    match field(obj, keys)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A string field as a JSON value.
pub fn text(obj: &Value, keys: &[&str]) -> Option<Value> {
    string(obj, keys).map(Value::String)
}

/// A field as is (objects, arrays, numbers, booleans, strings).
pub fn any(obj: &Value, keys: &[&str]) -> Option<Value> {
    field(obj, keys).cloned()
}

pub fn number(obj: &Value, keys: &[&str]) -> Option<Value> {
    match field(obj, keys)? {
        Value::Number(n) => Some(Value::Number(n.clone())),
        Value::String(s) => s.trim().parse::<f64>().ok().and_then(json_number),
        _ => None,
    }
}

pub fn json_number(n: f64) -> Option<Value> {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Some(Value::from(n as i64))
    } else {
        serde_json::Number::from_f64(n).map(Value::Number)
    }
}

pub fn boolean(obj: &Value, keys: &[&str]) -> Option<Value> {
    match field(obj, keys)? {
        Value::Bool(b) => Some(Value::Bool(*b)),
        _ => None,
    }
}

pub fn lower(obj: &Value, keys: &[&str]) -> Option<Value> {
    string(obj, keys).map(|s| Value::String(s.to_lowercase()))
}

/// A provider time as RFC 3339 UTC: RFC 3339 with any offset, or
/// `YYYY-MM-DD HH:MM:SS[.fff]` taken as UTC, or Unix seconds/milliseconds.
/// Anything else is left out rather than guessed.
pub fn utc_time(obj: &Value, keys: &[&str]) -> Option<String> {
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

pub fn time_value(obj: &Value, keys: &[&str]) -> Option<Value> {
    utc_time(obj, keys).map(Value::String)
}

/// `positive`, `neutral` or `negative` where the label maps; otherwise the
/// label lower-cased.
pub fn sentiment(label: &str) -> String {
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
pub fn unknown<'a>(provider_event: Option<String>) -> Event<'a> {
    Event {
        event_type: "unknown",
        provider_event,
        ..Event::default()
    }
}
