//! hookgate's integration tests: the real binary on free loopback ports in
//! front of a real HTTP receiver (and, for the Redis backend, a real
//! redis-server started by the test). Every wait is bounded.

mod core;
mod dedup;
mod hardening;
mod harness;
mod hostile;
mod normalized;
mod ops;
mod presets;
#[path = "../support/redis_server.rs"]
mod redis_server;
mod sdk;
mod signing;
mod soak;
mod twilio_vapi;
