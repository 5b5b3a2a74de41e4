//! The pingora layer: a server app that owns each request whole. It reads
//! the entire body (bounded), hands it to the domain core, and only then
//! opens (or reuses) an upstream connection through pingora's connector.
//! ARCHITECTURE.md records why this is not a `ProxyHttp`.

mod admin;
mod forward;
mod signals;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use http::{HeaderName, HeaderValue, Method};
use pingora::apps::{HttpPersistentSettings, HttpServerApp, ReusedHttpStream};
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::protocols::http::ServerSession;
use pingora::server::ShutdownWatch;
use pingora::upstreams::peer::HttpPeer;
// pingora's timer wheel: a tokio timer registered per request wakes the
// runtime's driver through an eventfd write (measured: one per request).
use pingora::time::timeout;

use crate::config::Config;
use crate::dedup::{Decision, Dedup};
use crate::gate;
use crate::metrics::{Metrics, RouteMetrics};
use crate::ratelimit::TokenBucket;
use crate::reject::Reject;
use crate::route::{ForwardMode, Route, Upstream};
use crate::verify::{Headers, Request};

pub use signals::run;

/// A claim outlives the upstream timeout by this much, so it is never freed
/// while its request may still be forwarding.
const CLAIM_MARGIN: Duration = Duration::from_secs(5);
/// How long an idle client connection is kept between requests.
const CLIENT_IDLE_SECS: u64 = 15;
/// How long an idle pooled upstream connection is kept.
const UPSTREAM_IDLE: Duration = Duration::from_secs(30);
/// `Retry-After` when the dedup backend is unavailable.
const BACKEND_RETRY_AFTER: Duration = Duration::from_secs(30);

/// One configuration as the server uses it: the validated config plus the
/// pingora peers and metric handles derived from it. Each request loads one
/// snapshot at its start and keeps it to its end.
pub struct Snapshot {
    pub config: Arc<Config>,
    peers: HashMap<Upstream, HttpPeer>,
    route_metrics: HashMap<String, Arc<RouteMetrics>>,
    /// Token buckets of rate-limited routes (a reload starts them afresh).
    rate_limits: HashMap<String, TokenBucket>,
}

impl Snapshot {
    pub fn new(config: Config, metrics: &Metrics) -> Snapshot {
        let peers = config
            .upstreams()
            .into_iter()
            .map(|u| {
                let peer = HttpPeer::new(u.addr, u.tls, u.host.clone());
                (u.as_ref().clone(), peer)
            })
            .collect();
        let route_metrics = config
            .routes()
            .map(|r| (r.name.clone(), metrics.route(&r.name, r.provider_name())))
            .collect();
        let rate_limits = config
            .routes()
            .filter_map(|r| {
                let limit = r.rate_limit?;
                let bucket = TokenBucket::new(limit.per_second, limit.burst, Instant::now());
                Some((r.name.clone(), bucket))
            })
            .collect();
        Snapshot {
            config: Arc::new(config),
            peers,
            route_metrics,
            rate_limits,
        }
    }

    fn peer(&self, upstream: &Upstream) -> &HttpPeer {
        self.peers
            .get(upstream)
            .expect("every route's upstream has a peer in its snapshot")
    }

    fn metrics(&self, route: &Route) -> &Arc<RouteMetrics> {
        self.route_metrics
            .get(&route.name)
            .expect("every route has metrics in its snapshot")
    }
}

/// Everything the gateway shares across requests.
pub struct State {
    pub snapshot: ArcSwap<Snapshot>,
    pub dedup: Arc<Dedup>,
    pub metrics: Arc<Metrics>,
    connector: pingora::connectors::http::v1::Connector,
    /// Set on SIGTERM: finish what is in flight, keep no connection alive.
    draining: AtomicBool,
}

impl State {
    pub fn new(
        snapshot: Snapshot,
        dedup: Arc<Dedup>,
        metrics: Arc<Metrics>,
        pool_size: usize,
    ) -> State {
        metrics.add_source(dedup.clone());
        let mut options = pingora::connectors::ConnectorOptions::new(pool_size);
        options.keepalive_pool_size = pool_size;
        State {
            snapshot: ArcSwap::from_pointee(snapshot),
            dedup,
            metrics,
            connector: pingora::connectors::http::v1::Connector::new(Some(options)),
            draining: AtomicBool::new(false),
        }
    }
}

