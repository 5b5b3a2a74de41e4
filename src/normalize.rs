//! Reading a provider's payload for its mapping into the normalized event
//! ([`crate::event`]): typed, borrowing views that never fail on a field's
//! type.
//!
//! Each provider declares the fields it maps as plain structs of the types
//! here, deserialized once from the verified JSON text. Strings borrow from
//! the text; objects and lists are read only as far as a mapping needs
//! them, and a list a mapping only sometimes needs (a transcript) is kept as
//! [`Raw`] text and read when it is. A field of an unexpected type reads as
//! absent and is left out of the event, never guessed.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::Number;
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::event::{format_utc, Turn};
pub use crate::event::{role, sentiment, Call, Event, EventContext, Seconds, Text};
use crate::verify::fields::header_id;
use crate::verify::{Request, Scalar};

/// A JSON scalar as sent. `null`, objects and arrays read as absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<'a> {
    #[default]
    Absent,
    Text(Cow<'a, str>),
    Number(Number),
    Bool(bool),
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Field<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Field<'a>, E> {
                Ok(Field::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Field<'a>, E> {
                Ok(Field::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Field<'a>, E> {
                Ok(Field::Text(Cow::Owned(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Field<'a>, E> {
                Ok(Field::Number(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Field<'a>, E> {
                Ok(Field::Number(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Field<'a>, E> {
                Ok(Number::from_f64(v).map_or(Field::Absent, Field::Number))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Field<'a>, E> {
                Ok(Field::Bool(v))
            }
            fn visit_unit<E>(self) -> Result<Field<'a>, E> {
                Ok(Field::Absent)
            }
            fn visit_none<E>(self) -> Result<Field<'a>, E> {
                Ok(Field::Absent)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Field<'a>, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field<'a>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field::Absent)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field<'a>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field::Absent)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<'a> Field<'a> {
    /// A non-empty string, or a number as text.
    pub fn text(&self) -> Option<Text<'a>> {
        match self {
            Field::Text(t) if !t.is_empty() => Some(t.clone()),
            Field::Number(n) => Some(Cow::Owned(n.to_string())),
            _ => None,
        }
    }

    /// A number, or a string holding one.
    pub fn number(&self) -> Option<Number> {
        match self {
            Field::Number(n) => Some(n.clone()),
            Field::Text(t) => t.trim().parse::<f64>().ok().and_then(json_number),
            _ => None,
        }
    }

    /// A number (or a string holding one) as `f64`, for arithmetic.
    #[inline]
    pub fn float(&self) -> Option<f64> {
        self.number().and_then(|n| n.as_f64())
    }

    /// A duration in seconds: a number, or a string holding one, that is
    /// not negative.
    pub fn duration(&self) -> Option<Seconds> {
        self.number().and_then(Seconds::new)
    }

    pub fn boolean(&self) -> Option<bool> {
        match self {
            Field::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The text lower-cased.
    pub fn lower(&self) -> Option<Text<'a>> {
        let t = self.text()?;
        if t.bytes().any(|b| b.is_ascii_uppercase()) {
            Some(Cow::Owned(t.to_ascii_lowercase()))
        } else {
            Some(t)
        }
    }

    /// A provider time as RFC 3339 UTC: RFC 3339 with any offset,
    /// `YYYY-MM-DD HH:MM:SS[.fff]` taken as UTC, or Unix seconds or
    /// milliseconds. Anything else is left out rather than guessed.
    pub fn time(&self) -> Option<String> {
        match self {
            Field::Text(s) => parse_time(s.trim()),
            Field::Number(n) => {
                let secs = n.as_i64()?;
                let secs = if secs > 100_000_000_000 {
                    secs / 1000
                } else {
                    secs
                };
                OffsetDateTime::from_unix_timestamp(secs)
                    .ok()
                    .and_then(format_utc)
            }
            _ => None,
        }
    }

    /// The text as a label (lower-cased for comparison by the caller).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Field::Text(t) if !t.is_empty() => Some(t),
            _ => None,
        }
    }

    /// Whether the field is the label `label`, in any case (providers
    /// differ in the case of their enumerations).
    #[inline]
    pub fn is(&self, label: &str) -> bool {
        self.as_str().is_some_and(|t| t.eq_ignore_ascii_case(label))
    }

    /// As signed material for a delivery's identity.
    pub fn scalar(&self) -> Option<Scalar<'a>> {
        match self {
            Field::Text(t) if !t.is_empty() => Some(Scalar::Text(t.clone())),
            Field::Number(n) => Some(Scalar::Number(n.to_string())),
            _ => None,
        }
    }
}

/// Declares a provider's views: structs of this module's types, every field
/// optional (`#[serde(default)]`, as providers leave fields out) and
/// borrowing from the payload text for `'a`. Doc comments and attributes,
/// the structs' and their fields', pass through as written.
macro_rules! view {
    ($($(#[$attr:meta])* $vis:vis struct $name:ident<'a> { $($fields:tt)* })*) => {
        $(
            #[derive(::serde::Deserialize, Default)]
            #[serde(default, bound(deserialize = "'de: 'a"))]
            $(#[$attr])*
            $vis struct $name<'a> { $($fields)* }
        )*
    };
}
pub(crate) use view;

/// The first field among `fields` that holds text.
pub fn first_text<'a>(fields: &[&Field<'a>]) -> Option<Text<'a>> {
    fields.iter().find_map(|f| f.text())
}

/// The first field among `fields` that holds a time.
pub fn first_time(fields: &[&Field<'_>]) -> Option<String> {
    fields.iter().find_map(|f| f.time())
}

/// A dedup key of two signed values, or none unless both are present (a
/// part missing would merge deliveries that differ in it).
#[inline]
pub fn pair_key<'a>(
    first: Option<Scalar<'a>>,
    second: Option<Scalar<'a>>,
) -> Option<Vec<Scalar<'a>>> {
    Some(vec![first?, second?])
}

/// A request header's value as signed material for an identity: owned,
/// since the headers do not live as long as the payload's view.
#[inline]
pub fn header_scalar(request: &Request<'_>, name: &str) -> Option<Scalar<'static>> {
    header_id(&request.headers, name).map(|id| Scalar::Text(Cow::Owned(id.to_owned())))
}

/// An id the provider sends in a header it does not sign: reported (as
/// `providerdeliveryid`), never used to dedup.
#[inline]
pub fn unsigned_header_id(request: &Request<'_>, name: &str) -> Option<String> {
    header_id(&request.headers, name).map(str::to_owned)
}

/// A call's transcript: `raw`'s turns, each read as `T` and mapped by
/// `turn`. Built only when the event's `data` is wanted (it is the costly
/// part) and `raw` is a list.
#[inline]
pub fn transcript<'a, T: Deserialize<'a> + Default>(
    raw: &Raw<'a>,
    with_data: bool,
    turn: impl FnMut(T) -> Turn<'a>,
) -> Option<Vec<Turn<'a>>> {
    if !(with_data && raw.is_array()) {
        return None;
    }
    let List(turns) = raw.read::<List<T>>();
    Some(turns.into_iter().map(turn).collect())
}

/// The visitor methods of [`Obj`] and [`List`] for a scalar or `null`
/// where they expect an object or a list: it reads as the default (empty)
/// value, never as an error.
macro_rules! scalars_read_as_default {
    () => {
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Self::Value::default())
        }
    };
}

