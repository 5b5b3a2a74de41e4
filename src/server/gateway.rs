//! The webhook listener's requests, in phases, each a small function:
//!
//! - **admit** (before the body): route, method, declared size, the
//!   signature headers' shape, the buffering budget, `100 Continue`;
//! - **read**: the whole body, bounded in size, time and budget;
//! - **accept**: verification and ids (`gate::inspect`), the route's rate
//!   limit, the dedup claim;
//! - **forward**: the rebuilt request to the receiver, its answer's head;
//! - **settle**: commit or release the claim by the answer, relay it.
//!
//! One rule decides a connection's fate: a refusal before the body was read
//! closes the connection (draining an unwanted body is the attacker's
//! gain); after it, the connection is kept.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant, SystemTime};

use tokio::io::{AsyncRead, AsyncWrite};

use super::conn::{Body, BodyError, Conn, Next};
use super::outbound::{self, Outbound};
use super::{respond, upstream, Routed, Snapshot, State};
use crate::dedup::{ClaimGuard, Decision};
use crate::gate::{self, Accepted};
use crate::http1::{Framing, Method, Refusal, RequestHead, MAX_HEADERS};
use crate::logging::{self, Disposition, RequestLine};
use crate::reject::Reject;
use crate::route::Route;
use crate::verify::{Headers, Request};

/// A claim outlives the upstream timeout by this much, so it is never freed
/// while its request may still be forwarding.
const CLAIM_MARGIN: Duration = Duration::from_secs(5);
/// `Retry-After` when the dedup backend is unavailable.
const BACKEND_RETRY_AFTER: Duration = Duration::from_secs(30);
/// `Retry-After` when the buffering budget is spent.
const OVERLOADED_RETRY_AFTER: Duration = Duration::from_secs(5);
/// How long an idle pooled upstream connection is kept.
pub const UPSTREAM_IDLE: Duration = Duration::from_secs(30);

/// Serves one client connection until it closes, fails, idles out, or the
/// gateway drains.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(state: &State, mut conn: Conn<S>) {
    let mut first = true;
    let mut out = Vec::with_capacity(1024);
    loop {
        let snap = state.snapshot.load_full();
        let server = &snap.config.server;
        conn.limits = snap.limits;
        let idle = if first {
            server.request_timeout
        } else {
            server.keepalive_timeout
        };
        match conn.next_request(idle, server.request_timeout).await {
            Next::Request => {}
            Next::Closed | Next::Idle | Next::Evicted => return,
            Next::TimedOut => {
                return refuse(state, &mut conn, &mut out, Reject::RequestTimeout).await
            }
            Next::Refused(r) => {
                let reject = reject_for(r, conn.limits.max_body_bytes);
                return refuse(state, &mut conn, &mut out, reject).await;
            }
        }
        first = false;
        // Boxed: the request path's state (header slots, the upstream
        // exchange) is allocated while a request is served, not held by
        // every connection that waits for one.
        let keep = Box::pin(request(state, &snap, &mut conn, &mut out)).await;
        if !keep || state.draining.load(Relaxed) {
            return;
        }
        conn.finish_request();
    }
}

/// The status for a request the codec refused.
fn reject_for(r: Refusal, max_body_bytes: usize) -> Reject {
    match r.status() {
        413 => Reject::BodyTooLarge {
            limit: max_body_bytes,
        },
        417 => Reject::ExpectationFailed,
        _ => Reject::BadRequest,
    }
}

/// Answers a request that never got to a route, and closes.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    state: &State,
    conn: &mut Conn<S>,
    out: &mut Vec<u8>,
    reject: Reject,
) {
    let started = Instant::now();
    respond::reject(out, &reject, true);
    let _ = conn.send(out).await;
    state.metrics.unrouted.rejected(reject.code());
    logging::request(&RequestLine {
        route: "",
        provider: "",
        disposition: Disposition::Rejected,
        reason: reject.code(),
        status: reject.status(),
        delivery_id: "",
        latency: started.elapsed(),
    });
}

/// How a request ended, for the answer, the log line and the metrics.
struct Ending {
    status: u16,
    disposition: Disposition,
    reason: &'static str,
    delivery_id: Option<String>,
    keep: bool,
}

