//! The same bytes to our HTTP/1.1 codec, to plain `httparse`, to a framing
//! derivation written from RFC 9112 section 6, and to pingora's own HTTP/1
//! server session (driven in-process over an in-memory stream).
//!
//! Whatever our codec accepts, `httparse` must accept with the same head
//! (method, target, version, fields, length), the RFC derivation must frame
//! the same way, and pingora, if it accepts too, must see the same method,
//! path and body. Our codec is allowed to refuse more than the others; how
//! often pingora accepts what we refuse (a head, or a chunked body behind an
//! accepted head) is counted per refusal and printed.
//!
//! The first byte seeds pingora's read splits; with bit 0x40 set, the rest
//! is a chunked body behind a fixed valid head, and with 0x60 set, the rest
//! describes such a body (see `generated_body`).
#![no_main]

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use async_trait::async_trait;
use hookgate::http1::{
    parse_request, ChunkedDecoder, Framing, Limits, Parsed, Refusal, RequestHead, Version,
};
use libfuzzer_sys::fuzz_target;
use pingora_core::protocols::http::v1::server::HttpSession;
use pingora_core::protocols::raw_connect::ProxyDigest;
use pingora_core::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl,
    TimingDigest, UniqueID, UniqueIDType,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Read sizes from a seed.
#[derive(Debug)]
struct Splits(u32);

impl Splits {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        match self.0 % 4 {
            0 => 1 + (self.0 >> 8) as usize % 4096,
            _ => 1 + (self.0 >> 8) as usize % 16,
        }
    }
}

/// A client connection that sends `data` in reads of fuzz-chosen sizes,
/// then closes; what is written to it is dropped.
#[derive(Debug)]
struct Wire {
    data: Vec<u8>,
    at: usize,
    splits: Splits,
}

impl AsyncRead for Wire {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let n = this
            .splits
            .next()
            .min(this.data.len() - this.at)
            .min(buf.remaining());
        buf.put_slice(&this.data[this.at..this.at + n]);
        this.at += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Wire {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(b.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[async_trait]
impl Shutdown for Wire {
    async fn shutdown(&mut self) {}
}
impl UniqueID for Wire {
    fn id(&self) -> UniqueIDType {
        0
    }
}
impl Ssl for Wire {}
impl GetTimingDigest for Wire {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        vec![]
    }
}
impl GetProxyDigest for Wire {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        None
    }
}
impl GetSocketDigest for Wire {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        None
    }
}
impl Peek for Wire {}

/// What pingora made of the request: method, path, query, body (`None`
/// when reading the body failed).
type PingoraView = (String, String, Option<String>, Option<Vec<u8>>);

fn pingora(data: &[u8], seed: u32) -> Option<PingoraView> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    });
    let wire = Wire {
        data: data.to_vec(),
        at: 0,
        splits: Splits(seed),
    };
    runtime.block_on(async move {
        let mut session = HttpSession::new(Box::new(wire));
        match session.read_request().await {
            Ok(Some(_)) => {}
            _ => return None,
        }
        let req = session.req_header();
        let method = req.method.as_str().to_owned();
        let path = req.uri.path().to_owned();
        let query = req.uri.query().map(str::to_owned);
        let mut body = Vec::new();
        let body = loop {
            match session.read_body_bytes().await {
                Ok(Some(bytes)) => body.extend_from_slice(&bytes),
                Ok(None) => break Some(body),
                Err(_) => break None,
            }
        };
        Some((method, path, query, body))
    })
}

/// Message framing per RFC 9112 section 6, from the fields alone.
#[derive(Debug, PartialEq, Eq)]
enum Reference {
    NoBody,
    Length(u64),
    Chunked,
    /// Faulty framing: the request must be refused.
    Invalid,
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !matches!(b, b' ' | b'\t'));
    let end = s.iter().rposition(|b| !matches!(b, b' ' | b'\t'));
    match (start, end) {
        (Some(a), Some(b)) => &s[a..=b],
        _ => &[],
    }
}

