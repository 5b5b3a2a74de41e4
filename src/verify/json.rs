//! Reading a verified payload.
//!
//! Two things a strict parser refuses are legal to accept here, and refusing
//! them would make a provider retry a verified delivery until it disables the
//! endpoint: a leading UTF-8 byte order mark (RFC 8259 §8.1 lets a parser
//! ignore it), and lone UTF-16 surrogate escapes such as `"\ud83d"`, which
//! JavaScript's `JSON.stringify` writes when a string was cut in the middle
//! of an emoji (providers truncate long fields). The BOM is dropped and a
//! lone surrogate reads as U+FFFD. The bytes forwarded in `original` mode
//! are never changed; the normalized event carries the cleaned text.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{skeleton, Parse, Scalar};
use crate::reject::Reject;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A parsed payload and the JSON text it was parsed from.
pub struct Payload {
    pub value: Value,
    text: Text,
}

enum Text {
    /// The body from this offset on (past a BOM).
    Body(usize),
    /// A cleaned copy, or a form body as JSON.
    Owned(Vec<u8>),
}

impl Payload {
    pub fn text<'b>(&'b self, body: &'b [u8]) -> &'b [u8] {
        match &self.text {
            Text::Body(offset) => &body[*offset..],
            Text::Owned(bytes) => bytes,
        }
    }
}

fn parse_value(text: &[u8], parse: Parse) -> Result<Value, serde_json::Error> {
    match parse {
        Parse::Full => serde_json::from_slice(text),
        Parse::WithoutArrays => skeleton::parse(text),
    }
}

/// Parses a verified JSON body.
pub fn parse(body: &[u8], parse: Parse) -> Result<Payload, Reject> {
    let offset = if body.starts_with(BOM) { BOM.len() } else { 0 };
    let text = &body[offset..];
    match parse_value(text, parse) {
        Ok(value) => Ok(Payload {
            value,
            text: Text::Body(offset),
        }),
        Err(_) => {
            let cleaned = replace_lone_surrogates(text).ok_or(Reject::InvalidJson)?;
            let value = parse_value(&cleaned, parse).map_err(|_| Reject::InvalidJson)?;
            Ok(Payload {
                value,
                text: Text::Owned(cleaned),
            })
        }
    }
}

/// `text` with every `\uXXXX` escape of a lone surrogate (a high one not
/// followed by a low one, or a low one alone) written `\ufffd`: the same
/// length, so nothing else moves. `None` when there is none.
pub fn replace_lone_surrogates(text: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut in_string = false;
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if !in_string {
            in_string = b == b'"';
            i += 1;
            continue;
        }
        match b {
            b'"' => {
                in_string = false;
                i += 1;
            }
            b'\\' if text.get(i + 1) == Some(&b'u') => {
                let Some(unit) = hex4(text, i + 2) else {
                    i += 2;
                    continue;
                };
                let high = (0xD800..0xDC00).contains(&unit);
                let low = (0xDC00..0xE000).contains(&unit);
                let paired = high
                    && text.get(i + 6) == Some(&b'\\')
                    && text.get(i + 7) == Some(&b'u')
                    && hex4(text, i + 8).is_some_and(|u| (0xDC00..0xE000).contains(&u));
                if paired {
                    i += 12;
                } else if high || low {
                    let out = out.get_or_insert_with(|| text.to_vec());
                    out[i..i + 6].copy_from_slice(b"\\ufffd");
                    i += 6;
                } else {
                    i += 6;
                }
            }
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    out
}

fn hex4(text: &[u8], at: usize) -> Option<u16> {
    let digits = text.get(at..at + 4)?;
    let s = std::str::from_utf8(digits).ok()?;
    u16::from_str_radix(s, 16).ok()
}

/// A form body (`a=1&b=x+y`) as a JSON object of strings; a repeated name
/// becomes an array of its values, in order.
pub fn parse_form(body: &[u8]) -> Result<Payload, Reject> {
    let mut map = Map::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let name = percent_decode(name).ok_or(Reject::InvalidJson)?;
        let value = Value::String(percent_decode(value).ok_or(Reject::InvalidJson)?);
        match map.get_mut(&name) {
            None => {
                map.insert(name, value);
            }
            Some(Value::Array(values)) => values.push(value),
            Some(first) => {
                let first = first.take();
                map.insert(name, Value::Array(vec![first, value]));
            }
        }
    }
    let value = Value::Object(map);
    let text = serde_json::to_vec(&value).expect("a map of strings serializes");
    Ok(Payload {
        value,
        text: Text::Owned(text),
    })
}

/// Form decoding: `+` is a space, `%XX` a byte; the result must be UTF-8.
pub fn percent_decode(text: &[u8]) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// A non-empty string or a number at a JSON pointer.
pub fn scalar<'v>(json: &'v Value, pointer: &str) -> Option<Scalar<'v>> {
    match json.pointer(pointer)? {
        Value::String(s) if !s.is_empty() => Some(Scalar::Text(Cow::Borrowed(s))),
        Value::Number(n) => Some(Scalar::Number(n.to_string())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bom_is_dropped() {
        let body = b"\xEF\xBB\xBF{\"event\":\"call.ended\"}";
        let p = parse(body, Parse::Full).unwrap();
        assert_eq!(p.value["event"], "call.ended");
        assert_eq!(p.text(body), &body[3..]);
        assert!(parse(body, Parse::WithoutArrays).is_ok());
    }

    #[test]
    fn lone_surrogates_read_as_replacement_characters() {
        // A string cut mid-emoji, as JSON.stringify writes it, and a lone
        // low surrogate; a proper pair stays.
        let body = br#"{"summary":"Great call \ud83d","b":"\udc00x","ok":"\ud83d\ude00","arr":["\ud83d"]}"#;
        assert!(serde_json::from_slice::<Value>(body).is_err());
        for mode in [Parse::Full, Parse::WithoutArrays] {
            let p = parse(body, mode).unwrap();
            assert_eq!(p.value["summary"], "Great call \u{fffd}");
            assert_eq!(p.value["b"], "\u{fffd}x");
            assert_eq!(p.value["ok"], "\u{1f600}");
            let text = p.text(body);
            assert_eq!(text.len(), body.len());
            serde_json::from_slice::<Value>(text).unwrap();
        }
    }

    #[test]
    fn escapes_outside_strings_and_other_garbage_stay_invalid() {
        for bad in [
            &b"{\"a\":\\ud83d}"[..],
            b"not json",
            b"{\"a\":\"\\ud83d\"",
            b"",
        ] {
            assert!(parse(bad, Parse::Full).is_err(), "{bad:?}");
        }
        // An escaped backslash before `u` is not an escape.
        assert_eq!(replace_lone_surrogates(br#"{"a":"\\ud83d"}"#), None);
    }

    #[test]
    fn forms_read_as_objects_of_strings() {
        let p = parse_form(b"CallSid=CA1&From=%2B14158675309&Note=a+b&Tag=x&Tag=y&Empty=").unwrap();
        assert_eq!(p.value["CallSid"], "CA1");
        assert_eq!(p.value["From"], "+14158675309");
        assert_eq!(p.value["Note"], "a b");
        assert_eq!(p.value["Tag"], serde_json::json!(["x", "y"]));
        assert_eq!(p.value["Empty"], "");
        assert!(parse_form(b"a=%zz").is_err());
        assert!(parse_form(b"a=%ff").is_err());
    }
}
