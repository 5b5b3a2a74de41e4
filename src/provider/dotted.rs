//! The Stripe form of signature: `<Header>: t=<unix seconds>,<v>=<hex>`
//! (one `t`, one or more signatures under the scheme's version label) over
//! `<t>.<body>`, HMAC-SHA256 with the secret as UTF-8. Nixflex signs with
//! `v1`, ElevenLabs with `v0`; entries under other labels are ignored, as
//! Stripe ignores them.

use std::time::SystemTime;

use super::{Payload, Reader, RouteScheme};
use crate::reject::Reject;
use crate::verify::crypto::{body_signed_by, decode_hex_signature, sign_dotted, SigningKey};
use crate::verify::fields::{check_window, parse_timestamp, single_header};
use crate::verify::{Headers, Request, Scheme, Signed, Window};

/// How one provider writes the header.
pub struct Format {
    /// The header's name, lower-case.
    pub header: &'static str,
    /// The header's name as the provider writes it, for messages.
    pub label: &'static str,
    /// The signatures' label (`v1`, `v0`).
    pub version: &'static str,
    /// A signature that is not 64 hex digits makes the header malformed;
    /// otherwise it is skipped, and another may still verify.
    pub strict_hex: bool,
}

impl Format {
    /// The header's value for `body` signed with `secret` at `timestamp`.
    pub fn sign(&self, secret: &[u8], timestamp: u64, body: &[u8]) -> String {
        let (t, mac) = sign_dotted(secret, timestamp, body);
        format!("t={t},{}={}", self.version, hex::encode(mac))
    }

    fn parse<'h>(&self, headers: &Headers<'h>) -> Result<Parsed<'h>, Reject> {
        let malformed = Reject::MalformedSignature { header: self.label };
        let value = single_header(headers, self.header, self.label)?;
        let mut timestamp_text = None;
        let mut signatures = Vec::new();
        for item in value.split(',') {
            let (key, val) = item.trim().split_once('=').ok_or(malformed.clone())?;
            match key {
                "t" if timestamp_text.is_none() => timestamp_text = Some(val),
                "t" => return Err(malformed),
                v if v == self.version => match decode_hex_signature(val) {
                    Some(signature) => signatures.push(signature),
                    None if self.strict_hex => return Err(malformed),
                    None => {}
                },
                _ => {}
            }
        }
        let timestamp_text = timestamp_text.ok_or(malformed.clone())?;
        if signatures.is_empty() {
            return Err(malformed);
        }
        Ok(Parsed {
            timestamp_text,
            timestamp: parse_timestamp(timestamp_text, self.label)?,
            signatures,
        })
    }
}

struct Parsed<'h> {
    timestamp_text: &'h str,
    timestamp: u64,
    signatures: Vec<[u8; 32]>,
}

/// A route's check of the Stripe form.
pub struct DottedScheme {
    pub format: &'static Format,
    pub keys: Vec<SigningKey>,
    pub window: Window,
    /// The provider's reading of its payloads.
    pub read: Reader,
}

impl Scheme for DottedScheme {
    fn precheck(&self, request: &Request<'_>, _: SystemTime) -> Result<(), Reject> {
        self.format.parse(&request.headers).map(|_| ())
    }

    fn verify(&self, request: &Request<'_>, now: SystemTime) -> Result<Signed, Reject> {
        let parsed = self.format.parse(&request.headers)?;
        check_window(parsed.timestamp, now, self.window)?;
        let signed: [&[u8]; 3] = [parsed.timestamp_text.as_bytes(), b".", request.body];
        body_signed_by(&self.keys, &signed, parsed.signatures.iter())
    }
}

impl RouteScheme for DottedScheme {
    fn read<'a>(&self, text: &'a str) -> serde_json::Result<Box<dyn Payload<'a> + 'a>> {
        (self.read)(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::test_support::*;
    use crate::reject::Reject;

    const BODY: &[u8] = br#"{"event":"call.ended","call_id":"c1"}"#;

    static STRICT: Format = Format {
        header: "x-sig",
        label: "X-Sig",
        version: "v1",
        strict_hex: true,
    };
    static LENIENT: Format = Format {
        strict_hex: false,
        ..STRICT
    };

    fn scheme(strict_hex: bool) -> DottedScheme {
        DottedScheme {
            format: if strict_hex { &STRICT } else { &LENIENT },
            keys: vec![SigningKey::new(b"secret")],
            window: Window::both(std::time::Duration::from_secs(300)),
            read: |_| unreachable!("not read here"),
        }
    }

    #[test]
    fn a_signature_that_is_not_hex_is_skipped_or_refused_as_the_format_says() {
        let t = unix(now());
        let mut signed = format!("{t}.").into_bytes();
        signed.extend_from_slice(BODY);
        let good = hmac_hex(b"secret", &signed);
        let header = format!("t={t},v1=zz,v1={good}");
        let fields = Fields::new(&[("x-sig", header.as_str())]);
        assert_eq!(check(&scheme(false), &fields, BODY, now()), Ok(()));
        assert_eq!(
            check(&scheme(true), &fields, BODY, now()),
            Err(Reject::MalformedSignature { header: "X-Sig" })
        );
        // Other labels are ignored either way; a wrong one does not verify.
        let header = format!("t={t},v2=zz,v1={}", "ab".repeat(32));
        let fields = Fields::new(&[("x-sig", header.as_str())]);
        assert_eq!(
            check(&scheme(true), &fields, BODY, now()),
            Err(Reject::InvalidSignature)
        );
    }

    #[test]
    fn the_signer_writes_what_the_check_reads() {
        let t = unix(now());
        let s = scheme(true);
        let header = s.format.sign(b"secret", t, BODY);
        assert!(header.starts_with(&format!("t={t},v1=")));
        let fields = Fields::new(&[("x-sig", header.as_str())]);
        assert_eq!(check(&s, &fields, BODY, now()), Ok(()));
    }
}
