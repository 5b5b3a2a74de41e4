//! Request heads.

use std::mem::MaybeUninit;

use super::grammar::{scan_head, Scan, StartLine};
use super::{
    head_length, head_window, record_fields, refusal, span_in, Facts, Fields, Framing, Limits,
    Method, Parsed, Refusal, Span, Version, MAX_HEADERS,
};

/// A parsed request head, reused across the requests of a connection. Its
/// accessors take the buffer that was parsed; after a refusal or `Partial`
/// its contents are unspecified.
pub struct RequestHead {
    fields: Fields,
    head_len: u32,
    method: Method,
    method_span: Span,
    target: Span,
    /// Length of the path part of `target` (before any '?').
    path_len: u32,
    has_query: bool,
    version: Version,
    framing: Framing,
    expects_continue: bool,
    keep_alive: bool,
}

impl Default for RequestHead {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestHead {
    pub fn new() -> Self {
        RequestHead {
            fields: Fields::new(),
            head_len: 0,
            method: Method::Other,
            method_span: Span::default(),
            target: Span::default(),
            path_len: 0,
            has_query: false,
            version: Version::Http11,
            framing: Framing::None,
            expects_continue: false,
            keep_alive: false,
        }
    }

    /// Bytes of the head including the final CRLF CRLF; the body (or the
    /// next request) starts there.
    pub fn head_len(&self) -> usize {
        self.head_len as usize
    }

    pub fn method(&self) -> Method {
        self.method
    }

    /// The method as sent (useful for `Method::Other`).
    pub fn method_bytes<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        self.method_span.of(buf)
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// The whole origin-form target: path and '?query' if any.
    pub fn target<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        self.target.of(buf)
    }

    /// The path of the target, without '?query'.
    pub fn path<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        &self.target.of(buf)[..self.path_len as usize]
    }

    /// What follows the first '?' of the target (possibly empty).
    pub fn query<'b>(&self, buf: &'b [u8]) -> Option<&'b [u8]> {
        self.has_query
            .then(|| &self.target.of(buf)[self.path_len as usize + 1..])
    }

    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// `Expect: 100-continue` on HTTP/1.1 (on HTTP/1.0 it is ignored).
    pub fn expects_continue(&self) -> bool {
        self.expects_continue
    }

    /// Keep-alive per version and Connection tokens: HTTP/1.1 unless
    /// `close`, HTTP/1.0 only with `keep-alive`.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    super::field_accessors!();
}

/// Parses a request head at the start of `buf` into `head`. `Partial` means
/// more bytes are needed (and `buf` is still under max_head_bytes).
///
/// Each call parses from the start of `buf`. A head sent a few bytes at a
/// time costs less when the caller parses again only once the new bytes hold
/// a LF or `buf` reached max_head_bytes: the outcome is the same, since a
/// head completes on a LF and a refusal, once seen, stays the same refusal.
pub fn parse_request(
    buf: &[u8],
    limits: &Limits,
    head: &mut RequestHead,
) -> Result<Parsed, Refusal> {
    let window = head_window(buf, limits);
    let max_headers = limits.max_headers.min(MAX_HEADERS);
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut []);
    let verdict = req.parse_with_uninit_headers(window, &mut slots[..max_headers]);
    let Some(n) = head_length(
        verdict,
        buf,
        window,
        StartLine::Request,
        limits,
        max_headers,
    )?
    else {
        return Ok(Parsed::Partial);
    };
    let bytes = &window[..n];
    let (Some(method), Some(target), Some(minor)) = (req.method, req.path, req.version) else {
        return Err(refusal(bytes, StartLine::Request, max_headers));
    };

    head.head_len = n as u32;
    head.method_span = span_in(bytes, method.as_bytes());
    head.method = match method.as_bytes() {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        b"POST" => Method::Post,
        _ => Method::Other,
    };
    head.version = if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    head.target = span_in(bytes, target.as_bytes());
    let mut facts = Facts::default();
    let crlf = record_fields(bytes, req.headers, &mut head.fields, &mut facts);
    // httparse skips empty lines before the request line and takes any
    // visible UTF-8 in the target; both are refused here.
    if !crlf || head.method_span.start != 0 || !origin_form(target.as_bytes(), head) {
        return Err(refusal(bytes, StartLine::Request, max_headers));
    }
    debug_assert_eq!(
        scan_head(bytes, StartLine::Request, max_headers),
        Scan::Complete(n)
    );

    let http11 = head.version == Version::Http11;
    if facts.transfer_encodings > 0 && facts.content_lengths > 0 {
        return Err(Refusal::TransferEncodingWithContentLength);
    }
    if facts.content_lengths > 1 {
        return Err(Refusal::DuplicateContentLength);
    }
    if facts.content_length_invalid {
        return Err(Refusal::InvalidContentLength);
    }
    if facts.transfer_encodings > 0 && !http11 {
        return Err(Refusal::TransferEncodingOnHttp10);
    }
    if facts.transfer_encodings > 0 && !facts.single_chunked() {
        return Err(Refusal::BadTransferEncoding);
    }
    if facts.hosts > 1 {
        return Err(Refusal::DuplicateHost);
    }
    if facts.hosts == 0 && http11 {
        return Err(Refusal::MissingHost);
    }
    if facts.expect_other {
        return Err(Refusal::UnsupportedExpect);
    }
    head.framing = match facts.content_length {
        _ if facts.transfer_encodings > 0 => Framing::Chunked,
        Some(len) if len > limits.max_body_bytes as u64 => return Err(Refusal::BodyTooLarge),
        Some(len) => Framing::Length(len),
        None => Framing::None,
    };
    head.expects_continue = http11 && facts.expect_continue;
    head.keep_alive = !facts.close && (http11 || facts.keep_alive);
    Ok(Parsed::Complete)
}

/// Checks the target is an absolute path (plus query) of visible ASCII
/// without '#', and records where the query starts.
fn origin_form(target: &[u8], head: &mut RequestHead) -> bool {
    // Branch-free over the bytes: this runs on every request.
    let bad = target.iter().fold(false, |bad, &b| {
        bad | !(0x21..=0x7e).contains(&b) | (b == b'#')
    });
    if bad || target.first() != Some(&b'/') {
        return false;
    }
    let path_len = target.iter().position(|&b| b == b'?');
    head.has_query = path_len.is_some();
    head.path_len = path_len.unwrap_or(target.len()) as u32;
    true
}
