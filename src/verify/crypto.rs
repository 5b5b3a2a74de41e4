//! Key material and constant-time comparison shared by the schemes.

use std::fmt;

use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use super::Signed;
use crate::reject::Reject;

/// HMAC-SHA256 key material, keyed once at configuration load (the keyed
/// state is cloned per request).
#[derive(Clone)]
pub struct SigningKey(Hmac<Sha256>);

impl SigningKey {
    pub fn new(key: &[u8]) -> Self {
        SigningKey(Hmac::new_from_slice(key).expect("HMAC accepts keys of any length"))
    }

    /// HMAC-SHA256 over the concatenation of `parts`.
    pub fn sign(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.0.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// True when any key's MAC over `parts` equals any candidate signature,
/// compared in constant time.
pub fn any_key_matches<'c>(
    keys: &[SigningKey],
    parts: &[&[u8]],
    candidates: impl Iterator<Item = &'c [u8; 32]> + Clone,
) -> bool {
    keys.iter().any(|key| {
        let mac = key.sign(parts);
        candidates
            .clone()
            .fold(false, |found, c| found | bool::from(mac.ct_eq(c)))
    })
}

/// The verdict of a scheme that signs the body: a key's MAC over `parts`
/// matches a candidate, or the request is refused.
pub fn body_signed_by<'c>(
    keys: &[SigningKey],
    parts: &[&[u8]],
    candidates: impl Iterator<Item = &'c [u8; 32]> + Clone,
) -> Result<Signed, Reject> {
    body_signed_if(any_key_matches(keys, parts, candidates))
}

/// The verdict once a scheme has checked the body's signature: signed, or
/// refused as an invalid signature.
pub fn body_signed_if(matched: bool) -> Result<Signed, Reject> {
    if matched {
        Ok(Signed::Body)
    } else {
        Err(Reject::InvalidSignature)
    }
}

/// A static token as it is kept: its SHA-256, so that comparing a presented
/// token takes the same time whatever the two lengths.
pub fn token_digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// The verdict on a presented static token: it is one of the `known`
/// digests, every one compared in constant time.
pub fn token_known(known: &[[u8; 32]], presented: &[u8]) -> Result<Signed, Reject> {
    let presented = token_digest(presented);
    body_signed_if(
        known
            .iter()
            .fold(false, |found, t| found | bool::from(t.ct_eq(&presented))),
    )
}

/// What a `<t>.<body>` sender (Stripe's form) signs for a test event:
/// the timestamp's text and the HMAC-SHA256.
pub fn sign_dotted(secret: &[u8], timestamp: u64, body: &[u8]) -> (String, [u8; 32]) {
    let t = timestamp.to_string();
    let mac = SigningKey::new(secret).sign(&[t.as_bytes(), b".", body]);
    (t, mac)
}

/// A lower- or upper-case hex SHA-256 signature.
pub fn decode_hex_signature(value: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(value, &mut out).ok()?;
    Some(out)
}

/// A hash function an HMAC can be built on (the schemes that let the
/// sender choose: Twilio's two, Vapi's three).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The MAC's length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }
}

/// HMAC key material for any [`Algorithm`], keyed once at configuration
/// load.
#[derive(Clone)]
pub enum HmacKey {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha512(Hmac<Sha512>),
}

/// A MAC of at most 64 bytes, without allocation.
pub struct Tag {
    bytes: [u8; 64],
    len: usize,
}

impl Tag {
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

fn finish<M: Mac>(mac: M) -> Tag {
    let out = mac.finalize().into_bytes();
    let mut bytes = [0u8; 64];
    bytes[..out.len()].copy_from_slice(&out);
    Tag {
        bytes,
        len: out.len(),
    }
}

fn feed<M: Mac + Clone>(keyed: &M, parts: &[&[u8]]) -> Tag {
    let mut mac = keyed.clone();
    for part in parts {
        mac.update(part);
    }
    finish(mac)
}

impl HmacKey {
    pub fn new(algorithm: Algorithm, key: &[u8]) -> Self {
        const ANY_LENGTH: &str = "HMAC accepts keys of any length";
        match algorithm {
            Algorithm::Sha1 => HmacKey::Sha1(Hmac::new_from_slice(key).expect(ANY_LENGTH)),
            Algorithm::Sha256 => HmacKey::Sha256(Hmac::new_from_slice(key).expect(ANY_LENGTH)),
            Algorithm::Sha512 => HmacKey::Sha512(Hmac::new_from_slice(key).expect(ANY_LENGTH)),
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        match self {
            HmacKey::Sha1(_) => Algorithm::Sha1,
            HmacKey::Sha256(_) => Algorithm::Sha256,
            HmacKey::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// The MAC over the concatenation of `parts`.
    pub fn sign(&self, parts: &[&[u8]]) -> Tag {
        match self {
            HmacKey::Sha1(k) => feed(k, parts),
            HmacKey::Sha256(k) => feed(k, parts),
            HmacKey::Sha512(k) => feed(k, parts),
        }
    }

    /// Whether the MAC over `parts` equals `candidate`, compared in
    /// constant time (only the length, which is public, may end it early).
    pub fn matches(&self, parts: &[&[u8]], candidate: &[u8]) -> bool {
        let tag = self.sign(parts);
        tag.as_bytes().len() == candidate.len() && bool::from(tag.as_bytes().ct_eq(candidate))
    }
}

impl fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HmacKey({:?}, [redacted])", self.algorithm())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 2202 (HMAC-SHA1) and RFC 4231 (HMAC-SHA2) test case 2.
    #[test]
    fn hmac_keys_match_the_rfc_vectors() {
        let cases = [
            (Algorithm::Sha1, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
            (
                Algorithm::Sha256,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                Algorithm::Sha512,
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ];
        for (algorithm, want) in cases {
            let key = HmacKey::new(algorithm, b"Jefe");
            let parts: [&[u8]; 2] = [b"what do ya want ", b"for nothing?"];
            assert_eq!(
                hex::encode(key.sign(&parts).as_bytes()),
                want,
                "{algorithm:?}"
            );
            assert_eq!(key.algorithm().output_len(), want.len() / 2);
            let want = hex::decode(want).unwrap();
            assert!(key.matches(&parts, &want));
            assert!(!key.matches(&parts, &want[..want.len() - 1]));
            let mut flipped = want.clone();
            flipped[0] ^= 1;
            assert!(!key.matches(&parts, &flipped));
        }
        assert_eq!(
            format!("{:?}", HmacKey::new(Algorithm::Sha1, b"secret")),
            "HmacKey(Sha1, [redacted])"
        );
    }
}
