//! A narrow, strict HTTP/1.1 codec for one job: receive a POST with a bounded
//! body, verify it, forward it to one upstream and relay the answer.
//!
//! Every message shape that two HTTP implementations could read differently
//! (bare LF, obs-fold, Transfer-Encoding next to Content-Length, repeated
//! framing headers, odd request targets) is refused rather than interpreted:
//! the proxy in front of us and the receiver behind us must never disagree
//! with us on where a request ends.
//!
//! Heads are parsed by `httparse` into byte spans of the caller's buffer
//! (nothing is allocated per request); the checks `httparse` is lenient about
//! are added on top. When a head is refused, a byte-by-byte scan of the same
//! bytes names the first offending rule, so a refusal does not depend on how
//! the bytes were split across reads.
//!
//! Narrower than RFC 9112 on purpose: no empty line before the start line,
//! no whitespace anywhere in a chunk-size line and at most 16 hex digits in
//! a chunk size, one Content-Length field per request. Trailer fields are checked like header fields, then dropped.

use std::fmt;

use grammar::{scan_head, Scan, StartLine};

mod chunked;
mod grammar;
mod request;
mod response;
#[cfg(test)]
mod tests;

pub use chunked::{write_chunk, ChunkedDecoder, LAST_CHUNK};
pub use request::{parse_request, RequestHead};
pub use response::{parse_response, ResponseFraming, ResponseHead};

/// Hard upper bound on header fields in a head (and on `Limits::max_headers`).
pub const MAX_HEADERS: usize = 128;

/// Size limits the codec enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Request/response line + headers + the final CRLF CRLF.
    pub max_head_bytes: usize,
    /// Header fields counted one per line; at most [`MAX_HEADERS`].
    pub max_headers: usize,
    /// A larger Content-Length, or chunks adding up to more, is refused
    /// (413) before the body is read.
    pub max_body_bytes: usize,
    /// A chunk-size line including extensions, without CRLF.
    pub max_chunk_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: 16 * 1024,
            max_headers: 100,
            max_body_bytes: 1024 * 1024,
            max_chunk_line: 1024,
        }
    }
}

/// A byte range of the buffer given to the parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    /// The bytes of this span in `buf`, which must be the parsed buffer (or
    /// one holding the same bytes up to `end`).
    pub fn of<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        &buf[self.start as usize..self.end as usize]
    }

    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
}

/// How a request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: neither Content-Length nor Transfer-Encoding.
    None,
    Length(u64),
    Chunked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    /// Any other valid token.
    Other,
}

/// Whether a head is complete or needs more bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    Complete,
    Partial,
}

/// Why a message was refused: one variant per rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The request line is not `method SP origin-form SP version CRLF`
    /// (method not a token, doubled or missing spaces, a leading empty line).
    BadRequestLine,
    /// The status line is not `version SP 3DIGIT [SP reason] CRLF`, or the
    /// code is below 100.
    BadStatusLine,
    /// A version other than HTTP/1.0 and HTTP/1.1.
    UnsupportedVersion,
    /// Absolute-form, authority-form or `*` request target.
    TargetNotOriginForm,
    /// A `#` in the request target.
    TargetFragment,
    /// A request-target byte outside visible ASCII.
    TargetByte,
    /// A line ending in LF without CR.
    BareLf,
    /// A CR not followed by LF.
    BareCr,
    /// A header line starting with SP or HTAB (obs-fold).
    ObsFold,
    /// A control byte in a header name or value.
    ControlByte,
    /// A header name that is not a token (or a line without a colon).
    InvalidHeaderName,
    /// Whitespace between a header name and its colon.
    SpaceBeforeColon,
    /// The head is larger than `max_head_bytes`.
    HeadTooLarge,
    /// More header (or trailer) fields than `max_headers`.
    TooManyHeaders,
    /// A Transfer-Encoding other than exactly one `chunked`.
    BadTransferEncoding,
    /// Transfer-Encoding together with Content-Length.
    TransferEncodingWithContentLength,
    /// Transfer-Encoding on an HTTP/1.0 message.
    TransferEncodingOnHttp10,
    /// Several Content-Length fields (in a response: differing ones).
    DuplicateContentLength,
    /// A Content-Length that is not one plain decimal number that fits.
    InvalidContentLength,
    /// An HTTP/1.1 request without Host.
    MissingHost,
    /// More than one Host field.
    DuplicateHost,
    /// An Expect other than `100-continue`.
    UnsupportedExpect,
    /// A body (declared or decoded) over `max_body_bytes`.
    BodyTooLarge,
    /// A chunk size that is empty or not hexadecimal.
    BadChunkSize,
    /// A chunk size of more than 16 hex digits (leading zeros included).
    ChunkSizeOverflow,
    /// A chunk-size line longer than `max_chunk_line`.
    ChunkLineTooLong,
    /// A chunk extension not shaped `;name[=token|quoted-string]`.
    BadChunkExtension,
    /// Chunk data not followed by CRLF.
    MissingChunkCrlf,
    /// A trailer section larger than `max_head_bytes`.
    TrailersTooLarge,
}

