//! hookgate: a webhook-hardening sidecar. It verifies each provider's
//! signature over the raw body, deduplicates retried deliveries, normalizes
//! payloads into one CloudEvents schema and forwards only verified,
//! first-seen requests to the receiver.
#![forbid(unsafe_code)]

pub mod config;
pub mod dedup;
pub mod gate;
pub mod logging;
pub mod metrics;
pub mod normalize;
pub mod provider;
pub mod ratelimit;
pub mod reject;
pub mod reload;
pub mod secret;
pub mod send;
pub mod server;
