//! The codec on byte slices: one row per refusal rule, good requests and
//! responses, split-independence, and properties over arbitrary input.

use proptest::prelude::*;

use super::*;

const HOST: &str = "Host: hooks.example\r\n";

fn limits() -> Limits {
    Limits::default()
}

/// A request head plus `rest`, as bytes.
fn request(line: &str, fields: &str, rest: &[u8]) -> Vec<u8> {
    let mut v = format!("{line}\r\n{fields}\r\n").into_bytes();
    v.extend_from_slice(rest);
    v
}

fn post(fields: &str) -> Vec<u8> {
    request("POST /hook HTTP/1.1", &format!("{HOST}{fields}"), b"")
}

fn parse(buf: &[u8], limits: &Limits) -> Result<(Parsed, RequestHead), Refusal> {
    let mut head = RequestHead::new();
    parse_request(buf, limits, &mut head).map(|p| (p, head))
}

fn complete(buf: &[u8]) -> RequestHead {
    match parse(buf, &limits()) {
        Ok((Parsed::Complete, head)) => head,
        Ok((Parsed::Partial, _)) => panic!("partial: {:?}", buf.escape_ascii().to_string()),
        Err(r) => panic!("refused ({r:?}): {:?}", buf.escape_ascii().to_string()),
    }
}

/// Everything a request head says, to compare parses.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    head_len: usize,
    method: Method,
    method_bytes: Vec<u8>,
    path: Vec<u8>,
    query: Option<Vec<u8>>,
    version: Version,
    framing: Framing,
    expects_continue: bool,
    keep_alive: bool,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
}

fn summary(head: &RequestHead, buf: &[u8]) -> Summary {
    Summary {
        head_len: head.head_len(),
        method: head.method(),
        method_bytes: head.method_bytes(buf).to_vec(),
        path: head.path(buf).to_vec(),
        query: head.query(buf).map(<[u8]>::to_vec),
        version: head.version(),
        framing: head.framing(),
        expects_continue: head.expects_continue(),
        keep_alive: head.keep_alive(),
        headers: head
            .headers(buf)
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect(),
    }
}

/// The outcome of feeding `buf` to `parse_request` one more byte at a time
/// (a reused head, as a connection does), stopping at the first non-Partial.
fn parse_growing(buf: &[u8], limits: &Limits) -> Result<Option<Summary>, Refusal> {
    let mut head = RequestHead::new();
    for end in 0..=buf.len() {
        match parse_request(&buf[..end], limits, &mut head)? {
            Parsed::Complete => return Ok(Some(summary(&head, buf))),
            Parsed::Partial => {}
        }
    }
    Ok(None)
}

fn parse_whole(buf: &[u8], limits: &Limits) -> Result<Option<Summary>, Refusal> {
    let mut head = RequestHead::new();
    Ok(match parse_request(buf, limits, &mut head)? {
        Parsed::Complete => Some(summary(&head, buf)),
        Parsed::Partial => None,
    })
}

/// Decodes `body` in one call: (data, consumed).
fn decode(body: &[u8], limits: &Limits) -> Result<(Vec<u8>, usize, bool), Refusal> {
    let mut dec = ChunkedDecoder::new(limits);
    let mut out = Vec::new();
    let (used, done) = dec.decode(body, &mut out)?;
    assert_eq!(dec.decoded(), out.len() as u64);
    Ok((out, used, done))
}

/// Decodes `body` as reads of the given sizes (cycled), carrying the
/// unconsumed rest over as a caller does: (data, consumed, done).
fn decode_split(
    body: &[u8],
    reads: &[usize],
    limits: &Limits,
) -> Result<(Vec<u8>, usize, bool), Refusal> {
    let mut dec = ChunkedDecoder::new(limits);
    let mut out = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut fed = 0;
    let mut consumed = 0;
    let mut reads = reads.iter().copied().cycle();
    loop {
        let n = reads.next().unwrap_or(1).max(1).min(body.len() - fed);
        pending.extend_from_slice(&body[fed..fed + n]);
        fed += n;
        let (used, done) = dec.decode(&pending, &mut out)?;
        consumed += used;
        pending.drain(..used);
        if done || fed == body.len() {
            assert!(out.len() as u64 <= limits.max_body_bytes as u64);
            return Ok((out, consumed, done));
        }
    }
}

// ---------------------------------------------------------------------------
// Refusals: one row per rule.

enum Input {
    Request(Vec<u8>),
    /// A chunked body (after a valid head).
    Chunked(Vec<u8>),
    Response(Vec<u8>),
}

struct Row {
    what: &'static str,
    input: Input,
    limits: Limits,
    expect: Refusal,
}

fn req_row(what: &'static str, bytes: impl Into<Vec<u8>>, expect: Refusal) -> Row {
    Row {
        what,
        input: Input::Request(bytes.into()),
        limits: limits(),
        expect,
    }
}

fn chunk_row(what: &'static str, bytes: impl Into<Vec<u8>>, expect: Refusal) -> Row {
    Row {
        what,
        input: Input::Chunked(bytes.into()),
        limits: limits(),
        expect,
    }
}

fn resp_row(what: &'static str, bytes: impl Into<Vec<u8>>, expect: Refusal) -> Row {
    Row {
        what,
        input: Input::Response(bytes.into()),
        limits: limits(),
        expect,
    }
}

fn many_fields(n: usize) -> String {
    (0..n).map(|i| format!("X-F{i}: v\r\n")).collect()
}

