//! Response heads, from the upstream.

use std::mem::MaybeUninit;

use super::grammar::{scan_head, Scan, StartLine};
use super::{
    head_length, head_window, record_fields, refusal, Facts, Fields, Limits, Parsed, Refusal, Span,
    Version, MAX_HEADERS,
};

/// How a response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFraming {
    /// No body: 1xx, 204, 304, or the answer to a HEAD request.
    Empty,
    Length(u64),
    Chunked,
    /// The body runs until the upstream closes the connection.
    UntilClose,
}

/// A parsed response head, reused across the responses of a connection.
/// Its accessors take the buffer that was parsed.
pub struct ResponseHead {
    fields: Fields,
    head_len: u32,
    status: u16,
    reason: Span,
    version: Version,
    framing: ResponseFraming,
    keep_alive: bool,
}

impl Default for ResponseHead {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseHead {
    pub fn new() -> Self {
        ResponseHead {
            fields: Fields::new(),
            head_len: 0,
            status: 0,
            reason: Span::default(),
            version: Version::Http11,
            framing: ResponseFraming::Empty,
            keep_alive: false,
        }
    }

    pub fn head_len(&self) -> usize {
        self.head_len as usize
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase as sent (possibly empty).
    pub fn reason<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        self.reason.of(buf)
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// 1xx, 204, 304 and answers to HEAD: `Empty`. A 1xx is followed by
    /// another head for the same request.
    pub fn framing(&self) -> ResponseFraming {
        self.framing
    }

    /// Whether the connection may carry another request: per version and
    /// Connection tokens, and never after a body that runs until close.
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    super::field_accessors!();
}

/// Parses a response head at the start of `buf` into `head`; `Partial` means
/// more bytes are needed. `request_was_head`: the request was a HEAD, so the
/// response has no body whatever its fields say.
pub fn parse_response(
    buf: &[u8],
    limits: &Limits,
    request_was_head: bool,
    head: &mut ResponseHead,
) -> Result<Parsed, Refusal> {
    let window = head_window(buf, limits);
    let max_headers = limits.max_headers.min(MAX_HEADERS);
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut []);
    let verdict = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut res,
        window,
        &mut slots[..max_headers],
    );
    let Some(n) = head_length(
        verdict,
        buf,
        window,
        StartLine::Response,
        limits,
        max_headers,
    )?
    else {
        return Ok(Parsed::Partial);
    };
    let bytes = &window[..n];
    let (Some(minor), Some(status)) = (res.version, res.code) else {
        return Err(refusal(bytes, StartLine::Response, max_headers));
    };
    let mut facts = Facts::default();
    let crlf = record_fields(bytes, res.headers, &mut head.fields, &mut facts);
    // httparse skips empty lines before the status line (the version must
    // then start past 0) and ends lines on a bare LF.
    if !crlf || !bytes.starts_with(b"HTTP/1.") {
        return Err(refusal(bytes, StartLine::Response, max_headers));
    }
    debug_assert_eq!(
        scan_head(bytes, StartLine::Response, max_headers),
        Scan::Complete(n)
    );
    if status < 100 {
        return Err(Refusal::BadStatusLine);
    }

    head.head_len = n as u32;
    head.status = status;
    // Taken from the bytes: httparse hands out "" for a reason with obs-text.
    head.reason = match bytes.get(12) {
        Some(b' ') => {
            let end = bytes.iter().position(|&b| b == b'\r').unwrap_or(13);
            Span {
                start: 13,
                end: end as u32,
            }
        }
        _ => Span::default(),
    };
    head.version = if minor == 0 {
        Version::Http10
    } else {
        Version::Http11
    };
    let http11 = head.version == Version::Http11;
    // A Content-Length on these describes some other representation.
    let bodiless = status < 200 || status == 204 || status == 304;
    let content_lengths = if bodiless { 0 } else { facts.content_lengths };
    if facts.transfer_encodings > 0 && content_lengths > 0 {
        return Err(Refusal::TransferEncodingWithContentLength);
    }
    if !bodiless && facts.content_lengths_differ {
        return Err(Refusal::DuplicateContentLength);
    }
    if !bodiless && facts.content_length_invalid {
        return Err(Refusal::InvalidContentLength);
    }
    if facts.transfer_encodings > 0 && !http11 {
        return Err(Refusal::TransferEncodingOnHttp10);
    }
    if facts.transfer_encodings > 0 && !facts.single_chunked() {
        return Err(Refusal::BadTransferEncoding);
    }
    head.framing = match facts.content_length {
        _ if bodiless || request_was_head => ResponseFraming::Empty,
        _ if facts.transfer_encodings > 0 => ResponseFraming::Chunked,
        Some(len) if len > limits.max_body_bytes as u64 => return Err(Refusal::BodyTooLarge),
        Some(len) => ResponseFraming::Length(len),
        None => ResponseFraming::UntilClose,
    };
    head.keep_alive =
        !facts.close && (http11 || facts.keep_alive) && head.framing != ResponseFraming::UntilClose;
    Ok(Parsed::Complete)
}