impl Refusal {
    /// Every variant, for tables and metrics.
    pub const ALL: [Refusal; 29] = [
        Refusal::BadRequestLine,
        Refusal::BadStatusLine,
        Refusal::UnsupportedVersion,
        Refusal::TargetNotOriginForm,
        Refusal::TargetFragment,
        Refusal::TargetByte,
        Refusal::BareLf,
        Refusal::BareCr,
        Refusal::ObsFold,
        Refusal::ControlByte,
        Refusal::InvalidHeaderName,
        Refusal::SpaceBeforeColon,
        Refusal::HeadTooLarge,
        Refusal::TooManyHeaders,
        Refusal::BadTransferEncoding,
        Refusal::TransferEncodingWithContentLength,
        Refusal::TransferEncodingOnHttp10,
        Refusal::DuplicateContentLength,
        Refusal::InvalidContentLength,
        Refusal::MissingHost,
        Refusal::DuplicateHost,
        Refusal::UnsupportedExpect,
        Refusal::BodyTooLarge,
        Refusal::BadChunkSize,
        Refusal::ChunkSizeOverflow,
        Refusal::ChunkLineTooLong,
        Refusal::BadChunkExtension,
        Refusal::MissingChunkCrlf,
        Refusal::TrailersTooLarge,
    ];

    /// The status a server answers with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BodyTooLarge => 413,
            Refusal::UnsupportedExpect => 417,
            _ => 400,
        }
    }

    /// Stable snake_case reason for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Refusal::BadRequestLine => "bad_request_line",
            Refusal::BadStatusLine => "bad_status_line",
            Refusal::UnsupportedVersion => "unsupported_version",
            Refusal::TargetNotOriginForm => "target_not_origin_form",
            Refusal::TargetFragment => "target_fragment",
            Refusal::TargetByte => "target_byte",
            Refusal::BareLf => "bare_lf",
            Refusal::BareCr => "bare_cr",
            Refusal::ObsFold => "obs_fold",
            Refusal::ControlByte => "control_byte",
            Refusal::InvalidHeaderName => "invalid_header_name",
            Refusal::SpaceBeforeColon => "space_before_colon",
            Refusal::HeadTooLarge => "head_too_large",
            Refusal::TooManyHeaders => "too_many_headers",
            Refusal::BadTransferEncoding => "bad_transfer_encoding",
            Refusal::TransferEncodingWithContentLength => "transfer_encoding_with_content_length",
            Refusal::TransferEncodingOnHttp10 => "transfer_encoding_on_http10",
            Refusal::DuplicateContentLength => "duplicate_content_length",
            Refusal::InvalidContentLength => "invalid_content_length",
            Refusal::MissingHost => "missing_host",
            Refusal::DuplicateHost => "duplicate_host",
            Refusal::UnsupportedExpect => "unsupported_expect",
            Refusal::BodyTooLarge => "body_too_large",
            Refusal::BadChunkSize => "bad_chunk_size",
            Refusal::ChunkSizeOverflow => "chunk_size_overflow",
            Refusal::ChunkLineTooLong => "chunk_line_too_long",
            Refusal::BadChunkExtension => "bad_chunk_extension",
            Refusal::MissingChunkCrlf => "missing_chunk_crlf",
            Refusal::TrailersTooLarge => "trailers_too_large",
        }
    }

    fn sentence(&self) -> &'static str {
        match self {
            Refusal::BadRequestLine => "malformed request line",
            Refusal::BadStatusLine => "malformed status line",
            Refusal::UnsupportedVersion => "HTTP version is not 1.0 or 1.1",
            Refusal::TargetNotOriginForm => "request target is not an absolute path",
            Refusal::TargetFragment => "request target contains a fragment",
            Refusal::TargetByte => "request target contains a byte outside visible ASCII",
            Refusal::BareLf => "line ends in LF without CR",
            Refusal::BareCr => "CR not followed by LF",
            Refusal::ObsFold => "header line starts with whitespace (obs-fold)",
            Refusal::ControlByte => "control byte in a header field",
            Refusal::InvalidHeaderName => "header name is not a token",
            Refusal::SpaceBeforeColon => "whitespace between header name and colon",
            Refusal::HeadTooLarge => "message head too large",
            Refusal::TooManyHeaders => "too many header fields",
            Refusal::BadTransferEncoding => "Transfer-Encoding other than a single chunked",
            Refusal::TransferEncodingWithContentLength => {
                "both Transfer-Encoding and Content-Length"
            }
            Refusal::TransferEncodingOnHttp10 => "Transfer-Encoding on HTTP/1.0",
            Refusal::DuplicateContentLength => "several Content-Length fields",
            Refusal::InvalidContentLength => "malformed Content-Length",
            Refusal::MissingHost => "HTTP/1.1 request without Host",
            Refusal::DuplicateHost => "several Host fields",
            Refusal::UnsupportedExpect => "unsupported expectation",
            Refusal::BodyTooLarge => "body too large",
            Refusal::BadChunkSize => "malformed chunk size",
            Refusal::ChunkSizeOverflow => "chunk size has more than 16 hex digits",
            Refusal::ChunkLineTooLong => "chunk-size line too long",
            Refusal::BadChunkExtension => "malformed chunk extension",
            Refusal::MissingChunkCrlf => "chunk data not followed by CRLF",
            Refusal::TrailersTooLarge => "trailer section too large",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sentence())
    }
}