fn reference_framing(minor: u8, headers: &[httparse::Header<'_>]) -> Reference {
    fn named<'h, 'b>(
        headers: &'h [httparse::Header<'b>],
        name: &'static str,
    ) -> impl Iterator<Item = &'h httparse::Header<'b>> {
        headers
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
    }
    let has_te = named(headers, "transfer-encoding").next().is_some();
    let has_cl = named(headers, "content-length").next().is_some();
    if has_te {
        // 6.1: Transfer-Encoding in HTTP/1.0 is faulty framing; next to a
        // Content-Length it ought to be handled as an error.
        if minor == 0 || has_cl {
            return Reference::Invalid;
        }
        // All Transfer-Encoding lines form one list; chunked must be the
        // final coding and applied once (6.3 rule 4: otherwise 400).
        let codings: Vec<&[u8]> = named(headers, "transfer-encoding")
            .flat_map(|h| h.value.split(|&b| b == b','))
            .map(trim)
            .filter(|c| !c.is_empty())
            .collect();
        let chunked = |c: &[u8]| c.eq_ignore_ascii_case(b"chunked");
        let times = codings.iter().filter(|c| chunked(c)).count();
        return match codings.last() {
            Some(last) if chunked(last) && times == 1 => Reference::Chunked,
            _ => Reference::Invalid,
        };
    }
    if has_cl {
        // 6.3 rule 5 with RFC 9110 8.6: a list of identical decimal values
        // is that length; anything else is faulty framing.
        let mut length = None;
        for element in named(headers, "content-length").flat_map(|h| h.value.split(|&b| b == b','))
        {
            let element = trim(element);
            if element.is_empty() || !element.iter().all(u8::is_ascii_digit) {
                return Reference::Invalid;
            }
            let Ok(n) = std::str::from_utf8(element).unwrap().parse::<u64>() else {
                return Reference::Invalid;
            };
            if length.is_some_and(|m| m != n) {
                return Reference::Invalid;
            }
            length = Some(n);
        }
        return length.map_or(Reference::Invalid, Reference::Length);
    }
    // 6.3 rule 6: a request without either has no body.
    Reference::NoBody
}

/// How often pingora accepted a head our codec refused, per refusal.
static PINGORA_LAXER: [AtomicU64; Refusal::ALL.len()] =
    [const { AtomicU64::new(0) }; Refusal::ALL.len()];
static RUNS: AtomicU64 = AtomicU64::new(0);
/// Heads both accepted, and bodies compared with pingora's.
static BOTH: AtomicU64 = AtomicU64::new(0);
static BODIES: AtomicU64 = AtomicU64::new(0);
static CHUNKED_BODIES: AtomicU64 = AtomicU64::new(0);

fn count_laxer(r: Refusal) {
    let i = Refusal::ALL.iter().position(|x| *x == r).unwrap();
    PINGORA_LAXER[i].fetch_add(1, Ordering::Relaxed);
}

fn report() {
    let runs = RUNS.fetch_add(1, Ordering::Relaxed) + 1;
    if runs.is_power_of_two() && runs >= 1 << 14 {
        let counts: Vec<String> = Refusal::ALL
            .iter()
            .zip(&PINGORA_LAXER)
            .map(|(r, c)| (r, c.load(Ordering::Relaxed)))
            .filter(|(_, c)| *c > 0)
            .map(|(r, c)| format!("{}={c}", r.as_str()))
            .collect();
        eprintln!(
            "#{runs} both accepted {} heads, compared {} bodies ({} chunked); \
             pingora accepted what we refused: {}",
            BOTH.load(Ordering::Relaxed),
            BODIES.load(Ordering::Relaxed),
            CHUNKED_BODIES.load(Ordering::Relaxed),
            counts.join(" ")
        );
    }
}

/// Put in front of the input when the selector asks for it, so that most
/// of those inputs compare chunked body decoding.
const CHUNKED_HEAD: &[u8] = b"POST /hook HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

/// Chunk extensions, valid and not, for generated bodies.
const EXTENSIONS: [&str; 12] = [
    "",
    ";a",
    ";a=b",
    ";a=\"b c\"",
    ";a=\"\\\"\"",
    ";a;b=c",
    " ;a",
    ";a= b",
    "\t",
    ";",
    ";a=\"b",
    ";\"",
];
/// Trailer sections (after the last chunk line), valid and not.
const TRAILERS: [&str; 8] = [
    "\r\n",
    "X: y\r\n\r\n",
    "X: y\r\nZ:\r\n\r\n",
    "X : y\r\n\r\n",
    "X: y\n\r\n",
    " X: y\r\n\r\n",
    "\n",
    "X: y\r\n",
];

