//! The real gateway binary on free loopback ports, in front of a real HTTP
//! receiver, and a raw HTTP/1.1 client that controls the exact bytes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every await in the suite is bounded by this.
pub const STEP: Duration = Duration::from_secs(10);

pub use crate::redis_server::free_port;

#[derive(Clone, Debug)]
pub struct Recorded {
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

#[derive(Clone)]
struct Behaviour {
    status: u16,
    body: Bytes,
    delay: Duration,
}

/// How a receiver answers a request (after recording it).
pub type Answering = Pin<Box<dyn Future<Output = (u16, Bytes)> + Send>>;
type Handler = Arc<dyn Fn(Recorded) -> Answering + Send + Sync>;

/// A real HTTP/1.1 receiver (hyper) that records what reaches it.
pub struct Receiver {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    connections: Arc<AtomicUsize>,
    behaviour: Arc<Mutex<Behaviour>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::start_on(0).await
    }

    /// On a given port (0 for any free one), answering as `answer`,
    /// `delay` and the defaults (200, a small JSON body) say.
    pub async fn start_on(port: u16) -> Receiver {
        let behaviour = Arc::new(Mutex::new(Behaviour {
            status: 200,
            body: Bytes::from_static(b"{\"received\":true}"),
            delay: Duration::ZERO,
        }));
        let beh = behaviour.clone();
        let handler: Handler = Arc::new(move |_| {
            let b = beh.lock().unwrap().clone();
            Box::pin(async move {
                if !b.delay.is_zero() {
                    tokio::time::sleep(b.delay).await;
                }
                (b.status, b.body)
            })
        });
        Receiver::serve(port, behaviour, handler).await
    }

    /// A receiver whose every answer comes from `handler`, given what
    /// arrived (`answer` and `delay` do not apply).
    pub async fn answering(
        handler: impl Fn(Recorded) -> Answering + Send + Sync + 'static,
    ) -> Receiver {
        let behaviour = Arc::new(Mutex::new(Behaviour {
            status: 200,
            body: Bytes::new(),
            delay: Duration::ZERO,
        }));
        Receiver::serve(0, behaviour, Arc::new(handler)).await
    }

