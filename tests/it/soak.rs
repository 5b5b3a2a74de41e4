//! Provider-simulator soak: the providers that retry for hours send thousands of events
//! through the real gateway (Redis dedup) with at-least-once retries on their
//! retry schedules, time-compressed, while the receiver fails ~20 % of the
//! requests and answers ~2 % too late, the configuration is reloaded five
//! times and the gateway is restarted once. At the end every event reached
//! the receiver, no provider gave up, and the only events the receiver got
//! more than once are those whose answer was lost on the way back (the
//! gateway had answered 504 by then, so the provider retried).
//!
//! Size and seed: `HOOKGATE_SOAK_EVENTS` (default 1000, the form that runs
//! with every `cargo test`; `make soak` runs 20000 in a release build) and
//! `HOOKGATE_SOAK_SEED`. The figures are printed (`-- --nocapture`).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::harness::{
    read_response, request_bytes, route_keys, secret_var, Answering, Gateway, Receiver, Recorded,
    AGNTIX_SECRET, ALLO_SECRET, STEP,
};
use crate::redis_server::RedisServer;
use crate::signing::{signed, Headers};

/// The providers simulated: those whose last retry comes an hour or more
/// after the first attempt. Twilio retries once, at once, and Vapi (as far
/// as it documents) not at all: an event they send while the gateway
/// restarts is lost by their own design, which this soak could not tell
/// from a loss of hookgate's, so they are left out.
fn providers() -> &'static [&'static str] {
    static SOAKED: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    SOAKED.get_or_init(|| {
        crate::signing::providers()
            .iter()
            .copied()
            .filter(|name| {
                let p = hookgate::provider::find(name).expect("a registered provider");
                p.retry_schedule()
                    .last()
                    .is_some_and(|d| *d >= Duration::from_secs(3600))
            })
            .collect()
    })
}

/// A provider's delays before its retries, in the provider's seconds
/// (documented, or assumed where it publishes none: see each provider's
/// `retry_schedule`); after the last one fails it gives up.
fn schedule(provider: usize) -> Vec<u64> {
    hookgate::provider::find(providers()[provider])
        .expect("a registered provider")
        .retry_schedule()
        .iter()
        .map(|d| d.as_secs())
        .collect()
}

/// Time compression: one provider minute is 5 ms here.
fn compressed(provider_seconds: u64) -> Duration {
    Duration::from_micros(provider_seconds * 5_000 / 60)
}

/// The routes' upstream deadline; slow answers take `SLOW` (well past it).
const ROUTE_TIMEOUT: &str = "500ms";
const SLOW: Duration = Duration::from_millis(1_500);
/// Share of the receiver's answers that are 500, and that are too slow.
const FAIL_RATE: f64 = 0.20;
const SLOW_RATE: f64 = 0.02;
/// Share of delivered events that their provider sends once more anyway.
const RESEND_RATE: f64 = 0.05;
/// Provider requests in flight at once, and events under way at once.
const CONCURRENCY: usize = 32;
const ACTIVE_EVENTS: usize = 4 * CONCURRENCY;
/// Configuration reloads (file rewrite + SIGHUP) during the run.
const RELOADS: usize = 5;

/// What a provider got back for one attempt.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    /// 2xx, forwarded now.
    Delivered,
    /// 200 + `X-Hookgate-Duplicate: true`.
    Duplicate,
    /// Anything else: status and the JSON error code (if any).
    Status(u16, String),
    /// No connection (the gateway is down): nothing was sent.
    Refused,
    /// Connected, but the connection ended without an answer.
    Dropped,
}

impl Answer {
    fn is_2xx(&self) -> bool {
        matches!(self, Answer::Delivered | Answer::Duplicate)
    }

    /// The gateway did not report the upstream's answer: a 2xx from the
    /// receiver may have been lost on the way back.
    fn upstream_answer_lost(&self) -> bool {
        match self {
            Answer::Status(502 | 504, _) | Answer::Dropped => true,
            Answer::Status(..) | Answer::Delivered | Answer::Duplicate | Answer::Refused => false,
        }
    }
}

