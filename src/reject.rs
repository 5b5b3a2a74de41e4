//! Every way a request can be turned away, with its HTTP status, mapped to a
//! response in exactly one place (`Reject::body`).

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    #[error("no route for this path")]
    NoRoute,
    #[error("only POST is accepted on webhook routes")]
    MethodNotAllowed,
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge { limit: usize },
    #[error("malformed HTTP request")]
    BadRequest,
    #[error("request was not received in time")]
    RequestTimeout,
    #[error("the expectation in the Expect header is not supported")]
    ExpectationFailed,
    #[error("the gateway is at its buffering budget; retry later")]
    Overloaded { retry_after: Duration },
    #[error("signature header {header} is missing")]
    MissingSignature { header: &'static str },
    #[error("signature header {header} is malformed")]
    MalformedSignature { header: &'static str },
    #[error("no configured secret matches the signature")]
    InvalidSignature,
    #[error("timestamp is outside the allowed tolerance")]
    TimestampOutOfTolerance,
    #[error("body is not valid JSON")]
    InvalidJson,
    #[error("rate limit of this route exceeded; retry later")]
    RateLimited { retry_after: Duration },
    #[error("this delivery is being delivered right now; retry later")]
    InFlight { retry_after: Duration },
    #[error("deduplication backend unavailable; retry later")]
    DedupUnavailable { retry_after: Duration },
    #[error("upstream unreachable")]
    UpstreamUnreachable,
    #[error("upstream did not answer in time")]
    UpstreamTimeout,
}

impl Reject {
    /// One of each kind, for lists derived from this enum (metrics, tests).
    pub const ALL: [Reject; 17] = [
        Reject::NoRoute,
        Reject::MethodNotAllowed,
        Reject::BodyTooLarge { limit: 0 },
        Reject::BadRequest,
        Reject::RequestTimeout,
        Reject::ExpectationFailed,
        Reject::Overloaded {
            retry_after: Duration::ZERO,
        },
        Reject::MissingSignature { header: "" },
        Reject::MalformedSignature { header: "" },
        Reject::InvalidSignature,
        Reject::TimestampOutOfTolerance,
        Reject::InvalidJson,
        Reject::RateLimited {
            retry_after: Duration::ZERO,
        },
        Reject::InFlight {
            retry_after: Duration::ZERO,
        },
        Reject::DedupUnavailable {
            retry_after: Duration::ZERO,
        },
        Reject::UpstreamUnreachable,
        Reject::UpstreamTimeout,
    ];

    pub fn status(&self) -> u16 {
        match self {
            Reject::NoRoute => 404,
            Reject::MethodNotAllowed => 405,
            Reject::BodyTooLarge { .. } => 413,
            Reject::BadRequest | Reject::InvalidJson => 400,
            Reject::RequestTimeout => 408,
            Reject::ExpectationFailed => 417,
            Reject::Overloaded { .. } => 503,
            Reject::MissingSignature { .. }
            | Reject::MalformedSignature { .. }
            | Reject::InvalidSignature
            | Reject::TimestampOutOfTolerance => 401,
            Reject::RateLimited { .. } => 429,
            Reject::InFlight { .. } => 409,
            Reject::DedupUnavailable { .. } => 503,
            Reject::UpstreamUnreachable => 502,
            Reject::UpstreamTimeout => 504,
        }
    }

    /// Stable machine-readable code; also the `reason` label in metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Reject::NoRoute => "no_route",
            Reject::MethodNotAllowed => "method_not_allowed",
            Reject::BodyTooLarge { .. } => "body_too_large",
            Reject::BadRequest => "bad_request",
            Reject::RequestTimeout => "request_timeout",
            Reject::ExpectationFailed => "expectation_failed",
            Reject::Overloaded { .. } => "overloaded",
            Reject::MissingSignature { .. } => "missing_signature",
            Reject::MalformedSignature { .. } => "malformed_signature",
            Reject::InvalidSignature => "invalid_signature",
            Reject::TimestampOutOfTolerance => "timestamp_out_of_tolerance",
            Reject::InvalidJson => "invalid_json",
            Reject::RateLimited { .. } => "rate_limited",
            Reject::InFlight { .. } => "in_flight",
            Reject::DedupUnavailable { .. } => "dedup_unavailable",
            Reject::UpstreamUnreachable => "upstream_unreachable",
            Reject::UpstreamTimeout => "upstream_timeout",
        }
    }

    /// Seconds for a `Retry-After` header, where the provider should come back.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Reject::InFlight { retry_after }
            | Reject::DedupUnavailable { retry_after }
            | Reject::Overloaded { retry_after }
            | Reject::RateLimited { retry_after } => Some(retry_after.as_secs().max(1)),
            _ => None,
        }
    }

    /// The `Allow` header value that goes with a 405.
    pub fn allow(&self) -> Option<&'static str> {
        matches!(self, Reject::MethodNotAllowed).then_some("POST")
    }

    /// The JSON error body. Built only from static text and numbers, so it can
    /// never echo a secret, a signature or the request body.
    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "error": self.code(),
            "message": self.to_string(),
        }))
        .expect("serializing a map of strings cannot fail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_small_json_with_code_and_message() {
        let mut codes = std::collections::HashSet::new();
        for r in Reject::ALL {
            let body = r.body();
            assert!(body.len() < 2048);
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["error"], r.code());
            assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
            assert!((200..600).contains(&r.status()));
            assert!(codes.insert(r.code()), "{} twice", r.code());
        }
    }

    #[test]
    fn retry_after_only_where_the_provider_should_come_back() {
        let r = Reject::InFlight {
            retry_after: Duration::from_millis(300),
        };
        assert_eq!(r.retry_after(), Some(1));
        assert_eq!(Reject::InvalidSignature.retry_after(), None);
    }
}
