//! Sending a verified request to its receiver over a pooled connection, and
//! relaying the answer to the client.
//!
//! Connections come from pingora's connector (TCP or TLS) and are kept in the
//! per-thread pool. Only a pooled connection that turns out closed before
//! any answer byte is retried, once, on a fresh one; nothing is retried
//! after a timeout (the receiver could get the request twice).

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use pingora::connectors::TransportConnector;
use pingora::protocols::Stream;
use pingora::time::timeout;
use pingora::upstreams::peer::HttpPeer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::conn::Conn;
use super::pool;
use super::respond;
use crate::http1::{self, ChunkedDecoder, Limits, Parsed, ResponseFraming, ResponseHead};
use crate::reject::Reject;
use crate::route::Upstream;

/// Bodies up to this size go out in the same write as the head: one
/// syscall, and on loopback one wake-up of the receiver, instead of two.
const COALESCE_LIMIT: usize = 64 * 1024;

/// Where a route forwards, and the bounds of one exchange.
pub struct Target<'a> {
    pub connector: &'a TransportConnector,
    pub peer: &'a HttpPeer,
    pub upstream: &'a Arc<Upstream>,
    pub limits: &'a Limits,
    /// The route's timeout: the whole exchange up to the answer's head, and
    /// each read of the answer's body.
    pub timeout: Duration,
    /// How long an idle pooled connection may be reused.
    pub idle: Duration,
}

/// A receiver's answer, its head read.
pub struct Answer {
    stream: Stream,
    buf: BytesMut,
    /// Boxed: its field table (2 KiB) would otherwise be copied with each
    /// future the answer passes through.
    pub head: Box<ResponseHead>,
}

/// Why an attempt failed, and whether the connection may have been stale.
struct Failure {
    reject: Reject,
    /// Nothing of an answer arrived: a pooled connection the receiver
    /// closed while it sat idle looks like this.
    before_answer: bool,
}

fn failure(e: &io::Error, before_answer: bool) -> Failure {
    let reject = if e.kind() == io::ErrorKind::TimedOut {
        Reject::UpstreamTimeout
    } else {
        Reject::UpstreamUnreachable
    };
    Failure {
        reject,
        before_answer,
    }
}

/// Sends `head` + `body` to `upstream` and reads the answer's head (skipping
/// 1xx), all by `deadline`.
pub async fn exchange(target: &Target<'_>, head: &[u8], body: &[u8]) -> Result<Answer, Reject> {
    let deadline = Instant::now() + target.timeout;
    let mut retried = false;
    loop {
        let (stream, reused) = match pool::take(target.upstream, target.idle) {
            Some(s) => (s, true),
            None => {
                let wait = deadline.saturating_duration_since(Instant::now());
                // Boxed: connecting (with a TLS handshake) is an 8 KiB
                // future, and most requests take a pooled connection;
                // inline, every request's future would carry it.
                let connect = Box::pin(target.connector.new_stream(target.peer));
                let stream = match timeout(wait, connect).await {
                    Err(_) => return Err(Reject::UpstreamTimeout),
                    Ok(Err(e)) => {
                        return Err(match e.etype() {
                            pingora::ErrorType::ConnectTimedout => Reject::UpstreamTimeout,
                            _ => Reject::UpstreamUnreachable,
                        })
                    }
                    Ok(Ok(s)) => s,
                };
                (stream, false)
            }
        };
        match attempt(stream, head, body, deadline, target.limits).await {
            Ok(answer) => return Ok(answer),
            Err(f) if reused && !retried && f.before_answer => retried = true,
            Err(f) => return Err(f.reject),
        }
    }
}