fn rows() -> Vec<Row> {
    use Refusal::*;
    let te = "Transfer-Encoding: chunked\r\n";
    let mut rows = vec![
        // Line endings and folding.
        req_row(
            "bare LF after request line",
            "POST / HTTP/1.1\nHost: a\r\n\r\n",
            BareLf,
        ),
        req_row(
            "bare LF after a field",
            "POST / HTTP/1.1\r\nHost: a\n\r\n",
            BareLf,
        ),
        req_row(
            "bare LF as the empty line",
            "POST / HTTP/1.1\r\nHost: a\r\n\n",
            BareLf,
        ),
        req_row("bare LF only head", "POST / HTTP/1.1\nHost: a\n\n", BareLf),
        req_row(
            "smuggled TE after a bare LF",
            post("X: x\nTransfer-Encoding: chunked\r\n"),
            BareLf,
        ),
        req_row(
            "TE name then bare LF then colon",
            post("Transfer-Encoding\n : chunked\r\n"),
            BareLf,
        ),
        req_row(
            "leading bare LF",
            "\nPOST / HTTP/1.1\r\nHost: a\r\n\r\n",
            BareLf,
        ),
        req_row("bare CR in a value", post("X: a\rb\r\n"), BareCr),
        req_row(
            "bare CR ending the request line",
            "POST / HTTP/1.1\rHost: a\r\n\r\n",
            BareCr,
        ),
        req_row(
            "bare CR as the empty line",
            "POST / HTTP/1.1\r\nHost: a\r\n\rX",
            BareCr,
        ),
        req_row("bare CR after OWS", post("X: \rb\r\n"), BareCr),
        req_row("obs-fold", post("X-A: b\r\n c\r\n"), ObsFold),
        req_row(
            "TE value folded (\\tchunked)",
            post("Transfer-Encoding:\r\n\tchunked\r\n"),
            ObsFold,
        ),
        req_row(
            "whitespace before the first field",
            request("POST / HTTP/1.1", &format!(" {te}{HOST}"), b""),
            ObsFold,
        ),
        // Control bytes, names.
        req_row("NUL in a value", post("X: a\0b\r\n"), ControlByte),
        req_row("NUL in a name", post("X\0: a\r\n"), ControlByte),
        req_row("DEL in a value", post("X: a\x7fb\r\n"), ControlByte),
        req_row("ESC in a value", post("X: \x1b[31m\r\n"), ControlByte),
        req_row("VT in a value", post("X: a\x0bb\r\n"), ControlByte),
        req_row("name not a token", post("X(a): b\r\n"), InvalidHeaderName),
        req_row("empty name", post(": b\r\n"), InvalidHeaderName),
        req_row("line without colon", post("NoColon\r\n"), InvalidHeaderName),
        req_row("non-ASCII name", post("X\u{e9}: b\r\n"), InvalidHeaderName),
        req_row(
            "Transfer-Encoding : chunked",
            post("Transfer-Encoding : chunked\r\n"),
            SpaceBeforeColon,
        ),
        req_row(
            "tab before colon",
            post("Content-Length\t: 5\r\n"),
            SpaceBeforeColon,
        ),
        // Transfer-Encoding.
        req_row(
            "TE xchunked",
            post("Transfer-Encoding: xchunked\r\n"),
            BadTransferEncoding,
        ),
        req_row(
            "TE gzip, chunked",
            post("Transfer-Encoding: gzip, chunked\r\n"),
            BadTransferEncoding,
        ),
        req_row(
            "TE chunked, chunked",
            post("Transfer-Encoding: chunked, chunked\r\n"),
            BadTransferEncoding,
        ),
        req_row("TE twice", post(&format!("{te}{te}")), BadTransferEncoding),
        req_row(
            "TE chunked then identity",
            post(&format!("{te}Transfer-Encoding: identity\r\n")),
            BadTransferEncoding,
        ),
        req_row(
            "TE empty",
            post("Transfer-Encoding:\r\n"),
            BadTransferEncoding,
        ),
        req_row(
            "TE with a parameter",
            post("Transfer-Encoding: chunked;q=1\r\n"),
            BadTransferEncoding,
        ),
        req_row(
            "TE vertical tab",
            post("Transfer-Encoding: \x0bchunked\r\n"),
            ControlByte,
        ),
        req_row(
            "CL.TE",
            post(&format!("Content-Length: 6\r\n{te}")),
            TransferEncodingWithContentLength,
        ),
        req_row(
            "TE.CL",
            post(&format!("{te}Content-Length: 3\r\n")),
            TransferEncodingWithContentLength,
        ),
        req_row(
            "bad TE and CL",
            post("Transfer-Encoding: xchunked\r\nContent-Length: 3\r\n"),
            TransferEncodingWithContentLength,
        ),
        req_row(
            "TE on HTTP/1.0",
            request("POST / HTTP/1.0", te, b""),
            TransferEncodingOnHttp10,
        ),
        // Content-Length.
        req_row(
            "two equal CL",
            post("Content-Length: 5\r\nContent-Length: 5\r\n"),
            DuplicateContentLength,
        ),
        req_row(
            "two different CL",
            post("Content-Length: 5\r\ncontent-length: 6\r\n"),
            DuplicateContentLength,
        ),
        req_row(
            "CL list",
            post("Content-Length: 5, 5\r\n"),
            InvalidContentLength,
        ),
        req_row(
            "CL non-digit",
            post("Content-Length: 5a\r\n"),
            InvalidContentLength,
        ),
        req_row(
            "CL hex",
            post("Content-Length: 0x10\r\n"),
            InvalidContentLength,
        ),
        req_row(
            "CL empty",
            post("Content-Length:\r\n"),
            InvalidContentLength,
        ),
        req_row(
            "CL plus sign",
            post("Content-Length: +5\r\n"),
            InvalidContentLength,
        ),
        req_row(
            "CL negative",
            post("Content-Length: -1\r\n"),
            InvalidContentLength,
        ),
        req_row(
            "CL inner space",
            post("Content-Length: 1 2\r\n"),
            InvalidContentLength,
        ),
        req_row(
            "CL overflowing u64",
            post("Content-Length: 18446744073709551616\r\n"),
            InvalidContentLength,
        ),
        req_row(
            "absurd CL",
            post("Content-Length: 99999999999999999999999999999\r\n"),
            InvalidContentLength,
        ),
        req_row(
            "CL u64::MAX",
            post("Content-Length: 18446744073709551615\r\n"),
            BodyTooLarge,
        ),
        req_row(
            "CL one over the limit",
            post("Content-Length: 1048577\r\n"),
            BodyTooLarge,
        ),
        // Host.
        req_row(
            "HTTP/1.1 without Host",
            "POST / HTTP/1.1\r\n\r\n",
            MissingHost,
        ),
        req_row(
            "two Host",
            request("POST / HTTP/1.1", "Host: a\r\nHost: b\r\n", b""),
            DuplicateHost,
        ),
        req_row(
            "two Host on HTTP/1.0",
            request("POST / HTTP/1.0", "Host: a\r\nhost: a\r\n", b""),
            DuplicateHost,
        ),
        // Request line and target.
        req_row(
            "absolute-form",
            request("GET http://evil/ HTTP/1.1", HOST, b""),
            TargetNotOriginForm,
        ),
        req_row(
            "authority-form",
            request("CONNECT evil:443 HTTP/1.1", HOST, b""),
            TargetNotOriginForm,
        ),
        req_row(
            "asterisk-form",
            request("OPTIONS * HTTP/1.1", HOST, b""),
            TargetNotOriginForm,
        ),
        req_row(
            "#frag",
            request("GET /a#frag HTTP/1.1", HOST, b""),
            TargetFragment,
        ),
        req_row(
            "UTF-8 in target",
            request("GET /\u{e9} HTTP/1.1", HOST, b""),
            TargetByte,
        ),
        req_row(
            "invalid UTF-8 in target",
            b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            TargetByte,
        ),
        req_row(
            "DEL in target",
            b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
            TargetByte,
        ),
        req_row(
            "HTTP/2.0",
            request("GET / HTTP/2.0", HOST, b""),
            UnsupportedVersion,
        ),
        req_row(
            "HTTP/1.2",
            request("GET / HTTP/1.2", HOST, b""),
            UnsupportedVersion,
        ),
        req_row(
            "HTTP/1.10",
            request("GET / HTTP/1.10", HOST, b""),
            UnsupportedVersion,
        ),
        req_row(
            "lower-case version",
            request("GET / http/1.1", HOST, b""),
            UnsupportedVersion,
        ),
        req_row("HTTP/0.9 request", "GET /\r\n\r\n", BadRequestLine),
        req_row(
            "double space",
            request("GET  / HTTP/1.1", HOST, b""),
            BadRequestLine,
        ),
        req_row(
            "space after version",
            request("GET / HTTP/1.1 ", HOST, b""),
            BadRequestLine,
        ),
        req_row(
            "method not a token",
            request("G(T / HTTP/1.1", HOST, b""),
            BadRequestLine,
        ),
        req_row(
            "empty line before the request line",
            request("\r\nGET / HTTP/1.1", HOST, b""),
            BadRequestLine,
        ),
        // Size limits.
        req_row(
            "101 fields (limit 100)",
            post(&many_fields(100)),
            TooManyHeaders,
        ),
        req_row(
            "head over the limit, complete",
            post(&format!("X: {}\r\n", "a".repeat(16 * 1024))),
            HeadTooLarge,
        ),
        req_row(
            "head over the limit while partial",
            format!("POST / HTTP/1.1\r\nX: {}", "a".repeat(16 * 1024)),
            HeadTooLarge,
        ),
        // Expect.
        req_row(
            "Expect other",
            post("Expect: the-unexpected\r\n"),
            UnsupportedExpect,
        ),
        req_row(
            "Expect list",
            post("Expect: 100-continue, x\r\n"),
            UnsupportedExpect,
        ),
        req_row(
            "Expect other on HTTP/1.0",
            request("POST / HTTP/1.0", "Expect: 200-ok\r\n", b""),
            UnsupportedExpect,
        ),
        // Chunked bodies.
        chunk_row("chunk size 0x10", "0x10\r\n", BadChunkSize),
        chunk_row("chunk size -1", "-1\r\n", BadChunkSize),
        chunk_row("empty chunk size", "\r\n", BadChunkSize),
        chunk_row(
            "space before chunk size",
            " 5\r\nhello\r\n0\r\n\r\n",
            BadChunkSize,
        ),
        chunk_row(
            "space after chunk size",
            "5 \r\nhello\r\n0\r\n\r\n",
            BadChunkSize,
        ),
        chunk_row("non-hex chunk size", "5g\r\n", BadChunkSize),
        chunk_row(
            "chunk size overflow",
            "10000000000000000\r\n",
            ChunkSizeOverflow,
        ),
        chunk_row(
            "chunk size of 17 digits, leading zeros",
            "00000000000000005\r\nhello\r\n0\r\n\r\n",
            ChunkSizeOverflow,
        ),
        chunk_row(
            "oversized chunk-size line (extensions)",
            format!("5;a={}\r\n", "b".repeat(1024)),
            ChunkLineTooLong,
        ),
        chunk_row(
            "oversized chunk-size line (many extensions)",
            format!("5{}\r\n", ";a".repeat(600)),
            ChunkLineTooLong,
        ),
        chunk_row(
            "chunk ext with bare CR",
            "5;a=b\rX\nhello\r\n0\r\n\r\n",
            BareCr,
        ),
        chunk_row(
            "chunk ext with bare LF",
            "5;a=b\nhello\r\n0\r\n\r\n",
            BareLf,
        ),
        chunk_row(
            "chunk ext with CR in quotes",
            "5;a=\"b\r\n\"\r\nhello\r\n",
            BadChunkExtension,
        ),
        chunk_row(
            "chunk ext with NUL",
            "5;a\0\r\nhello\r\n",
            BadChunkExtension,
        ),
        chunk_row("chunk ext empty", "5;\r\nhello\r\n", BadChunkExtension),
        chunk_row(
            "chunk ext with space",
            "5; a\r\nhello\r\n",
            BadChunkExtension,
        ),
        chunk_row(
            "chunk ext empty value",
            "5;a=\r\nhello\r\n",
            BadChunkExtension,
        ),
        chunk_row(
            "chunk ext empty name",
            "5;=b\r\nhello\r\n",
            BadChunkExtension,
        ),
        chunk_row(
            "chunk ext unterminated quote",
            "5;a=\"b\r\nhello\r\n",
            BadChunkExtension,
        ),
        chunk_row(
            "chunk ext after quote",
            "5;a=\"b\"c\r\nhello\r\n",
            BadChunkExtension,
        ),
        chunk_row("bare LF after chunk size", "5\nhello\r\n0\r\n\r\n", BareLf),
        chunk_row(
            "missing CRLF after data",
            "5\r\nhelloX\r\n0\r\n\r\n",
            MissingChunkCrlf,
        ),
        chunk_row(
            "data longer than its size",
            "3\r\nhello\r\n0\r\n\r\n",
            MissingChunkCrlf,
        ),
        chunk_row("bare LF after data", "5\r\nhello\n0\r\n\r\n", BareLf),
        chunk_row("bare CR after data", "5\r\nhello\r0\r\n\r\n", BareCr),
        chunk_row("trailer with bare LF", "0\r\nX: a\n\r\n", BareLf),
        chunk_row("trailer ending in bare LF", "0\r\nX: a\r\n\n", BareLf),
        chunk_row("trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", ObsFold),
        chunk_row("trailer NUL", "0\r\nX: a\0\r\n\r\n", ControlByte),
        chunk_row(
            "trailer space before colon",
            "0\r\nX : a\r\n\r\n",
            SpaceBeforeColon,
        ),
        chunk_row(
            "trailers over max_head_bytes",
            format!("0\r\nX: {}\r\n\r\n", "a".repeat(16 * 1024)),
            TrailersTooLarge,
        ),
        chunk_row("chunk over the body limit", "100001\r\n", BodyTooLarge),
        chunk_row(
            "chunks over the body limit together",
            format!("80000\r\n{}\r\n80001\r\n", "a".repeat(0x80000)),
            BodyTooLarge,
        ),
        // Responses.
        resp_row(
            "response TE and CL",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            TransferEncodingWithContentLength,
        ),
        resp_row(
            "response differing CL",
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            DuplicateContentLength,
        ),
        resp_row(
            "response CL list",
            "HTTP/1.1 200 OK\r\nContent-Length: 5,5\r\n\r\n",
            InvalidContentLength,
        ),
        resp_row(
            "response TE gzip",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            BadTransferEncoding,
        ),
        resp_row(
            "response TE on HTTP/1.0",
            "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            TransferEncodingOnHttp10,
        ),
        resp_row(
            "response NUL",
            "HTTP/1.1 200 OK\r\nX: a\0\r\n\r\n",
            ControlByte,
        ),
        resp_row(
            "response bare LF",
            "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
            BareLf,
        ),
        resp_row(
            "response bare CR",
            "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
            BareCr,
        ),
        resp_row(
            "response obs-fold",
            "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
            ObsFold,
        ),
        resp_row(
            "response space before colon",
            "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
            SpaceBeforeColon,
        ),
        resp_row(
            "response HTTP/2",
            "HTTP/2.0 200 OK\r\n\r\n",
            UnsupportedVersion,
        ),
        resp_row(
            "response two-digit status",
            "HTTP/1.1 20 OK\r\n\r\n",
            BadStatusLine,
        ),
        resp_row(
            "response status 099",
            "HTTP/1.1 099 Odd\r\n\r\n",
            BadStatusLine,
        ),
        resp_row(
            "response control in reason",
            "HTTP/1.1 200 O\x01K\r\n\r\n",
            BadStatusLine,
        ),
        resp_row(
            "response CL over the limit",
            "HTTP/1.1 200 OK\r\nContent-Length: 1048577\r\n\r\n",
            BodyTooLarge,
        ),
    ];
    let max = Limits {
        max_headers: MAX_HEADERS,
        ..limits()
    };
    rows.push(Row {
        what: "129 fields (limit 128)",
        input: Input::Request(post(&many_fields(128))),
        limits: max,
        expect: TooManyHeaders,
    });
    rows.push(Row {
        what: "129 fields (limit set above the hard bound)",
        input: Input::Request(post(&many_fields(128))),
        limits: Limits {
            max_headers: 1000,
            ..limits()
        },
        expect: TooManyHeaders,
    });
    rows.push(Row {
        what: "trailer fields over max_headers",
        input: Input::Chunked(format!("0\r\n{}\r\n", many_fields(3)).into_bytes()),
        limits: Limits {
            max_headers: 2,
            ..limits()
        },
        expect: TooManyHeaders,
    });
    rows.push(Row {
        what: "head over a small limit while partial",
        input: Input::Request(b"POST /hook HTTP/1.1\r\nHost: a\r\n".to_vec()),
        limits: Limits {
            max_head_bytes: 20,
            ..limits()
        },
        expect: HeadTooLarge,
    });
    rows
}

