//! One client connection: a reused read buffer, the request head parsed in
//! place, the body read whole (bounded in size, time and budget), responses
//! written in one call each. Pipelined requests stay in the buffer and are
//! answered in order.

use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
// pingora's timer wheel: a tokio timer registered per read would wake the
// runtime's driver through an eventfd write.
use pingora::time::timeout;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::budget::{Phase, Reservation, Watch};
use crate::http1::{self, ChunkedDecoder, Framing, Limits, Parsed, Refusal, RequestHead};
use crate::verify::Scratch;

/// What a connection's read buffer starts with, and shrinks back to after a
/// large request, so idle keep-alive connections hold little.
const READ_BUFFER: usize = 4096;
const SHRINK_ABOVE: usize = 64 * 1024;

pub struct Conn<S> {
    io: S,
    pub buf: BytesMut,
    pub head: RequestHead,
    pub limits: Limits,
    /// A chunked body, decoded (reused across requests).
    decoded: Vec<u8>,
    /// What reading a payload may need beside the body (reused).
    scratch: Scratch,
    /// Bytes of `buf` the current request occupies (head and raw body).
    consumed: usize,
    pub peer: Option<SocketAddr>,
    pub tls: bool,
    /// How the budget sees this connection (`None` on the admin listener).
    watch: Option<Arc<Watch>>,
}

/// How waiting for the next request ended.
pub enum Next {
    Request,
    /// The client closed the connection (or it failed) before a whole head.
    Closed,
    /// Nothing arrived while idle: close without a word.
    Idle,
    /// A head started but was not complete in time.
    TimedOut,
    /// The budget needed the room: close without a word.
    Evicted,
    Refused(Refusal),
}

/// Where a request's body is.
pub enum Body {
    /// A range of `buf` (Content-Length or no body).
    Buffered(Range<usize>),
    /// The decoded chunked body.
    Decoded,
}

pub enum BodyError {
    Refused(Refusal),
    TimedOut,
    Closed,
    /// Buffering it would pass the gateway's budget.
    OverBudget,
    /// The budget needed the room: the body was too slow to arrive.
    Evicted,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    pub fn new(
        io: S,
        limits: Limits,
        peer: Option<SocketAddr>,
        tls: bool,
        watch: Option<Arc<Watch>>,
    ) -> Self {
        Conn {
            io,
            buf: BytesMut::with_capacity(READ_BUFFER),
            head: RequestHead::new(),
            limits,
            decoded: Vec::new(),
            scratch: Scratch::default(),
            consumed: 0,
            peer,
            tls,
            watch,
        }
    }

    fn enter(&self, phase: Phase) {
        if let Some(w) = &self.watch {
            w.enter(phase);
        }
    }

    /// The connection's budget watch, to tie a body's reservation to it.
    pub fn watch(&self) -> Option<Arc<Watch>> {
        self.watch.clone()
    }

    fn progress(&self) {
        if let Some(w) = &self.watch {
            w.progress();
        }
    }

    /// The request is read whole: from here on it is never evicted.
    pub fn busy(&self) {
        self.enter(Phase::Busy);
    }

