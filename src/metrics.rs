//! Counters and histograms, rendered as Prometheus text. The request path
//! only touches atomics: each route's counters are looked up once per
//! configuration snapshot, not per request.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::reject::Reject;

/// Rejection codes that are counted: every `Reject::code()`.
const REASONS: usize = Reject::ALL.len();

fn reason_index(code: &str) -> Option<usize> {
    Reject::ALL.iter().position(|r| r.code() == code)
}

/// Upper bounds, in seconds, of the upstream latency buckets.
const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(d.as_micros() as u64, Relaxed);
    }
}

/// One route's counters. Routes keep their counters across reloads (by name).
pub struct RouteMetrics {
    pub route: String,
    pub provider: &'static str,
    pub forwarded: AtomicU64,
    pub duplicate: AtomicU64,
    rejected: [AtomicU64; REASONS],
    /// 1xx..5xx answers from the upstream.
    upstream_status: [AtomicU64; 5],
    pub upstream_latency: Histogram,
    pub body_bytes: AtomicU64,
}

impl RouteMetrics {
    fn new(route: &str, provider: &'static str) -> Self {
        RouteMetrics {
            route: route.to_owned(),
            provider,
            forwarded: AtomicU64::new(0),
            duplicate: AtomicU64::new(0),
            rejected: Default::default(),
            upstream_status: Default::default(),
            upstream_latency: Histogram::default(),
            body_bytes: AtomicU64::new(0),
        }
    }

    pub fn rejected(&self, code: &str) {
        if let Some(i) = reason_index(code) {
            self.rejected[i].fetch_add(1, Relaxed);
        }
    }

    pub fn upstream_status(&self, status: u16) {
        if let Some(c) = self
            .upstream_status
            .get((status / 100).saturating_sub(1) as usize)
        {
            c.fetch_add(1, Relaxed);
        }
    }
}

/// Extra gauges and counters that other parts of the gateway report when
/// the metrics are rendered.
pub trait Source: Send + Sync {
    fn render(&self, out: &mut String);
}

pub struct Metrics {
    routes: RwLock<HashMap<String, Arc<RouteMetrics>>>,
    /// Requests that matched no route.
    pub unrouted: Arc<RouteMetrics>,
    pub reloads_ok: AtomicU64,
    pub reloads_refused: AtomicU64,
    pub in_flight: AtomicU64,
    sources: RwLock<Vec<Arc<dyn Source>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            routes: RwLock::default(),
            unrouted: Arc::new(RouteMetrics::new("", "")),
            reloads_ok: AtomicU64::new(0),
            reloads_refused: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            sources: RwLock::default(),
        }
    }
}