fn response_outcome(buf: &[u8], limits: &Limits) -> Result<Parsed, Refusal> {
    let mut head = ResponseHead::new();
    parse_response(buf, limits, false, &mut head)
}

#[test]
fn every_refusal_rule_has_its_variant_and_status() {
    let rows = rows();
    assert!(rows.len() >= 40, "{} rows", rows.len());
    for row in &rows {
        let what = row.what;
        let got = match &row.input {
            Input::Request(bytes) => {
                let got = parse(bytes, &row.limits).map(|(p, _)| p);
                // Refused the same way however the bytes arrive (short
                // inputs: growing one byte at a time is quadratic).
                if bytes.len() < 4096 {
                    let grown = parse_growing(bytes, &row.limits).map(|_| ());
                    assert_eq!(grown, Err(row.expect), "{what}: fed byte by byte");
                }
                got
            }
            Input::Chunked(body) => {
                let mut buf = post("Transfer-Encoding: chunked\r\n");
                assert_eq!(complete(&buf).framing(), Framing::Chunked);
                buf.extend_from_slice(body);
                let head = complete(&buf);
                let body = &buf[head.head_len()..];
                let whole = decode(body, &row.limits).map(|_| ());
                let split = decode_split(body, &[1], &row.limits).map(|_| ());
                assert_eq!(whole, split, "{what}: fed byte by byte");
                whole.map(|()| Parsed::Complete)
            }
            Input::Response(bytes) => {
                let got = response_outcome(bytes, &row.limits);
                for end in 0..bytes.len() {
                    match response_outcome(&bytes[..end], &row.limits) {
                        Ok(Parsed::Partial) => {}
                        Err(r) => {
                            assert_eq!(r, row.expect, "{what}: prefix of {end} bytes");
                            break;
                        }
                        Ok(Parsed::Complete) => panic!("{what}: prefix of {end} bytes complete"),
                    }
                }
                got
            }
        };
        assert_eq!(got, Err(row.expect), "{what}");
        let status = match row.expect {
            Refusal::BodyTooLarge => 413,
            Refusal::UnsupportedExpect => 417,
            _ => 400,
        };
        assert_eq!(row.expect.status(), status, "{what}");
    }
    // Every rule is exercised at least once.
    for r in Refusal::ALL {
        assert!(rows.iter().any(|row| row.expect == r), "no row for {r:?}");
    }
}