async fn attempt(
    mut stream: Stream,
    head: &[u8],
    body: &[u8],
    deadline: Instant,
    limits: &Limits,
) -> Result<Answer, Failure> {
    let write = async {
        if head.len() + body.len() <= COALESCE_LIMIT {
            let mut one = Vec::with_capacity(head.len() + body.len());
            one.extend_from_slice(head);
            one.extend_from_slice(body);
            stream.write_all(&one).await?;
        } else {
            stream.write_all(head).await?;
            stream.write_all(body).await?;
        }
        stream.flush().await
    };
    let wait = deadline.saturating_duration_since(Instant::now());
    match timeout(wait, write).await {
        Err(_) => {
            return Err(Failure {
                reject: Reject::UpstreamTimeout,
                before_answer: false,
            })
        }
        Ok(Err(e)) => return Err(failure(&e, true)),
        Ok(Ok(())) => {}
    }
    let mut buf = BytesMut::with_capacity(4096);
    let mut head = Box::new(ResponseHead::new());
    let mut any = false;
    loop {
        if !buf.is_empty() {
            match http1::parse_response(&buf, limits, false, &mut head) {
                Ok(Parsed::Complete) if (100..200).contains(&head.status()) => {
                    if head.status() == 101 {
                        return Err(Failure {
                            reject: Reject::UpstreamUnreachable,
                            before_answer: false,
                        });
                    }
                    // 100 Continue, 103 Early Hints: the real answer follows.
                    buf.advance(head.head_len());
                    continue;
                }
                Ok(Parsed::Complete) => {
                    return Ok(Answer { stream, buf, head });
                }
                Ok(Parsed::Partial) => {}
                Err(_) => {
                    return Err(Failure {
                        reject: Reject::UpstreamUnreachable,
                        before_answer: false,
                    })
                }
            }
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(4096);
        }
        match timeout(wait, stream.read_buf(&mut buf)).await {
            Err(_) => {
                return Err(Failure {
                    reject: Reject::UpstreamTimeout,
                    before_answer: false,
                })
            }
            Ok(Ok(0)) => {
                return Err(Failure {
                    reject: Reject::UpstreamUnreachable,
                    before_answer: !any,
                })
            }
            Ok(Err(e)) => return Err(failure(&e, !any)),
            Ok(Ok(_)) => any = true,
        }
    }
}

/// How a relay ended.
pub struct Relayed {
    /// The client connection can take another request.
    pub client_keep: bool,
}