impl Metrics {
    /// The counters of a route, created on first use.
    pub fn route(&self, name: &str, provider: &'static str) -> Arc<RouteMetrics> {
        if let Some(m) = self.routes.read().expect("metrics lock").get(name) {
            if m.provider == provider {
                return m.clone();
            }
        }
        let mut routes = self.routes.write().expect("metrics lock");
        let entry = routes
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(RouteMetrics::new(name, provider)));
        if entry.provider != provider {
            // A reload moved the route to another provider: start its series afresh.
            *entry = Arc::new(RouteMetrics::new(name, provider));
        }
        entry.clone()
    }

    pub fn add_source(&self, source: Arc<dyn Source>) {
        self.sources.write().expect("metrics lock").push(source);
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8192);
        let mut routes: Vec<Arc<RouteMetrics>> = self
            .routes
            .read()
            .expect("metrics lock")
            .values()
            .cloned()
            .collect();
        routes.sort_by(|a, b| a.route.cmp(&b.route));

        out.push_str("# HELP hookgate_requests_total Webhook requests by route and outcome.\n");
        out.push_str("# TYPE hookgate_requests_total counter\n");
        for r in routes.iter().chain(std::iter::once(&self.unrouted)) {
            let labels = format!("route=\"{}\",provider=\"{}\"", r.route, r.provider);
            for (outcome, n) in [("forwarded", &r.forwarded), ("duplicate", &r.duplicate)] {
                let _ = writeln!(
                    out,
                    "hookgate_requests_total{{{labels},outcome=\"{outcome}\",reason=\"\"}} {}",
                    n.load(Relaxed)
                );
            }
            for (reason, n) in Reject::ALL.iter().map(Reject::code).zip(&r.rejected) {
                let n = n.load(Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "hookgate_requests_total{{{labels},outcome=\"rejected\",reason=\"{reason}\"}} {n}"
                    );
                }
            }
        }

        out.push_str(
            "# HELP hookgate_upstream_responses_total Upstream answers by status class.\n",
        );
        out.push_str("# TYPE hookgate_upstream_responses_total counter\n");
        for r in &routes {
            for (i, n) in r.upstream_status.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "hookgate_upstream_responses_total{{route=\"{}\",class=\"{}xx\"}} {}",
                    r.route,
                    i + 1,
                    n.load(Relaxed)
                );
            }
        }

        out.push_str("# HELP hookgate_upstream_duration_seconds Time from forwarding to the upstream's response header.\n");
        out.push_str("# TYPE hookgate_upstream_duration_seconds histogram\n");
        for r in &routes {
            let h = &r.upstream_latency;
            let mut cumulative = 0;
            for (bound, n) in LATENCY_BUCKETS.iter().zip(&h.buckets) {
                cumulative += n.load(Relaxed);
                let _ = writeln!(
                    out,
                    "hookgate_upstream_duration_seconds_bucket{{route=\"{}\",le=\"{bound}\"}} {cumulative}",
                    r.route
                );
            }
            let count = h.count.load(Relaxed);
            let _ = writeln!(
                out,
                "hookgate_upstream_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {count}",
                r.route
            );
            let _ = writeln!(
                out,
                "hookgate_upstream_duration_seconds_sum{{route=\"{}\"}} {}",
                r.route,
                h.sum_micros.load(Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "hookgate_upstream_duration_seconds_count{{route=\"{}\"}} {count}",
                r.route
            );
        }

        out.push_str("# HELP hookgate_request_body_bytes_total Request body bytes received on verified requests.\n");
        out.push_str("# TYPE hookgate_request_body_bytes_total counter\n");
        for r in &routes {
            let _ = writeln!(
                out,
                "hookgate_request_body_bytes_total{{route=\"{}\"}} {}",
                r.route,
                r.body_bytes.load(Relaxed)
            );
        }

        out.push_str("# HELP hookgate_config_reloads_total Configuration reloads by result.\n");
        out.push_str("# TYPE hookgate_config_reloads_total counter\n");
        let _ = writeln!(
            out,
            "hookgate_config_reloads_total{{result=\"ok\"}} {}",
            self.reloads_ok.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "hookgate_config_reloads_total{{result=\"refused\"}} {}",
            self.reloads_refused.load(Relaxed)
        );
        out.push_str("# HELP hookgate_in_flight_requests Requests being processed.\n");
        out.push_str("# TYPE hookgate_in_flight_requests gauge\n");
        let _ = writeln!(
            out,
            "hookgate_in_flight_requests {}",
            self.in_flight.load(Relaxed)
        );

        for source in self.sources.read().expect("metrics lock").iter() {
            source.render(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = Metrics::default();
        let r = m.route("nixflex", "nixflex");
        r.forwarded.fetch_add(2, Relaxed);
        r.rejected("invalid_signature");
        r.upstream_status(204);
        r.upstream_latency.observe(Duration::from_millis(3));
        r.upstream_latency.observe(Duration::from_millis(30));
        m.unrouted.rejected("no_route");
        let text = m.render();
        assert!(text.contains(
            "hookgate_requests_total{route=\"nixflex\",provider=\"nixflex\",outcome=\"forwarded\",reason=\"\"} 2"
        ));
        assert!(text.contains("outcome=\"rejected\",reason=\"invalid_signature\"} 1"));
        assert!(
            text.contains("hookgate_upstream_responses_total{route=\"nixflex\",class=\"2xx\"} 1")
        );
        assert!(text.contains(
            "hookgate_upstream_duration_seconds_bucket{route=\"nixflex\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "hookgate_upstream_duration_seconds_bucket{route=\"nixflex\",le=\"0.05\"} 2"
        ));
        assert!(text.contains("hookgate_upstream_duration_seconds_count{route=\"nixflex\"} 2"));
        assert!(
            text.contains("route=\"\",provider=\"\",outcome=\"rejected\",reason=\"no_route\"} 1")
        );
    }

    #[test]
    fn a_route_keeps_its_counters_across_lookups() {
        let m = Metrics::default();
        m.route("a", "allo").forwarded.fetch_add(1, Relaxed);
        assert_eq!(m.route("a", "allo").forwarded.load(Relaxed), 1);
        assert_eq!(m.route("a", "agntix").forwarded.load(Relaxed), 0);
    }
}