/// What the receiver did with one request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Reply {
    /// 500 at once.
    Fail,
    /// 200 at once.
    Ok,
    /// 200 after `SLOW`: accepted, but the gateway has answered 504 by then.
    Late,
}

struct Arrival {
    /// The provider's attempt number when it arrived.
    attempt: u32,
    /// It arrived while the provider was re-sending a delivered event.
    resending: bool,
    reply: Reply,
}

struct Event {
    provider: usize,
    unique: String,
    /// The attempt of the provider's current delivery, 1-based.
    attempt: AtomicU32,
    /// Re-sends of the delivered event under way.
    resending: AtomicU32,
    /// What the provider got back, in order: (re-send?, answer).
    answers: Mutex<Vec<(bool, Answer)>>,
    arrivals: Mutex<Vec<Arrival>>,
    /// Delivered (first 2xx) before the restart.
    before_restart: AtomicBool,
}

struct Sim {
    seed: u64,
    gateway: SocketAddr,
    in_flight: Semaphore,
    events: Vec<Event>,
    /// Events whose first delivery settled (2xx or given up).
    settled: AtomicUsize,
    /// Set at the SIGTERM.
    restarted: AtomicBool,
    /// From the SIGTERM until the new process listens.
    down: AtomicBool,
    /// Connections that ended without an answer while the gateway was up.
    dropped_while_up: AtomicUsize,
    /// Receiver requests that named no known event or were not verified.
    strays: AtomicUsize,
    /// Re-sends of delivered events: (event, across the restart?, final answer).
    resends: Mutex<Vec<(usize, bool, Answer)>>,
}

/// A generator per (purpose, event, n): the same decisions whatever the
/// interleaving of the concurrent providers.
fn rng(seed: u64, purpose: u64, event: usize, n: u64) -> StdRng {
    StdRng::seed_from_u64(
        seed ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (event as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9)
            ^ n.wrapping_mul(0x94D0_49BB_1331_11EB),
    )
}

const PURPOSE_REPLY: u64 = 1;
const PURPOSE_RESEND: u64 = 2;
const PURPOSE_REPLAY: u64 = 3;

impl Sim {
    /// The receiver's fault injection. It never fails one of the last two
    /// attempts of a provider's schedule: together with a restart gap
    /// shorter than every schedule's last delay, a provider giving up then
    /// means the gateway lost the event, not the simulated receiver.
    fn reply(&self, id: usize, attempt: u32) -> Reply {
        let attempts = schedule(self.events[id].provider).len() as u32 + 1;
        if attempt + 1 >= attempts {
            return Reply::Ok;
        }
        let x: f64 = rng(self.seed, PURPOSE_REPLY, id, attempt.into()).gen();
        if x < FAIL_RATE {
            Reply::Fail
        } else if x < FAIL_RATE + SLOW_RATE {
            Reply::Late
        } else {
            Reply::Ok
        }
    }

    /// One delivery on the provider's schedule: the answer that ended it.
    async fn deliver(&self, id: usize, resend: bool) -> Answer {
        let event = &self.events[id];
        let provider = providers()[event.provider];
        let schedule = schedule(event.provider);
        let mut last = Answer::Refused;
        for attempt in 1..=schedule.len() + 1 {
            if attempt > 1 {
                tokio::time::sleep(compressed(schedule[attempt - 2])).await;
            }
            let permit = self.in_flight.acquire().await.unwrap();
            event.attempt.store(attempt as u32, SeqCst);
            // Re-signed on every attempt: a fresh timestamp, the same delivery id.
            let (mut headers, body) = signed(provider, &event.unique);
            add_delivery_header(provider, &event.unique, &mut headers);
            last = post(
                self.gateway,
                &format!("/webhooks/{provider}"),
                &headers,
                &body,
            )
            .await;
            drop(permit);
            if last == Answer::Dropped && !self.down.load(SeqCst) {
                self.dropped_while_up.fetch_add(1, SeqCst);
            }
            event.answers.lock().unwrap().push((resend, last.clone()));
            if last.is_2xx() {
                break;
            }
        }
        last
    }

