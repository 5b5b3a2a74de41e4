//! Sending a verified request upstream through pingora's pooled HTTP/1
//! connector, and relaying the answer.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use pingora::connectors::http::v1::Connector;
use pingora::http::RequestHeader;
use pingora::protocols::http::v1::client::{http_req_header_to_wire, HttpSession};
use pingora::protocols::http::ServerSession;
use pingora::upstreams::peer::HttpPeer;
use pingora::ErrorType;
use tokio::io::AsyncWriteExt;
// pingora's timer wheel: a tokio timer registered per request wakes the
// runtime's driver through an eventfd write (measured: one per request).
use pingora::time::timeout;

use crate::reject::Reject;

/// Response headers that describe the upstream connection, not the answer.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

/// Bodies up to this size go out in the same write as the header: one
/// syscall (and, on loopback, one wake-up of the receiver) instead of two.
const COALESCE_LIMIT: usize = 64 * 1024;

/// Writes the request and reads the upstream's response header, all within
/// `limit`. A pooled connection that fails before any answer is retried once
/// on a fresh one: an upstream closing an idle connection as the request
/// arrives looks the same as one that read the request and died, so in that
/// second case the upstream sees the request twice, having answered neither
/// (a delivery whose answer was lost, which at-least-once allows). Nothing
/// else is retried.
pub(super) async fn exchange(
    connector: &Connector,
    peer: &HttpPeer,
    req: RequestHeader,
    body: &Bytes,
    limit: Duration,
) -> Result<HttpSession, Reject> {
    let wire = http_req_header_to_wire(&req).ok_or(Reject::UpstreamUnreachable)?;
    let attempt = async {
        let mut retried = false;
        loop {
            let (up, reused) = connector
                .get_http_session(peer)
                .await
                .map_err(|e| classify(e.etype()))?;
            match send(up, &wire, body, limit).await {
                Ok(up) => return Ok(up),
                Err(e) if reused && !retried && is_stale(&e) => retried = true,
                Err(e) => return Err(classify(&e)),
            }
        }
    };
    timeout(limit, attempt)
        .await
        .unwrap_or(Err(Reject::UpstreamTimeout))
}

/// Writes header and body straight to the connection (pingora's client
/// session flushes the header on its own), then reads the response header
/// through a client session.
async fn send(
    up: HttpSession,
    wire: &BytesMut,
    body: &Bytes,
    limit: Duration,
) -> Result<HttpSession, ErrorType> {
    let mut stream = up.into_inner();
    let write = async {
        if body.len() <= COALESCE_LIMIT {
            let mut out = BytesMut::with_capacity(wire.len() + body.len());
            out.extend_from_slice(wire);
            out.extend_from_slice(body);
            stream.write_all(&out).await?;
        } else {
            stream.write_all(wire).await?;
            stream.write_all(body).await?;
        }
        stream.flush().await
    };
    match timeout(limit, write).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Err(ErrorType::WriteError),
        Err(_) => return Err(ErrorType::WriteTimedout),
    }
    let mut up = HttpSession::new(stream);
    up.read_timeout = Some(limit);
    up.write_timeout = Some(limit);
    // Informational answers (100 Continue, 103 Early Hints) precede the real one.
    loop {
        up.read_response().await.map_err(|e| e.etype().clone())?;
        match up.resp_header() {
            Some(h) if h.status.is_informational() && h.status.as_u16() != 101 => continue,
            _ => return Ok(up),
        }
    }
}

/// A pooled connection the upstream closed while it sat idle.
fn is_stale(e: &ErrorType) -> bool {
    matches!(
        e,
        ErrorType::ConnectionClosed | ErrorType::ReadError | ErrorType::WriteError
    )
}

fn classify(e: &ErrorType) -> Reject {
    match e {
        ErrorType::ConnectTimedout | ErrorType::ReadTimedout | ErrorType::WriteTimedout => {
            Reject::UpstreamTimeout
        }
        _ => Reject::UpstreamUnreachable,
    }
}

/// Relays the upstream's response header and body to the client. Returns
/// whether the client connection can be kept.
pub(super) async fn relay(s: &mut ServerSession, up: &mut HttpSession) -> bool {
    let Some(header) = up.resp_header() else {
        return false;
    };
    let mut resp = header.clone();
    for name in HOP_BY_HOP {
        resp.remove_header(name);
    }
    if s.write_response_header(Box::new(resp)).await.is_err() {
        return false;
    }
    loop {
        match up.read_body_bytes().await {
            Ok(Some(chunk)) => {
                if s.write_response_body(chunk, false).await.is_err() {
                    return false;
                }
            }
            Ok(None) => break,
            // The status is out already: all that is left is to close both sides.
            Err(_) => return false,
        }
    }
    s.write_response_body(Bytes::new(), true).await.is_ok()
}

/// Returns the upstream connection to the pool when its response was read
/// whole and the upstream allows keep-alive.
pub(super) async fn release(
    connector: &Connector,
    mut up: HttpSession,
    peer: &HttpPeer,
    idle: Duration,
) {
    if up.is_body_done() {
        connector.release_http_session(up, peer, Some(idle)).await;
    } else {
        up.shutdown().await;
    }
}
