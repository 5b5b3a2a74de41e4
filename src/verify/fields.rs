//! Reading signature fields: one header exactly once, Unix timestamps, the
//! timestamp window, ids from headers.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Headers, Window};
use crate::reject::Reject;

/// Longest delivery id kept as is; longer ones are hashed so headers and
/// log lines stay bounded.
pub const MAX_ID_LEN: usize = 200;

/// The one value of a header that must appear exactly once, trimmed,
/// non-empty and text.
pub fn single_header<'h>(
    headers: &Headers<'h>,
    name: &'static str,
    label: &'static str,
) -> Result<&'h str, Reject> {
    let mut values = headers.get_all(name);
    let value = values
        .next()
        .ok_or(Reject::MissingSignature { header: label })?;
    if values.next().is_some() {
        return Err(Reject::MalformedSignature { header: label });
    }
    let value = std::str::from_utf8(value)
        .map_err(|_| Reject::MalformedSignature { header: label })?
        .trim();
    if value.is_empty() {
        return Err(Reject::MalformedSignature { header: label });
    }
    Ok(value)
}

/// Unix seconds, digits only (no sign, no fraction, no overflow).
pub fn parse_timestamp(value: &str, label: &'static str) -> Result<u64, Reject> {
    let malformed = Reject::MalformedSignature { header: label };
    if value.is_empty() || value.len() > 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed);
    }
    value.parse().map_err(|_| malformed)
}

/// Rejects a timestamp (Unix seconds) outside `window` around `now`.
pub fn check_window(timestamp: u64, now: SystemTime, window: Window) -> Result<(), Reject> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let too_old = now > timestamp && now - timestamp > window.past.as_secs();
    let too_new = timestamp > now && window.future.is_some_and(|f| timestamp - now > f.as_secs());
    if too_old || too_new {
        return Err(Reject::TimestampOutOfTolerance);
    }
    Ok(())
}

/// Rejects a timestamp in Unix milliseconds outside `window` around `now`,
/// to the millisecond (Retell's SDKs compare milliseconds).
pub fn check_window_ms(millis: u64, now: SystemTime, window: Window) -> Result<(), Reject> {
    let now = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let millis = u128::from(millis);
    let too_old = now > millis && now - millis > window.past.as_millis();
    let too_new = millis > now && window.future.is_some_and(|f| millis - now > f.as_millis());
    if too_old || too_new {
        return Err(Reject::TimestampOutOfTolerance);
    }
    Ok(())
}

/// A header value usable as an id: visible ASCII, bounded length.
/// Whether `name` is an RFC 9110 token (a valid header field name).
pub fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A configured header name, lower-cased, as a `&'static str` (lookups and
/// `Reject` take one). Each distinct name is stored once for the life of
/// the process, so reloading a configuration never grows memory.
pub fn intern_header(name: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let lower = name.to_ascii_lowercase();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    match names.get(lower.as_str()) {
        Some(known) => known,
        None => {
            let stored: &'static str = Box::leak(lower.into_boxed_str());
            names.insert(stored);
            stored
        }
    }
}

pub fn header_id<'h>(headers: &Headers<'h>, name: &str) -> Option<&'h str> {
    let value = headers.get_str(name)?.trim();
    let usable = !value.is_empty()
        && value.len() <= MAX_ID_LEN
        && value.bytes().all(|b| b.is_ascii_graphic());
    usable.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_779_000_000)
    }

    #[test]
    fn a_header_name_is_stored_once_however_often_it_is_configured() {
        let first = intern_header("X-Interned-Test");
        for _ in 0..1000 {
            // A reload configures the same name again.
            assert!(std::ptr::eq(first, intern_header("x-INTERNED-test")));
        }
        assert_eq!(first, "x-interned-test");
        assert!(
            is_header_name("X-Signature") && !is_header_name("bad name") && !is_header_name("")
        );
    }

    #[test]
    fn the_window_is_enforced_in_both_directions_or_past_only() {
        let t = 1_779_000_000;
        let both = Window::both(Duration::from_secs(300));
        assert!(check_window(t - 300, now(), both).is_ok());
        assert!(check_window(t + 300, now(), both).is_ok());
        assert_eq!(
            check_window(t - 301, now(), both),
            Err(Reject::TimestampOutOfTolerance)
        );
        assert_eq!(
            check_window(t + 301, now(), both),
            Err(Reject::TimestampOutOfTolerance)
        );
        let past_only = Window {
            past: Duration::from_secs(1800),
            future: None,
        };
        assert!(check_window(t + 86_400, now(), past_only).is_ok());
        assert_eq!(
            check_window(t - 1801, now(), past_only),
            Err(Reject::TimestampOutOfTolerance)
        );
    }

    #[test]
    fn the_millisecond_window_is_exact() {
        let t = 1_779_000_000_000;
        let both = Window::both(Duration::from_secs(300));
        assert!(check_window_ms(t - 300_000, now(), both).is_ok());
        assert!(check_window_ms(t + 300_000, now(), both).is_ok());
        assert!(check_window_ms(t - 300_001, now(), both).is_err());
        assert!(check_window_ms(t + 300_001, now(), both).is_err());
    }

    #[test]
    fn timestamps_are_digits_only() {
        for bad in [
            "",
            "-1",
            "+5",
            "1.5",
            "12a",
            "99999999999999999999999",
            " 1",
        ] {
            assert!(parse_timestamp(bad, "t").is_err(), "{bad:?}");
        }
        assert_eq!(parse_timestamp("1779000000", "t"), Ok(1_779_000_000));
    }

    #[test]
    fn repeated_signature_headers_are_malformed() {
        let fields: [(&[u8], &[u8]); 2] = [(b"x-sig", b"a"), (b"X-Sig", b"b")];
        let h = Headers::new(&fields);
        assert_eq!(
            single_header(&h, "x-sig", "x-sig"),
            Err(Reject::MalformedSignature { header: "x-sig" })
        );
    }
}
