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

use super::Scalar;
use crate::reject::Reject;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The deepest nesting a payload may have: what serde_json's own parser
/// allows. Parts of a payload no mapping reads are skipped without
/// recursion, so this is checked on the text itself; the receiver's parser
/// is spared a depth bomb too.
pub const MAX_DEPTH: usize = 128;

/// A verified JSON body as text: past a BOM, UTF-8 checked, and with lone
/// surrogate escapes replaced (written to `scratch`, the body untouched).
/// Its syntax is checked where it is read.
pub fn text<'a>(body: &'a [u8], scratch: &'a mut Vec<u8>) -> Result<&'a str, Reject> {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|_| Reject::InvalidJson)?;
    if !nesting_within(body, MAX_DEPTH) {
        return Err(Reject::InvalidJson);
    }
    if !may_hold_surrogates(body) {
        return Ok(text);
    }
    match replace_lone_surrogates(body) {
        None => Ok(text),
        Some(cleaned) => {
            *scratch = cleaned;
            std::str::from_utf8(scratch).map_err(|_| Reject::InvalidJson)
        }
    }
}

/// Whether arrays and objects in `text` nest at most `max` deep. Strings
/// are skipped eight bytes at a time, so a body that is mostly text costs
/// little.
fn nesting_within(text: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        i += 1;
        match b {
            b'"' => i = past_string(text, i),
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

const ONES: u64 = u64::MAX / 255;

/// The high bit of each byte of `word` that equals `byte` (and possibly of
/// bytes after the first match, never before it: enough to find the first).
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & (ONES << 7)
}

/// The index just past the closing quote of the string whose content
/// starts at `i` (or the end of `text`), over escapes. Eight bytes at a
/// time: most strings in a payload are short, where a call per string to a
/// vectorised search costs more than it saves.
fn past_string(text: &[u8], mut i: usize) -> usize {
    loop {
        while let Some(chunk) = text.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            let found = bytes_equal(word, b'"') | bytes_equal(word, b'\\');
            if found != 0 {
                i += (found.trailing_zeros() / 8) as usize;
                break;
            }
            i += 8;
        }
        match text.get(i) {
            None => return text.len(),
            Some(b'"') => return i + 1,
            Some(b'\\') => i += 2,
            Some(_) => i += 1,
        }
    }
}

/// Whether `text` holds a `\u` escape in the surrogate range (`\uD8..` to
/// `\uDF..`), cheaply: most bodies have none.
fn may_hold_surrogates(text: &[u8]) -> bool {
    memchr::memmem::find_iter(text, b"\\u").any(|i| {
        matches!(text.get(i + 2), Some(b'd' | b'D'))
            && matches!(
                text.get(i + 3),
                Some(b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
            )
    })
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

/// A form body (`a=1&b=x+y`) as the text of a JSON object of strings; a
/// repeated name becomes an array of its values, in order.
pub fn form_text<'a>(body: &[u8], scratch: &'a mut Vec<u8>) -> Result<&'a str, Reject> {
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
    scratch.clear();
    serde_json::to_writer(&mut *scratch, &Value::Object(map)).expect("a map of strings serializes");
    std::str::from_utf8(scratch).map_err(|_| Reject::InvalidJson)
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

    fn parse(body: &[u8]) -> Result<Value, Reject> {
        let mut scratch = Vec::new();
        let text = text(body, &mut scratch)?;
        serde_json::from_str(text).map_err(|_| Reject::InvalidJson)
    }

    #[test]
    fn a_bom_is_dropped() {
        let body = b"\xEF\xBB\xBF{\"event\":\"call.ended\"}";
        let mut scratch = Vec::new();
        assert_eq!(
            text(body, &mut scratch).unwrap(),
            "{\"event\":\"call.ended\"}"
        );
        assert!(scratch.is_empty(), "no copy for a BOM");
    }

    #[test]
    fn lone_surrogates_read_as_replacement_characters() {
        // A string cut mid-emoji, as JSON.stringify writes it, and a lone
        // low surrogate; a proper pair stays.
        let body = br#"{"summary":"Great call \ud83d","b":"\udc00x","ok":"\ud83d\ude00","arr":["\ud83d"]}"#;
        assert!(serde_json::from_slice::<Value>(body).is_err());
        let v = parse(body).unwrap();
        assert_eq!(v["summary"], "Great call \u{fffd}");
        assert_eq!(v["b"], "\u{fffd}x");
        assert_eq!(v["ok"], "\u{1f600}");
        assert_eq!(v["arr"][0], "\u{fffd}");
        let mut scratch = Vec::new();
        assert_eq!(text(body, &mut scratch).unwrap().len(), body.len());
    }

    #[test]
    fn escapes_outside_strings_and_other_garbage_stay_invalid() {
        for bad in [
            &b"{\"a\":\\ud83d}"[..],
            b"not json",
            b"{\"a\":\"\\ud83d\"",
            b"",
            b"\xff",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        // An escaped backslash before `u` is not an escape.
        assert_eq!(replace_lone_surrogates(br#"{"a":"\\ud83d"}"#), None);
    }

    #[test]
    fn nesting_is_bounded_outside_strings_only() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(nesting_within(deep(MAX_DEPTH).as_bytes(), MAX_DEPTH));
        assert!(!nesting_within(deep(MAX_DEPTH + 1).as_bytes(), MAX_DEPTH));
        let in_string = format!("{{\"a\":\"{}\\\"{}\"}}", "[".repeat(500), "{".repeat(500));
        assert!(nesting_within(in_string.as_bytes(), MAX_DEPTH));
        let mut scratch = Vec::new();
        assert_eq!(
            text(deep(100_000).as_bytes(), &mut scratch),
            Err(Reject::InvalidJson)
        );
    }

    /// The depth a byte-by-byte reading finds: the reference the word-wise
    /// scan must agree with.
    fn depth_byte_by_byte(text: &[u8]) -> usize {
        let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
        for &b in text {
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        deepest
    }

    proptest::proptest! {
        #[test]
        fn the_word_wise_scan_agrees_with_a_byte_by_byte_one(
            text in proptest::collection::vec(
                proptest::sample::select(&b"\"\\[]{}ab :,\x00\xff"[..]), 0..80),
            max in 0usize..6,
        ) {
            proptest::prop_assert_eq!(
                nesting_within(&text, max),
                depth_byte_by_byte(&text) <= max
            );
        }
    }

    #[test]
    fn forms_read_as_objects_of_strings() {
        let mut scratch = Vec::new();
        let text = form_text(
            b"CallSid=CA1&From=%2B14158675309&Note=a+b&Tag=x&Tag=y&Empty=",
            &mut scratch,
        )
        .unwrap();
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["CallSid"], "CA1");
        assert_eq!(v["From"], "+14158675309");
        assert_eq!(v["Note"], "a b");
        assert_eq!(v["Tag"], serde_json::json!(["x", "y"]));
        assert_eq!(v["Empty"], "");
        assert!(form_text(b"a=%zz", &mut scratch).is_err());
        assert!(form_text(b"a=%ff", &mut scratch).is_err());
    }
}
