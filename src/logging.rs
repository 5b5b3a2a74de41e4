//! Log output: text or JSON lines on stderr. `RUST_LOG` overrides the
//! configured level.
//!
//! - Request lines are formatted straight into a shared buffer (no
//!   allocation, no `tracing` event) and written at most every 200 ms or at
//!   32 KiB: one `write` per request cost ~10 µs of CPU in the load bench.
//! - Warnings and errors are written at once; [`flush`] runs before exit.
//! - The same warning or error from one place in the code is written at most
//!   [`REPEATS_PER_WINDOW`] times per [`REPEAT_WINDOW`]; then one line says
//!   how many were left out. A failure that repeats in a tight loop can then
//!   never flood the log.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use tracing::{Event, Level, Metadata, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogSettings;

const FLUSH_EVERY: Duration = Duration::from_millis(200);
const FLUSH_AT: usize = 32 * 1024;
pub const REPEAT_WINDOW: Duration = Duration::from_secs(10);
pub const REPEATS_PER_WINDOW: u32 = 5;

static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static FLUSHER: OnceLock<()> = OnceLock::new();
static JSON: AtomicBool = AtomicBool::new(false);
/// Whether request lines are written: 0 unknown, 1 yes, 2 no.
static REQUESTS: AtomicU8 = AtomicU8::new(0);

/// Writes whatever is buffered to stderr.
pub fn flush() {
    let pending = std::mem::take(&mut *BUFFER.lock().unwrap_or_else(|e| e.into_inner()));
    if !pending.is_empty() {
        let _ = std::io::stderr().write_all(&pending);
    }
}

fn append(data: &[u8]) {
    let full = {
        let mut buf = BUFFER.lock().unwrap_or_else(|e| e.into_inner());
        buf.extend_from_slice(data);
        buf.len() >= FLUSH_AT
    };
    if full {
        flush();
    }
}

/// A log line's destination: the shared buffer, flushed on drop when the
/// line is urgent.
pub struct LineWriter {
    urgent: bool,
}

impl Write for LineWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        append(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        if self.urgent {
            flush();
        }
    }
}

struct Buffered;

impl<'a> MakeWriter<'a> for Buffered {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter { urgent: true }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LineWriter {
        LineWriter {
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disposition {
    Forwarded,
    Duplicate,
    Rejected,
}

impl Disposition {
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Forwarded => "forwarded",
            Disposition::Duplicate => "duplicate",
            Disposition::Rejected => "rejected",
        }
    }
}

/// One request's log line. Never a secret, a signature or a body.
pub struct RequestLine<'a> {
    pub route: &'a str,
    pub provider: &'a str,
    pub disposition: Disposition,
    pub reason: &'a str,
    pub status: u16,
    pub delivery_id: &'a str,
    pub latency: Duration,
}

fn requests_enabled() -> bool {
    match REQUESTS.load(Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let on = tracing::enabled!(target: "hookgate::request", Level::INFO);
            REQUESTS.store(if on { 1 } else { 2 }, Relaxed);
            on
        }
    }
}

/// Writes a request's line (when `hookgate::request` is enabled at `info`).
pub fn request(line: &RequestLine<'_>) {
    if !requests_enabled() {
        return;
    }
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|out| {
        out.clear();
        format_request(out, line, SystemTime::now(), JSON.load(Relaxed));
        append(out);
    });
}

fn format_request(out: &mut Vec<u8>, line: &RequestLine<'_>, now: SystemTime, json: bool) {
    let mut num = itoa::Buffer::new();
    let latency = line.latency.as_micros() as u64;
    if json {
        out.extend_from_slice(b"{\"timestamp\":\"");
        timestamp(out, now);
        out.extend_from_slice(b"\",\"level\":\"INFO\",\"target\":\"hookgate::request\"");
        for (k, v) in [
            ("route", line.route),
            ("provider", line.provider),
            ("outcome", line.disposition.as_str()),
            ("reason", line.reason),
        ] {
            json_field(out, k, v);
        }
        out.extend_from_slice(b",\"status\":");
        out.extend_from_slice(num.format(line.status).as_bytes());
        json_field(out, "delivery_id", line.delivery_id);
        out.extend_from_slice(b",\"latency_us\":");
        out.extend_from_slice(num.format(latency).as_bytes());
        out.extend_from_slice(b"}\n");
    } else {
        timestamp(out, now);
        out.extend_from_slice(b"  INFO hookgate::request:");
        for (k, v) in [
            ("route", line.route),
            ("provider", line.provider),
            ("outcome", line.disposition.as_str()),
            ("reason", line.reason),
        ] {
            text_field(out, k, v);
        }
        out.extend_from_slice(b" status=");
        out.extend_from_slice(num.format(line.status).as_bytes());
        text_field(out, "delivery_id", line.delivery_id);
        out.extend_from_slice(b" latency_us=");
        out.extend_from_slice(num.format(latency).as_bytes());
        out.push(b'\n');
    }
}

/// `name="value"`, the value's quotes and backslashes escaped.
fn text_field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.push(b' ');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"=\"");
    escaped(out, value);
    out.push(b'"');
}

fn json_field(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":\"");
    escaped(out, value);
    out.push(b'"');
}

/// JSON string escaping (also right for the text format's quoted values).
fn escaped(out: &mut Vec<u8>, value: &str) {
    for b in value.bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(b"0123456789abcdef"[usize::from(b >> 4)]);
                out.push(b"0123456789abcdef"[usize::from(b & 15)]);
            }
            _ => out.push(b),
        }
    }
}

