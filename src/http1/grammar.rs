//! The strict head grammar as a byte-at-a-time scan.
//!
//! The fast path asks `httparse` and checks the few things it is lenient
//! about; this scan is what names a refusal. It reports the first offending
//! byte, deciding from that byte alone (or, after a CR, the next one) exactly
//! where `httparse` decides, so the refusal is the same however the head was
//! split across reads. The trailer section of a chunked body uses the field
//! part of it directly.

use super::{is_ctl, is_tchar, Refusal};

/// Outcome of scanning a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scan {
    /// Valid so far; more bytes are needed.
    Incomplete,
    /// A valid head of this many bytes.
    Complete(usize),
    Refused(Refusal),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StartLine {
    Request,
    Response,
}

/// What one byte of a field section did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    More,
    /// A field line ended.
    LineDone,
    /// The empty line ending the section ended.
    SectionDone,
    Refused(Refusal),
}

/// Position inside a field section (header or trailer fields).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FieldState {
    LineStart,
    /// CR at the start of a line: the section ends if LF follows.
    EndCr,
    Name,
    /// After the colon, skipping OWS.
    Ows,
    Value,
    /// CR after a value: the line ends if LF follows.
    LineCr,
}

impl FieldState {
    pub(super) fn step(&mut self, b: u8) -> Step {
        use FieldState::*;
        let refuse = |r| Step::Refused(r);
        match *self {
            LineStart => match b {
                b'\r' => *self = EndCr,
                b'\n' => return refuse(Refusal::BareLf),
                b' ' | b'\t' => return refuse(Refusal::ObsFold),
                _ if is_tchar(b) => *self = Name,
                _ if is_ctl(b) => return refuse(Refusal::ControlByte),
                _ => return refuse(Refusal::InvalidHeaderName),
            },
            EndCr => {
                return match b {
                    b'\n' => Step::SectionDone,
                    _ => refuse(Refusal::BareCr),
                }
            }
            Name => match b {
                b':' => *self = Ows,
                b' ' | b'\t' => return refuse(Refusal::SpaceBeforeColon),
                b'\n' => return refuse(Refusal::BareLf),
                // The line ended before any colon.
                b'\r' => return refuse(Refusal::InvalidHeaderName),
                _ if is_tchar(b) => {}
                _ if is_ctl(b) => return refuse(Refusal::ControlByte),
                _ => return refuse(Refusal::InvalidHeaderName),
            },
            Ows | Value => match b {
                b' ' | b'\t' => {}
                b'\r' => *self = LineCr,
                b'\n' => return refuse(Refusal::BareLf),
                _ if is_ctl(b) => return refuse(Refusal::ControlByte),
                _ => *self = Value,
            },
            LineCr => {
                return match b {
                    b'\n' => {
                        *self = LineStart;
                        Step::LineDone
                    }
                    _ => refuse(Refusal::BareCr),
                }
            }
        }
        Step::More
    }
}

/// Position inside a request or status line.
#[derive(Debug, Clone, Copy)]
enum LineState {
    Method {
        len: usize,
    },
    /// CR as the very first byte: an empty line before the start line.
    LeadingCr,
    TargetFirst,
    Target,
    /// Inside `HTTP/1.x`, `at` bytes matched.
    Version {
        at: usize,
    },
    /// After the version of a request line.
    VersionEnd,
    /// After the version of a status line.
    StatusSpace,
    Code {
        digits: usize,
    },
    AfterCode,
    Reason,
    /// CR ending the start line.
    Cr,
}

const VERSION_PREFIX: &[u8] = b"HTTP/1.";

/// Scans `buf` (already cut to the head size limit) against the strict
/// grammar: the start line, then at most `max_headers` field lines, then
/// the empty line. Says nothing about field semantics (framing, Host).
pub(super) fn scan_head(buf: &[u8], start: StartLine, max_headers: usize) -> Scan {
    let mut line = match start {
        StartLine::Request => LineState::Method { len: 0 },
        StartLine::Response => LineState::Version { at: 0 },
    };
    let mut i = 0;
    loop {
        let Some(&b) = buf.get(i) else {
            return Scan::Incomplete;
        };
        i += 1;
        match step_line(&mut line, b, start) {
            Ok(false) => {}
            Ok(true) => break,
            Err(r) => return Scan::Refused(r),
        }
    }
    let mut fields = FieldState::LineStart;
    let mut count = 0;
    for (at, &b) in buf.iter().enumerate().skip(i) {
        match fields.step(b) {
            Step::More => {}
            Step::LineDone => {
                count += 1;
                if count > max_headers {
                    return Scan::Refused(Refusal::TooManyHeaders);
                }
            }
            Step::SectionDone => return Scan::Complete(at + 1),
            Step::Refused(r) => return Scan::Refused(r),
        }
    }
    Scan::Incomplete
}

