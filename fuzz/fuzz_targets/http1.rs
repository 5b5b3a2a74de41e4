//! Arbitrary bytes through the HTTP/1.1 codec: request and response heads,
//! then chunked bodies, each fed whole and in fuzz-chosen splits.
//!
//! The first byte picks the limits and seeds the read splits; the rest is
//! the stream. Nothing may panic; spans stay inside the buffer and the head;
//! decoded bodies stay under the limit; and splitting the input differently
//! never changes a result (a refusal included).
#![no_main]

use hookgate::http1::{
    parse_request, parse_response, ChunkedDecoder, Framing, Limits, Parsed, Refusal, RequestHead,
    ResponseFraming, ResponseHead,
};
use libfuzzer_sys::fuzz_target;

/// Read sizes from a seed: mostly small, sometimes large.
struct Splits(u32);

impl Splits {
    fn next(&mut self) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        match self.0 % 8 {
            0 => 1 + (self.0 >> 8) as usize % 512,
            _ => 1 + (self.0 >> 8) as usize % 9,
        }
    }
}

fn limits(selector: u8) -> Limits {
    match selector % 3 {
        0 => Limits::default(),
        1 => Limits {
            max_head_bytes: 200,
            max_headers: 4,
            max_body_bytes: 64,
            max_chunk_line: 16,
        },
        _ => Limits {
            max_head_bytes: 64 * 1024,
            max_headers: 128,
            max_body_bytes: 1 << 40,
            max_chunk_line: 64,
        },
    }
}

#[derive(Debug, PartialEq, Eq)]
struct Request {
    head_len: usize,
    method: Vec<u8>,
    path: Vec<u8>,
    query: Option<Vec<u8>>,
    framing: Framing,
    flags: (bool, bool),
    headers: Vec<(Vec<u8>, Vec<u8>)>,
}

fn request_summary(head: &RequestHead, buf: &[u8], limits: &Limits) -> Request {
    let head_len = head.head_len();
    assert!(head_len <= buf.len() && head_len <= limits.max_head_bytes);
    assert!(head.header_count() <= limits.max_headers.min(hookgate::http1::MAX_HEADERS));
    // Every span lies inside the head.
    let inside = |part: &[u8]| {
        let start = part.as_ptr() as usize - buf.as_ptr() as usize;
        assert!(start + part.len() <= head_len, "span outside the head");
    };
    inside(head.method_bytes(buf));
    inside(head.path(buf));
    if let Some(q) = head.query(buf) {
        inside(q);
    }
    for (name, value) in head.headers(buf) {
        inside(name);
        inside(value);
    }
    if let Framing::Length(n) = head.framing() {
        assert!(n <= limits.max_body_bytes as u64);
    }
    Request {
        head_len,
        method: head.method_bytes(buf).to_vec(),
        path: head.path(buf).to_vec(),
        query: head.query(buf).map(<[u8]>::to_vec),
        framing: head.framing(),
        flags: (head.keep_alive(), head.expects_continue()),
        headers: head
            .headers(buf)
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect(),
    }
}

/// The request head fed as reads of the given sizes into one growing
/// buffer, parsed after each read as a connection does.
fn request_in_reads(
    buf: &[u8],
    limits: &Limits,
    splits: &mut Splits,
) -> Result<Option<Request>, Refusal> {
    let mut head = RequestHead::new();
    let mut end = 0;
    loop {
        end = (end + splits.next()).min(buf.len());
        match parse_request(&buf[..end], limits, &mut head)? {
            Parsed::Complete => return Ok(Some(request_summary(&head, buf, limits))),
            Parsed::Partial if end == buf.len() => return Ok(None),
            Parsed::Partial => {}
        }
    }
}

