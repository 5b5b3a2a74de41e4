//! The load bench's client: keep-alive HTTP/1.1 connections that POST a
//! body template, each request with its own id and, with `--sign`, its own
//! valid Nixflex signature (a fresh timestamp, HMAC-SHA256 over
//! `<t>.<body>`). Unique signed deliveries are what a gateway with dedup on
//! must be measured with: replaying one signed request would be answered
//! from the dedup cache.
//!
//! ```text
//! cargo bench --bench load -- --url http://127.0.0.1:8080/webhooks/nixflex \
//!     --body body.json [--sign SECRET] [--connections 32] [--duration 5] \
//!     [--warmup 1] [--rate REQUESTS_PER_SECOND]
//! ```
//!
//! The body template holds `{{ID}}` once; each request puts a 12-digit
//! counter there, so every body has the same size. Without `--rate` each
//! connection sends its next request as soon as the last is answered
//! (closed loop: the maximum). With `--rate` the connections share that
//! many requests per second, each on a fixed schedule, and a request's
//! latency counts from when it was due, not from when it went out, so a
//! stalled server cannot hide its queueing. Prints one line of `key=value`
//! pairs: requests, errors, non2xx, rps, p50_us, p99_us, p999_us, max_us,
//! and statuses (`200:1234,401:5`: the measured responses per status).
//!
//! `--hmac-only FILE SECRET` instead times the raw HMAC-SHA256 of the body
//! as the load client signs it (the floor a verifying proxy adds).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[path = "support/cli.rs"]
mod cli;

const PLACEHOLDER: &str = "{{ID}}";
/// Latencies kept per connection, at most (bounds memory on long runs).
const MAX_SAMPLES: usize = 2_000_000;

struct Args {
    host: String,
    path: String,
    body: String,
    secret: Option<String>,
    connections: usize,
    duration: Duration,
    warmup: Duration,
    rate: Option<f64>,
}

fn usage(problem: &str) -> ! {
    eprintln!("load: {problem}");
    eprintln!(
        "usage: load --url http://HOST:PORT/PATH --body FILE [--sign SECRET] \
         [--connections N] [--duration SECS] [--warmup SECS] [--rate RPS]"
    );
    std::process::exit(2);
}

fn parse_args() -> Args {
    cli::exit_when_run_as_a_test("load: a load client for scripts/bench.sh; nothing to test");
    let mut url = None;
    let mut body_file = None;
    let mut secret = None;
    let mut connections = 32;
    let mut duration = 5.0;
    let mut warmup = 1.0;
    let mut rate = None;
    let mut flags = cli::Flags::new(usage);
    while let Some(flag) = flags.next_flag() {
        match flag.as_str() {
            "--url" => url = Some(flags.value(&flag)),
            "--body" => body_file = Some(flags.value(&flag)),
            "--sign" => secret = Some(flags.value(&flag)),
            "--connections" => connections = flags.number(&flag) as usize,
            "--duration" => duration = flags.number(&flag),
            "--warmup" => warmup = flags.number(&flag),
            "--rate" => rate = Some(flags.number(&flag)),
            other => flags.unknown(other),
        }
    }
    let url = url.unwrap_or_else(|| usage("--url is required"));
    let (host, path) = cli::host_and_path(&url, usage);
    let body_file = body_file.unwrap_or_else(|| usage("--body is required"));
    let body =
        std::fs::read_to_string(&body_file).unwrap_or_else(|e| usage(&format!("{body_file}: {e}")));
    if body.matches(PLACEHOLDER).count() != 1 {
        usage(&format!("the body must hold {PLACEHOLDER} exactly once"));
    }
    if connections == 0 || duration <= 0.0 || rate.is_some_and(|r| r <= 0.0) {
        usage("connections, duration and rate must be positive");
    }
    Args {
        host,
        path,
        body,
        secret,
        connections,
        duration: Duration::from_secs_f64(duration),
        warmup: Duration::from_secs_f64(warmup.max(0.0)),
        rate,
    }
}

/// What every connection shares.
struct Shared {
    args: Args,
    prefix: String,
    suffix: String,
    next_id: AtomicU64,
    errors: AtomicU64,
    non2xx: AtomicU64,
    /// Measured responses per status code (100..=599).
    statuses: Vec<AtomicU64>,
}

