//! Log output: text or JSON lines on stderr. `RUST_LOG` overrides the
//! configured level.
//!
//! Request lines are buffered and written at most every 200 ms (or at
//! 32 KiB): one `write` per request cost ~10 µs of CPU in the load bench.
//! Warnings and errors are written at once, and [`flush`] runs before exit.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::config::LogSettings;

const FLUSH_EVERY: Duration = Duration::from_millis(200);
const FLUSH_AT: usize = 32 * 1024;

static BUFFER: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static FLUSHER: OnceLock<()> = OnceLock::new();

/// Writes whatever is buffered to stderr.
pub fn flush() {
    let pending = std::mem::take(&mut *BUFFER.lock().unwrap_or_else(|e| e.into_inner()));
    if !pending.is_empty() {
        let _ = std::io::stderr().write_all(&pending);
    }
}

/// A log line's destination: the shared buffer, flushed on drop when the
/// line is urgent or the buffer is full.
pub struct LineWriter {
    urgent: bool,
}

impl Write for LineWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let full = {
            let mut buf = BUFFER.lock().unwrap_or_else(|e| e.into_inner());
            buf.extend_from_slice(data);
            buf.len() >= FLUSH_AT
        };
        if full {
            flush();
        }
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

pub fn init(settings: &LogSettings) {
    // pingora's connector logs its pool's internals: an ERROR each time a
    // pooled connection cannot be taken (a race in its pool; a fresh
    // connection is used) and a warning for data on an idle one (dropped).
    // Neither is a failed request, and every failed upstream exchange is in
    // hookgate's own request log and metrics, so those lines are off: an
    // operator alerting on ERROR must not be paged for them.
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new(format!(
            "{},pingora=warn,pingora_core=warn,pingora_core::connectors=off",
            settings.level
        ))
    });
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Buffered)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true);
    // Repeated initialisation (tests) keeps the first subscriber.
    let _ = if settings.json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