    /// An event's life: delivered on its schedule, sometimes sent once more.
    async fn run_event(&self, id: usize) {
        let event = &self.events[id];
        let answer = self.deliver(id, false).await;
        if answer.is_2xx() && !self.restarted.load(SeqCst) {
            event.before_restart.store(true, SeqCst);
        }
        self.settled.fetch_add(1, SeqCst);
        let mut rng = rng(self.seed, PURPOSE_RESEND, id, 0);
        if answer.is_2xx() && rng.gen_bool(RESEND_RATE) {
            // At-least-once: the same delivery again, up to 30 provider minutes later.
            tokio::time::sleep(compressed(rng.gen_range(0..1_800))).await;
            self.resend(id, false).await;
        }
    }

    /// The same delivery once more (`across_restart`: one delivered before
    /// the restart, sent after it).
    async fn resend(&self, id: usize, across_restart: bool) {
        let event = &self.events[id];
        event.resending.fetch_add(1, SeqCst);
        let answer = self.deliver(id, true).await;
        event.resending.fetch_sub(1, SeqCst);
        self.resends
            .lock()
            .unwrap()
            .push((id, across_restart, answer));
    }
}

/// Nixflex and InboundFlow also name the delivery in an (unsigned) header.
fn add_delivery_header(provider: &str, unique: &str, headers: &mut Headers) {
    let name = match provider {
        "nixflex" => "webhook_delivery_id",
        "inboundflow" => "X-InboundFlow-Delivery-Id",
        _ => return,
    };
    headers.push((name.to_owned(), format!("dlv-{unique}")));
}

/// One provider request on a fresh connection; never panics.
async fn post(addr: SocketAddr, path: &str, headers: &[(String, String)], body: &[u8]) -> Answer {
    let Ok(Ok(mut conn)) = tokio::time::timeout(STEP, TcpStream::connect(addr)).await else {
        return Answer::Refused;
    };
    if conn
        .write_all(&request_bytes("POST", path, headers, body))
        .await
        .is_err()
    {
        return Answer::Dropped;
    }
    let Some(r) = read_response(&mut conn).await else {
        return Answer::Dropped;
    };
    match (r.status, r.header("x-hookgate-duplicate")) {
        (200, Some("true")) => Answer::Duplicate,
        (200..=299, None) => Answer::Delivered,
        (status, _) => Answer::Status(status, r.error()),
    }
}

