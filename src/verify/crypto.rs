//! Key material and constant-time comparison shared by the schemes.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

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

/// A lower- or upper-case hex SHA-256 signature.
pub fn decode_hex_signature(value: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(value, &mut out).ok()?;
    Some(out)
}
