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
    #[error("request body was not received in time")]
    RequestTimeout,
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
    pub fn status(&self) -> u16 {
        match self {
            Reject::NoRoute => 404,
            Reject::MethodNotAllowed => 405,
            Reject::BodyTooLarge { .. } => 413,
            Reject::BadRequest | Reject::InvalidJson => 400,
            Reject::RequestTimeout => 408,
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
        let all = [
            Reject::NoRoute,
            Reject::MethodNotAllowed,
            Reject::BodyTooLarge { limit: 1024 },
            Reject::BadRequest,
            Reject::RequestTimeout,
            Reject::MissingSignature {
                header: "svix-signature",
            },
            Reject::MalformedSignature {
                header: "svix-signature",
            },
            Reject::InvalidSignature,
            Reject::TimestampOutOfTolerance,
            Reject::InvalidJson,
            Reject::InFlight {
                retry_after: Duration::from_secs(9),
            },
            Reject::DedupUnavailable {
                retry_after: Duration::from_secs(5),
            },
            Reject::UpstreamUnreachable,
            Reject::UpstreamTimeout,
        ];
        for r in all {
            let body = r.body();
            assert!(body.len() < 2048);
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(v["error"], r.code());
            assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
            assert!((200..600).contains(&r.status()));
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