/// Advances the start-line scan by one byte; `Ok(true)` when the line ended.
fn step_line(state: &mut LineState, b: u8, start: StartLine) -> Result<bool, Refusal> {
    use LineState::*;
    let bad_line = match start {
        StartLine::Request => Refusal::BadRequestLine,
        StartLine::Response => Refusal::BadStatusLine,
    };
    match *state {
        Method { len } => match b {
            _ if is_tchar(b) => *state = Method { len: len + 1 },
            b' ' if len > 0 => *state = TargetFirst,
            b'\r' if len == 0 => *state = LeadingCr,
            b'\n' => return Err(Refusal::BareLf),
            _ => return Err(Refusal::BadRequestLine),
        },
        LeadingCr => {
            return Err(match b {
                b'\n' => bad_line,
                _ => Refusal::BareCr,
            })
        }
        TargetFirst => match b {
            b'/' => *state = Target,
            b'\n' => return Err(Refusal::BareLf),
            b' ' | b'\r' => return Err(Refusal::BadRequestLine),
            0x21..=0x7e => return Err(Refusal::TargetNotOriginForm),
            _ => return Err(Refusal::TargetByte),
        },
        Target => match b {
            b'#' => return Err(Refusal::TargetFragment),
            0x21..=0x7e => {}
            b' ' => *state = Version { at: 0 },
            b'\n' => return Err(Refusal::BareLf),
            b'\r' => return Err(Refusal::BadRequestLine),
            _ => return Err(Refusal::TargetByte),
        },
        Version { at } => {
            let expected = if at < VERSION_PREFIX.len() {
                b == VERSION_PREFIX[at]
            } else {
                b == b'0' || b == b'1'
            };
            if expected {
                *state = if at < VERSION_PREFIX.len() {
                    Version { at: at + 1 }
                } else if start == StartLine::Request {
                    VersionEnd
                } else {
                    StatusSpace
                };
            } else if b == b'\n' {
                return Err(Refusal::BareLf);
            } else if at == 0 && b == b'\r' && start == StartLine::Response {
                *state = LeadingCr;
            } else {
                return Err(Refusal::UnsupportedVersion);
            }
        }
        VersionEnd => match b {
            b'\r' => *state = Cr,
            b'\n' => return Err(Refusal::BareLf),
            _ if is_tchar(b) => return Err(Refusal::UnsupportedVersion),
            _ => return Err(Refusal::BadRequestLine),
        },
        StatusSpace => match b {
            b' ' => *state = Code { digits: 0 },
            b'\n' => return Err(Refusal::BareLf),
            _ if is_tchar(b) => return Err(Refusal::UnsupportedVersion),
            _ => return Err(Refusal::BadStatusLine),
        },
        Code { digits } => match b {
            b'0'..=b'9' if digits < 2 => *state = Code { digits: digits + 1 },
            b'0'..=b'9' => *state = AfterCode,
            b'\n' => return Err(Refusal::BareLf),
            _ => return Err(Refusal::BadStatusLine),
        },
        AfterCode => match b {
            b' ' => *state = Reason,
            b'\r' => *state = Cr,
            b'\n' => return Err(Refusal::BareLf),
            _ => return Err(Refusal::BadStatusLine),
        },
        Reason => match b {
            b'\r' => *state = Cr,
            b'\n' => return Err(Refusal::BareLf),
            b'\t' => {}
            _ if is_ctl(b) => return Err(Refusal::BadStatusLine),
            _ => {}
        },
        Cr => {
            return match b {
                b'\n' => Ok(true),
                _ => Err(Refusal::BareCr),
            }
        }
    }
    Ok(false)
}
