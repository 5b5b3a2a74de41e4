//! The chunked transfer coding: an incremental decoder and the encoder.

use super::grammar::{FieldState, Step};
use super::{is_tchar, Limits, Refusal, MAX_HEADERS};

/// The last chunk with an empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Appends one chunk (hex size, CRLF, data, CRLF); nothing for empty data,
/// which would read as the last chunk.
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut n = data.len();
    loop {
        at -= 1;
        digits[at] = HEX[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.reserve(digits.len() - at + data.len() + 4);
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Position inside a chunk extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ext {
    /// Right after ';'.
    NameStart,
    Name,
    /// Right after '='.
    ValueStart,
    Token,
    Quoted,
    /// After a backslash inside a quoted string.
    QuotedPair,
    QuotedEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Hex digits of a chunk size (`size` accumulates them).
    Size {
        digits: u8,
    },
    Ext(Ext),
    /// CR ending a chunk-size line seen.
    SizeLf,
    /// `size` data bytes still to come.
    Data,
    DataCr,
    DataLf,
    Trailer(FieldState),
    Done,
}

/// Incremental chunked body decoder (request bodies and upstream responses).
///
/// The grammar is the narrow one: `1*16HEXDIG *(";" token ["=" (token /
/// quoted-string)]) CRLF`, no whitespace anywhere in a chunk-size line.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// The chunk size being read, then the data bytes left of it.
    size: u64,
    decoded: u64,
    line_len: usize,
    trailer_len: usize,
    trailer_fields: usize,
    max_body: u64,
    max_line: usize,
    max_trailer: usize,
    max_trailer_fields: usize,
    failed: Option<Refusal>,
}

impl ChunkedDecoder {
    /// Uses max_body_bytes, max_chunk_line, and max_head_bytes and
    /// max_headers for the trailer section.
    pub fn new(limits: &Limits) -> Self {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            size: 0,
            decoded: 0,
            line_len: 0,
            trailer_len: 0,
            trailer_fields: 0,
            max_body: limits.max_body_bytes as u64,
            max_line: limits.max_chunk_line,
            max_trailer: limits.max_head_bytes,
            max_trailer_fields: limits.max_headers.min(MAX_HEADERS),
            failed: None,
        }
    }

    /// Decodes from `input`, appending chunk data to `out`. Returns how many
    /// bytes of `input` were consumed and whether the body (last chunk and
    /// trailer section) is complete. Call again with the unconsumed rest plus
    /// newly read bytes. Never consumes past the end of the body (so
    /// pipelined bytes after it stay in the caller's buffer). Trailer fields
    /// are checked and dropped. After a refusal every call refuses again.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(usize, bool), Refusal> {
        if let Some(r) = self.failed {
            return Err(r);
        }
        let mut i = 0;
        while i < input.len() {
            match self.state {
                State::Done => break,
                State::Data => {
                    let take = self.size.min((input.len() - i) as u64) as usize;
                    out.extend_from_slice(&input[i..i + take]);
                    i += take;
                    self.size -= take as u64;
                    self.decoded += take as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                }
                _ => {
                    let b = input[i];
                    i += 1;
                    if let Err(r) = self.step(b) {
                        self.failed = Some(r);
                        return Err(r);
                    }
                }
            }
        }
        Ok((i, self.state == State::Done))
    }

    /// Data bytes decoded so far.
    pub fn decoded(&self) -> u64 {
        self.decoded
    }

    /// Whether the last chunk and the trailer section have been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// One byte outside chunk data.
    fn step(&mut self, b: u8) -> Result<(), Refusal> {
        match self.state {
            State::Size { .. } | State::Ext(_) => {
                // The CR ending the line is not part of it.
                if b != b'\r' {
                    self.line_len += 1;
                    if self.line_len > self.max_line {
                        return Err(Refusal::ChunkLineTooLong);
                    }
                }
                self.state = match self.state {
                    State::Size { digits } => self.size_byte(b, digits)?,
                    State::Ext(ext) => ext_byte(ext, b)?,
                    _ => unreachable!("matched above"),
                };
            }
            State::SizeLf => {
                if b != b'\n' {
                    return Err(Refusal::BareCr);
                }
                self.line_len = 0;
                self.state = if self.size == 0 {
                    State::Trailer(FieldState::LineStart)
                } else {
                    State::Data
                };
            }
            State::DataCr => {
                self.state = match b {
                    b'\r' => State::DataLf,
                    b'\n' => return Err(Refusal::BareLf),
                    _ => return Err(Refusal::MissingChunkCrlf),
                }
            }
            State::DataLf => {
                if b != b'\n' {
                    return Err(Refusal::BareCr);
                }
                self.state = State::Size { digits: 0 };
            }
            State::Trailer(mut field) => {
                self.trailer_len += 1;
                if self.trailer_len > self.max_trailer {
                    return Err(Refusal::TrailersTooLarge);
                }
                self.state = match field.step(b) {
                    Step::More => State::Trailer(field),
                    Step::LineDone => {
                        self.trailer_fields += 1;
                        if self.trailer_fields > self.max_trailer_fields {
                            return Err(Refusal::TooManyHeaders);
                        }
                        State::Trailer(field)
                    }
                    Step::SectionDone => State::Done,
                    Step::Refused(r) => return Err(r),
                };
            }
            State::Data | State::Done => unreachable!("handled by decode"),
        }
        Ok(())
    }

    fn size_byte(&mut self, b: u8, digits: u8) -> Result<State, Refusal> {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            b';' if digits > 0 => {
                self.announce()?;
                return Ok(State::Ext(Ext::NameStart));
            }
            b'\r' if digits > 0 => {
                self.announce()?;
                return Ok(State::SizeLf);
            }
            b'\n' => return Err(Refusal::BareLf),
            _ => return Err(Refusal::BadChunkSize),
        };
        // At most 16 digits, leading zeros included: parsers that keep only
        // 16 of them would read another size than ours.
        if digits == 16 {
            return Err(Refusal::ChunkSizeOverflow);
        }
        self.size = self.size << 4 | u64::from(digit);
        Ok(State::Size { digits: digits + 1 })
    }

    /// A chunk size is complete: refuse it now if the body would outgrow
    /// the limit, before its data is read.
    fn announce(&self) -> Result<(), Refusal> {
        match self.decoded.checked_add(self.size) {
            Some(total) if total <= self.max_body => Ok(()),
            _ => Err(Refusal::BodyTooLarge),
        }
    }
}

fn ext_byte(ext: Ext, b: u8) -> Result<State, Refusal> {
    use Ext::*;
    let next = match (ext, b) {
        (_, b'\n') => return Err(Refusal::BareLf),
        (NameStart | Name, _) if is_tchar(b) => Name,
        (Name, b'=') => ValueStart,
        (ValueStart | Token, _) if is_tchar(b) => Token,
        (ValueStart, b'"') => Quoted,
        (Quoted, b'"') => QuotedEnd,
        (Quoted, b'\\') => QuotedPair,
        // qdtext, and what a quoted-pair may escape
        (Quoted, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff) => Quoted,
        (QuotedPair, b'\t' | b' '..=0x7e | 0x80..=0xff) => Quoted,
        (Name | Token | QuotedEnd, b';') => NameStart,
        (Name | Token | QuotedEnd, b'\r') => return Ok(State::SizeLf),
        _ => return Err(Refusal::BadChunkExtension),
    };
    Ok(State::Ext(next))
}
