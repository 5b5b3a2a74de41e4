//! The flood bench's client (scripts/flood.sh): a slowloris and slow-body
//! attack on the webhook listener, while valid signed deliveries and admin
//! health checks keep being sent and measured.
//!
//! ```text
//! cargo bench --bench flood -- --url http://127.0.0.1:8080/webhooks/nixflex \
//!     --admin 127.0.0.1:9090 --secret SECRET [--idle 15000] [--slow-bodies 500] \
//!     [--body-bytes 1048576] [--duration 55]
//! ```
//!
//! In order, on one thread:
//! - `--idle N` connections are opened (at most `--connect-concurrency` at
//!   once): every other one sends nothing, the rest send the first bytes of
//!   a request head; then all stall;
//! - once every idle connect has ended, and `--slow-after-ms` (1500) later,
//!   `--slow-bodies M` requests with a well-formed but fake signature
//!   (`t=<now>,v1=<64 hex>`) declare `Content-Length: B` and send B-1
//!   bytes, then stall. The pause outlasts the gateway's eviction grace
//!   (1 s): without it, a full listener whose connections are all younger
//!   than the grace refuses every body at accept, and the body budget is
//!   never pressed on. After it, the bodies are the newest waiters: the
//!   connection cap evicts idle connections to let them in, and the body
//!   budget is what they meet.
//!
//! Nothing is reopened: a connection the gateway closes stays closed.
//! Meanwhile, on a second thread (so the attack's own work does not delay
//! them), from the start: one valid Nixflex delivery (fresh timestamp,
//! HMAC-SHA256 over `<t>.<body>`, a unique `call_id`) every
//! `--valid-every-ms` (50) on a fresh connection, and `GET /healthz` on the
//! admin listener every `--healthz-every-ms` (200), also on fresh
//! connections. Latency counts from the connect to the whole answer.
//!
//! At `--duration` seconds the attack's figures are taken; the probes still
//! in flight are given their timeout (10 s) to finish, the attack still
//! held; then one line of `key=value` pairs is printed and the process
//! exits, closing everything. Progress goes to stderr every 5 s.
//! Loopback only: it refuses any other address.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

#[path = "support/cli.rs"]
mod cli;

/// How long one valid request may take, connect to last byte.
const VALID_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one health check may take.
const HEALTHZ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an attack connection may take to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// `valid_steady_p99_ms` counts requests sent this long after the attack's
/// last connection was opened: past the connect burst and the gateway's
/// eviction grace.
const STEADY_AFTER: Duration = Duration::from_secs(2);
/// What a partial-head idle connection sends before stalling.
const PARTIAL_HEAD: &[u8] = b"POST /webhooks/nixflex HTTP/1.1\r\nHost: ";

struct Args {
    target: SocketAddr,
    host: String,
    path: String,
    admin: SocketAddr,
    secret: String,
    idle: usize,
    slow_bodies: usize,
    body_bytes: usize,
    duration: Duration,
    valid_every: Duration,
    healthz_every: Duration,
    connect_concurrency: usize,
    slow_after: Duration,
}

fn usage(problem: &str) -> ! {
    eprintln!("flood: {problem}");
    eprintln!(
        "usage: flood --url http://127.0.0.1:PORT/PATH --admin 127.0.0.1:PORT --secret SECRET \
         [--idle N] [--slow-bodies M] [--body-bytes B] [--duration SECS] \
         [--valid-every-ms MS] [--healthz-every-ms MS] [--connect-concurrency N] \
         [--slow-after-ms MS]"
    );
    std::process::exit(2);
}

fn loopback(addr: &str) -> SocketAddr {
    let parsed: SocketAddr = addr
        .parse()
        .unwrap_or_else(|_| usage(&format!("{addr:?} is not an IP:PORT address")));
    if !parsed.ip().is_loopback() {
        usage(&format!("{addr}: loopback addresses only"));
    }
    parsed
}

