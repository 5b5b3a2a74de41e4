//! Secrets never print: `Debug` and `Display` say `[redacted]`.

use std::fmt;

/// A configured secret (webhook signing secret, Redis password-bearing URL, …).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret's value, for building key material only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Secret::new("whsec_c2VjcmV0");
        assert!(!format!("{s:?}").contains("c2Vj"));
        assert!(!format!("{s}").contains("c2Vj"));
        assert_eq!(s.expose(), "whsec_c2VjcmV0");
    }
}