#[test]
fn refusal_names_are_distinct_and_snake_case() {
    let mut names: Vec<&str> = Refusal::ALL.iter().map(Refusal::as_str).collect();
    for name in &names {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{name}"
        );
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Refusal::ALL.len());
    assert_eq!(Refusal::BareLf.to_string(), "line ends in LF without CR");
}

#[test]
fn control_bytes_are_refused_at_every_offset_of_a_long_value() {
    // httparse skips valid value bytes in blocks; check each block position.
    for bad in (0u8..0x20).filter(|b| *b != b'\t').chain([0x7f]) {
        for at in 0..70 {
            let mut value = vec![b'v'; 70];
            value[at] = bad;
            let mut buf = b"POST / HTTP/1.1\r\nHost: a\r\nX-Long: ".to_vec();
            buf.extend_from_slice(&value);
            buf.extend_from_slice(b"\r\n\r\n");
            let got = parse(&buf, &limits()).map(|_| ());
            let want = match bad {
                b'\r' => Refusal::BareCr,
                b'\n' => Refusal::BareLf,
                _ => Refusal::ControlByte,
            };
            assert_eq!(got, Err(want), "byte {bad:#x} at {at}");
        }
    }
}

#[test]
fn bad_bytes_are_refused_at_every_offset_of_a_long_name_and_target() {
    for bad in [b' ', b'(', b'"', b'\0', b'\x7f', b'\xc3', b'/'] {
        for at in 1..40 {
            let mut name = vec![b'n'; 40];
            name[at] = bad;
            let mut buf = b"POST / HTTP/1.1\r\nHost: a\r\n".to_vec();
            buf.extend_from_slice(&name);
            buf.extend_from_slice(b": v\r\n\r\n");
            let want = match bad {
                b' ' => Refusal::SpaceBeforeColon,
                b'\0' | b'\x7f' => Refusal::ControlByte,
                _ => Refusal::InvalidHeaderName,
            };
            assert_eq!(
                parse(&buf, &limits()).map(|_| ()),
                Err(want),
                "name byte {bad:#x} at {at}"
            );
        }
    }
    for bad in [b'\0', b'\x7f', b'\x80', b'\xff', b'\t', b'#'] {
        for at in 1..40 {
            let mut target = vec![b'p'; 40];
            target[0] = b'/';
            target[at] = bad;
            let mut buf = b"POST ".to_vec();
            buf.extend_from_slice(&target);
            buf.extend_from_slice(b" HTTP/1.1\r\nHost: a\r\n\r\n");
            let want = if bad == b'#' {
                Refusal::TargetFragment
            } else {
                Refusal::TargetByte
            };
            assert_eq!(
                parse(&buf, &limits()).map(|_| ()),
                Err(want),
                "target byte {bad:#x} at {at}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Good requests.

#[test]
fn content_length_body() {
    let buf = request(
        "POST /hook/stripe?src=a&b= HTTP/1.1",
        "Host: hooks.example\r\nContent-Type: application/json\r\nContent-Length: 5\r\n",
        b"hello",
    );
    let head = complete(&buf);
    assert_eq!(head.method(), Method::Post);
    assert_eq!(head.version(), Version::Http11);
    assert_eq!(head.path(&buf), b"/hook/stripe");
    assert_eq!(head.query(&buf), Some(&b"src=a&b="[..]));
    assert_eq!(head.target(&buf), b"/hook/stripe?src=a&b=");
    assert_eq!(head.framing(), Framing::Length(5));
    assert_eq!(head.header_count(), 3);
    assert!(head.keep_alive());
    assert!(!head.expects_continue());
    assert_eq!(&buf[head.head_len()..], b"hello");
    assert_eq!(
        head.header(&buf, "content-type"),
        Some(&b"application/json"[..])
    );
}

#[test]
fn query_extraction() {
    let cases = [
        ("/", "/", None),
        ("/a?", "/a", Some("")),
        ("/a?x=1?y", "/a", Some("x=1?y")),
        ("/?q", "/", Some("q")),
        ("//double/slash", "//double/slash", None),
    ];
    for (target, path, query) in cases {
        let buf = request(&format!("GET {target} HTTP/1.1"), HOST, b"");
        let head = complete(&buf);
        assert_eq!(head.path(&buf), path.as_bytes(), "{target}");
        assert_eq!(head.query(&buf), query.map(str::as_bytes), "{target}");
    }
}

#[test]
fn header_lookup_is_case_insensitive_and_values_are_trimmed() {
    let buf = request(
        "POST / HTTP/1.1",
        "hOsT: a\r\nX-Sig:  \t v1=abc \t \r\nX-Empty:\r\nX-Sig: second\r\nX-Obs: café\r\n",
        b"",
    );
    let head = complete(&buf);
    assert_eq!(head.header(&buf, "HOST"), Some(&b"a"[..]));
    assert_eq!(head.header(&buf, "x-sig"), Some(&b"v1=abc"[..]));
    assert_eq!(head.header(&buf, "X-EMPTY"), Some(&b""[..]));
    assert_eq!(head.header(&buf, "x-obs"), Some("café".as_bytes()));
    assert_eq!(head.header(&buf, "x-si"), None);
    assert_eq!(head.header(&buf, "missing"), None);
    let all: Vec<_> = head.headers(&buf).collect();
    assert_eq!(all.len(), 5);
    assert_eq!(all[1], (&b"X-Sig"[..], &b"v1=abc"[..]));
    assert_eq!(all[3], (&b"X-Sig"[..], &b"second"[..]));
}

#[test]
fn methods() {
    for (m, want) in [
        ("GET", Method::Get),
        ("HEAD", Method::Head),
        ("POST", Method::Post),
        ("PUT", Method::Other),
        ("post", Method::Other),
        ("M-SEARCH", Method::Other),
    ] {
        let buf = request(&format!("{m} / HTTP/1.1"), HOST, b"");
        let head = complete(&buf);
        assert_eq!(head.method(), want, "{m}");
        assert_eq!(head.method_bytes(&buf), m.as_bytes());
    }
}

#[test]
fn transfer_encoding_chunked_spellings() {
    for te in [
        "chunked",
        "CHUNKED",
        "Chunked",
        "\tchunked",
        "chunked \t",
        "  chunked",
    ] {
        let buf = post(&format!("transfer-encoding: {te}\r\n"));
        assert_eq!(complete(&buf).framing(), Framing::Chunked, "{te:?}");
        let buf = post(&format!("Transfer-Encoding:{te}\r\n"));
        assert_eq!(complete(&buf).framing(), Framing::Chunked, "{te:?}");
    }
}

#[test]
fn content_length_forms() {
    for (cl, n) in [("0", 0), ("005", 5), ("1048576", 1 << 20), (" 7 ", 7)] {
        let buf = post(&format!("Content-Length:{cl}\r\n"));
        assert_eq!(complete(&buf).framing(), Framing::Length(n), "{cl:?}");
    }
    let buf = post("");
    assert_eq!(complete(&buf).framing(), Framing::None);
}

#[test]
fn http10_keep_alive_and_host() {
    let cases = [
        ("HTTP/1.1", "", true),
        ("HTTP/1.1", "Connection: close\r\n", false),
        ("HTTP/1.1", "Connection: keep-alive, Close\r\n", false),
        (
            "HTTP/1.1",
            "Connection: x-a\r\nConnection: CLOSE\r\n",
            false,
        ),
        ("HTTP/1.1", "Connection: upgrade\r\n", true),
        ("HTTP/1.0", "", false),
        ("HTTP/1.0", "Connection: keep-alive\r\n", true),
        ("HTTP/1.0", "Connection: Keep-Alive\r\n", true),
        ("HTTP/1.0", "Connection: foo,keep-alive\r\n", true),
        ("HTTP/1.0", "Connection: keep-alive, close\r\n", false),
        ("HTTP/1.0", "Connection: keep-alive-ish\r\n", false),
    ];
    for (version, fields, keep) in cases {
        let buf = request(
            &format!("POST / {version}"),
            &format!("{HOST}{fields}"),
            b"",
        );
        let head = complete(&buf);
        assert_eq!(head.keep_alive(), keep, "{version} {fields:?}");
    }
    // HTTP/1.0 may omit Host.
    let buf = request("POST / HTTP/1.0", "Content-Length: 2\r\n", b"{}");
    let head = complete(&buf);
    assert_eq!(head.version(), Version::Http10);
    assert_eq!(head.framing(), Framing::Length(2));
    assert!(!head.keep_alive());
}

#[test]
fn expect_handling() {
    let buf = post("Expect: 100-continue\r\nContent-Length: 3\r\n");
    assert!(complete(&buf).expects_continue());
    let buf = post("Expect: 100-Continue\r\n");
    assert!(complete(&buf).expects_continue());
    let buf = post("");
    assert!(!complete(&buf).expects_continue());
    // Ignored on HTTP/1.0.
    let buf = request("POST / HTTP/1.0", "Expect: 100-continue\r\n", b"");
    assert!(!complete(&buf).expects_continue());
    let buf = post("Expect: 100-continue\r\nContent-Length: 1048577\r\n");
    assert_eq!(
        parse(&buf, &limits()).map(|_| ()),
        Err(Refusal::BodyTooLarge)
    );
}

#[test]
fn partial_heads_at_every_split_point() {
    let buf = request(
        "POST /hook?id=7 HTTP/1.1",
        "Host: hooks.example\r\nUser-Agent: provider/1.0\r\nContent-Type: application/json\r\n\
         X-Signature: t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd\r\n\
         Connection: keep-alive\r\nContent-Length: 2\r\n",
        b"{}",
    );
    let whole = parse_whole(&buf, &limits()).unwrap().unwrap();
    let head_len = whole.head_len;
    let mut head = RequestHead::new();
    for end in 0..=buf.len() {
        let got = parse_request(&buf[..end], &limits(), &mut head).unwrap();
        if end < head_len {
            assert_eq!(got, Parsed::Partial, "prefix of {end}");
        } else {
            assert_eq!(got, Parsed::Complete, "prefix of {end}");
            assert_eq!(summary(&head, &buf), whole, "prefix of {end}");
        }
    }
    assert_eq!(parse_growing(&buf, &limits()).unwrap(), Some(whole));
}

#[test]
fn a_reused_head_forgets_the_previous_request() {
    let mut head = RequestHead::new();
    let first = post(
        "Connection: close\r\nExpect: 100-continue\r\nContent-Length: 1\r\nX-A: 1\r\nX-B: 2\r\n",
    );
    parse_request(&first, &limits(), &mut head).unwrap();
    assert_eq!(head.header_count(), 6);
    let second = request("GET /x HTTP/1.1", HOST, b"");
    parse_request(&second, &limits(), &mut head).unwrap();
    assert_eq!(
        summary(&head, &second),
        summary(&complete(&second), &second)
    );
    assert_eq!(head.header_count(), 1);
    assert!(head.keep_alive() && !head.expects_continue());
    assert_eq!(head.framing(), Framing::None);
    assert_eq!(head.query(&second), None);
}

#[test]
fn chunked_body_in_one_piece_and_byte_by_byte() {
    let body = b"5\r\nhello\r\n1;ext=v;flag\r\n \r\nA\r\n0123456789\r\n0\r\n\r\nGET /next";
    let end = body.len() - b"GET /next".len();
    let (data, used, done) = decode(body, &limits()).unwrap();
    assert_eq!(data, b"hello 0123456789");
    assert_eq!((used, done), (end, true));
    for reads in [&[1][..], &[2], &[3, 1, 7], &[1000]] {
        let (split, used, done) = decode_split(body, reads, &limits()).unwrap();
        assert_eq!(split, data, "{reads:?}");
        assert_eq!((used, done), (end, true), "{reads:?}");
    }
    // Byte by byte, each call consumes its byte until the body ends.
    let mut dec = ChunkedDecoder::new(&limits());
    let mut out = Vec::new();
    for (i, b) in body.iter().enumerate() {
        let (used, done) = dec.decode(std::slice::from_ref(b), &mut out).unwrap();
        assert_eq!(used, usize::from(i < end), "byte {i}");
        assert_eq!(done, i + 1 >= end, "byte {i}");
    }
    assert_eq!(out, data);
    assert_eq!(dec.decoded(), data.len() as u64);
}

#[test]
fn chunk_extensions_accepted() {
    let body =
        b"5;a\r\nhello\r\n5;a=b;c=\"q \\\" ;=\\\\ \xc3\xa9\";d=e\r\nworld\r\n0;last=1\r\n\r\n";
    let (data, used, done) = decode(body, &limits()).unwrap();
    assert_eq!(data, b"helloworld");
    assert_eq!((used, done), (body.len(), true));
}

#[test]
fn trailers_accepted_and_dropped() {
    let body = b"3\r\nabc\r\n0\r\nX-Trailer: one\r\nDigest: sha-256=x\r\n\r\nrest";
    let (data, used, done) = decode(body, &limits()).unwrap();
    assert_eq!(data, b"abc");
    assert_eq!((used, done), (body.len() - 4, true));
    let (data, used, _) = decode_split(body, &[1], &limits()).unwrap();
    assert_eq!((data.as_slice(), used), (&b"abc"[..], body.len() - 4));
}

#[test]
fn hex_sizes_any_case_with_leading_zeros() {
    let mut body = b"000A\r\n".to_vec();
    body.extend_from_slice(&[b'x'; 10]);
    body.extend_from_slice(b"\r\n0000\r\n\r\n");
    let (data, used, done) = decode(&body, &limits()).unwrap();
    assert_eq!((data.len(), used, done), (10, body.len(), true));
}

#[test]
fn chunk_sizes_of_sixteen_digits() {
    let body = b"000000000000000A\r\n0123456789\r\n0000000000000000\r\n\r\n";
    let (data, used, done) = decode(body, &limits()).unwrap();
    assert_eq!((data.len(), used, done), (10, body.len(), true));
    let huge = Limits {
        max_body_bytes: usize::MAX,
        ..limits()
    };
    let mut dec = ChunkedDecoder::new(&huge);
    assert_eq!(
        dec.decode(b"ffffffffffffffff\r\nab", &mut Vec::new()),
        Ok((20, false))
    );
}

#[test]
fn decoder_refuses_again_after_a_refusal() {
    let mut dec = ChunkedDecoder::new(&limits());
    let mut out = Vec::new();
    assert_eq!(dec.decode(b"zz", &mut out), Err(Refusal::BadChunkSize));
    assert_eq!(
        dec.decode(b"5\r\nhello", &mut out),
        Err(Refusal::BadChunkSize)
    );
    assert!(out.is_empty());
}

#[test]
fn decoder_after_done_consumes_nothing() {
    let mut dec = ChunkedDecoder::new(&limits());
    let mut out = Vec::new();
    assert_eq!(dec.decode(LAST_CHUNK, &mut out), Ok((5, true)));
    assert_eq!(dec.decode(b"POST /", &mut out), Ok((0, true)));
    assert!(dec.is_done());
}

#[test]
fn pipelined_requests() {
    let mut buf = request(
        "POST /a HTTP/1.1",
        &format!("{HOST}Content-Length: 5\r\n"),
        b"first",
    );
    let second_head = request(
        "POST /b HTTP/1.1",
        &format!("{HOST}Transfer-Encoding: chunked\r\n"),
        b"6\r\nsecond\r\n0\r\n\r\n",
    );
    buf.extend_from_slice(&second_head);
    buf.extend_from_slice(&request("GET /c HTTP/1.1", HOST, b""));

    let mut head = RequestHead::new();
    let mut at = 0;
    let mut seen = Vec::new();
    while at < buf.len() {
        let rest = &buf[at..];
        assert_eq!(
            parse_request(rest, &limits(), &mut head),
            Ok(Parsed::Complete)
        );
        let path = head.path(rest).to_vec();
        let body_start = head.head_len();
        let (body, used) = match head.framing() {
            Framing::None => (Vec::new(), 0),
            Framing::Length(n) => (
                rest[body_start..body_start + n as usize].to_vec(),
                n as usize,
            ),
            Framing::Chunked => {
                let (data, used, done) = decode(&rest[body_start..], &limits()).unwrap();
                assert!(done);
                (data, used)
            }
        };
        seen.push((path, body));
        at += body_start + used;
    }
    assert_eq!(
        seen,
        vec![
            (b"/a".to_vec(), b"first".to_vec()),
            (b"/b".to_vec(), b"second".to_vec()),
            (b"/c".to_vec(), Vec::new()),
        ]
    );
}

#[test]
fn write_chunk_round_trips() {
    let mut out = Vec::new();
    write_chunk(&mut out, b"");
    assert!(out.is_empty());
    write_chunk(&mut out, b"hello");
    assert_eq!(out, b"5\r\nhello\r\n");
    let big = vec![7u8; 0x1234];
    write_chunk(&mut out, &big);
    assert!(out[10..].starts_with(b"1234\r\n"));
    out.extend_from_slice(LAST_CHUNK);
    let (data, used, done) = decode(&out, &limits()).unwrap();
    assert_eq!((used, done), (out.len(), true));
    assert_eq!(&data[..5], b"hello");
    assert_eq!(&data[5..], &big[..]);
}

#[test]
fn hop_by_hop_and_connection_tokens() {
    for name in [
        "Connection",
        "keep-alive",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "UPGRADE",
        "Expect",
        "Proxy-Authorization",
        "Content-Length",
    ] {
        assert!(is_hop_by_hop(name.as_bytes()), "{name}");
    }
    for name in ["Host", "Content-Type", "X-Signature", "Trailers", "tee", ""] {
        assert!(!is_hop_by_hop(name.as_bytes()), "{name}");
    }
    let tokens: Vec<&[u8]> = connection_tokens(b"close, X-Foo ,,\tKeep-Alive,x-bar,").collect();
    assert_eq!(tokens, vec![&b"X-Foo"[..], &b"x-bar"[..]]);
    assert_eq!(connection_tokens(b"").count(), 0);
}

// ---------------------------------------------------------------------------
// Responses.

fn response(buf: &[u8], request_was_head: bool) -> ResponseHead {
    let mut head = ResponseHead::new();
    assert_eq!(
        parse_response(buf, &limits(), request_was_head, &mut head),
        Ok(Parsed::Complete),
        "{}",
        buf.escape_ascii()
    );
    head
}

#[test]
fn response_framings() {
    let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\n{}";
    let head = response(buf, false);
    assert_eq!((head.status(), head.version()), (200, Version::Http11));
    assert_eq!(head.framing(), ResponseFraming::Length(2));
    assert_eq!(head.reason(buf), b"OK");
    assert_eq!(&buf[head.head_len()..], b"{}");
    assert!(head.keep_alive());
    assert_eq!(head.header(buf, "x-a"), Some(&b"b"[..]));
    assert_eq!(head.headers(buf).count(), 2);

    let buf = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    let head = response(buf, false);
    assert_eq!(head.framing(), ResponseFraming::Chunked);
    let (data, _, done) = decode(&buf[head.head_len()..], &limits()).unwrap();
    assert_eq!((data.as_slice(), done), (&b"ok"[..], true));

    for buf in [
        &b"HTTP/1.0 200 OK\r\n\r\nbody"[..],
        b"HTTP/1.1 200 OK\r\n\r\nbody",
    ] {
        let head = response(buf, false);
        assert_eq!(head.framing(), ResponseFraming::UntilClose);
        assert!(!head.keep_alive());
    }

    // Equal Content-Length fields are one length.
    let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n";
    assert_eq!(response(buf, false).framing(), ResponseFraming::Length(3));
    // No reason phrase, or one with obs-text.
    let buf = b"HTTP/1.1 204\r\n\r\n";
    assert_eq!(response(buf, false).reason(buf), b"");
    let buf = b"HTTP/1.1 200 Tr\xc3\xa8s bien\r\n\r\n";
    assert_eq!(response(buf, false).reason(buf), "Très bien".as_bytes());
}

#[test]
fn responses_without_a_body() {
    for status in [
        "100 Continue",
        "101 Switching Protocols",
        "103 Early Hints",
        "204 No Content",
        "304 Not Modified",
    ] {
        for fields in [
            "",
            "Content-Length: 10\r\n",
            "Content-Length: junk\r\nContent-Length: 3\r\n",
        ] {
            let buf = format!("HTTP/1.1 {status}\r\n{fields}\r\n");
            let head = response(buf.as_bytes(), false);
            assert_eq!(
                head.framing(),
                ResponseFraming::Empty,
                "{status} {fields:?}"
            );
            assert!(head.keep_alive());
        }
    }
    let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
    assert_eq!(response(buf, true).framing(), ResponseFraming::Empty);
    let buf = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    assert_eq!(response(buf, true).framing(), ResponseFraming::Empty);
    let buf = b"HTTP/1.1 200 OK\r\n\r\n";
    let head = response(buf, true);
    assert_eq!(head.framing(), ResponseFraming::Empty);
    assert!(head.keep_alive());
}

#[test]
fn response_keep_alive() {
    let cases: [(&str, bool); 5] = [
        ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true),
        (
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            false,
        ),
        ("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false),
        (
            "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n",
            true,
        ),
        ("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", false),
    ];
    for (buf, keep) in cases {
        assert_eq!(
            response(buf.as_bytes(), false).keep_alive(),
            keep,
            "{buf:?}"
        );
    }
}

#[test]
fn response_partial_at_every_split_point() {
    let buf = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
    let mut head = ResponseHead::new();
    for end in 0..buf.len() {
        let got = parse_response(&buf[..end], &limits(), false, &mut head).unwrap();
        assert_eq!(
            got == Parsed::Complete,
            end >= buf.len() - 2,
            "prefix of {end}"
        );
    }
    let small = Limits {
        max_head_bytes: 30,
        ..limits()
    };
    assert_eq!(
        parse_response(buf, &small, false, &mut head),
        Err(Refusal::HeadTooLarge)
    );
}

// ---------------------------------------------------------------------------
// Properties.

/// A valid request to mutate, so that arbitrary edits reach deep states.
const SEED: &[u8] = b"POST /hook?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\
Transfer-Encoding: chunked\r\nExpect: 100-continue\r\nConnection: keep-alive\r\n\r\n\
5;e=\"q\"\r\nhello\r\n0\r\nT: v\r\n\r\n";

fn mutated() -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..6);
    edits.prop_map(|edits| {
        let mut v = SEED.to_vec();
        for (at, byte, op) in edits {
            let i = at.index(v.len() + 1);
            match op {
                0 => v.insert(i, byte),
                1 if i < v.len() => v[i] = byte,
                _ if i < v.len() => {
                    v.remove(i);
                }
                _ => {}
            }
        }
        v
    })
}

fn bytes_from(alphabet: &'static [u8]) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(alphabet), 0..200)
}

/// The request and its body through the codec, fed with the given splits.
type Outcome = Result<Option<(Summary, Vec<u8>, usize)>, Refusal>;

fn through_codec(buf: &[u8], limits: &Limits, reads: &[usize]) -> Outcome {
    let Some(head) = parse_growing(buf, limits)? else {
        return Ok(None);
    };
    let rest = &buf[head.head_len..];
    let (body, used) = match head.framing {
        Framing::Chunked => {
            let (data, used, _) = decode_split(rest, reads, limits)?;
            (data, used)
        }
        _ => (Vec::new(), 0),
    };
    Ok(Some((head, body, used)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parse_request_never_panics_and_split_never_matters(
        buf in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            bytes_from(b"GET POST/ HTTP/1.01\r\n:\t Host:a;=\"\\0x-"),
            mutated(),
        ]
    ) {
        let small = Limits { max_head_bytes: 120, max_headers: 4, ..limits() };
        for limits in [limits(), small] {
            let whole = parse_whole(&buf, &limits);
            let grown = parse_growing(&buf, &limits);
            prop_assert_eq!(&whole, &grown);
            if let Ok(Some(head)) = &whole {
                prop_assert!(head.head_len <= buf.len().min(limits.max_head_bytes));
            }
            let mut res = ResponseHead::new();
            let _ = parse_response(&buf, &limits, false, &mut res);
        }
    }

    #[test]
    fn decoder_split_never_matters(
        buf in prop_oneof![
            bytes_from(b"0123456789abcdefABx;=\"\\ \t\r\n:X"),
            mutated().prop_map(|v| v.get(SEED.len() - 30..).map(<[u8]>::to_vec).unwrap_or_default()),
        ],
        reads in prop::collection::vec(1usize..9, 1..5),
    ) {
        let small = Limits { max_body_bytes: 40, max_chunk_line: 12, max_head_bytes: 20, ..limits() };
        for limits in [limits(), small] {
            let whole = decode(&buf, &limits);
            let split = decode_split(&buf, &reads, &limits);
            prop_assert_eq!(whole, split);
        }
    }

    #[test]
    fn mutated_requests_split_never_matters(buf in mutated(), reads in prop::collection::vec(1usize..9, 1..5)) {
        let a = through_codec(&buf, &limits(), &[usize::MAX]);
        let b = through_codec(&buf, &limits(), &reads);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn chunked_round_trip(
        body in prop::collection::vec(any::<u8>(), 0..2000),
        cuts in prop::collection::vec(0usize..2000, 0..12),
        reads in prop::collection::vec(1usize..300, 1..6),
        trailer in any::<bool>(),
    ) {
        // Arbitrary chunking of the body.
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(body.len())).collect();
        cuts.push(0);
        cuts.push(body.len());
        cuts.sort_unstable();
        let mut encoded = Vec::new();
        for w in cuts.windows(2) {
            write_chunk(&mut encoded, &body[w[0]..w[1]]);
        }
        if trailer {
            encoded.extend_from_slice(b"0;end\r\nX-Sum: 1\r\n\r\n");
        } else {
            encoded.extend_from_slice(LAST_CHUNK);
        }
        let end = encoded.len();
        encoded.extend_from_slice(b"POST / HTTP/1.1\r\n");
        let (data, used, done) = decode_split(&encoded, &reads, &limits()).unwrap();
        prop_assert!(done);
        prop_assert_eq!(used, end);
        prop_assert_eq!(data, body);
    }
}