impl Ending {
    fn rejected(reject: &Reject, keep: bool, delivery_id: Option<String>) -> Ending {
        Ending {
            status: reject.status(),
            disposition: Disposition::Rejected,
            reason: reject.code(),
            delivery_id,
            keep,
        }
    }
}

/// Counts a request as in flight for its lifetime.
struct InFlight<'m>(&'m crate::metrics::Metrics);

impl<'m> InFlight<'m> {
    fn enter(metrics: &'m crate::metrics::Metrics) -> Self {
        metrics.in_flight.fetch_add(1, Relaxed);
        InFlight(metrics)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

/// One request, through every phase. Returns whether the connection stays.
async fn request<S: AsyncRead + AsyncWrite + Unpin>(
    state: &State,
    snap: &Snapshot,
    conn: &mut Conn<S>,
    out: &mut Vec<u8>,
) -> bool {
    let started = Instant::now();
    let _in_flight = InFlight::enter(&state.metrics);
    let routed = std::str::from_utf8(conn.head.path(&conn.buf))
        .ok()
        .and_then(|p| snap.routed(p));
    let Some(routed) = routed else {
        let ending = answer(conn, out, &Reject::NoRoute, false, None).await;
        state.metrics.unrouted.rejected(ending.reason);
        log(None, &ending, started);
        return false;
    };
    let metrics = &routed.metrics;
    let ending = phases(state, snap, routed, conn, out).await;
    match ending.disposition {
        Disposition::Forwarded => {
            metrics.forwarded.fetch_add(1, Relaxed);
        }
        Disposition::Duplicate => {
            metrics.duplicate.fetch_add(1, Relaxed);
        }
        Disposition::Rejected => metrics.rejected(ending.reason),
    }
    log(Some(&routed.route), &ending, started);
    ending.keep
}

fn log(route: Option<&Route>, ending: &Ending, started: Instant) {
    logging::request(&RequestLine {
        route: route.map_or("", |r| r.name.as_str()),
        provider: route.map_or("", |r| r.provider_name()),
        disposition: ending.disposition,
        reason: ending.reason,
        status: ending.status,
        delivery_id: ending.delivery_id.as_deref().unwrap_or(""),
        latency: started.elapsed(),
    });
}

/// Writes a rejection. A refusal before the body was read closes the
/// connection; after it, the connection stays (if the client allows).
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    out: &mut Vec<u8>,
    reject: &Reject,
    body_read: bool,
    delivery_id: Option<String>,
) -> Ending {
    let keep = body_read && conn.head.keep_alive();
    respond::reject(out, reject, !keep);
    let written = conn.send(out).await.is_ok();
    Ending::rejected(reject, keep && written, delivery_id)
}

/// The request's header fields, borrowed from the connection's buffer.
fn head_fields<'b>(
    head: &RequestHead,
    buf: &'b [u8],
    out: &mut [(&'b [u8], &'b [u8]); MAX_HEADERS],
) -> usize {
    let mut n = 0;
    for (slot, field) in out.iter_mut().zip(head.headers(buf)) {
        *slot = field;
        n += 1;
    }
    n
}

/// The client's request as forwarding needs it.
struct Inbound<'a> {
    buf: &'a [u8],
    head: &'a RequestHead,
    peer: Option<std::net::SocketAddr>,
    tls: bool,
}