/// A nested object: anything but an object reads as `T::default()`.
#[derive(Debug, Default)]
pub struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Obj<T>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Obj(T::default()))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Obj<T>, D::Error> {
                d.deserialize_any(self)
            }
            scalars_read_as_default!();
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A list of objects: anything but an array reads as empty, and each
/// element as an [`Obj`].
#[derive(Debug, Default)]
pub struct List<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(8).min(1024));
                while let Some(Obj(item)) = seq.next_element::<Obj<T>>()? {
                    out.push(item);
                }
                Ok(List(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<List<T>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List(Vec::new()))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<List<T>, D::Error> {
                d.deserialize_any(self)
            }
            scalars_read_as_default!();
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A value kept as its JSON text: passed through verbatim (`metadata`,
/// `extracted`), or read later when a mapping needs it. `null` is absent.
#[derive(Debug, Default, Clone, Copy)]
pub struct Raw<'a>(pub Option<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Raw<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = <&'a RawValue>::deserialize(d)?;
        Ok(Raw((raw.get() != "null").then_some(raw)))
    }
}

impl<'a> Raw<'a> {
    /// Reads the kept text as `T` (an object or a list of this module's
    /// types): the second, narrower pass a mapping asks for.
    pub fn read<T: Deserialize<'a> + Default>(&self) -> T {
        self.0
            .and_then(|raw| serde_json::from_str::<T>(raw.get()).ok())
            .unwrap_or_default()
    }

    /// The pass-through value, when it is an object or an array (what
    /// `metadata` and `extracted` are).
    pub fn structured(&self) -> Option<&'a RawValue> {
        self.0
            .filter(|raw| matches!(raw.get().as_bytes().first(), Some(b'{' | b'[')))
    }

    /// Any present value, as given.
    pub fn value(&self) -> Option<&'a RawValue> {
        self.0
    }

    /// The kept value as a scalar [`Field`]: absent when it is an object or
    /// a list (for a value sent as either a number or an object).
    pub fn field(&self) -> Field<'a> {
        self.0
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
            .unwrap_or_default()
    }

    /// Whether the value is an array (a transcript is mapped only then).
    pub fn is_array(&self) -> bool {
        self.0.is_some_and(|raw| raw.get().starts_with('['))
    }
}

/// Reads a payload's typed view from its JSON text. A payload that is not
/// an object reads as `T::default()` (its event is then `unknown`, still
/// forwarded); only malformed JSON fails.
pub fn read<'a, T: Deserialize<'a> + Default>(text: &'a str) -> serde_json::Result<T> {
    serde_json::from_str::<Obj<T>>(text).map(|Obj(t)| t)
}