impl std::error::Error for Refusal {}

/// Connection-scoped headers never forwarded: the hop-by-hop set, plus the
/// request fields the forwarder consumes or rewrites itself (expect,
/// proxy-authorization, content-length). Case-insensitive.
pub fn is_hop_by_hop(name: &[u8]) -> bool {
    const NAMES: [&[u8]; 10] = [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
        b"proxy-authorization",
        b"content-length",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// The header names a `Connection` header value lists, except `close` and
/// `keep-alive`; they are hop-by-hop too. Names come as sent: compare them
/// case-insensitively.
pub fn connection_tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    list_elements(value)
        .filter(|t| !t.eq_ignore_ascii_case(b"close") && !t.eq_ignore_ascii_case(b"keep-alive"))
}

/// The non-empty elements of a comma-separated field value, OWS trimmed.
fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|t| !t.is_empty())
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// RFC 9110 tchar.
const fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9'
        | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
        | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~')
}

/// Bytes refused in field names and values (HTAB aside).
const fn is_ctl(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// One parsed field: spans of its name and its OWS-trimmed value.
#[derive(Debug, Clone, Copy, Default)]
struct Field {
    name: Span,
    value: Span,
}

/// The fields of a head, reused across messages.
struct Fields {
    list: [Field; MAX_HEADERS],
    len: usize,
}

impl Fields {
    fn new() -> Self {
        Fields {
            list: [Field::default(); MAX_HEADERS],
            len: 0,
        }
    }

    fn as_slice(&self) -> &[Field] {
        &self.list[..self.len]
    }

    fn get<'b>(&self, buf: &'b [u8], name: &str) -> Option<&'b [u8]> {
        let name = name.as_bytes();
        self.as_slice()
            .iter()
            .find(|f| f.name.len() == name.len() && f.name.of(buf).eq_ignore_ascii_case(name))
            .map(|f| f.value.of(buf))
    }

    fn iter<'s, 'b>(&'s self, buf: &'b [u8]) -> impl Iterator<Item = (&'b [u8], &'b [u8])> + 's
    where
        'b: 's,
    {
        self.as_slice()
            .iter()
            .map(move |f| (f.name.of(buf), f.value.of(buf)))
    }
}

/// The accessors of a head's fields (`self.fields`), the same for requests
/// and responses.
macro_rules! field_accessors {
    () => {
        /// The first field named `name` (case-insensitive), OWS trimmed.
        pub fn header<'b>(&self, buf: &'b [u8], name: &str) -> Option<&'b [u8]> {
            self.fields.get(buf, name)
        }

        /// (name, value) in order, values trimmed of OWS.
        pub fn headers<'s, 'b>(
            &'s self,
            buf: &'b [u8],
        ) -> impl Iterator<Item = (&'b [u8], &'b [u8])> + 's
        where
            'b: 's,
        {
            self.fields.iter(buf)
        }

        pub fn header_count(&self) -> usize {
            self.fields.len
        }
    };
}
use field_accessors;

/// What the framing-relevant fields of a head say, gathered in one pass.
#[derive(Default)]
struct Facts {
    content_length: Option<u64>,
    content_lengths: u32,
    content_length_invalid: bool,
    content_lengths_differ: bool,
    transfer_encodings: u32,
    chunked: bool,
    hosts: u32,
    expect_continue: bool,
    expect_other: bool,
    close: bool,
    keep_alive: bool,
}