async fn phases<S: AsyncRead + AsyncWrite + Unpin>(
    state: &State,
    snap: &Snapshot,
    routed: &Routed,
    conn: &mut Conn<S>,
    out: &mut Vec<u8>,
) -> Ending {
    let route = &*routed.route;
    let received_at = SystemTime::now();
    // admit
    if let Err(r) = admit(snap, route, conn, received_at) {
        return answer(conn, out, &r, false, None).await;
    }
    let declared = match conn.head.framing() {
        Framing::Length(n) => n,
        Framing::None | Framing::Chunked => 0,
    };
    let Some(mut reservation) = state.budget.reserve(declared).await else {
        let r = Reject::Overloaded {
            retry_after: OVERLOADED_RETRY_AFTER,
        };
        return answer(conn, out, &r, false, None).await;
    };
    reservation.held_by(conn.watch());
    if conn.head.expects_continue() && conn.send_continue().await.is_err() {
        return Ending::rejected(&Reject::BadRequest, false, None);
    }
    // read
    let deadline = Instant::now() + snap.config.server.request_timeout;
    let body = match conn.read_body(deadline, &mut reservation).await {
        Ok(b) => b,
        Err(BodyError::Closed) => return Ending::rejected(&Reject::BadRequest, false, None),
        Err(e) => {
            let reject = match e {
                BodyError::TimedOut => Reject::RequestTimeout,
                BodyError::OverBudget | BodyError::Evicted => Reject::Overloaded {
                    retry_after: OVERLOADED_RETRY_AFTER,
                },
                BodyError::Refused(r) if r.status() == 413 => Reject::BodyTooLarge {
                    limit: snap.config.server.max_body_bytes,
                },
                _ => Reject::BadRequest,
            };
            return answer(conn, out, &reject, false, None).await;
        }
    };
    // accept, forward, settle: the body is read, the connection may stay.
    conn.busy();
    let keep_alive = conn.head.keep_alive();
    match accept_and_forward(state, snap, routed, conn, &body, received_at, out).await {
        Ok(forwarded) => settle(state, snap, routed, conn, out, forwarded).await,
        Err(Stop::Duplicate(id)) => {
            respond::duplicate(out, &id, !keep_alive);
            let written = conn.send(out).await.is_ok();
            Ending {
                status: 200,
                disposition: Disposition::Duplicate,
                reason: "",
                delivery_id: Some(id),
                keep: keep_alive && written,
            }
        }
        Err(Stop::Reject(r, id)) => early(conn, out, &r, id).await,
    }
}

/// Why a request that was read whole is not forwarded.
enum Stop {
    Duplicate(String),
    Reject(Reject, Option<String>),
}

/// Verification and ids, the rate limit and the dedup claim, then the
/// forward: everything that borrows the request's bytes. The answer to the
/// client is written by the caller, once these borrows are over.
async fn accept_and_forward<S: AsyncRead + AsyncWrite + Unpin>(
    state: &State,
    snap: &Snapshot,
    routed: &Routed,
    conn: &mut Conn<S>,
    body: &Body,
    received_at: SystemTime,
    out: &mut Vec<u8>,
) -> Result<Forwarded, Stop> {
    let (peer, tls) = (conn.peer, conn.tls);
    let (buf, head, body, scratch) = conn.parts(body);
    // On the heap, sized to the request: this lives across the forward's
    // awaits, and a fixed array of the largest head would be copied with
    // the request's future.
    let fields: Vec<(&[u8], &[u8])> = head.headers(buf).collect();
    let request = Request {
        headers: Headers::new(&fields),
        path: head.path(buf),
        query: head.query(buf),
        body,
    };
    let route = &*routed.route;
    let accepted =
        gate::inspect(route, request, scratch, received_at).map_err(|r| Stop::Reject(r, None))?;
    routed
        .metrics
        .body_bytes
        .fetch_add(accepted.body_len() as u64, Relaxed);
    let delivery_id = accepted.delivery_id().to_owned();
    let claim = match accept(state, routed, &accepted).await {
        Ok(claim) => claim,
        Err(Early::Duplicate) => return Err(Stop::Duplicate(delivery_id)),
        Err(Early::Reject(r)) => return Err(Stop::Reject(r, Some(delivery_id))),
    };
    let inbound = Inbound {
        buf,
        head,
        peer,
        tls,
    };
    match forward(state, snap, routed, &inbound, &accepted, received_at, out).await {
        Ok((answer, sent_at)) => Ok(Forwarded {
            answer,
            sent_at,
            claim,
            delivery_id,
        }),
        Err(r) => {
            if let Some(c) = claim {
                c.release().await;
            }
            Err(Stop::Reject(r, Some(delivery_id)))
        }
    }
}

/// A request the receiver answered.
struct Forwarded {
    answer: upstream::Answer,
    sent_at: Instant,
    claim: Option<ClaimGuard>,
    delivery_id: String,
}

/// A rejection after the body was read: the connection may stay.
async fn early<S: AsyncRead + AsyncWrite + Unpin>(
    conn: &mut Conn<S>,
    out: &mut Vec<u8>,
    reject: &Reject,
    delivery_id: Option<String>,
) -> Ending {
    answer(conn, out, reject, true, delivery_id).await
}