impl Shared {
    /// One request's bytes: a fresh id, and a fresh signature when signing.
    /// `signer` keeps the MAC state after `<t>.<text before the id>` for the
    /// current second, so a request hashes only its id and what follows it:
    /// with the placeholder near the end of the body, the client's own cost
    /// stays small beside the server's.
    fn request(&self, out: &mut Vec<u8>, signer: &mut Option<(u64, Hmac<Sha256>)>) {
        let id = self.next_id.fetch_add(1, Relaxed);
        let id = format!("{:012}", id % 1_000_000_000_000);
        let body_len = self.prefix.len() + id.len() + self.suffix.len();
        out.clear();
        out.extend_from_slice(
            format!(
                "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
                 Content-Length: {body_len}\r\nwebhook_delivery_id: dlv-{id}\r\n",
                self.args.path, self.args.host
            )
            .as_bytes(),
        );
        if let Some(secret) = &self.args.secret {
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let mut mac = match signer {
                Some((at, mac)) if *at == t => mac.clone(),
                _ => {
                    let mut mac =
                        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
                    mac.update(format!("{t}.").as_bytes());
                    mac.update(self.prefix.as_bytes());
                    *signer = Some((t, mac.clone()));
                    mac
                }
            };
            mac.update(id.as_bytes());
            mac.update(self.suffix.as_bytes());
            let sig = hex::encode(mac.finalize().into_bytes());
            out.extend_from_slice(format!("X-Nixflex-Signature: t={t},v1={sig}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.prefix.as_bytes());
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(self.suffix.as_bytes());
    }
}

/// Appends what the connection has to `buf`; an error if it closed.
async fn read_more(conn: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut chunk = [0u8; 16 * 1024];
    match conn.read(&mut chunk).await? {
        0 => Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed mid-response",
        )),
        n => {
            buf.extend_from_slice(&chunk[..n]);
            Ok(())
        }
    }
}

/// Reads one response: its status, and whether the server closes the
/// connection after it. Handles Content-Length, chunked and read-to-close
/// bodies; `buf` keeps whatever follows it.
async fn read_response(conn: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<(u16, bool)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        read_more(conn, buf).await?;
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| bad("header not UTF-8"))?;
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status"))?;
    let mut length = None;
    let mut chunked = false;
    let mut close = false;
    for line in head.lines().skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.to_ascii_lowercase().contains("close");
        }
    }
    buf.drain(..head_end);
    if chunked {
        loop {
            let line_end = loop {
                if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
                    break i;
                }
                read_more(conn, buf).await?;
            };
            let size_text = std::str::from_utf8(&buf[..line_end]).map_err(|_| bad("chunk size"))?;
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| bad("chunk size"))?;
            let need = line_end + 2 + size + 2;
            while buf.len() < need {
                read_more(conn, buf).await?;
            }
            buf.drain(..need);
            if size == 0 {
                return Ok((status, close));
            }
        }
    }
    let Some(length) = length else {
        // Neither a length nor chunked: the body runs to the end of the
        // connection (none for 1xx, 204 and 304).
        if matches!(status, 100..=199 | 204 | 304) {
            return Ok((status, close));
        }
        let mut chunk = [0u8; 16 * 1024];
        while conn.read(&mut chunk).await? > 0 {}
        buf.clear();
        return Ok((status, true));
    };
    while buf.len() < length {
        read_more(conn, buf).await?;
    }
    buf.drain(..length);
    Ok((status, close))
}

async fn connect(host: &str) -> Option<TcpStream> {
    let conn = TcpStream::connect(host).await.ok()?;
    let _ = conn.set_nodelay(true);
    Some(conn)
}