    async fn serve(port: u16, behaviour: Arc<Mutex<Behaviour>>, handler: Handler) -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (reqs, conns) = (requests.clone(), connections.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                conns.fetch_add(1, SeqCst);
                let (reqs, handler) = (reqs.clone(), handler.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let (reqs, handler) = (reqs.clone(), handler.clone());
                        async move {
                            let (parts, body) = req.into_parts();
                            let body = body
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let recorded = Recorded {
                                path: parts.uri.to_string(),
                                headers: parts.headers,
                                body,
                            };
                            reqs.lock().unwrap().push(recorded.clone());
                            let (status, body) = handler(recorded).await;
                            let mut resp = Response::new(Full::new(body));
                            *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            resp.headers_mut()
                                .insert("x-receiver", http::HeaderValue::from_static("yes"));
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            requests,
            connections,
            behaviour,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn answer(&self, status: u16, body: &'static [u8]) {
        let mut b = self.behaviour.lock().unwrap();
        b.status = status;
        b.body = Bytes::from_static(body);
    }

    pub fn delay(&self, d: Duration) {
        self.behaviour.lock().unwrap().delay = d;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(SeqCst)
    }

    /// Waits until at least `n` requests arrived (they are recorded before
    /// the answer, so usually they already have).
    pub async fn wait_for(&self, n: usize) -> Vec<Recorded> {
        let deadline = Instant::now() + STEP;
        while self.requests.lock().unwrap().len() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.requests()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An address where nothing listens.
pub fn dead_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

pub const NIXFLEX_SECRET: &str = "nfx-test-secret";
pub const AGNTIX_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const INBOUNDFLOW_SECRET: &str = "ibf-test-secret";
pub const ALLO_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
pub const VOXAGENT_SECRET: &str = "vox-test-secret";
pub const REDIS_PASSWORD_VAR: &str = "HOOKGATE_TEST_REDIS_PASSWORD";
/// Twilio's Auth Token on the test routes, and a Webhook SharedKey.
pub const TWILIO_SECRET: &str = "twilio-test-auth-token";
pub const TWILIO_SHARED_KEY_ID: &str = "webhooks_sharedkey_test1";
pub const TWILIO_SHARED_KEY: &str = "twilio-test-shared-key";
/// The URL Twilio is configured to call: what it signs. The test routes'
/// `public_url` is this plus the route's path.
pub const TWILIO_PUBLIC_BASE: &str = "https://hooks.example.test";
/// Vapi's HMAC credential secret, and a static token for token routes.
pub const VAPI_SECRET: &str = "vapi-test-hmac-secret";
pub const VAPI_TOKEN: &str = "vapi-test-static-token";
pub const RETELL_SECRET: &str = "key_retell_test_5c1e";
pub const ELEVENLABS_SECRET: &str = "wsec_elevenlabs_test_9a0f";
/// Telnyx routes take a public key; the test signs with its seed (a pair
/// derived with Python's `cryptography`).
pub const TELNYX_PUBLIC_KEY: &str = "sG3MRU54tm5D0z5KKnMlwfIbhtI0iNhA8S7UseD2W5I=";
pub const TELNYX_SEED: &str = "LBwQTNroPxutpoBX0OMffNAqq+e0nGOXBA2ThRbHwK0=";
pub const HMAC_SECRET: &str = "hmac-test-secret";
pub const STATIC_TOKEN: &str = "static-test-token";

/// The generic schemes' test routes: HMAC-SHA512 in base64 as
/// `t=<s>,v1=<sig>` over `<t>.<body>`, and a bearer token; both read the
/// event type at `/type` and the delivery id at `/id`.
pub const HMAC_OPTIONS: &str =
    "algorithm = \"sha512\"\nencoding = \"base64\"\nsignature_header = \"X-Webhook-Signature\"\n\
    signature_format = \"list\"\ntimestamp_key = \"t\"\nsigned_content = \"{timestamp}.{body}\"\n\
    delivery_id = \"json:/id\"\nevent_pointer = \"/type\"\n";
pub const STATIC_OPTIONS: &str =
    "bearer = true\ndelivery_id = \"json:/id\"\nevent_pointer = \"/type\"\n";

/// A running `hookgate run` process.
pub struct Gateway {
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    pub config_path: PathBuf,
    child: Option<Child>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// The environment variable holding a provider's test secret.
pub fn secret_var(provider: &str) -> &'static str {
    match provider {
        "nixflex" => "NIXFLEX_SECRET",
        "agntix" => "AGNTIX_SECRET",
        "inboundflow" => "INBOUNDFLOW_SECRET",
        "allo" => "ALLO_SECRET",
        "voxagent" => "VOXAGENT_SECRET",
        "twilio" => "TWILIO_SECRET",
        "vapi" => "VAPI_SECRET",
        "retell" => "RETELL_SECRET",
        "elevenlabs" => "ELEVENLABS_SECRET",
        "telnyx" => "TELNYX_PUBLIC_KEY",
        "hmac" => "HMAC_SECRET",
        "static" => "STATIC_TOKEN",
        other => panic!("no test secret for provider {other}: add one here"),
    }
}

/// A `[[route]]` for `provider` at `/webhooks/<provider>` with its test
/// secret; `extra` adds keys.
pub fn route(provider: &str, extra: &str) -> String {
    let secrets = format!("\"${{{}}}\"", secret_var(provider));
    let extra = format!("{}{extra}", route_keys(provider));
    named_route(provider, provider, &secrets, &extra)
}

/// A `[[route]]` named `name` at `/webhooks/<name>`, with `secrets` as the
/// items of its list (TOML); `extra` adds keys.
pub fn named_route(name: &str, provider: &str, secrets: &str, extra: &str) -> String {
    format!(
        "[[route]]\nname = \"{name}\"\npath = \"/webhooks/{name}\"\nprovider = \"{provider}\"\n\
         secrets = [{secrets}]\n{extra}\n"
    )
}

/// The provider keys a test route of `provider` needs (TOML): Twilio's
/// public URL, Vapi's HMAC credential (its default static token covers no
/// body, which most tests here tamper with).
pub fn route_keys(provider: &str) -> String {
    match provider {
        "twilio" => format!(
            "public_url = \"{TWILIO_PUBLIC_BASE}/webhooks/twilio\"\n\
             shared_keys = {{ \"{TWILIO_SHARED_KEY_ID}\" = \"${{TWILIO_SHARED_KEY}}\" }}\n"
        ),
        "vapi" => "credential = \"hmac\"\n".to_owned(),
        "hmac" => HMAC_OPTIONS.to_owned(),
        "static" => STATIC_OPTIONS.to_owned(),
        _ => String::new(),
    }
}

/// `[[route]]` blocks for every provider in front of `upstream`.
pub fn all_routes(extra: &str) -> String {
    crate::signing::providers()
        .iter()
        .map(|name| route(name, extra))
        .collect()
}

impl Gateway {
    /// Starts the gateway with `[server]`/`[upstream]` filled in and the given
    /// extra TOML (sections, routes). Retries on a port race.
    /// A gateway with these server settings and routes in front of a fresh
    /// receiver, as most tests want them.
    pub async fn with_receiver(server_extra: &str, rest: &str) -> (Receiver, Gateway) {
        let receiver = Receiver::start().await;
        let gateway = Gateway::start(&receiver.url(), server_extra, rest).await;
        (receiver, gateway)
    }

    pub async fn start(upstream: &str, server_extra: &str, rest: &str) -> Gateway {
        for _ in 0..3 {
            if let Some(g) = Gateway::try_start(upstream, server_extra, rest).await {
                return g;
            }
        }
        panic!("the gateway did not start");
    }

    async fn try_start(upstream: &str, server_extra: &str, rest: &str) -> Option<Gateway> {
        let dir = tempfile::tempdir().unwrap();
        let (port, admin_port) = (free_port(), free_port());
        let config = format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nadmin_listen = \"127.0.0.1:{admin_port}\"\n\
             threads = 2\nshutdown_timeout = \"5s\"\n{server_extra}\n\
             [upstream]\nurl = \"{upstream}\"\ntimeout = \"2s\"\n{rest}"
        );
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = dir.path().join("gateway.log");
        let child = Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .args(["run", "--config"])
            .arg(&config_path)
            .envs(secret_env())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut g = Gateway {
            addr: ([127, 0, 0, 1], port).into(),
            admin: ([127, 0, 0, 1], admin_port).into(),
            config_path,
            child: Some(child),
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + STEP;
        while Instant::now() < deadline {
            if let Some(Ok(Some(_))) = g.child.as_mut().map(|c| c.try_wait()) {
                return None;
            }
            if accepting(g.addr).await && accepting(g.admin).await {
                return Some(g);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("gateway not listening:\n{}", g.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or_default()
    }

    /// Sends a signal (e.g. "TERM", "HUP") to the gateway.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([format!("-{name}"), self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; its exit time.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        let child = self.child.as_mut()?;
        while started.elapsed() < limit {
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }

    pub async fn post(&self, path: &str, headers: &[(String, String)], body: &[u8]) -> Response_ {
        send_request(self.addr, "POST", path, headers, body).await
    }

    pub async fn admin_get(&self, path: &str) -> Response_ {
        send_request(self.admin, "GET", path, &[], b"").await
    }

    /// Rewrites the config file (the gateway notices within a second).
    pub fn rewrite_config(&self, text: &str) {
        let tmp = self.config_path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp).unwrap();
        f.write_all(text.as_bytes()).unwrap();
        drop(f);
        std::fs::rename(tmp, &self.config_path).unwrap();
    }

    pub fn config(&self) -> String {
        std::fs::read_to_string(&self.config_path).unwrap()
    }

    /// The part of the configuration file before the routes.
    pub fn head(&self) -> String {
        let text = self.config();
        text[..text.find("[[route]]").unwrap_or(text.len())].to_owned()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether a listener accepts and serves connections: a connection that
/// says nothing and ends at once is closed by the gateway in turn. Waiting
/// for that close means no probe lingers in a count a test reads next.
async fn accepting(addr: SocketAddr) -> bool {
    let Ok(Ok(mut conn)) = tokio::time::timeout(STEP, TcpStream::connect(addr)).await else {
        return false;
    };
    if conn.shutdown().await.is_err() {
        return false;
    }
    matches!(
        tokio::time::timeout(STEP, conn.read(&mut [0u8; 1])).await,
        Ok(Ok(0))
    )
}

/// A metric's value in Prometheus text (0 when absent).
pub fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

/// Polls `check` until it holds, at most `limit`; how long it took.
pub async fn until(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

impl Gateway {
    /// The admin listener's `/metrics` text.
    pub async fn metrics(&self) -> String {
        String::from_utf8(self.admin_get("/metrics").await.body).unwrap()
    }

    /// Waits (bounded) until `series` reaches `at_least`; its value.
    pub async fn wait_metric(&self, series: &str, at_least: u64) -> u64 {
        let mut value = 0;
        until(STEP, async || {
            value = metric(&self.metrics().await, series);
            value >= at_least
        })
        .await;
        value
    }

    /// Replaces the configuration and signals a reload; returns once the
    /// gateway counted it applied (bounded by `STEP`).
    pub async fn reload(&self, text: &str) {
        const OK: &str = "hookgate_config_reloads_total{result=\"ok\"}";
        let before = metric(&self.metrics().await, OK);
        self.rewrite_config(text);
        self.signal("HUP");
        let applied = self.wait_metric(OK, before + 1).await;
        assert!(applied > before, "reload not applied:\n{}", self.log());
    }

    /// Starts the process again after it exited (`wait_exit`): same ports,
    /// same configuration file, its log appended to the same file. Waits
    /// (bounded) until both listeners accept.
    pub async fn restart(&mut self) {
        assert!(
            self.child.is_none(),
            "restart: the gateway is still running"
        );
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_hookgate"))
            .args(["run", "--config"])
            .arg(&self.config_path)
            .envs(secret_env())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + STEP;
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                self.child = None;
                panic!("the restarted gateway exited ({status}):\n{}", self.log());
            }
            if accepting(self.addr).await && accepting(self.admin).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the restarted gateway is not listening:\n{}", self.log());
    }
}

pub fn secret_env() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        ("NIXFLEX_SECRET", NIXFLEX_SECRET),
        ("AGNTIX_SECRET", AGNTIX_SECRET),
        ("INBOUNDFLOW_SECRET", INBOUNDFLOW_SECRET),
        ("ALLO_SECRET", ALLO_SECRET),
        ("VOXAGENT_SECRET", VOXAGENT_SECRET),
        // The TLS test servers' ACL password, for `user:${NAME}@` URLs.
        (REDIS_PASSWORD_VAR, crate::redis_server::ACL_PASSWORD),
        ("TWILIO_SECRET", TWILIO_SECRET),
        ("TWILIO_SHARED_KEY", TWILIO_SHARED_KEY),
        ("VAPI_SECRET", VAPI_SECRET),
        ("VAPI_TOKEN", VAPI_TOKEN),
        ("RETELL_SECRET", RETELL_SECRET),
        ("ELEVENLABS_SECRET", ELEVENLABS_SECRET),
        ("TELNYX_PUBLIC_KEY", TELNYX_PUBLIC_KEY),
        ("HMAC_SECRET", HMAC_SECRET),
        ("STATIC_TOKEN", STATIC_TOKEN),
    ])
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct Response_ {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response_ {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `error` code of a JSON error body.
    pub fn error(&self) -> String {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

pub fn request_bytes(
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: gateway.test\r\n");
    let has_length = headers.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
    });
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if !has_length && (method == "POST" || !body.is_empty()) {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

pub async fn send_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Response_ {
    let mut conn = tokio::time::timeout(STEP, TcpStream::connect(addr))
        .await
        .expect("connect in time")
        .expect("connect");
    let bytes = request_bytes(method, path, headers, body);
    // The gateway may answer (e.g. 413) before reading everything.
    let _ = conn.write_all(&bytes).await;
    read_response(&mut conn).await.expect("a response")
}

/// A request whose connection may be closed without an answer (a full
/// listener does that): `None` then.
pub async fn try_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Option<Response_> {
    let mut conn = tokio::time::timeout(STEP, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    conn.write_all(&request_bytes(method, path, headers, body))
        .await
        .ok()?;
    read_response(&mut conn).await
}

/// A keep-alive client connection that sends requests one after another.
pub struct Client {
    conn: TcpStream,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Client {
        let conn = tokio::time::timeout(STEP, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Client { conn }
    }

    pub async fn post(
        &mut self,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Response_ {
        let bytes = request_bytes("POST", path, headers, body);
        self.conn.write_all(&bytes).await.expect("send");
        read_response(&mut self.conn).await.expect("a response")
    }
}

/// Reads one response (Content-Length or chunked) from a connection.
pub async fn read_response(conn: &mut TcpStream) -> Option<Response_> {
    read_one(conn, &mut Vec::new()).await
}

/// Reads `n` responses in a row from one connection (pipelined answers may
/// arrive in one read).
pub async fn read_responses(conn: &mut TcpStream, n: usize) -> Option<Vec<Response_>> {
    let mut buf = Vec::new();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(read_one(conn, &mut buf).await?);
    }
    Some(out)
}

/// One response from `buf` and, as needed, the connection; what follows it
/// stays in `buf`.
async fn read_one(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Response_> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if !read_more(conn, buf).await? {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    buf.drain(..head_end + 4);
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let body = if let Some(len) = get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        while buf.len() < len && read_more(conn, buf).await? {}
        buf.drain(..len.min(buf.len())).collect()
    } else if get("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let end = loop {
            if let Some(i) = find(buf, b"0\r\n\r\n") {
                break i + 5;
            }
            if !read_more(conn, buf).await? {
                break buf.len();
            }
        };
        let body = dechunk(&buf[..end]);
        buf.drain(..end);
        body
    } else {
        Vec::new()
    };
    Some(Response_ {
        status,
        headers,
        body,
    })
}

/// Appends what the connection has next; `Some(false)` at end of stream,
/// `None` on an error or when nothing arrives within `STEP`.
async fn read_more(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Option<bool> {
    let mut chunk = vec![0u8; 65536];
    let n = tokio::time::timeout(STEP, conn.read(&mut chunk))
        .await
        .ok()?
        .ok()?;
    buf.extend_from_slice(&chunk[..n]);
    Some(n > 0)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = find(data, b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&data[..i]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[i + 2..i + 2 + size]);
        data = &data[i + 2 + size + 2..];
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