impl Facts {
    fn note(&mut self, name: &[u8], value: &[u8]) {
        // Dispatch on length first: most fields are none of these.
        match name.len() {
            4 if name_is(name, b"host") => self.hosts += 1,
            6 if name_is(name, b"expect") => {
                if value.eq_ignore_ascii_case(b"100-continue") {
                    self.expect_continue = true;
                } else {
                    self.expect_other = true;
                }
            }
            10 if name_is(name, b"connection") => {
                if value.eq_ignore_ascii_case(b"keep-alive") {
                    self.keep_alive = true;
                } else if value.eq_ignore_ascii_case(b"close") {
                    self.close = true;
                } else {
                    for token in list_elements(value) {
                        if token.eq_ignore_ascii_case(b"close") {
                            self.close = true;
                        } else if token.eq_ignore_ascii_case(b"keep-alive") {
                            self.keep_alive = true;
                        }
                    }
                }
            }
            14 if name_is(name, b"content-length") => {
                self.content_lengths += 1;
                match parse_decimal(value) {
                    Some(n) => {
                        if self.content_length.is_some_and(|m| m != n) {
                            self.content_lengths_differ = true;
                        }
                        self.content_length.get_or_insert(n);
                    }
                    None => self.content_length_invalid = true,
                }
            }
            17 if name_is(name, b"transfer-encoding") => {
                self.transfer_encodings += 1;
                self.chunked = value.eq_ignore_ascii_case(b"chunked");
            }
            _ => {}
        }
    }

    /// Exactly one Transfer-Encoding field, valued `chunked`.
    fn single_chunked(&self) -> bool {
        self.transfer_encodings == 1 && self.chunked
    }
}

/// 1*DIGIT as u64; `None` when empty, not all digits, or overflowing.
fn parse_decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in value {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Offset of `part` inside `base`. `part` is a sub-slice handed out by
/// `httparse` for `base`; the addresses are only compared, never followed.
fn offset_in(base: &[u8], part: &[u8]) -> u32 {
    let offset = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
    debug_assert!(offset + part.len() <= base.len());
    offset as u32
}

fn span_in(base: &[u8], part: &[u8]) -> Span {
    let start = offset_in(base, part);
    Span {
        start,
        end: start + part.len() as u32,
    }
}

/// Case-insensitive match of a field name (a token) against a name of
/// lower-case letters and '-': for token bytes, OR-ing 0x20 only folds case.
/// Branch-free, as this runs on every field.
fn name_is(name: &[u8], lower: &[u8]) -> bool {
    name.len() == lower.len()
        && name
            .iter()
            .zip(lower)
            .fold(0, |diff, (a, b)| diff | ((a | 0x20) ^ b))
            == 0
}

/// Whether the line starting at `line_start` follows a CRLF rather than a
/// bare LF (`httparse` takes both; the byte before a line is always LF).
fn after_crlf(buf: &[u8], line_start: usize) -> bool {
    line_start >= 2 && buf.get(line_start - 2) == Some(&b'\r')
}

/// The part of `buf` a head must fit in; spans are u32.
fn head_window<'b>(buf: &'b [u8], limits: &Limits) -> &'b [u8] {
    let cap = limits.max_head_bytes.min(u32::MAX as usize);
    &buf[..buf.len().min(cap)]
}

/// httparse's verdict on the head at the start of `window` (itself the
/// start of `buf`): its length when complete, `None` while more bytes may
/// still come, or the rule it breaks.
#[inline]
fn head_length(
    verdict: httparse::Result<usize>,
    buf: &[u8],
    window: &[u8],
    start: StartLine,
    limits: &Limits,
    max_headers: usize,
) -> Result<Option<usize>, Refusal> {
    match verdict {
        Ok(httparse::Status::Complete(n)) => Ok(Some(n)),
        Ok(httparse::Status::Partial) if buf.len() >= limits.max_head_bytes => {
            Err(Refusal::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(_) => Err(refusal(window, start, max_headers)),
    }
}

/// Names the rule a refused head breaks: the first offending byte decides.
fn refusal(bytes: &[u8], start: StartLine, max_headers: usize) -> Refusal {
    match scan_head(bytes, start, max_headers) {
        Scan::Refused(r) => r,
        other => {
            debug_assert!(
                false,
                "strict scan accepts what the parser refused: {other:?}"
            );
            match start {
                StartLine::Request => Refusal::BadRequestLine,
                StartLine::Response => Refusal::BadStatusLine,
            }
        }
    }
}

/// Converts `httparse`'s fields into spans and facts. Returns false when a
/// line of the head ends in a bare LF (`head` is the complete head).
fn record_fields(
    head: &[u8],
    parsed: &[httparse::Header<'_>],
    fields: &mut Fields,
    facts: &mut Facts,
) -> bool {
    let mut crlf = true;
    for (slot, h) in fields.list.iter_mut().zip(parsed) {
        let name = span_in(head, h.name.as_bytes());
        crlf &= after_crlf(head, name.start as usize);
        *slot = Field {
            name,
            value: span_in(head, h.value),
        };
        facts.note(h.name.as_bytes(), h.value);
    }
    fields.len = parsed.len();
    // The empty line ending the head, and the line before it.
    let end = head.len();
    crlf && after_crlf(head, end) && after_crlf(head, end - 2)
}
