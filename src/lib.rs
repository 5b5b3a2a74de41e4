//! hookgate: a webhook-hardening sidecar. It verifies each provider's
//! signature over the raw body, deduplicates retried deliveries, normalizes
//! payloads into one CloudEvents schema and forwards only verified,
//! first-seen requests to the receiver.
//!
//! Layers, each importing only those below it: `secret`, `reject` →
//! `verify`, `event` (the vocabulary) → `provider::contract`, `normalize`,
//! `route` → the providers (`provider`) → `gate` → `dedup`, `metrics`,
//! `ratelimit` → `config`, `reload`, `logging` → `server`, `send`.
#![forbid(unsafe_code)]

pub mod config;
pub mod dedup;
pub mod event;
pub mod gate;
pub mod http1;
pub mod logging;
pub mod metrics;
pub mod normalize;
pub mod provider;
pub mod ratelimit;
pub mod reject;
pub mod reload;
pub mod route;
pub mod secret;
pub mod send;
pub mod server;
pub mod verify;