/// The webhook listener's application.
pub struct Gateway {
    state: Arc<State>,
}

/// How a request ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Disposition {
    Forwarded,
    Duplicate,
    Rejected,
}

impl Disposition {
    fn as_str(self) -> &'static str {
        match self {
            Disposition::Forwarded => "forwarded",
            Disposition::Duplicate => "duplicate",
            Disposition::Rejected => "rejected",
        }
    }
}

/// What happened to one request, for the log line and the metrics.
struct Outcome {
    status: u16,
    disposition: Disposition,
    reason: Option<&'static str>,
    delivery_id: Option<String>,
    /// The client connection may be reused (the request was read whole and
    /// the response written whole).
    keep_alive: bool,
}

impl Outcome {
    fn rejected(reject: &Reject, keep_alive: bool, delivery_id: Option<String>) -> Outcome {
        Outcome {
            status: reject.status(),
            disposition: Disposition::Rejected,
            reason: Some(reject.code()),
            delivery_id,
            keep_alive,
        }
    }
}

/// Counts a request as in flight for its lifetime.
struct InFlight<'m>(&'m Metrics);

impl<'m> InFlight<'m> {
    fn enter(metrics: &'m Metrics) -> Self {
        metrics.in_flight.fetch_add(1, Relaxed);
        InFlight(metrics)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

#[async_trait]
impl HttpServerApp for Gateway {
    async fn process_new_http(
        self: &Arc<Self>,
        mut session: ServerSession,
        shutdown: &ShutdownWatch,
    ) -> Option<ReusedHttpStream> {
        let request_timeout = self.state.snapshot.load().config.server.request_timeout;
        session.set_keepalive(Some(CLIENT_IDLE_SECS));
        // Requests a client pipelines are answered in order, not dropped.
        session.set_pipelining_enabled(true);
        session.set_read_timeout(Some(request_timeout));
        session.set_write_timeout(Some(request_timeout));
        // Bounds a slowly dribbled header as well as an idle connection.
        let idle = Duration::from_secs(CLIENT_IDLE_SECS) + request_timeout;
        match timeout(idle, session.read_request()).await {
            Ok(Ok(true)) => {}
            // Unparseable or ambiguous framing (conflicting Content-Length,
            // a non-chunked Transfer-Encoding, too many or too large headers,
            // an authority that disagrees with Host): answer, then close.
            Ok(Err(e)) if *e.etype() == pingora::ErrorType::InvalidHTTPHeader => {
                let started = Instant::now();
                let outcome = respond_reject(&mut session, &Reject::BadRequest, false, None).await;
                self.state
                    .metrics
                    .unrouted
                    .rejected(Reject::BadRequest.code());
                log_request(None, &outcome, started);
                let _ = session.finish().await;
                return None;
            }
            _ => return None,
        }
        let started = Instant::now();
        let _in_flight = InFlight::enter(&self.state.metrics);
        let snapshot = self.state.snapshot.load_full();
        let route = snapshot
            .config
            .route(session.req_header().uri.path())
            .cloned();
        let outcome = match &route {
            Some(route) => self.handle(&mut session, &snapshot, route).await,
            None => {
                self.state.metrics.unrouted.rejected(Reject::NoRoute.code());
                respond_reject(&mut session, &Reject::NoRoute, false, None).await
            }
        };
        log_request(route.as_deref(), &outcome, started);

        if !outcome.keep_alive || *shutdown.borrow() || self.state.draining.load(Relaxed) {
            session.set_keepalive(None);
        }
        let settings = HttpPersistentSettings::for_session(&session);
        match session.finish().await {
            Ok(Some(stream)) => Some(ReusedHttpStream::from_reusable_stream(stream, settings)),
            _ => None,
        }
    }
}

impl Gateway {
    pub fn new(state: Arc<State>) -> Self {
        Gateway { state }
    }

    async fn handle(&self, s: &mut ServerSession, snap: &Snapshot, route: &Arc<Route>) -> Outcome {
        let metrics = snap.metrics(route);
        let outcome = self.verify_and_forward(s, snap, route, metrics).await;
        match outcome.disposition {
            Disposition::Forwarded => {
                metrics.forwarded.fetch_add(1, Relaxed);
            }
            Disposition::Duplicate => {
                metrics.duplicate.fetch_add(1, Relaxed);
            }
            Disposition::Rejected => metrics.rejected(outcome.reason.unwrap_or("")),
        }
        outcome
    }

    async fn verify_and_forward(
        &self,
        s: &mut ServerSession,
        snap: &Snapshot,
        route: &Arc<Route>,
        metrics: &RouteMetrics,
    ) -> Outcome {
        let server = &snap.config.server;
        let req = s.req_header();
        if req.method != Method::POST {
            return respond_reject(s, &Reject::MethodNotAllowed, false, None).await;
        }
        match declared_length(req) {
            Err(()) => return respond_reject(s, &Reject::BadRequest, false, None).await,
            Ok(Some(n)) if n > server.max_body_bytes => {
                let r = Reject::BodyTooLarge {
                    limit: server.max_body_bytes,
                };
                return respond_reject(s, &r, false, None).await;
            }
            Ok(_) => {}
        }
        let received_at = SystemTime::now();
        let checked = {
            let fields = header_fields(&req.headers);
            let request = Request {
                headers: Headers::new(&fields),
                path: req.uri.path().as_bytes(),
                query: req.uri.query().map(str::as_bytes),
                body: b"",
            };
            gate::precheck(route, &request, received_at)
        };
        if let Err(r) = checked {
            return respond_reject(s, &r, false, None).await;
        }
        if expects_continue(req) {
            // pingora would otherwise count the 100 as an answer before the
            // request finished and close the connection after the real one.
            s.set_close_on_response_before_downstream_finish(false);
            let sent = s.write_continue_response().await;
            s.set_close_on_response_before_downstream_finish(true);
            if sent.is_err() {
                return Outcome::rejected(&Reject::BadRequest, false, None);
            }
        }
        let body = match read_body(s, server.max_body_bytes, server.request_timeout).await {
            Ok(body) => body,
            Err(r) => return respond_reject(s, &r, false, None).await,
        };
        // The body is read whole: from here on the client connection can be kept.
        let mut upstream_req = s.req_header().clone();
        let fields = header_fields(&upstream_req.headers);
        let request = Request {
            headers: Headers::new(&fields),
            path: upstream_req.uri.path().as_bytes(),
            query: upstream_req.uri.query().map(str::as_bytes),
            body: &body,
        };
        let accepted = match gate::inspect(route, request, received_at) {
            Ok(a) => a,
            Err(r) => return respond_reject(s, &r, true, None).await,
        };
        metrics.body_bytes.fetch_add(body.len() as u64, Relaxed);
        if let Some(bucket) = snap.rate_limits.get(&route.name) {
            if let Err(wait) = bucket.take(Instant::now()) {
                let r = Reject::RateLimited { retry_after: wait };
                let id = accepted.delivery_id().to_owned();
                return respond_reject(s, &r, true, Some(id)).await;
            }
        }

        let claim = match accepted.dedup_key() {
            None => None,
            Some(key) => match self
                .state
                .dedup
                .begin(key, route.timeout + CLAIM_MARGIN)
                .await
            {
                Decision::Proceed(guard) => Some(guard),
                Decision::Bypass => {
                    tracing::warn!(route = %route.name, "dedup backend unavailable: forwarding without dedup");
                    None
                }
                Decision::Duplicate => {
                    return respond_duplicate(s, accepted.delivery_id().to_owned()).await
                }
                Decision::InFlight => {
                    let r = Reject::InFlight {
                        retry_after: route.timeout,
                    };
                    let id = accepted.delivery_id().to_owned();
                    return respond_reject(s, &r, true, Some(id)).await;
                }
                Decision::Unavailable => {
                    let r = Reject::DedupUnavailable {
                        retry_after: BACKEND_RETRY_AFTER,
                    };
                    let id = accepted.delivery_id().to_owned();
                    return respond_reject(s, &r, true, Some(id)).await;
                }
            },
        };

        let rendered = accepted.render(route, received_at);
        let forward_body = Bytes::copy_from_slice(&rendered.body);
        let ce_headers = rendered.ce_headers;
        let delivery_id = accepted.delivery_id().to_owned();
        let provider_delivery_id = accepted.provider_delivery_id().map(str::to_owned);
        drop(fields);

        prepare_upstream_request(
            &mut upstream_req,
            route,
            &delivery_id,
            &forward_body,
            ce_headers,
            s.client_addr().and_then(|a| a.as_inet()).map(|a| a.ip()),
        );
        if let Some(id) = provider_delivery_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
            let _ = upstream_req.insert_header("x-hookgate-provider-delivery-id", id);
        }
        let peer = snap.peer(&route.upstream);
        let sent_at = Instant::now();
        let exchange = forward::exchange(
            &self.state.connector,
            peer,
            upstream_req,
            &forward_body,
            route.timeout,
        )
        .await;
        let mut upstream = match exchange {
            Ok(up) => up,
            Err(r) => {
                if let Some(claim) = claim {
                    claim.release().await;
                }
                return respond_reject(s, &r, true, Some(delivery_id)).await;
            }
        };
        let status = upstream.resp_header().map_or(502, |h| h.status.as_u16());
        metrics.upstream_latency.observe(sent_at.elapsed());
        metrics.upstream_status(status);
        if let Some(claim) = claim {
            if (200..300).contains(&status) {
                claim.commit(snap.config.dedup.window).await;
            } else {
                claim.release().await;
            }
        }
        let keep_alive = forward::relay(s, &mut upstream).await;
        forward::release(&self.state.connector, upstream, peer, UPSTREAM_IDLE).await;
        Outcome {
            status,
            disposition: Disposition::Forwarded,
            reason: None,
            delivery_id: Some(delivery_id),
            keep_alive,
        }
    }
}

/// The declared Content-Length, if any; `Err` when it is unparseable or
/// repeated with different values.
fn declared_length(req: &RequestHeader) -> Result<Option<usize>, ()> {
    let mut values = req.headers.get_all(http::header::CONTENT_LENGTH).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    let parse = |v: &HeaderValue| -> Result<usize, ()> {
        let text = v.to_str().map_err(|_| ())?.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        text.parse().map_err(|_| ())
    };
    let n = parse(first)?;
    for other in values {
        if parse(other)? != n {
            return Err(());
        }
    }
    Ok(Some(n))
}

fn expects_continue(req: &RequestHeader) -> bool {
    req.headers
        .get(http::header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Reads the whole body, refusing it past `limit` bytes or `deadline`.
async fn read_body(
    s: &mut ServerSession,
    limit: usize,
    deadline: Duration,
) -> Result<Bytes, Reject> {
    let read = async {
        let mut first: Option<Bytes> = None;
        let mut buf = BytesMut::new();
        while let Some(chunk) = s.read_request_body().await.map_err(|e| {
            // The session's own read timeout (also `request_timeout`) may
            // fire before this one does.
            if *e.etype() == pingora::ErrorType::ReadTimedout {
                Reject::RequestTimeout
            } else {
                Reject::BadRequest
            }
        })? {
            let so_far = first.as_ref().map_or(0, Bytes::len) + buf.len();
            if so_far + chunk.len() > limit {
                return Err(Reject::BodyTooLarge { limit });
            }
            // A body that arrives in one chunk is kept without a copy.
            match first.take() {
                None if buf.is_empty() => first = Some(chunk),
                Some(f) => {
                    buf.reserve(f.len() + chunk.len());
                    buf.extend_from_slice(&f);
                    buf.extend_from_slice(&chunk);
                }
                None => buf.extend_from_slice(&chunk),
            }
        }
        Ok(first.unwrap_or_else(|| buf.freeze()))
    };
    timeout(deadline, read)
        .await
        .unwrap_or(Err(Reject::RequestTimeout))
}

const X_HOOKGATE_VERIFIED: HeaderName = HeaderName::from_static("x-hookgate-verified");
const X_HOOKGATE_PROVIDER: HeaderName = HeaderName::from_static("x-hookgate-provider");
const X_HOOKGATE_DELIVERY_ID: HeaderName = HeaderName::from_static("x-hookgate-delivery-id");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
];

/// Rewrites the client's request header into the upstream's: path, host,
/// length, no hop-by-hop headers, no forged `X-Hookgate-*` / `ce-*`, and
/// hookgate's own attributes.
fn prepare_upstream_request(
    req: &mut RequestHeader,
    route: &Route,
    delivery_id: &str,
    body: &Bytes,
    ce_headers: Vec<(&'static str, String)>,
    client_ip: Option<std::net::IpAddr>,
) {
    let target = route.upstream_path.as_deref().unwrap_or(req.uri.path());
    let query = req.uri.query();
    let mut path = String::with_capacity(
        route.upstream.base_path.len() + target.len() + query.map_or(0, |q| q.len() + 1),
    );
    path.push_str(&route.upstream.base_path);
    path.push_str(target);
    if let Some(q) = query {
        path.push('?');
        path.push_str(q);
    }
    // The path was parsed from the request line or validated at config
    // load, so it is a valid URI path.
    let _ = req.set_raw_path(path.as_bytes());
    req.set_version(http::Version::HTTP_11);

    // Headers the client named in `Connection` are hop-by-hop too.
    let connection_named: Vec<String> = req
        .headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty() && t != "keep-alive" && t != "close")
        .collect();
    let strip: Vec<HeaderName> = req
        .headers
        .keys()
        .filter(|name| {
            let n = name.as_str();
            HOP_BY_HOP.contains(&n)
                || n == "content-length"
                || n.starts_with("x-hookgate-")
                || n.starts_with("ce-")
                || connection_named.iter().any(|c| c == n)
                || (route.forward == ForwardMode::Normalized && n == "content-encoding")
                || (route.forward_signer.is_some() && n.starts_with("webhook-"))
        })
        .cloned()
        .collect();
    for name in &strip {
        req.remove_header(name);
    }

    let _ = req.insert_header(http::header::HOST, route.upstream.authority.as_str());
    let _ = req.insert_header(http::header::CONTENT_LENGTH, body.len());
    if route.forward == ForwardMode::Normalized {
        let _ = req.insert_header(http::header::CONTENT_TYPE, "application/cloudevents+json");
    }
    for (name, value) in ce_headers {
        let _ = req.append_header(name, value);
    }
    let _ = req.insert_header(X_HOOKGATE_VERIFIED, HeaderValue::from_static("true"));
    let _ = req.insert_header(
        X_HOOKGATE_PROVIDER,
        HeaderValue::from_static(route.provider_name()),
    );
    if let Ok(v) = HeaderValue::from_str(delivery_id) {
        let _ = req.insert_header(X_HOOKGATE_DELIVERY_ID, v);
    }
    if let Some(signer) = &route.forward_signer {
        let ts = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let sig = crate::provider::standard::sign(signer, delivery_id, ts, body);
        let _ = req.insert_header("webhook-id", delivery_id);
        let _ = req.insert_header("webhook-timestamp", ts.to_string());
        let _ = req.insert_header("webhook-signature", format!("v1,{sig}"));
    }
    if let Some(ip) = client_ip {
        let forwarded_for = match req
            .headers
            .get(X_FORWARDED_FOR)
            .and_then(|v| v.to_str().ok())
        {
            Some(prior) => format!("{prior}, {ip}"),
            None => ip.to_string(),
        };
        let _ = req.insert_header(X_FORWARDED_FOR, forwarded_for);
    }
}

async fn write_small_response(
    s: &mut ServerSession,
    mut resp: ResponseHeader,
    body: Vec<u8>,
    keep_alive: bool,
) -> bool {
    let _ = resp.insert_header(http::header::CONTENT_TYPE, "application/json");
    let _ = resp.insert_header(http::header::CONTENT_LENGTH, body.len());
    if !keep_alive {
        // An unread body would have to be drained to reuse the connection.
        s.set_keepalive(None);
    }
    let written = s.write_response_header(Box::new(resp)).await.is_ok()
        && s.write_response_body(Bytes::from(body), true).await.is_ok();
    keep_alive && written
}

/// Answers with a rejection. `body_read` tells whether the request body was
/// consumed, so the connection can be kept.
async fn respond_reject(
    s: &mut ServerSession,
    reject: &Reject,
    body_read: bool,
    delivery_id: Option<String>,
) -> Outcome {
    let mut resp = ResponseHeader::build(reject.status(), Some(4)).expect("valid status");
    if let Some(secs) = reject.retry_after() {
        let _ = resp.insert_header(http::header::RETRY_AFTER, secs);
    }
    if let Some(allow) = reject.allow() {
        let _ = resp.insert_header(http::header::ALLOW, allow);
    }
    let keep_alive = write_small_response(s, resp, reject.body(), body_read).await;
    Outcome::rejected(reject, keep_alive, delivery_id)
}

async fn respond_duplicate(s: &mut ServerSession, delivery_id: String) -> Outcome {
    let mut resp = ResponseHeader::build(200, Some(4)).expect("valid status");
    let _ = resp.insert_header("X-Hookgate-Duplicate", "true");
    if let Ok(v) = HeaderValue::from_str(&delivery_id) {
        let _ = resp.insert_header("X-Hookgate-Delivery-Id", v);
    }
    let body = br#"{"status":"duplicate","message":"already delivered; not forwarded again"}"#;
    let keep_alive = write_small_response(s, resp, body.to_vec(), true).await;
    Outcome {
        status: 200,
        disposition: Disposition::Duplicate,
        reason: None,
        delivery_id: Some(delivery_id),
        keep_alive,
    }
}

/// Header fields as name/value byte pairs, for the gate.
fn header_fields(headers: &http::HeaderMap) -> Vec<(&[u8], &[u8])> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str().as_bytes(), v.as_bytes()))
        .collect()
}