/// One connection's share of the run; its latencies in microseconds.
async fn drive(shared: Arc<Shared>, index: usize, start: Instant, end: Instant) -> Vec<u32> {
    let warm_until = start + shared.args.warmup;
    let interval = shared
        .args
        .rate
        .map(|r| Duration::from_secs_f64(shared.args.connections as f64 / r));
    // Connections start spread over one interval, not all at once.
    let mut due = start
        + interval.map_or(Duration::ZERO, |i| {
            i * index as u32 / shared.args.connections as u32
        });
    let mut samples = Vec::new();
    let mut out = Vec::with_capacity(shared.prefix.len() + shared.suffix.len() + 512);
    let mut signer = None;
    let mut buf = Vec::with_capacity(4096);
    let mut conn = None;
    while Instant::now() < end {
        let sent = match interval {
            None => Instant::now(),
            Some(_) if due >= end => break,
            // Behind schedule because the server was slow: the request has
            // been waiting since it was due.
            Some(_) if Instant::now() >= due => due,
            // Ahead: wait for it, and count from the actual wake-up (the
            // timer's own lateness is the client's, not the server's).
            Some(_) => {
                tokio::time::sleep_until(due.into()).await;
                Instant::now()
            }
        };
        if conn.is_none() {
            conn = connect(&shared.args.host).await;
            buf.clear();
        }
        let Some(c) = conn.as_mut() else {
            shared.errors.fetch_add(1, Relaxed);
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        shared.request(&mut out, &mut signer);
        let answer = match c.write_all(&out).await {
            Ok(()) => read_response(c, &mut buf).await,
            Err(e) => Err(e),
        };
        let done = Instant::now();
        match answer {
            Ok((status, close)) => {
                if close {
                    conn = None;
                }
                if done >= warm_until && done <= end {
                    if !(200..300).contains(&status) {
                        shared.non2xx.fetch_add(1, Relaxed);
                    }
                    if let Some(n) = shared.statuses.get(usize::from(status)) {
                        n.fetch_add(1, Relaxed);
                    }
                    if samples.len() < MAX_SAMPLES {
                        samples.push((done - sent).as_micros().min(u32::MAX as u128) as u32);
                    }
                }
            }
            Err(_) => {
                if done >= warm_until {
                    shared.errors.fetch_add(1, Relaxed);
                }
                conn = None;
            }
        }
        if let Some(interval) = interval {
            due += interval;
        }
    }
    samples
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `--hmac-only FILE SECRET`: the floor a verifying proxy cannot go
/// below, measured in the same run: HMAC-SHA256 over `<t>.<body>` of the
/// whole body, from a fresh key each time, for about a second. Prints
/// `hmac_us=`.
fn hmac_only(body_file: &str, secret: &str) {
    let body = std::fs::read(body_file).unwrap_or_else(|e| usage(&format!("{body_file}: {e}")));
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let started = Instant::now();
    let mut rounds = 0u64;
    let mut sink = 0u8;
    while started.elapsed() < Duration::from_secs(1) {
        for _ in 0..100 {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
            mac.update(t.as_bytes());
            mac.update(b".");
            mac.update(&body);
            sink ^= mac.finalize().into_bytes()[0];
        }
        rounds += 100;
    }
    let us = started.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    println!("hmac_us={us:.2} rounds={rounds} sink={sink}");
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    if let Some(i) = argv.iter().position(|a| a == "--hmac-only") {
        match (argv.get(i + 1), argv.get(i + 2)) {
            (Some(body), Some(secret)) => return hmac_only(body, secret),
            _ => usage("--hmac-only needs a body file and a secret"),
        }
    }
    let args = parse_args();
    let (prefix, suffix) = args
        .body
        .split_once(PLACEHOLDER)
        .map(|(p, s)| (p.to_owned(), s.to_owned()))
        .expect("checked: the placeholder is there");
    let shared = Arc::new(Shared {
        args,
        prefix,
        suffix,
        next_id: AtomicU64::new(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64 % 1_000_000_000_000),
        ),
        errors: AtomicU64::new(0),
        non2xx: AtomicU64::new(0),
        statuses: (0..600).map(|_| AtomicU64::new(0)).collect(),
    });
    // One thread: the client should take as little of the machine as it can.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let samples = runtime.block_on(async {
        let start = Instant::now();
        let end = start + shared.args.warmup + shared.args.duration;
        let tasks: Vec<_> = (0..shared.args.connections)
            .map(|i| tokio::spawn(drive(shared.clone(), i, start, end)))
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("a connection task"));
        }
        all
    });
    let mut sorted = samples;
    sorted.sort_unstable();
    let seconds = shared.args.duration.as_secs_f64();
    let statuses: Vec<String> = shared
        .statuses
        .iter()
        .enumerate()
        .filter_map(|(code, n)| Some((code, n.load(Relaxed))).filter(|&(_, n)| n > 0))
        .map(|(code, n)| format!("{code}:{n}"))
        .collect();
    println!(
        "requests={} errors={} non2xx={} rps={:.0} p50_us={} p99_us={} p999_us={} max_us={} \
         statuses={}",
        sorted.len(),
        shared.errors.load(Relaxed),
        shared.non2xx.load(Relaxed),
        sorted.len() as f64 / seconds,
        percentile(&sorted, 50.0),
        percentile(&sorted, 99.0),
        percentile(&sorted, 99.9),
        sorted.last().copied().unwrap_or(0),
        statuses.join(","),
    );
}