fn parse_args() -> Args {
    cli::exit_when_run_as_a_test("flood: an attack client for scripts/flood.sh; nothing to test");
    let mut url = None;
    let mut admin = None;
    let mut secret = None;
    let mut idle = 15_000.0;
    let mut slow_bodies = 500.0;
    let mut body_bytes = 1_048_576.0;
    let mut duration = 55.0;
    let mut valid_every = 50.0;
    let mut healthz_every = 200.0;
    let mut connect_concurrency = 256.0;
    let mut slow_after = 1500.0;
    let mut flags = cli::Flags::new(usage);
    while let Some(flag) = flags.next_flag() {
        match flag.as_str() {
            "--url" => url = Some(flags.value(&flag)),
            "--admin" => admin = Some(flags.value(&flag)),
            "--secret" => secret = Some(flags.value(&flag)),
            "--idle" => idle = flags.number(&flag),
            "--slow-bodies" => slow_bodies = flags.number(&flag),
            "--body-bytes" => body_bytes = flags.number(&flag),
            "--duration" => duration = flags.number(&flag),
            "--valid-every-ms" => valid_every = flags.number(&flag),
            "--healthz-every-ms" => healthz_every = flags.number(&flag),
            "--connect-concurrency" => connect_concurrency = flags.number(&flag),
            "--slow-after-ms" => slow_after = flags.number(&flag),
            other => flags.unknown(other),
        }
    }
    let url = url.unwrap_or_else(|| usage("--url is required"));
    let (host, path) = cli::host_and_path(&url, usage);
    let admin = admin.unwrap_or_else(|| usage("--admin is required"));
    let admin = admin.strip_prefix("http://").unwrap_or(&admin);
    let admin = admin.trim_end_matches('/');
    if duration <= 0.0 || valid_every <= 0.0 || healthz_every <= 0.0 {
        usage("duration and intervals must be positive");
    }
    if body_bytes < 2.0 && slow_bodies > 0.0 {
        usage("--body-bytes must be at least 2 (B-1 bytes are sent)");
    }
    Args {
        target: loopback(&host),
        host,
        path,
        admin: loopback(admin),
        secret: secret.unwrap_or_else(|| usage("--secret is required")),
        idle: idle as usize,
        slow_bodies: slow_bodies as usize,
        body_bytes: body_bytes as usize,
        duration: Duration::from_secs_f64(duration),
        valid_every: Duration::from_secs_f64(valid_every / 1000.0),
        healthz_every: Duration::from_secs_f64(healthz_every / 1000.0),
        connect_concurrency: (connect_concurrency as usize).max(1),
        slow_after: Duration::from_secs_f64(slow_after / 1000.0),
    }
}

/// Raises the open-files soft limit to the hard limit; the limit in force.
fn raise_fd_limit() -> u64 {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return 0;
    };
    if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    }
}

/// Everything counted, by both threads.
#[derive(Default)]
struct Counters {
    idle_opened: AtomicU64,
    idle_failed: AtomicU64,
    idle_open: AtomicU64,
    idle_answered: AtomicU64,
    slow_opened: AtomicU64,
    slow_failed: AtomicU64,
    slow_open: AtomicU64,
    slow_fully_sent: AtomicU64,
    slow_answered_503: AtomicU64,
    slow_answered_other: AtomicU64,
    slow_closed_unanswered: AtomicU64,
    valid_sent: AtomicU64,
    valid_200: AtomicU64,
    valid_other: AtomicU64,
    valid_failed: AtomicU64,
    valid_failed_connect: AtomicU64,
    valid_failed_closed: AtomicU64,
    valid_failed_timeout: AtomicU64,
    healthz_sent: AtomicU64,
    healthz_ok: AtomicU64,
    healthz_failed: AtomicU64,
    /// The first non-200 statuses of valid requests, for the summary.
    valid_other_statuses: Mutex<Vec<u16>>,
    /// When (ms since the start) valid requests that were not answered 200
    /// were sent, and slow bodies were closed unanswered.
    valid_not_200_at_ms: Mutex<Vec<u64>>,
    slow_unanswered_at_ms: Mutex<Vec<u64>>,
    /// Answered valid requests: (sent at, ms since the start; latency, µs).
    valid_latency_us: Mutex<Vec<(u64, u64)>>,
    healthz_latency_us: Mutex<Vec<(u64, u64)>>,
    /// When the attack's connections were all opened, ms since the start.
    opened_at_ms: AtomicU64,
}