    async fn fill(&mut self, at_least: usize) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < at_least {
            self.buf.reserve(at_least);
        }
        self.io.read_buf(&mut self.buf).await
    }

    /// Waits for the next request head: `idle` for its first byte, then
    /// `head_timeout` for the whole head.
    pub async fn next_request(&mut self, idle: Duration, head_timeout: Duration) -> Next {
        let mut deadline: Option<Instant> = None;
        self.enter(if self.buf.is_empty() {
            Phase::Idle
        } else {
            Phase::Head
        });
        let watch = self.watch.clone();
        loop {
            if !self.buf.is_empty() {
                match http1::parse_request(&self.buf, &self.limits, &mut self.head) {
                    Ok(Parsed::Complete) => {
                        self.consumed = self.head.head_len();
                        return Next::Request;
                    }
                    Ok(Parsed::Partial) => {}
                    Err(r) => return Next::Refused(r),
                }
                if deadline.is_none() {
                    deadline = Some(Instant::now() + head_timeout);
                    self.enter(Phase::Head);
                }
            }
            let wait = match deadline {
                None => idle,
                Some(d) => d.saturating_duration_since(Instant::now()),
            };
            let read = tokio::select! {
                r = timeout(wait, self.fill(1024)) => r,
                _ = evicted(&watch) => return Next::Evicted,
            };
            match read {
                Ok(Ok(0)) | Ok(Err(_)) => return Next::Closed,
                Ok(Ok(_)) => self.progress(),
                Err(_) if deadline.is_some() => return Next::TimedOut,
                Err(_) => return Next::Idle,
            }
        }
    }

    /// Reads the whole body by the head's framing, by `deadline`, growing
    /// `budget` as it buffers.
    pub async fn read_body(
        &mut self,
        deadline: Instant,
        budget: &mut Reservation,
    ) -> Result<Body, BodyError> {
        let start = self.head.head_len();
        self.enter(Phase::Body);
        match self.head.framing() {
            Framing::None => Ok(Body::Buffered(start..start)),
            Framing::Length(n) => {
                let end = start + n as usize;
                if !budget.grow_to(n) {
                    return Err(BodyError::OverBudget);
                }
                while self.buf.len() < end {
                    let want = end - self.buf.len();
                    self.read_until(deadline, want).await?;
                }
                self.consumed = end;
                Ok(Body::Buffered(start..end))
            }
            Framing::Chunked => {
                let mut decoder = ChunkedDecoder::new(&self.limits);
                self.decoded.clear();
                let mut pos = start;
                // The raw framing is bounded too: tiny chunks with long
                // extensions must not buffer far more than the body.
                let raw_limit = 2 * self.limits.max_body_bytes + 64 * 1024;
                loop {
                    let (used, done) = decoder
                        .decode(&self.buf[pos..], &mut self.decoded)
                        .map_err(BodyError::Refused)?;
                    pos += used;
                    let held = (self.buf.len() - start + self.decoded.len()) as u64;
                    if !budget.grow_to(held) {
                        return Err(BodyError::OverBudget);
                    }
                    if done {
                        self.consumed = pos;
                        return Ok(Body::Decoded);
                    }
                    if self.buf.len() - start > raw_limit {
                        return Err(BodyError::Refused(Refusal::BodyTooLarge));
                    }
                    self.read_until(deadline, 4096).await?;
                }
            }
        }
    }

    async fn read_until(&mut self, deadline: Instant, want: usize) -> Result<(), BodyError> {
        let wait = deadline.saturating_duration_since(Instant::now());
        let watch = self.watch.clone();
        let read = tokio::select! {
            r = timeout(wait, self.fill(want.min(1 << 20))) => r,
            _ = evicted(&watch) => return Err(BodyError::Evicted),
        };
        match read {
            Ok(Ok(0)) | Ok(Err(_)) => Err(BodyError::Closed),
            Ok(Ok(_)) => {
                self.progress();
                Ok(())
            }
            Err(_) => Err(BodyError::TimedOut),
        }
    }

    /// The request as read: its buffer (the head's spans point into it), its
    /// head, its body, and the scratch buffers the gate may fill.
    pub fn parts(&mut self, body: &Body) -> (&[u8], &RequestHead, &[u8], &mut Scratch) {
        let body = match body {
            Body::Buffered(r) => &self.buf[r.clone()],
            Body::Decoded => &self.decoded[..],
        };
        (&self.buf, &self.head, body, &mut self.scratch)
    }

    /// Writes `bytes` whole and flushes.
    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.io.write_all(bytes).await?;
        self.io.flush().await
    }

    /// Sends `100 Continue`.
    pub async fn send_continue(&mut self) -> io::Result<()> {
        self.send(b"HTTP/1.1 100 Continue\r\n\r\n").await
    }

    /// Drops the finished request from the buffer (keeping pipelined bytes)
    /// and gives back memory a large request took.
    pub fn finish_request(&mut self) {
        self.buf.advance(self.consumed.min(self.buf.len()));
        self.consumed = 0;
        if self.buf.capacity() > SHRINK_ABOVE {
            let mut fresh = BytesMut::with_capacity(READ_BUFFER.max(self.buf.len()));
            fresh.extend_from_slice(&self.buf);
            self.buf = fresh;
        }
        if self.decoded.capacity() > SHRINK_ABOVE {
            self.decoded = Vec::new();
        }
        if self.scratch.text.capacity() > SHRINK_ABOVE {
            self.scratch.text = Vec::new();
        }
        if self.scratch.rewritten.capacity() > SHRINK_ABOVE {
            self.scratch.rewritten = Vec::new();
        }
    }
}

/// Resolves when the budget evicts the connection (never without a watch).
async fn evicted(watch: &Option<Arc<Watch>>) {
    match watch {
        Some(w) => w.evicted().await,
        None => std::future::pending().await,
    }
}