/// Before the body: method, declared size, the signature headers' shape.
fn admit<S>(snap: &Snapshot, route: &Route, conn: &Conn<S>, now: SystemTime) -> Result<(), Reject> {
    let server = &snap.config.server;
    if conn.head.method() != Method::Post {
        return Err(Reject::MethodNotAllowed);
    }
    if let Framing::Length(n) = conn.head.framing() {
        if n as usize > server.max_body_bytes {
            return Err(Reject::BodyTooLarge {
                limit: server.max_body_bytes,
            });
        }
    }
    let mut slots = [(&[][..], &[][..]); MAX_HEADERS];
    let n = head_fields(&conn.head, &conn.buf, &mut slots);
    let headers_only = Request {
        headers: Headers::new(&slots[..n]),
        path: conn.head.path(&conn.buf),
        query: conn.head.query(&conn.buf),
        body: b"",
    };
    gate::precheck(route, &headers_only, now)
}

enum Early {
    Duplicate,
    Reject(Reject),
}

/// After verification: the route's rate limit and the dedup claim.
async fn accept(
    state: &State,
    routed: &Routed,
    accepted: &Accepted<'_>,
) -> Result<Option<ClaimGuard>, Early> {
    let route = &routed.route;
    if let Some(bucket) = &routed.bucket {
        if let Err(wait) = bucket.take(Instant::now()) {
            return Err(Early::Reject(Reject::RateLimited { retry_after: wait }));
        }
    }
    let Some(key) = accepted.dedup_key() else {
        return Ok(None);
    };
    match state.dedup.begin(key, route.timeout + CLAIM_MARGIN).await {
        Decision::Proceed(guard) => Ok(Some(guard)),
        Decision::Bypass => Ok(None),
        Decision::Duplicate => Err(Early::Duplicate),
        Decision::InFlight => Err(Early::Reject(Reject::InFlight {
            retry_after: route.timeout,
        })),
        Decision::Unavailable => Err(Early::Reject(Reject::DedupUnavailable {
            retry_after: BACKEND_RETRY_AFTER,
        })),
    }
}

/// The rebuilt request to the receiver; its answer's head.
async fn forward(
    state: &State,
    snap: &Snapshot,
    routed: &Routed,
    inbound: &Inbound<'_>,
    accepted: &Accepted<'_>,
    received_at: SystemTime,
    out: &mut Vec<u8>,
) -> Result<(upstream::Answer, Instant), Reject> {
    let route = &*routed.route;
    let rendered = accepted.render(route, received_at);
    let peer = inbound.peer.map(|p| p.ip());
    let peer_trusted = peer.is_some_and(|ip| {
        snap.config
            .server
            .trusted_proxies
            .iter()
            .any(|net| net.contains(ip))
    });
    outbound::write_head(
        out,
        &Outbound {
            route,
            head: inbound.head,
            buf: inbound.buf,
            accepted,
            rendered: &rendered,
            peer,
            peer_trusted,
            tls: inbound.tls,
        },
    );
    let sent_at = Instant::now();
    let answer = upstream::exchange(&target(state, snap, routed), out, &rendered.body).await?;
    Ok((answer, sent_at))
}

/// Commits the claim on a 2xx answer, releases it otherwise, and relays the
/// answer.
async fn settle<S: AsyncRead + AsyncWrite + Unpin>(
    state: &State,
    snap: &Snapshot,
    routed: &Routed,
    conn: &mut Conn<S>,
    out: &mut Vec<u8>,
    f: Forwarded,
) -> Ending {
    let metrics = &routed.metrics;
    let status = f.answer.head.status();
    metrics.upstream_latency.observe(f.sent_at.elapsed());
    metrics.upstream_status(status);
    if let Some(claim) = f.claim {
        if (200..300).contains(&status) {
            claim.commit(snap.config.dedup.window).await;
        } else {
            claim.release().await;
        }
    }
    let relayed = upstream::relay(f.answer, &target(state, snap, routed), conn, out).await;
    Ending {
        status,
        disposition: Disposition::Forwarded,
        reason: "",
        delivery_id: Some(f.delivery_id),
        keep: relayed.client_keep,
    }
}

fn target<'a>(state: &'a State, snap: &'a Snapshot, routed: &'a Routed) -> upstream::Target<'a> {
    upstream::Target {
        connector: &state.connector,
        peer: &routed.peer,
        upstream: &routed.route.upstream,
        limits: &snap.limits,
        timeout: routed.route.timeout,
        idle: UPSTREAM_IDLE,
    }
}