fn n(a: &AtomicU64) -> u64 {
    a.load(Relaxed)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

async fn connect(addr: SocketAddr) -> Option<TcpStream> {
    let conn = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let _ = conn.set_nodelay(true);
    Some(conn)
}

/// Reads one response's status, then the rest of it (by Content-Length, or
/// to the close). `None` if the connection closed before a status line.
async fn read_status(conn: &mut TcpStream) -> Option<u16> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    let mut have = buf.len() - head_end;
    loop {
        if length.is_some_and(|l| have >= l) {
            break;
        }
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(k) => have += k,
        }
    }
    Some(status)
}

/// One slowloris connection: connect, maybe a few head bytes, then wait for
/// the gateway to close it (or for the end).
async fn idle_conn(args: Arc<Args>, c: Arc<Counters>, partial: bool, gate: Arc<Semaphore>) {
    let permit = gate.acquire_owned().await;
    let Some(mut conn) = connect(args.target).await else {
        c.idle_failed.fetch_add(1, Relaxed);
        return;
    };
    if partial && conn.write_all(PARTIAL_HEAD).await.is_err() {
        c.idle_failed.fetch_add(1, Relaxed);
        return;
    }
    drop(permit);
    c.idle_opened.fetch_add(1, Relaxed);
    c.idle_open.fetch_add(1, Relaxed);
    let mut chunk = [0u8; 512];
    loop {
        match conn.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            // A partial head may be answered (408 at the head timeout).
            Ok(_) => {
                c.idle_answered.fetch_add(1, Relaxed);
            }
        }
    }
    c.idle_open.fetch_sub(1, Relaxed);
}

/// One slow body: a fake-signed head declaring `body_bytes`, then all but
/// the last byte, then a stall; reads whatever the gateway answers.
async fn slow_conn(
    args: Arc<Args>,
    c: Arc<Counters>,
    index: usize,
    filler: Arc<Vec<u8>>,
    gate: Arc<Semaphore>,
    start: Instant,
) {
    let permit = gate.acquire_owned().await;
    let Some(conn) = connect(args.target).await else {
        c.slow_failed.fetch_add(1, Relaxed);
        return;
    };
    drop(permit);
    c.slow_opened.fetch_add(1, Relaxed);
    c.slow_open.fetch_add(1, Relaxed);
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nX-Nixflex-Signature: t={},v1={:064x}\r\n\r\n",
        args.path,
        args.host,
        args.body_bytes,
        unix_now(),
        0x5107_b0d1_u64.wrapping_mul(index as u64 + 1),
    );
    let (mut reader, mut writer) = conn.into_split();
    let counters = c.clone();
    // The writer half is kept (not dropped) after the body: dropping it
    // would send a FIN, which the gateway reads as a client gone.
    let write = async move {
        if writer.write_all(head.as_bytes()).await.is_ok()
            && writer.write_all(&filler[..]).await.is_ok()
        {
            counters.slow_fully_sent.fetch_add(1, Relaxed);
        }
        std::future::pending::<()>().await;
        drop(writer);
    };
    let read = async move {
        let mut buf = Vec::with_capacity(256);
        let mut chunk = [0u8; 1024];
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(k) => buf.extend_from_slice(&chunk[..k]),
            }
            if buf.len() >= 12 {
                return std::str::from_utf8(&buf[9..12])
                    .ok()
                    .and_then(|s| s.parse::<u16>().ok());
            }
        }
    };
    let answer = tokio::select! {
        a = read => a,
        _ = write => None,
    };
    match answer {
        Some(503) => c.slow_answered_503.fetch_add(1, Relaxed),
        Some(_) => c.slow_answered_other.fetch_add(1, Relaxed),
        None => {
            let at = start.elapsed().as_millis() as u64;
            c.slow_unanswered_at_ms.lock().unwrap().push(at);
            c.slow_closed_unanswered.fetch_add(1, Relaxed)
        }
    };
    c.slow_open.fetch_sub(1, Relaxed);
}