/// A chunked body built from the input: per chunk a control byte (digit
/// case, leading zeros, extension, line ending) and a length byte, then the
/// data; a zero length is the last chunk and picks the trailers. Mostly
/// valid, so that both decoders get to the end and their data is compared.
fn generated_body(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut bytes = input.iter().copied();
    while let Some(control) = bytes.next() {
        let len = usize::from(bytes.next().unwrap_or(0)) % 80;
        let zeros = [0, 1, 2, 15][usize::from(control & 3)];
        let digits = if control & 4 != 0 {
            format!("{len:X}")
        } else {
            format!("{len:x}")
        };
        let size = format!("{}{digits}", "0".repeat(zeros));
        let ext = EXTENSIONS[usize::from(control >> 3) % EXTENSIONS.len()];
        let eol = if control == 0xff { "\n" } else { "\r\n" };
        out.extend_from_slice(format!("{size}{ext}{eol}").as_bytes());
        if len == 0 {
            out.extend_from_slice(TRAILERS[usize::from(control >> 4) % TRAILERS.len()].as_bytes());
            return out;
        }
        for _ in 0..len {
            out.push(bytes.next().unwrap_or(b'x'));
        }
        out.extend_from_slice(if control == 0xfe { b"\n" } else { b"\r\n" });
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, input)) = data.split_first() else {
        return;
    };
    report();
    let with_head;
    let buf = if selector & 0x60 == 0x60 {
        with_head = [CHUNKED_HEAD, &generated_body(input)].concat();
        &with_head[..]
    } else if selector & 0x40 != 0 {
        with_head = [CHUNKED_HEAD, input].concat();
        &with_head[..]
    } else {
        input
    };
    let limits = Limits::default();
    let seed = u32::from(selector) << 16 | buf.len() as u32 | 1;

    let mut ours = RequestHead::new();
    let verdict = parse_request(buf, &limits, &mut ours);
    let theirs = pingora(buf, seed);

    let head_len = match verdict {
        Ok(Parsed::Complete) => ours.head_len(),
        Ok(Parsed::Partial) => return,
        Err(r) => {
            if theirs.is_some() {
                count_laxer(r);
            }
            return;
        }
    };

    // httparse sees the same head.
    let mut fields = [httparse::EMPTY_HEADER; 256];
    let mut req = httparse::Request::new(&mut fields);
    let parsed = req.parse(buf);
    assert_eq!(
        parsed,
        Ok(httparse::Status::Complete(head_len)),
        "httparse disagrees on the head"
    );
    assert_eq!(req.method.map(str::as_bytes), Some(ours.method_bytes(buf)));
    assert_eq!(req.path.map(str::as_bytes), Some(ours.target(buf)));
    let minor = req.version.expect("version");
    assert_eq!(
        ours.version(),
        if minor == 0 {
            Version::Http10
        } else {
            Version::Http11
        }
    );
    let fields: Vec<(&[u8], &[u8])> = req
        .headers
        .iter()
        .map(|h| (h.name.as_bytes(), h.value))
        .collect();
    let our_fields: Vec<(&[u8], &[u8])> = ours.headers(buf).collect();
    assert_eq!(fields, our_fields, "fields differ from httparse");

    // RFC framing agrees.
    let reference = reference_framing(minor, req.headers);
    let expected = match ours.framing() {
        Framing::None => Reference::NoBody,
        Framing::Length(n) => Reference::Length(n),
        Framing::Chunked => Reference::Chunked,
    };
    assert_eq!(reference, expected, "RFC framing differs");

    // Our body, when the input holds all of it.
    let rest = &buf[head_len..];
    let body = match ours.framing() {
        Framing::None => Some(Vec::new()),
        Framing::Length(n) => rest.get(..n as usize).map(<[u8]>::to_vec),
        Framing::Chunked => {
            let mut out = Vec::new();
            match ChunkedDecoder::new(&limits).decode(rest, &mut out) {
                Ok((_, true)) => Some(out),
                Ok((_, false)) => None,
                Err(r) => {
                    if theirs.as_ref().is_some_and(|t| t.3.is_some()) {
                        count_laxer(r);
                    }
                    None
                }
            }
        }
    };

    // pingora, if it accepts, reads the same request.
    let ours_framing = ours.framing();
    let Some((method, path, query, their_body)) = theirs else {
        return;
    };
    BOTH.fetch_add(1, Ordering::Relaxed);
    assert_eq!(method.as_bytes(), ours.method_bytes(buf), "pingora: method");
    assert_eq!(path.as_bytes(), ours.path(buf), "pingora: path");
    assert_eq!(
        query.as_deref().map(str::as_bytes),
        ours.query(buf),
        "pingora: query"
    );
    if let (Some(ours), Some(theirs)) = (&body, &their_body) {
        assert_eq!(ours, theirs, "pingora: body");
        BODIES.fetch_add(1, Ordering::Relaxed);
        if ours_framing == Framing::Chunked {
            CHUNKED_BODIES.fetch_add(1, Ordering::Relaxed);
        }
    }
    if body.is_some() && their_body.is_none() {
        panic!("pingora refused a body we read whole");
    }
});