/// Relays the answer to the client: its status and end-to-end headers, its
/// body reframed (`Content-Length` as the receiver sent it, else chunked to
/// an HTTP/1.1 client or until close to an HTTP/1.0 one). Returns the
/// receiver's connection to the pool when it was read whole and may be
/// kept. `read_timeout` bounds each read from the receiver.
pub async fn relay<S: AsyncRead + AsyncWrite + Unpin>(
    mut answer: Answer,
    target: &Target<'_>,
    client: &mut Conn<S>,
    out: &mut Vec<u8>,
) -> Relayed {
    let client_keep = client.head.keep_alive();
    let client_http11 = client.head.version() == http1::Version::Http11;
    let read_timeout = target.timeout;
    let head = &answer.head;
    let framing = head.framing();
    let chunked_out = client_http11
        && matches!(
            framing,
            ResponseFraming::Chunked | ResponseFraming::UntilClose
        );
    let close_delimited = !client_http11
        && matches!(
            framing,
            ResponseFraming::Chunked | ResponseFraming::UntilClose
        );
    let client_keep = client_keep && !close_delimited;

    out.clear();
    respond::status_line(out, head.status());
    let listed: Vec<Vec<u8>> = head
        .headers(&answer.buf)
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"connection"))
        .flat_map(|(_, v)| http1::connection_tokens(v).map(|t| t.to_ascii_lowercase()))
        .collect();
    for (name, value) in head.headers(&answer.buf) {
        let dropped =
            http1::is_hop_by_hop(name) || listed.iter().any(|l| l.eq_ignore_ascii_case(name));
        if !dropped {
            respond::header(out, name, value);
        }
    }
    match framing {
        ResponseFraming::Length(n) => respond::number_header(out, "Content-Length", n),
        ResponseFraming::Empty if !matches!(head.status(), 204 | 304) => {
            respond::number_header(out, "Content-Length", 0)
        }
        ResponseFraming::Empty => {}
        _ if chunked_out => respond::header(out, "Transfer-Encoding", b"chunked"),
        _ => {}
    }
    if !client_keep {
        respond::header(out, "Connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    let head_len = head.head_len();
    let upstream_keep = head.keep_alive();
    answer.buf.advance(head_len);

    let finished = match framing {
        ResponseFraming::Empty => client.send(out).await.is_ok(),
        ResponseFraming::Length(n) => relay_length(&mut answer, client, out, n, read_timeout).await,
        ResponseFraming::Chunked => {
            relay_chunked(
                &mut answer,
                client,
                out,
                chunked_out,
                read_timeout,
                target.limits,
            )
            .await
        }
        ResponseFraming::UntilClose => {
            relay_until_close(&mut answer, client, out, chunked_out, read_timeout).await
        }
    };
    let reusable = finished
        && upstream_keep
        && answer.buf.is_empty()
        && !matches!(framing, ResponseFraming::UntilClose);
    if reusable {
        pool::put(target.upstream, answer.stream);
    }
    Relayed {
        client_keep: finished && client_keep,
    }
}

/// Reads more of the answer into its buffer; `false` at its end or on error.
async fn read_more(answer: &mut Answer, read_timeout: Duration) -> Option<usize> {
    if answer.buf.capacity() - answer.buf.len() < 4096 {
        answer.buf.reserve(16 * 1024);
    }
    match timeout(read_timeout, answer.stream.read_buf(&mut answer.buf)).await {
        Ok(Ok(n)) => Some(n),
        _ => None,
    }
}

async fn relay_length<S: AsyncRead + AsyncWrite + Unpin>(
    answer: &mut Answer,
    client: &mut Conn<S>,
    out: &mut Vec<u8>,
    n: u64,
    read_timeout: Duration,
) -> bool {
    let mut left = n as usize;
    loop {
        let take = left.min(answer.buf.len());
        out.extend_from_slice(&answer.buf[..take]);
        answer.buf.advance(take);
        left -= take;
        if client.send(out).await.is_err() {
            return false;
        }
        out.clear();
        if left == 0 {
            return true;
        }
        match read_more(answer, read_timeout).await {
            Some(n) if n > 0 => {}
            _ => return false,
        }
    }
}

async fn relay_chunked<S: AsyncRead + AsyncWrite + Unpin>(
    answer: &mut Answer,
    client: &mut Conn<S>,
    out: &mut Vec<u8>,
    chunked_out: bool,
    read_timeout: Duration,
    limits: &Limits,
) -> bool {
    // The client's own limits bound what one relay buffers, not the size of
    // the answer: each decoded piece is written on at once.
    let mut decoder = ChunkedDecoder::new(&Limits {
        max_body_bytes: usize::MAX,
        ..*limits
    });
    let mut data = Vec::new();
    loop {
        data.clear();
        let (used, done) = match decoder.decode(&answer.buf, &mut data) {
            Ok(r) => r,
            Err(_) => return false,
        };
        answer.buf.advance(used);
        if chunked_out {
            http1::write_chunk(out, &data);
            if done {
                out.extend_from_slice(http1::LAST_CHUNK);
            }
        } else {
            out.extend_from_slice(&data);
        }
        if !out.is_empty() && client.send(out).await.is_err() {
            return false;
        }
        out.clear();
        if done {
            return true;
        }
        match read_more(answer, read_timeout).await {
            Some(n) if n > 0 => {}
            _ => return false,
        }
    }
}

async fn relay_until_close<S: AsyncRead + AsyncWrite + Unpin>(
    answer: &mut Answer,
    client: &mut Conn<S>,
    out: &mut Vec<u8>,
    chunked_out: bool,
    read_timeout: Duration,
) -> bool {
    loop {
        let data = answer.buf.split();
        if chunked_out {
            http1::write_chunk(out, &data);
        } else {
            out.extend_from_slice(&data);
        }
        if !out.is_empty() && client.send(out).await.is_err() {
            return false;
        }
        out.clear();
        match read_more(answer, read_timeout).await {
            Some(0) => {
                if chunked_out {
                    return client.send(http1::LAST_CHUNK).await.is_ok();
                }
                return true;
            }
            Some(_) => {}
            None => return false,
        }
    }
}
