//! The network layer. pingora runs the process: its server, runtimes (one
//! single-threaded runtime per thread), TLS, signals plumbing and graceful
//! shutdown, and its connector opens upstream connections. Per request,
//! hookgate uses its own narrow HTTP/1 codec (`http1`) on both sides
//! instead of pingora's session layer: ARCHITECTURE.md records why, with
//! the numbers.
//!
//! - `listener`: per-thread accept on `SO_REUSEPORT` sockets, the
//!   connection cap, TLS handshakes;
//! - `conn`: one client connection (buffer, head, body);
//! - `gateway`: a webhook request's phases; `outbound`: the request the
//!   receiver gets; `upstream` + `pool`: forwarding and relaying;
//! - `admin`: `/healthz`, `/readyz`, `/metrics`;
//! - `startup`: building and running it all, signals, reloads, drain.

mod admin;
mod budget;
mod conn;
mod gateway;
mod listener;
mod outbound;
mod pool;
mod respond;
mod startup;
mod upstream;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use pingora::connectors::TransportConnector;
use pingora::upstreams::peer::HttpPeer;

pub use startup::{run, OnExit};

use crate::config::Config;
use crate::dedup::Dedup;
use crate::http1::Limits;
use crate::metrics::{Metrics, RouteMetrics};
use crate::ratelimit::TokenBucket;
use crate::route::Route;
use budget::Budget;

/// One configuration as the server uses it: the validated config plus what
/// is derived from it once per route (upstream peer, metric handles, rate
/// limiter) and the codec limits. Each request loads one snapshot at its
/// start and keeps it to its end, and finds its route with everything the
/// route needs in one lookup.
pub struct Snapshot {
    pub config: Arc<Config>,
    routes: HashMap<String, Routed>,
    limits: Limits,
}

/// A route with what the server derived for it.
pub struct Routed {
    pub route: Arc<Route>,
    metrics: Arc<RouteMetrics>,
    peer: HttpPeer,
    /// The route's rate limiter (a reload starts it afresh).
    bucket: Option<TokenBucket>,
}

impl Snapshot {
    pub fn new(config: Config, metrics: &Metrics) -> Snapshot {
        let routes = config
            .routes()
            .map(|r| {
                let u = &r.upstream;
                let routed = Routed {
                    route: r.clone(),
                    metrics: metrics.route(&r.name, r.provider_name()),
                    peer: HttpPeer::new(u.addr, u.tls, u.host.clone()),
                    bucket: r.rate_limit.map(|limit| {
                        TokenBucket::new(limit.per_second, limit.burst, Instant::now())
                    }),
                };
                (r.path.clone(), routed)
            })
            .collect();
        let server = &config.server;
        let limits = Limits {
            max_head_bytes: server.max_header_bytes,
            max_headers: server.max_headers,
            max_body_bytes: server.max_body_bytes,
            ..Limits::default()
        };
        Snapshot {
            config: Arc::new(config),
            routes,
            limits,
        }
    }

    /// The route for a request path: exact match, no decoding, no prefix.
    fn routed(&self, path: &str) -> Option<&Routed> {
        self.routes.get(path)
    }
}

/// Everything the gateway shares across requests.
pub struct State {
    pub snapshot: ArcSwap<Snapshot>,
    pub dedup: Arc<Dedup>,
    pub metrics: Arc<Metrics>,
    connector: TransportConnector,
    budget: Arc<Budget>,
    /// Set on SIGTERM: finish what is in flight, keep no connection alive.
    draining: AtomicBool,
}

impl State {
    pub fn new(snapshot: Snapshot, dedup: Arc<Dedup>, metrics: Arc<Metrics>) -> State {
        metrics.add_source(dedup.clone());
        let server = &snapshot.config.server;
        let budget = Budget::new(server.max_connections, server.max_buffered_bytes);
        metrics.add_source(budget.clone());
        State {
            snapshot: ArcSwap::from_pointee(snapshot),
            dedup,
            metrics,
            connector: TransportConnector::new(None),
            budget,
            draining: AtomicBool::new(false),
        }
    }
}