/// Opens the idle connections, then the slow bodies; returns when every
/// connect has ended, and how long each phase took. The tasks stay alive
/// on the runtime.
async fn attack(
    args: Arc<Args>,
    c: Arc<Counters>,
    start: Instant,
    deadline: Instant,
) -> (f64, f64) {
    let gate = Arc::new(Semaphore::new(args.connect_concurrency));
    let idle: Vec<_> = (0..args.idle)
        .map(|i| tokio::spawn(idle_conn(args.clone(), c.clone(), i % 2 == 1, gate.clone())))
        .collect();
    // Every connect has ended once each task has counted itself opened or
    // failed.
    let all_connected =
        |c: &Counters, want: usize| (n(&c.idle_opened) + n(&c.idle_failed)) as usize >= want;
    while !all_connected(&c, args.idle) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(idle);
    let idle_secs = start.elapsed().as_secs_f64();
    if args.slow_bodies > 0 {
        tokio::time::sleep_until((Instant::now() + args.slow_after).min(deadline).into()).await;
    }
    let slow_start = Instant::now();
    let filler = Arc::new(vec![b'a'; args.body_bytes.saturating_sub(1)]);
    for i in 0..args.slow_bodies {
        tokio::spawn(slow_conn(
            args.clone(),
            c.clone(),
            i,
            filler.clone(),
            gate.clone(),
            start,
        ));
    }
    while (n(&c.slow_opened) + n(&c.slow_failed)) < args.slow_bodies as u64
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.opened_at_ms
        .store(start.elapsed().as_millis() as u64, Relaxed);
    (idle_secs, slow_start.elapsed().as_secs_f64())
}

struct Signer {
    secret: Vec<u8>,
    run: String,
    next: AtomicU64,
}

impl Signer {
    /// One valid delivery: a fresh call id, timestamp and signature.
    fn request(&self, args: &Args) -> Vec<u8> {
        let id = self.next.fetch_add(1, Relaxed);
        let body = format!(
            r#"{{"event":"call.ended","call_id":"CA{}{:08}","direction":"inbound","from_number":"+15550001111","to_number":"+15550002222","duration_seconds":1}}"#,
            self.run, id
        );
        let t = unix_now();
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(format!("{t}.").as_bytes());
        mac.update(body.as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        let mut out = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\nX-Nixflex-Signature: t={t},v1={sig}\r\n\r\n",
            args.path,
            args.host,
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body.as_bytes());
        out
    }
}

/// Why an exchange got no status.
enum Failed {
    /// The connect failed or timed out.
    Connect,
    /// Closed (or reset) before a status line.
    Closed,
}

/// Sends `request` on a fresh connection to `addr`; the status.
async fn exchange(addr: SocketAddr, request: Vec<u8>) -> Result<u16, Failed> {
    let mut conn = connect(addr).await.ok_or(Failed::Connect)?;
    conn.write_all(&request).await.map_err(|_| Failed::Closed)?;
    read_status(&mut conn).await.ok_or(Failed::Closed)
}

async fn valid_one(args: Arc<Args>, c: Arc<Counters>, signer: Arc<Signer>, start: Instant) {
    let request = signer.request(&args);
    let started = Instant::now();
    let at = (started - start).as_millis() as u64;
    let answer = tokio::time::timeout(VALID_TIMEOUT, exchange(args.target, request)).await;
    let us = started.elapsed().as_micros() as u64;
    if answer.as_ref().is_ok_and(|a| matches!(a, Ok(200))) {
        c.valid_200.fetch_add(1, Relaxed);
        c.valid_latency_us.lock().unwrap().push((at, us));
        return;
    }
    c.valid_not_200_at_ms.lock().unwrap().push(at);
    match answer {
        Ok(Ok(status)) => {
            c.valid_other.fetch_add(1, Relaxed);
            let mut seen = c.valid_other_statuses.lock().unwrap();
            if seen.len() < 20 {
                seen.push(status);
            }
        }
        Ok(Err(Failed::Connect)) => {
            c.valid_failed.fetch_add(1, Relaxed);
            c.valid_failed_connect.fetch_add(1, Relaxed);
        }
        Ok(Err(Failed::Closed)) => {
            c.valid_failed.fetch_add(1, Relaxed);
            c.valid_failed_closed.fetch_add(1, Relaxed);
        }
        Err(_) => {
            c.valid_failed.fetch_add(1, Relaxed);
            c.valid_failed_timeout.fetch_add(1, Relaxed);
        }
    }
}