fn response_in_reads(
    buf: &[u8],
    limits: &Limits,
    was_head: bool,
    splits: Option<&mut Splits>,
) -> Result<Option<(usize, u16, ResponseFraming, bool)>, Refusal> {
    let mut head = ResponseHead::new();
    let mut end = 0;
    let mut splits = splits;
    loop {
        end = match splits.as_mut() {
            Some(s) => (end + s.next()).min(buf.len()),
            None => buf.len(),
        };
        match parse_response(&buf[..end], limits, was_head, &mut head)? {
            Parsed::Complete => {
                assert!(head.head_len() <= buf.len() && head.head_len() <= limits.max_head_bytes);
                for (name, value) in head.headers(buf) {
                    assert!(name.len() + value.len() <= head.head_len());
                }
                if let ResponseFraming::Length(n) = head.framing() {
                    assert!(n <= limits.max_body_bytes as u64);
                }
                return Ok(Some((
                    head.head_len(),
                    head.status(),
                    head.framing(),
                    head.keep_alive(),
                )));
            }
            Parsed::Partial if end == buf.len() => return Ok(None),
            Parsed::Partial => {}
        }
    }
}

/// A chunked body decoded in reads of the given sizes (or whole), carrying
/// the unconsumed rest over: (data, consumed, done).
fn decode(
    body: &[u8],
    limits: &Limits,
    splits: Option<&mut Splits>,
) -> Result<(Vec<u8>, usize, bool), Refusal> {
    let mut dec = ChunkedDecoder::new(limits);
    let mut out = Vec::new();
    let mut pending = Vec::new();
    let mut fed = 0;
    let mut consumed = 0;
    let mut splits = splits;
    loop {
        let n = match splits.as_mut() {
            Some(s) => s.next().min(body.len() - fed),
            None => body.len() - fed,
        };
        pending.extend_from_slice(&body[fed..fed + n]);
        fed += n;
        let (used, done) = dec.decode(&pending, &mut out)?;
        assert!(used <= pending.len());
        consumed += used;
        pending.drain(..used);
        assert_eq!(dec.decoded(), out.len() as u64);
        assert!(dec.decoded() <= limits.max_body_bytes as u64);
        if done {
            assert!(fed - pending.len() == consumed);
            return Ok((out, consumed, true));
        }
        assert!(
            pending.is_empty(),
            "unconsumed bytes before the end of the body"
        );
        if fed == body.len() {
            return Ok((out, consumed, false));
        }
    }
}

fn check_decoder(body: &[u8], limits: &Limits, splits: &mut Splits) {
    let whole = decode(body, limits, None);
    let split = decode(body, limits, Some(splits));
    assert_eq!(whole, split, "chunked body decoded differently when split");
    if let Ok((data, consumed, true)) = &whole {
        // The body ends where the decoder stopped, whatever follows it.
        let exact = decode(&body[..*consumed], limits, None).expect("prefix decodes");
        assert_eq!((&exact.0, exact.1, exact.2), (data, *consumed, true));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, buf)) = data.split_first() else {
        return;
    };
    let limits = limits(selector);
    let seed = u32::from(selector) << 16 | buf.len() as u32 | 1;

    // Requests.
    let mut head = RequestHead::new();
    let direct = match parse_request(buf, &limits, &mut head) {
        Ok(Parsed::Complete) => Ok(Some(request_summary(&head, buf, &limits))),
        Ok(Parsed::Partial) => Ok(None),
        Err(r) => Err(r),
    };
    let split = request_in_reads(buf, &limits, &mut Splits(seed));
    assert_eq!(direct, split, "request head parsed differently when split");
    if buf.len() <= 512 {
        // One byte per read (a zero seed stays zero: reads of 1).
        let bytewise = request_in_reads(buf, &limits, &mut Splits(0));
        assert_eq!(
            direct, bytewise,
            "request head parsed differently byte by byte"
        );
    }
    if let Ok(Some(req)) = &direct {
        if req.framing == Framing::Chunked {
            check_decoder(&buf[req.head_len..], &limits, &mut Splits(seed ^ 0x9e37));
        }
    }

    // Responses.
    let was_head = selector & 0x80 != 0;
    let direct = response_in_reads(buf, &limits, was_head, None);
    let split = response_in_reads(buf, &limits, was_head, Some(&mut Splits(seed ^ 0x51)));
    assert_eq!(direct, split, "response head parsed differently when split");
    if let Ok(Some((head_len, _, ResponseFraming::Chunked, _))) = direct {
        check_decoder(&buf[head_len..], &limits, &mut Splits(seed ^ 0x77));
    }

    // The raw bytes as a chunked body too: most inputs are not heads.
    check_decoder(buf, &limits, &mut Splits(seed ^ 0x1234));
});