/// The event's number, from the `soakev<n>` token in any forwarded body
/// (normalized or original).
fn event_id(body: &[u8]) -> Option<usize> {
    let at = body.windows(6).position(|w| w == b"soakev")? + 6;
    let digits = body.get(at..at + 7)?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The receiver's answer to what arrived: as `Sim::reply` decides, each
/// request recorded per event first.
fn answer(sim: &Sim, arrived: &Recorded) -> Answering {
    let verified =
        arrived.headers.get("x-hookgate-verified") == Some(&http::HeaderValue::from_static("true"));
    let id = event_id(&arrived.body).filter(|&id| id < sim.events.len() && verified);
    let reply = match id {
        None => {
            sim.strays.fetch_add(1, SeqCst);
            Reply::Fail
        }
        Some(id) => {
            let event = &sim.events[id];
            let attempt = event.attempt.load(SeqCst);
            let reply = sim.reply(id, attempt);
            event.arrivals.lock().unwrap().push(Arrival {
                attempt,
                resending: event.resending.load(SeqCst) > 0,
                reply,
            });
            reply
        }
    };
    Box::pin(async move {
        match reply {
            Reply::Fail => (
                500,
                Bytes::from_static(b"{\"error\":\"simulated_receiver_failure\"}"),
            ),
            Reply::Ok => (200, Bytes::from_static(b"{\"received\":true}")),
            Reply::Late => {
                tokio::time::sleep(SLOW).await;
                (200, Bytes::from_static(b"{\"received\":true}"))
            }
        }
    })
}

/// The simulated providers' routes; `variant` changes what a reload can
/// change live.
fn routes(variant: usize) -> String {
    // A secret the route once had, of the scheme's kind.
    let rotated_out = |name: &str| match name {
        "agntix" => ALLO_SECRET,
        "allo" => AGNTIX_SECRET,
        "nixflex" => "nfx-rotated-out",
        "inboundflow" => "ibf-rotated-out",
        "voxagent" => "vox-rotated-out",
        "retell" => "key_rotated_out",
        "elevenlabs" => "wsec_rotated_out",
        "telnyx" => "FxoAIW9r9durnyqAgKanTGij+33BhNRaI8VhVJnuweE=",
        "hmac" => "hmac-rotated-out",
        "static" => "static-rotated-out",
        "twilio" => "twilio-rotated-out",
        "vapi" => "vapi-rotated-out",
        other => panic!("no rotated-out secret for {other}: add one here"),
    };
    let mut out = String::new();
    for (i, name) in providers().iter().enumerate() {
        let (var, old) = (secret_var(name), rotated_out(name));
        // Odd variants: a second (rotated-out) secret, a wider tolerance.
        let secrets = if variant % 2 == 1 {
            format!("\"{old}\", \"${{{var}}}\"")
        } else {
            format!("\"${{{var}}}\"")
        };
        let tolerance = if variant % 2 == 1 { "10m" } else { "5m" };
        // Schemes without a timestamp take no tolerance.
        let tolerance = if matches!(*name, "static" | "twilio") {
            String::new()
        } else {
            format!("tolerance = \"{tolerance}\"\n")
        };
        let options = route_keys(name);
        let forward = if (variant + i).is_multiple_of(2) {
            "normalized"
        } else {
            "original"
        };
        let _ = write!(
            out,
            "[[route]]\nname = \"{name}\"\npath = \"/webhooks/{name}\"\nprovider = \"{name}\"\n\
             secrets = [{secrets}]\ntimeout = \"{ROUTE_TIMEOUT}\"\n{tolerance}{options}\
             forward = \"{forward}\"\n\n"
        );
    }
    if variant % 2 == 1 {
        // A route that comes and goes.
        out.push_str(
            "[[route]]\nname = \"spare\"\npath = \"/webhooks/spare\"\nprovider = \"nixflex\"\n\
             secrets = [\"${NIXFLEX_SECRET}\"]\n\n",
        );
    }
    out
}

/// The sum of a metric's series whose labels contain every `part`.
fn metric(text: &str, name: &str, parts: &[&str]) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| {
            let series = l.rsplit_once(' ').map_or("", |(s, _)| s);
            series.split('{').next() == Some(name) && parts.iter().all(|p| series.contains(p))
        })
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
        })
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread")]
async fn soak_providers_retrying_through_faults_reloads_and_a_restart_lose_no_event() {
    let n = env_number("HOOKGATE_SOAK_EVENTS", 1000) as usize;
    let seed = env_number("HOOKGATE_SOAK_SEED", 0x5EED);
    assert!(n >= 10, "HOOKGATE_SOAK_EVENTS must be at least 10");
    assert!(n < 10_000_000, "event numbers have 7 digits");
    let started = Instant::now();
    // Generous: the run itself takes a fraction of this.
    let limit = Duration::from_secs(60) + Duration::from_millis(40) * n as u32;

    let redis = RedisServer::start();
    // The receiver answers through the simulation, set once it exists.
    let sim_slot: Arc<OnceLock<Arc<Sim>>> = Arc::new(OnceLock::new());
    let receiver = {
        let sim_slot = sim_slot.clone();
        Receiver::answering(move |arrived| match sim_slot.get() {
            Some(sim) => answer(sim, &arrived),
            None => Box::pin(async { (503, Bytes::new()) }),
        })
        .await
    };
    let dedup = format!(
        "[dedup]\nbackend = \"redis\"\nredis_url = \"{}\"\non_backend_error = \"reject\"\n",
        redis.url()
    );
    let mut gw = Gateway::start(&receiver.url(), "", &format!("{dedup}{}", routes(0))).await;
    let head = gw.head();

    let sim = Arc::new(Sim {
        seed,
        gateway: gw.addr,
        in_flight: Semaphore::new(CONCURRENCY),
        events: (0..n)
            .map(|id| Event {
                provider: id % providers().len(),
                unique: format!("soakev{id:07}"),
                attempt: AtomicU32::new(0),
                resending: AtomicU32::new(0),
                answers: Mutex::new(Vec::new()),
                arrivals: Mutex::new(Vec::new()),
                before_restart: AtomicBool::new(false),
            })
            .collect(),
        settled: AtomicUsize::new(0),
        restarted: AtomicBool::new(false),
        down: AtomicBool::new(false),
        dropped_while_up: AtomicUsize::new(0),
        strays: AtomicUsize::new(0),
        resends: Mutex::new(Vec::new()),
    });
    assert!(sim_slot.set(sim.clone()).is_ok());

    // The providers: every event its own task, at most ACTIVE_EVENTS under
    // way (so retries are not queued behind the whole backlog).
    let feeder = {
        let sim = sim.clone();
        tokio::spawn(async move {
            let active = Arc::new(Semaphore::new(ACTIVE_EVENTS));
            let mut tasks = Vec::with_capacity(n);
            for id in 0..n {
                let permit = active.clone().acquire_owned().await.unwrap();
                let sim = sim.clone();
                tasks.push(tokio::spawn(async move {
                    sim.run_event(id).await;
                    drop(permit);
                }));
            }
            tasks
        })
    };
    let mut feeder = AbortOnDrop(feeder);

    let wait_settled = |share: f64| {
        let sim = sim.clone();
        async move {
            let target = ((n as f64) * share) as usize;
            while sim.settled.load(SeqCst) < target {
                assert!(
                    started.elapsed() < limit,
                    "stalled at {} of {n} events settled",
                    sim.settled.load(SeqCst)
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };

    // Reloads at 1/8 .. 3/8 of the events, the restart at 4/8, reloads at 5/8 and 6/8.
    let mut reloads = 0;
    let mut metrics_first_life = String::new();
    let (mut drain, mut gap) = (Duration::ZERO, Duration::ZERO);
    let mut replay = Vec::new();
    for step in 1..=6 {
        wait_settled(step as f64 / 8.0).await;
        if step != 4 {
            reloads += 1;
            gw.reload(&format!("{head}{}", routes(reloads))).await;
            continue;
        }
        metrics_first_life = gw.metrics().await;
        sim.restarted.store(true, SeqCst);
        sim.down.store(true, SeqCst);
        let down = Instant::now();
        gw.signal("TERM");
        gw = tokio::task::spawn_blocking(move || {
            let exited = gw.wait_exit(STEP);
            assert!(exited.is_some(), "no exit after SIGTERM:\n{}", gw.log());
            gw
        })
        .await
        .unwrap();
        drain = down.elapsed();
        gw.restart().await;
        gap = down.elapsed();
        sim.down.store(false, SeqCst);
        // At-least-once across the restart: providers send again events
        // delivered before it; the dedup state in Redis must answer them.
        let mut rng = rng(seed, PURPOSE_REPLAY, 0, 0);
        let before: Vec<usize> = (0..n)
            .filter(|&id| sim.events[id].before_restart.load(SeqCst))
            .collect();
        for _ in 0..(n / 10).min(before.len()) {
            let id = before[rng.gen_range(0..before.len())];
            let sim = sim.clone();
            replay.push(AbortOnDrop(tokio::spawn(async move {
                sim.resend(id, true).await
            })));
        }
    }
    assert_eq!(reloads, RELOADS);

    let remaining = limit.saturating_sub(started.elapsed());
    let joined = tokio::time::timeout(remaining, async {
        let tasks = (&mut feeder.0).await.unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        for t in &mut replay {
            (&mut t.0).await.unwrap();
        }
    })
    .await;
    assert!(
        joined.is_ok(),
        "the providers did not finish within {limit:?}: {} of {n} events settled",
        sim.settled.load(SeqCst)
    );
    let elapsed = started.elapsed();
    let metrics_second_life = gw.metrics().await;
    // The gateway's request log (both lives), once flushed (every 200 ms).
    let answered = sim
        .events
        .iter()
        .flat_map(|e| e.answers.lock().unwrap().clone());
    let reached = answered
        .filter(|a| !matches!(a.1, Answer::Refused | Answer::Dropped))
        .count();
    let deadline = Instant::now() + STEP;
    let mut log = gw.log();
    while request_lines(&log) < reached && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        log = gw.log();
    }

    let report = Report::new(
        &sim,
        Restart { drain, gap },
        reloads,
        elapsed,
        [&metrics_first_life, &metrics_second_life],
        &log,
    );
    println!("{}", report.text);
    assert_eq!(
        sim.strays.load(SeqCst),
        0,
        "requests the receiver could not attribute"
    );
    let unexpected: Vec<String> = report
        .unexpected
        .iter()
        .map(|(id, answer)| format!("event {id}: {answer:?}"))
        .collect();
    none(&unexpected, "answers no provider should get");
    none(
        &report.given_up,
        &format!("events given up by their provider (the restart took {gap:?})"),
    );
    none(&report.lost, "events that never reached the receiver");
    none(
        &report.unexplained,
        "events the receiver accepted more than once, without a lost answer",
    );
    none(
        &report.resends_forwarded,
        "re-sends of delivered events that were not answered as duplicates",
    );
    assert_eq!(report.reloads_refused, 0, "refused reloads");
    assert_eq!(
        sim.dropped_while_up.load(SeqCst),
        0,
        "connections closed without an answer while the gateway was up"
    );
    drop(receiver);
    drop(redis);
}

/// Fails with the first few of `list` unless it is empty.
fn none(list: &[String], what: &str) {
    assert!(
        list.is_empty(),
        "{} {what}, e.g.:\n{}",
        list.len(),
        list[..list.len().min(10)].join("\n")
    );
}

/// Aborts a spawned task when the test ends, also on a failure.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One event's history, for failure messages.
fn describe(id: usize, event: &Event) -> String {
    let answers = event.answers.lock().unwrap();
    let arrivals = event.arrivals.lock().unwrap();
    let arrivals: Vec<String> = arrivals
        .iter()
        .map(|a| format!("{:?} at attempt {}", a.reply, a.attempt))
        .collect();
    format!(
        "event {id} ({}): provider got {:?}; receiver saw {arrivals:?}",
        providers()[event.provider],
        *answers
    )
}

/// The figures, and the events that break an invariant.
struct Report {
    text: String,
    unexpected: Vec<(usize, Answer)>,
    given_up: Vec<String>,
    lost: Vec<String>,
    unexplained: Vec<String>,
    resends_forwarded: Vec<String>,
    reloads_refused: u64,
}

impl Report {
    fn new(
        sim: &Sim,
        restart: Restart,
        reloads: usize,
        elapsed: Duration,
        lives: [&str; 2],
        log: &str,
    ) -> Report {
        let mut r = Report {
            text: String::new(),
            unexpected: Vec::new(),
            given_up: Vec::new(),
            lost: Vec::new(),
            unexplained: Vec::new(),
            resends_forwarded: Vec::new(),
            reloads_refused: 0,
        };
        let n = sim.events.len();
        let mut per_provider = vec![0usize; providers().len()];
        let (mut requests, mut retries, mut resend_requests) = (0, 0, 0);
        let (mut delivered, mut duplicate, mut receiver_500, mut timeouts) = (0, 0, 0, 0);
        let (mut unreachable, mut in_flight, mut unavailable, mut refused, mut dropped) =
            (0, 0, 0, 0, 0);
        let (mut arrivals, mut ok, mut failed, mut late) = (0, 0, 0, 0);
        let (mut duplicated, mut extra_forwards, mut extra_after_late) = (0, 0, 0);
        let mut first_2xx_duplicate = 0;
        let mut needed_retry = 0;
        let mut most_attempts = (0, "");
        for (id, event) in sim.events.iter().enumerate() {
            per_provider[event.provider] += 1;
            let answers = event.answers.lock().unwrap();
            let first: Vec<&Answer> = answers.iter().filter(|a| !a.0).map(|a| &a.1).collect();
            requests += answers.len();
            resend_requests += answers.len() - first.len();
            retries += first.len().saturating_sub(1);
            if first.len() > 1 {
                needed_retry += 1;
            }
            if first.len() > most_attempts.0 {
                most_attempts = (first.len(), providers()[event.provider]);
            }
            let given_up = !first.last().is_some_and(|a| a.is_2xx());
            if first.last() == Some(&&Answer::Duplicate) {
                first_2xx_duplicate += 1;
            }
            for (_, answer) in answers.iter() {
                match answer {
                    Answer::Delivered => delivered += 1,
                    Answer::Duplicate => duplicate += 1,
                    Answer::Status(500, e) if e == "simulated_receiver_failure" => {
                        receiver_500 += 1
                    }
                    Answer::Status(504, e) if e == "upstream_timeout" => timeouts += 1,
                    Answer::Status(502, e) if e == "upstream_unreachable" => unreachable += 1,
                    Answer::Status(409, e) if e == "in_flight" => in_flight += 1,
                    Answer::Status(503, e) if e == "dedup_unavailable" => unavailable += 1,
                    Answer::Refused => refused += 1,
                    Answer::Dropped => dropped += 1,
                    other => r.unexpected.push((id, other.clone())),
                }
            }
            let lost_answers = answers
                .iter()
                .filter(|a| a.1.upstream_answer_lost())
                .count();
            drop(answers);
            if given_up {
                r.given_up.push(describe(id, event));
            }

            let (accepted, late_before_last, resent_forwarded) = {
                let seen = event.arrivals.lock().unwrap();
                arrivals += seen.len();
                ok += seen.iter().filter(|a| a.reply == Reply::Ok).count();
                failed += seen.iter().filter(|a| a.reply == Reply::Fail).count();
                late += seen.iter().filter(|a| a.reply == Reply::Late).count();
                let accepted: Vec<Reply> = seen
                    .iter()
                    .map(|a| a.reply)
                    .filter(|&reply| reply != Reply::Fail)
                    .collect();
                // Accepted but answered too late by design (every accepted
                // arrival but the last one should be of this kind).
                let extra = accepted.len().saturating_sub(1);
                let late_before_last = accepted[..extra]
                    .iter()
                    .filter(|&&reply| reply == Reply::Late)
                    .count();
                (
                    accepted.len(),
                    late_before_last,
                    seen.iter().any(|a| a.resending),
                )
            };
            if resent_forwarded {
                r.resends_forwarded.push(describe(id, event));
            }
            if accepted == 0 {
                r.lost.push(describe(id, event));
            }
            if accepted > 1 {
                duplicated += 1;
                extra_forwards += accepted - 1;
                extra_after_late += late_before_last;
                // The gateway may forward again only after it told the
                // provider that the receiver's answer did not come back.
                if accepted - 1 > lost_answers {
                    r.unexplained.push(describe(id, event));
                }
            }
        }
        let resends = sim.resends.lock().unwrap();
        let across: Vec<_> = resends.iter().filter(|x| x.1).collect();
        let resend_dup = resends.iter().filter(|x| x.2 == Answer::Duplicate).count();
        for (id, _, answer) in resends.iter() {
            if *answer != Answer::Duplicate {
                r.resends_forwarded.push(describe(*id, &sim.events[*id]));
            }
        }
        let across_dup = across.iter().filter(|x| x.2 == Answer::Duplicate).count();
        let both = |name: &str, parts: &[&str]| -> u64 {
            lives.iter().map(|m| metric(m, name, parts)).sum()
        };
        let reloads_ok = both("hookgate_config_reloads_total", &["\"ok\""]);
        r.reloads_refused = both("hookgate_config_reloads_total", &["\"refused\""]);
        let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
        let t = &mut r.text;
        let _ = writeln!(t, "\n==== hookgate soak (seed {:#x}) ====", sim.seed);
        let _ = writeln!(
            t,
            "events sent            {n} ({}), {CONCURRENCY} requests in flight at most",
            providers()
                .iter()
                .zip(&per_provider)
                .map(|(name, count)| format!("{name} {count}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let _ = writeln!(
            t,
            "provider attempts      {requests}: {n} first, {retries} retries ({needed_retry} events needed one, most attempts {} by {}), {resend_requests} in re-sends",
            most_attempts.0, most_attempts.1
        );
        let _ = writeln!(
            t,
            "answers to providers   2xx forwarded {delivered}, 2xx duplicate {duplicate}, 500 from the receiver {receiver_500}, 504 {timeouts}, 502 {unreachable}, 409 {in_flight}, 503 {unavailable}, connection refused {refused}, dropped {dropped}, other {}",
            r.unexpected.len()
        );
        let _ = writeln!(
            t,
            "receiver               {arrivals} requests: 200 {ok}, 500 {failed} ({:.1} %), 200 too late {late} ({:.1} %)",
            pct(failed, arrivals),
            pct(late, arrivals)
        );
        let _ = writeln!(
            t,
            "delivered              {} of {n} events reached the receiver; lost {}, given up by a provider {}",
            n - r.lost.len(),
            r.lost.len(),
            r.given_up.len()
        );
        let _ = writeln!(
            t,
            "duplicated             {duplicated} events accepted more than once ({extra_forwards} extra): {extra_after_late} after a 200 that came too late (504), {} after a 200 lost otherwise, {} unexplained",
            extra_forwards - extra_after_late,
            r.unexplained.len()
        );
        let _ = writeln!(
            t,
            "at-least-once re-sends {} of delivered events, {} answered as duplicates ({} of them across the restart, {} duplicates); {first_2xx_duplicate} first deliveries answered as duplicates (answer lost before the provider)",
            resends.len(),
            resend_dup,
            across.len(),
            across_dup
        );
        let _ = writeln!(
            t,
            "reloads                {reloads} (file rewrite + SIGHUP): applied {reloads_ok} times (the file watcher may apply a change its SIGHUP applies again), {} refused",
            r.reloads_refused
        );
        let _ = writeln!(
            t,
            "restarts               1 (SIGTERM, drain, exit, start on the same port with the same Redis): down {} ms ({} ms draining), {} attempts refused, {} connections dropped",
            restart.gap.as_millis(),
            restart.drain.as_millis(),
            refused,
            dropped
        );
        let outcomes: Vec<String> = request_outcomes(log)
            .into_iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        let _ = writeln!(
            t,
            "gateway log            {} requests: {}; pingora \"failed to acquire reusable stream\" errors {}",
            request_lines(log),
            outcomes.join(", "),
            log.matches("failed to acquire reusable stream").count()
        );
        let _ = writeln!(t, "duration               {:.1} s", elapsed.as_secs_f64());
        r
    }
}

struct Restart {
    /// SIGTERM until the process exited.
    drain: Duration,
    /// SIGTERM until the new process listened.
    gap: Duration,
}

/// The gateway's request log lines.
fn request_lines(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("hookgate::request"))
        .count()
}

/// Request log lines by outcome (rejections by reason).
fn request_outcomes(log: &str) -> std::collections::BTreeMap<String, usize> {
    let field = |line: &str, name: &str| -> String {
        line.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("")
            .to_owned()
    };
    let mut counts = std::collections::BTreeMap::new();
    for line in log.lines().filter(|l| l.contains("hookgate::request")) {
        let outcome = field(line, "outcome");
        let reason = field(line, "reason");
        let key = if reason.is_empty() {
            outcome
        } else {
            format!("{outcome} ({reason})")
        };
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}