fn log_request(route: Option<&Route>, outcome: &Outcome, started: Instant) {
    tracing::info!(
        target: "hookgate::request",
        route = route.map_or("", |r| r.name.as_str()),
        provider = route.map_or("", |r| r.provider_name()),
        outcome = outcome.disposition.as_str(),
        reason = outcome.reason.unwrap_or(""),
        status = outcome.status,
        delivery_id = outcome.delivery_id.as_deref().unwrap_or(""),
        latency_us = started.elapsed().as_micros() as u64,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> RequestHeader {
        let mut req = RequestHeader::build("POST", b"/webhooks/nixflex?x=1", None).unwrap();
        for (k, v) in headers {
            req.append_header(k.to_string(), *v).unwrap();
        }
        req
    }

    #[test]
    fn declared_length_rejects_garbage_and_conflicts() {
        assert_eq!(declared_length(&request(&[])), Ok(None));
        assert_eq!(
            declared_length(&request(&[("content-length", "12")])),
            Ok(Some(12))
        );
        assert_eq!(
            declared_length(&request(&[
                ("content-length", "12"),
                ("content-length", "12")
            ])),
            Ok(Some(12))
        );
        for bad in [
            &[("content-length", "12"), ("content-length", "13")][..],
            &[("content-length", "-1")],
            &[("content-length", "1e3")],
        ] {
            assert_eq!(declared_length(&request(bad)), Err(()));
        }
    }

    #[test]
    fn upstream_request_is_stripped_and_stamped() {
        let text = "[server]\nlisten = \"127.0.0.1:8080\"\n[upstream]\nurl = \"http://127.0.0.1:3000/base\"\n\
                    [[route]]\nname = \"n\"\npath = \"/webhooks/nixflex\"\nprovider = \"nixflex\"\nsecrets = [\"s\"]\n\
                    upstream_path = \"/calls\"\nforward = \"normalized\"\n";
        let loaded = crate::config::parse(text, &|_| None).unwrap();
        let route = loaded.config.route("/webhooks/nixflex").unwrap();
        let mut req = request(&[
            ("host", "gateway.example"),
            ("connection", "keep-alive, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("expect", "100-continue"),
            ("content-length", "999"),
            ("x-hookgate-verified", "false"),
            ("X-Hookgate-Provider", "forged"),
            ("ce-type", "forged"),
            ("x-nixflex-signature", "t=1,v1=ab"),
            ("x-forwarded-for", "10.0.0.1"),
        ]);
        let body = Bytes::from_static(b"{\"specversion\":\"1.0\"}");
        prepare_upstream_request(
            &mut req,
            route,
            "dlv-1",
            &body,
            Vec::new(),
            Some("127.0.0.9".parse().unwrap()),
        );
        assert_eq!(req.uri.to_string(), "/base/calls?x=1");
        let h = &req.headers;
        assert_eq!(h["host"], "127.0.0.1:3000");
        assert_eq!(h["content-length"], "21");
        assert_eq!(h["content-type"], "application/cloudevents+json");
        assert_eq!(
            h.get_all("x-hookgate-verified").iter().collect::<Vec<_>>(),
            vec!["true"]
        );
        assert_eq!(h["x-hookgate-provider"], "nixflex");
        assert_eq!(h["x-hookgate-delivery-id"], "dlv-1");
        assert_eq!(h["x-forwarded-for"], "10.0.0.1, 127.0.0.9");
        assert!(h.get("ce-type").is_none());
        assert!(h.get("connection").is_none());
        assert!(h.get("x-secret-hop").is_none());
        assert!(h.get("expect").is_none());
        assert_eq!(h["x-nixflex-signature"], "t=1,v1=ab");
    }
}