async fn healthz_one(args: Arc<Args>, c: Arc<Counters>, start: Instant) {
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        args.admin
    )
    .into_bytes();
    let started = Instant::now();
    let at = (started - start).as_millis() as u64;
    let answer = tokio::time::timeout(HEALTHZ_TIMEOUT, exchange(args.admin, request)).await;
    let us = started.elapsed().as_micros() as u64;
    if let Ok(Ok(200)) = answer {
        c.healthz_ok.fetch_add(1, Relaxed);
        c.healthz_latency_us.lock().unwrap().push((at, us));
    } else {
        c.healthz_failed.fetch_add(1, Relaxed);
    }
}

/// The probes: valid deliveries and health checks on their schedules until
/// the deadline; then waits for those in flight (each bounded).
async fn probes(args: Arc<Args>, c: Arc<Counters>, start: Instant, deadline: Instant) {
    let signer = Arc::new(Signer {
        secret: args.secret.as_bytes().to_vec(),
        run: format!("{:x}{:x}", unix_now(), std::process::id()),
        next: AtomicU64::new(0),
    });
    let mut tasks = Vec::new();
    let mut valid = tokio::time::interval(args.valid_every);
    let mut healthz = tokio::time::interval(args.healthz_every);
    valid.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    healthz.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let end = tokio::time::sleep_until(deadline.into());
    tokio::pin!(end);
    loop {
        tokio::select! {
            _ = &mut end => break,
            _ = valid.tick() => {
                c.valid_sent.fetch_add(1, Relaxed);
                tasks.push(tokio::spawn(valid_one(
                    args.clone(),
                    c.clone(),
                    signer.clone(),
                    start,
                )));
            }
            _ = healthz.tick() => {
                c.healthz_sent.fetch_add(1, Relaxed);
                tasks.push(tokio::spawn(healthz_one(args.clone(), c.clone(), start)));
            }
        }
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// The `p`th percentile of the latencies of requests sent from `from_ms`.
fn percentile_ms(samples: &Mutex<Vec<(u64, u64)>>, from_ms: u64, p: f64) -> f64 {
    let mut sorted: Vec<u64> = samples
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, _)| *at >= from_ms)
        .map(|(_, us)| *us)
        .collect();
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.sort_unstable();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn main() {
    let args = Arc::new(parse_args());
    let fd_limit = raise_fd_limit();
    let needed = (args.idle + args.slow_bodies + 256) as u64;
    if fd_limit < needed {
        eprintln!(
            "flood: the open-files limit is {fd_limit}, {needed} are wanted: \
             connects past it will fail (counted in idle_failed/slow_failed)"
        );
    }
    let c = Arc::new(Counters::default());
    let start = Instant::now();
    let deadline = start + args.duration;
    let probes_done = Arc::new(AtomicBool::new(false));
    let prober = {
        let (args, c, done) = (args.clone(), c.clone(), probes_done.clone());
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime")
                .block_on(probes(args, c, start, deadline));
            done.store(true, Relaxed);
        })
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (at_end, idle_secs, slow_secs) = runtime.block_on(async {
        let progress = {
            let c = c.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(5));
                every.tick().await;
                loop {
                    every.tick().await;
                    eprintln!(
                        "flood: t={:.0}s idle_open={} slow_open={} slow_503={} valid_200={} \
                         valid_other={} valid_failed={} healthz_ok={} healthz_failed={}",
                        start.elapsed().as_secs_f64(),
                        n(&c.idle_open),
                        n(&c.slow_open),
                        n(&c.slow_answered_503),
                        n(&c.valid_200),
                        n(&c.valid_other),
                        n(&c.valid_failed),
                        n(&c.healthz_ok),
                        n(&c.healthz_failed),
                    );
                }
            })
        };
        let (idle_secs, slow_secs) = attack(args.clone(), c.clone(), start, deadline).await;
        tokio::time::sleep_until(deadline.into()).await;
        let at_end = (n(&c.idle_open), n(&c.slow_open));
        progress.abort();
        // The attack stays open while the last probes finish.
        while !probes_done.load(Relaxed) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (at_end, idle_secs, slow_secs)
    });
    let _ = prober.join();
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "-".to_owned()
        } else {
            v.join(",")
        }
    };
    let statuses = list(
        c.valid_other_statuses
            .lock()
            .unwrap()
            .iter()
            .map(u16::to_string)
            .collect(),
    );
    // The span of seconds (since the start) over which something happened.
    let window = |at: &Mutex<Vec<u64>>| {
        let at = at.lock().unwrap();
        match (at.iter().min(), at.iter().max()) {
            (Some(a), Some(b)) => format!("{:.1}-{:.1}", *a as f64 / 1000.0, *b as f64 / 1000.0),
            _ => "-".to_owned(),
        }
    };
    let opened_at = n(&c.opened_at_ms);
    let steady_from = opened_at + STEADY_AFTER.as_millis() as u64;
    let summary: Vec<(&str, String)> = vec![
        ("idle_opened", n(&c.idle_opened).to_string()),
        ("idle_failed", n(&c.idle_failed).to_string()),
        ("idle_still_open_at_end", at_end.0.to_string()),
        ("idle_answered", n(&c.idle_answered).to_string()),
        ("idle_open_secs", format!("{idle_secs:.1}")),
        ("slow_opened", n(&c.slow_opened).to_string()),
        ("slow_failed", n(&c.slow_failed).to_string()),
        ("slow_fully_sent", n(&c.slow_fully_sent).to_string()),
        ("slow_answered_503", n(&c.slow_answered_503).to_string()),
        ("slow_answered_other", n(&c.slow_answered_other).to_string()),
        (
            "slow_closed_unanswered",
            n(&c.slow_closed_unanswered).to_string(),
        ),
        ("slow_unanswered_window_s", window(&c.slow_unanswered_at_ms)),
        ("slow_still_open_at_end", at_end.1.to_string()),
        ("slow_open_secs", format!("{slow_secs:.1}")),
        (
            "attack_opened_at_s",
            format!("{:.1}", opened_at as f64 / 1000.0),
        ),
        ("valid_sent", n(&c.valid_sent).to_string()),
        ("valid_200", n(&c.valid_200).to_string()),
        ("valid_other", n(&c.valid_other).to_string()),
        ("valid_other_statuses", statuses),
        ("valid_failed", n(&c.valid_failed).to_string()),
        (
            "valid_failed_connect",
            n(&c.valid_failed_connect).to_string(),
        ),
        ("valid_failed_closed", n(&c.valid_failed_closed).to_string()),
        (
            "valid_failed_timeout",
            n(&c.valid_failed_timeout).to_string(),
        ),
        ("valid_not_200_window_s", window(&c.valid_not_200_at_ms)),
        (
            "valid_p50_ms",
            format!("{:.1}", percentile_ms(&c.valid_latency_us, 0, 50.0)),
        ),
        (
            "valid_p99_ms",
            format!("{:.1}", percentile_ms(&c.valid_latency_us, 0, 99.0)),
        ),
        (
            "valid_max_ms",
            format!("{:.1}", percentile_ms(&c.valid_latency_us, 0, 100.0)),
        ),
        (
            "valid_steady_p99_ms",
            format!(
                "{:.1}",
                percentile_ms(&c.valid_latency_us, steady_from, 99.0)
            ),
        ),
        ("healthz_sent", n(&c.healthz_sent).to_string()),
        ("healthz_ok", n(&c.healthz_ok).to_string()),
        ("healthz_failed", n(&c.healthz_failed).to_string()),
        (
            "healthz_p99_ms",
            format!("{:.1}", percentile_ms(&c.healthz_latency_us, 0, 99.0)),
        ),
        ("fd_limit", fd_limit.to_string()),
    ];
    let line: Vec<String> = summary.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!("{}", line.join(" "));
    // Exit at once: dropping thousands of stalled connections one by one
    // would only delay the same close.
    std::process::exit(0);
}