/// RFC 3339 UTC with microseconds, as the other log lines carry.
fn timestamp(out: &mut Vec<u8>, now: SystemTime) {
    let t = time::OffsetDateTime::from(now);
    let two = |out: &mut Vec<u8>, n: u8| {
        out.push(b'0' + n / 10);
        out.push(b'0' + n % 10);
    };
    let mut num = itoa::Buffer::new();
    out.extend_from_slice(num.format(t.year()).as_bytes());
    out.push(b'-');
    two(out, u8::from(t.month()));
    out.push(b'-');
    two(out, t.day());
    out.push(b'T');
    two(out, t.hour());
    out.push(b':');
    two(out, t.minute());
    out.push(b':');
    two(out, t.second());
    out.push(b'.');
    let micros = t.microsecond();
    let digits = num.format(micros);
    for _ in digits.len()..6 {
        out.push(b'0');
    }
    out.extend_from_slice(digits.as_bytes());
    out.push(b'Z');
}

/// Lets the same warning or error through at most `REPEATS_PER_WINDOW`
/// times per window per place in the code, and says how many it held back.
#[derive(Default)]
struct Repeats {
    places: Mutex<HashMap<u64, Window>>,
}

struct Window {
    started: Instant,
    seen: u32,
    held_back: u64,
}

impl Repeats {
    /// Whether an event from `place` is written now; the count of events
    /// held back in the window that just ended, if any.
    fn admit(&self, place: u64, now: Instant) -> (bool, u64) {
        let mut places = self.places.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: places are lines of code, but a runaway map is cleared.
        if places.len() > 10_000 {
            places.clear();
        }
        let w = places.entry(place).or_insert(Window {
            started: now,
            seen: 0,
            held_back: 0,
        });
        let mut ended = 0;
        if now.duration_since(w.started) >= REPEAT_WINDOW {
            ended = std::mem::take(&mut w.held_back);
            w.started = now;
            w.seen = 0;
        }
        w.seen += 1;
        if w.seen > REPEATS_PER_WINDOW {
            w.held_back += 1;
            (false, ended)
        } else {
            (true, ended)
        }
    }
}

impl<S: Subscriber> Layer<S> for Repeats {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        if *meta.level() > Level::WARN {
            return true;
        }
        // The place in the code: a `log` record's (pingora's) normalized
        // metadata names its own module and line.
        let place = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            meta.target().hash(&mut h);
            meta.file().hash(&mut h);
            meta.line().hash(&mut h);
            h.finish()
        };
        let (write, held_back) = self.admit(place, Instant::now());
        if held_back > 0 {
            let mut line = Vec::with_capacity(128);
            timestamp(&mut line, SystemTime::now());
            line.extend_from_slice(b"  WARN hookgate::logging: ");
            line.extend_from_slice(itoa::Buffer::new().format(held_back).as_bytes());
            line.extend_from_slice(
                b" more lines like the next one were left out in the last 10 s (",
            );
            line.extend_from_slice(meta.target().as_bytes());
            line.extend_from_slice(b")\n");
            append(&line);
        }
        write
    }
}

pub fn init(settings: &LogSettings) {
    // pingora's connector logs its pool's internals; hookgate keeps its own
    // pool, and every failed upstream exchange is in its request log.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{},pingora=warn,pingora_core=warn,pingora_core::connectors=off",
            settings.level
        ))
    });
    JSON.store(settings.json, Relaxed);
    REQUESTS.store(0, Relaxed);
    FLUSHER.get_or_init(|| {
        std::thread::Builder::new()
            .name("log-flush".into())
            .spawn(|| loop {
                std::thread::sleep(FLUSH_EVERY);
                flush();
            })
            .map(|_| ())
            .unwrap_or(())
    });
    let ansi = std::io::stderr().is_terminal();
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(Repeats::default());
    // Repeated initialisation (tests) keeps the first subscriber.
    let _ = if settings.json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(Buffered),
            )
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(ansi)
                    .with_target(true)
                    .with_writer(Buffered),
            )
            .try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> RequestLine<'static> {
        RequestLine {
            route: "nixflex",
            provider: "nixflex",
            disposition: Disposition::Rejected,
            reason: "invalid_signature",
            status: 401,
            delivery_id: "call.ended:\"x\"",
            latency: Duration::from_micros(1234),
        }
    }

    #[test]
    fn request_lines_in_both_formats() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_micros(1_779_000_000_000_042);
        let mut out = Vec::new();
        format_request(&mut out, &line(), now, false);
        let text = String::from_utf8(out.clone()).unwrap();
        assert_eq!(
            text,
            "2026-05-17T06:40:00.000042Z  INFO hookgate::request: route=\"nixflex\" provider=\"nixflex\" \
             outcome=\"rejected\" reason=\"invalid_signature\" status=401 delivery_id=\"call.ended:\\\"x\\\"\" latency_us=1234\n"
        );
        out.clear();
        format_request(&mut out, &line(), now, true);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["outcome"], "rejected");
        assert_eq!(v["status"], 401);
        assert_eq!(v["delivery_id"], "call.ended:\"x\"");
        assert_eq!(v["timestamp"], "2026-05-17T06:40:00.000042Z");
    }

    #[test]
    fn repeats_are_held_back_and_counted() {
        let r = Repeats::default();
        let t0 = Instant::now();
        let place = 7;
        let written = (0..100).filter(|_| r.admit(place, t0).0).count();
        assert_eq!(written, REPEATS_PER_WINDOW as usize);
        // Another place is not held back.
        assert!(r.admit(8, t0).0);
        // The next window writes again and reports what was held back.
        let (write, held) = r.admit(place, t0 + REPEAT_WINDOW);
        assert!(write);
        assert_eq!(held, 100 - u64::from(REPEATS_PER_WINDOW));
    }
}