/// A float as a JSON number: integral values as integers.
pub fn json_number(n: f64) -> Option<Number> {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Some(Number::from(n as i64))
    } else {
        Number::from_f64(n)
    }
}

/// A duration in seconds as a JSON number, to the millisecond.
#[inline]
pub fn seconds(secs: f64) -> Option<Number> {
    json_number((secs * 1000.0).round() / 1000.0)
}

/// A duration sent in milliseconds, in seconds.
#[inline]
pub fn seconds_from_ms(ms: f64) -> Option<Number> {
    json_number(ms / 1000.0)
}

/// How long a call lasted by its own times: from `started_at` to `ended_at`
/// (as normalized, whichever field and format each came from), to the
/// millisecond; absent unless both are set and the end does not come first.
pub fn call_span(call: &Call<'_>) -> Option<Seconds> {
    let at = |t: &Option<String>| OffsetDateTime::parse(t.as_deref()?, &Rfc3339).ok();
    let secs = (at(&call.ended_at)? - at(&call.started_at)?).as_seconds_f64();
    Seconds::new(seconds(secs)?)
}

/// A time into the call sent in seconds, as a turn's `offset_ms` (whole
/// milliseconds).
#[inline]
pub fn offset_ms(seconds: &Field<'_>) -> Option<Number> {
    seconds
        .float()
        .and_then(|s| json_number((s * 1000.0).round()))
}

fn parse_time(s: &str) -> Option<String> {
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return format_utc(t);
    }
    let naive = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    let t = PrimitiveDateTime::parse(s, naive)
        .or_else(|_| PrimitiveDateTime::parse(&s.replacen('T', " ", 1), naive))
        .ok()?;
    format_utc(t.assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    view! {
        struct Doc<'a> {
            a: Field<'a>,
            b: Field<'a>,
            c: Field<'a>,
            nested: Obj<Inner<'a>>,
            list: List<Inner<'a>>,
            raw: Raw<'a>,
        }

        struct Inner<'a> {
            x: Field<'a>,
        }
    }

    #[test]
    fn fields_of_any_type_never_fail() {
        let doc: Doc = read(
            r#"{"a":"text \u00e9","b":12.5,"c":{"deep":[1,2]},"nested":"oops","list":[{"x":1},"two",{"x":"three"}],"raw":{"k":[1]},"other":[true]}"#,
        )
        .unwrap();
        assert_eq!(doc.a.text().as_deref(), Some("text é"));
        assert_eq!(doc.b.text().as_deref(), Some("12.5"));
        assert_eq!(doc.c, Field::Absent);
        assert_eq!(doc.nested.0.x, Field::Absent);
        let xs: Vec<_> = doc.list.0.iter().map(|i| i.x.text()).collect();
        assert_eq!(xs, [Some("1".into()), None, Some("three".into())]);
        assert_eq!(doc.raw.structured().map(|r| r.get()), Some(r#"{"k":[1]}"#));
        let n: Doc = read(r#"{"a":null,"raw":null,"list":{"x":1}}"#).unwrap();
        assert!(n.raw.value().is_none() && n.list.0.is_empty() && n.a.text().is_none());
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let doc: Doc = read(r#"{"a":"plain","b":"esc\"aped"}"#).unwrap();
        assert!(matches!(doc.a, Field::Text(Cow::Borrowed(_))));
        assert!(matches!(doc.b, Field::Text(Cow::Owned(_))));
    }

    /// A time RFC 3339 cannot write (before year 0 or after 9999 in UTC) is
    /// left out; formatting it once panicked on the request path.
    #[test]
    fn times_out_of_rfc3339s_range_are_left_out() {
        let f = |json: &'static str| -> Field<'static> { serde_json::from_str(json).unwrap() };
        for json in [
            "\"0000-01-01T00:00:00+01:00\"",
            "\"9999-12-31T23:00:00-02:00\"",
            "-62200000000",
            "253402300800000",
        ] {
            assert_eq!(f(json).time(), None, "{json}");
        }
        assert_eq!(
            f("\"0000-01-01T00:00:00Z\"").time().as_deref(),
            Some("0000-01-01T00:00:00Z")
        );
    }

    #[test]
    fn numbers_times_and_labels() {
        let f = |json: &'static str| -> Field<'static> { serde_json::from_str(json).unwrap() };
        assert_eq!(f("\"146\"").number(), Some(146.into()));
        assert_eq!(f("93.4").number(), Number::from_f64(93.4));
        assert_eq!(f("\"n/a\"").number(), None);
        assert_eq!(
            f("\"2026-05-17T04:47:38+01:00\"").time().as_deref(),
            Some("2026-05-17T03:47:38Z")
        );
        assert_eq!(
            f("\"2026-05-17 03:47:38\"").time().as_deref(),
            Some("2026-05-17T03:47:38Z")
        );
        assert_eq!(
            f("1779000000000").time().as_deref(),
            Some("2026-05-17T06:40:00Z")
        );
        assert_eq!(f("\"yesterday\"").time(), None);
        assert_eq!(f("\"INBOUND\"").lower().as_deref(), Some("inbound"));
        assert_eq!(f("true").boolean(), Some(true));
    }
}
