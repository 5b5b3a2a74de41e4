//! Real Redis servers on free loopback ports, started and stopped by the
//! test itself: a plain server, a TLS server with an ACL user (the test CA
//! and certificates are made here), and a Cluster of nodes joined with
//! `redis-cli --cluster create`. No persistence, temporary directories.
//! Shared by the library's unit tests, the integration tests and the bench.
//!
//! `HOOKGATE_REDIS_SERVER` and `HOOKGATE_REDIS_CLI` name other binaries
//! (`valkey-server`, `valkey-cli`): the same tests then run against them.
#![allow(dead_code)] // each including crate uses a different part

#[path = "ports.rs"]
mod ports;
pub use ports::free_port;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The ACL user of the TLS servers; its password has characters a URL
/// must escape.
pub const ACL_USER: &str = "hookgate";
pub const ACL_PASSWORD: &str = "s3cr@t:/pw%41-x";
/// What the ACL user may do: the store's commands on its own keys, nothing
/// else (the README's ACL line).
pub const ACL_RULES: &[&str] = &[
    "resetkeys",
    "~hookgate:dedup:*",
    "resetchannels",
    "-@all",
    "+set",
    "+get",
    "+del",
    "+eval",
    "+evalsha",
    "+script|load",
    "+ping",
];

/// The server binary: `HOOKGATE_REDIS_SERVER`, else `redis-server`.
pub fn server_bin() -> String {
    std::env::var("HOOKGATE_REDIS_SERVER").unwrap_or_else(|_| "redis-server".into())
}

/// The CLI: `HOOKGATE_REDIS_CLI`, else the one beside a Valkey server, else
/// `redis-cli`.
pub fn cli_bin() -> String {
    std::env::var("HOOKGATE_REDIS_CLI").unwrap_or_else(|_| {
        if server_bin().ends_with("valkey-server") {
            server_bin().replace("valkey-server", "valkey-cli")
        } else {
            "redis-cli".into()
        }
    })
}

/// A test CA, a server certificate for 127.0.0.1 and localhost, a client
/// certificate, and a second CA that signed none of them.
pub struct TestPki {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    pub other_ca: PathBuf,
}

impl TestPki {
    pub fn make(dir: &Path) -> TestPki {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose, SanType,
        };
        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap();
            path
        };
        let ca = |name: &str| {
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
        };
        let issuer = ca("hookgate test CA");
        let other = ca("another CA");
        let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(names).unwrap();
            params
                .distinguished_name
                .push(DnType::CommonName, "hookgate test");
            params
                .subject_alt_names
                .push(SanType::IpAddress([127, 0, 0, 1].into()));
            params.extended_key_usages = vec![usage];
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(
            vec!["localhost".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) = leaf(vec![], ExtendedKeyUsagePurpose::ClientAuth);
        TestPki {
            ca: write("ca.pem", issuer.pem()),
            server_cert: write("server.pem", server_cert),
            server_key: write("server.key", server_key),
            client_cert: write("client.pem", client_cert),
            client_key: write("client.key", client_key),
            other_ca: write("other-ca.pem", other.pem()),
        }
    }
}

/// How a TLS server is set up.
pub struct TlsOptions {
    /// The server requires a client certificate.
    pub client_certificates: bool,
}

struct Tls {
    pki: Arc<TestPki>,
}

pub struct RedisServer {
    port: u16,
    dir: Arc<tempfile::TempDir>,
    child: Option<Child>,
    args: Vec<String>,
    tls: Option<Tls>,
}

impl RedisServer {
    /// Starts a plain server. Panics with the fix when the binary is
    /// missing: `scripts/setup.sh` installs it.
    pub fn start() -> RedisServer {
        RedisServer::start_with(Vec::new(), None)
    }

    /// A TLS-only server whose default user is off: only [`ACL_USER`] with
    /// [`ACL_PASSWORD`] gets in.
    pub fn start_tls(options: TlsOptions) -> RedisServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let pki = Arc::new(TestPki::make(dir.path()));
        let mut args: Vec<String> = vec!["--port".into(), "0".into(), "--tls-port".into()];
        args.push(String::new()); // the port, filled in by start_with
        for (flag, path) in [
            ("--tls-cert-file", &pki.server_cert),
            ("--tls-key-file", &pki.server_key),
            ("--tls-ca-cert-file", &pki.ca),
        ] {
            args.push(flag.into());
            args.push(path.display().to_string());
        }
        // Also on 127.0.0.2, a loopback address the certificate does not
        // name.
        args.extend(["--bind", "127.0.0.1", "127.0.0.2"].map(String::from));
        args.push("--tls-auth-clients".into());
        args.push(
            if options.client_certificates {
                "yes"
            } else {
                "no"
            }
            .into(),
        );
        args.extend(["--user", "default", "off"].map(String::from));
        args.extend(["--user", ACL_USER, "on"].map(String::from));
        args.push(format!(">{ACL_PASSWORD}"));
        args.extend(ACL_RULES.iter().map(|r| r.to_string()));
        let mut server = RedisServer::start_with_dir(dir, args, Some(Tls { pki }));
        server.restart();
        server
    }

    fn start_with(args: Vec<String>, tls: Option<Tls>) -> RedisServer {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut server = RedisServer::start_with_dir(dir, args, tls);
        server.restart();
        server
    }

    fn start_with_dir(dir: tempfile::TempDir, mut args: Vec<String>, tls: Option<Tls>) -> Self {
        let port = free_port();
        for a in args.iter_mut().filter(|a| a.is_empty()) {
            *a = port.to_string();
        }
        RedisServer {
            port,
            dir: Arc::new(dir),
            child: None,
            args,
            tls,
        }
    }

    /// `redis://127.0.0.1:port/0`, or for a TLS server
    /// `rediss://hookgate:<escaped password>@127.0.0.1:port/0`.
    pub fn url(&self) -> String {
        match &self.tls {
            None => format!("redis://127.0.0.1:{}/0", self.port),
            Some(_) => format!(
                "rediss://{ACL_USER}:{}@127.0.0.1:{}/0",
                escape(ACL_PASSWORD),
                self.port
            ),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TLS server's certificates.
    pub fn pki(&self) -> &TestPki {
        &self.tls.as_ref().expect("a TLS server").pki
    }

    /// Stops the server (the port stays reserved for `restart`).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", self.port)).is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let mut cmd = Command::new(server_bin());
        if self.tls.is_none() {
            cmd.args(["--port", &self.port.to_string()]);
        }
        let child = cmd
            .args(["--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.args)
            .stdout(std::fs::File::create(self.log_path()).expect("a log file"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{} did not start ({e}): run scripts/setup.sh", server_bin())
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.answers_ping() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "{} did not answer PING on port {}:\n{}",
            server_bin(),
            self.port,
            std::fs::read_to_string(self.log_path()).unwrap_or_default()
        );
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("server-{}.log", self.port))
    }

    fn answers_ping(&self) -> bool {
        match &self.tls {
            None => command(self.port, &["PING"]).is_some_and(|r| r == "PONG"),
            Some(tls) => {
                let out = Command::new(cli_bin())
                    .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "--tls"])
                    .arg("--cacert")
                    .arg(&tls.pki.ca)
                    .arg("--cert")
                    .arg(&tls.pki.client_cert)
                    .arg("--key")
                    .arg(&tls.pki.client_key)
                    .args(["--user", ACL_USER, "PING"])
                    .env("REDISCLI_AUTH", ACL_PASSWORD)
                    .stderr(Stdio::null())
                    .output();
                out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "PONG")
            }
        }
    }

    /// Sends one command to a plain server; its answer as text (`None` when
    /// the server cannot be reached).
    pub fn command(&self, args: &[&str]) -> Option<String> {
        command(self.port, args)
    }

    /// Whether the process is still running.
    pub fn running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Percent-escapes a password for a URL's userinfo.
pub fn escape(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// One command to a plain server on `port`, in RESP: a status, an integer
/// or a bulk string as text, an error as `ERR …` (`None` when the server
/// cannot be reached or answers nothing).
pub fn command(port: u16, args: &[&str]) -> Option<String> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    conn.write_all(&resp(args)).ok()?;
    read_reply(&mut BufReader::new(conn))
}

fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

fn read_reply(reader: &mut impl BufRead) -> Option<String> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let line = line.trim_end();
    let (kind, rest) = line.split_at_checked(1)?;
    match kind {
        "+" | ":" | "-" => Some(rest.to_owned()),
        "$" => {
            let n: i64 = rest.parse().ok()?;
            if n < 0 {
                return Some(String::new());
            }
            let mut buf = vec![0; n as usize + 2];
            reader.read_exact(&mut buf).ok()?;
            buf.truncate(n as usize);
            String::from_utf8(buf).ok()
        }
        _ => None,
    }
}

/// A `MONITOR` session on a plain server: every command clients send,
/// apart from those scripts run.
pub struct Monitor {
    reader: BufReader<TcpStream>,
}

impl Monitor {
    pub fn start(port: u16) -> Monitor {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
        conn.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        conn.write_all(&resp(&["MONITOR"])).unwrap();
        let mut reader = BufReader::new(conn);
        assert_eq!(read_reply(&mut reader).as_deref(), Some("OK"));
        Monitor { reader }
    }

    /// The commands seen so far, each as its words (quotes kept), reading
    /// until the server has been quiet for 300 ms.
    pub fn commands(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(line) = read_reply(&mut self.reader) {
            // `<time> [<db> <client>] "CMD" "arg" …`; a script's own calls
            // show `[<db> lua]`.
            if line.contains(" lua] ") {
                continue;
            }
            if let Some((_, cmd)) = line.split_once("] ") {
                out.push(cmd.to_owned());
            }
        }
        out
    }
}

/// A Redis Cluster of `primaries` primaries with `replicas` replicas each,
/// every node a server on its own loopback port (and bus port).
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts the nodes, joins them with `redis-cli --cluster create`, and
    /// waits (bounded) until every node sees every slot served and every
    /// replica is in sync.
    pub fn start(primaries: usize, replicas: usize) -> RedisCluster {
        let n = primaries * (1 + replicas);
        let nodes: Vec<RedisServer> = (0..n)
            .map(|_| {
                let bus = free_port();
                RedisServer::start_with(
                    [
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        "1000",
                        "--cluster-port",
                        &bus.to_string(),
                    ]
                    .map(String::from)
                    .to_vec(),
                    None,
                )
            })
            .collect();
        let mut create = Command::new(cli_bin());
        create.arg("--cluster").arg("create");
        for node in &nodes {
            create.arg(format!("127.0.0.1:{}", node.port));
        }
        let mut child = create
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} did not start ({e})", cli_bin()));
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{} --cluster create did not finish in 60 s", cli_bin());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if !status.success() {
            let mut out = String::new();
            let _ = child.stdout.take().unwrap().read_to_string(&mut out);
            panic!("{} --cluster create failed:\n{out}", cli_bin());
        }
        let cluster = RedisCluster { nodes };
        cluster.wait_until(
            "every node sees the cluster ok",
            Duration::from_secs(30),
            |c| {
                c.nodes
                    .iter()
                    .all(|n| n.cluster_info().contains("cluster_state:ok"))
            },
        );
        if replicas > 0 {
            cluster.wait_until("every replica is in sync", Duration::from_secs(30), |c| {
                c.nodes.iter().all(|n| {
                    let repl = n.info("replication");
                    repl.contains("role:master") || repl.contains("master_link_status:up")
                })
            });
        }
        cluster
    }

    /// The seed URLs, one per node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// Waits (bounded) until `done` holds, checking every 50 ms.
    pub fn wait_until(&self, what: &str, limit: Duration, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "cluster: {what}: not after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The node serving `key` as primary now.
    pub fn primary_of(&self, key: &str) -> usize {
        let live = self
            .nodes
            .iter()
            .find(|n| n.running())
            .expect("a live node");
        let slot: u16 = live
            .command(&["CLUSTER", "KEYSLOT", key])
            .and_then(|s| s.parse().ok())
            .expect("CLUSTER KEYSLOT");
        let nodes = live.command(&["CLUSTER", "NODES"]).expect("CLUSTER NODES");
        for line in nodes.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            if f.len() < 9 || !f[2].contains("master") || f[2].contains("fail") {
                continue;
            }
            let serves = f[8..].iter().any(|range| {
                let (a, b) = range.split_once('-').unwrap_or((range, range));
                matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if (a..=b).contains(&slot))
            });
            let port: u16 = f[1]
                .split(['@', ':'])
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            if serves {
                return self
                    .nodes
                    .iter()
                    .position(|n| n.port == port)
                    .expect("a node of this cluster");
            }
        }
        panic!("no live primary serves slot {slot}");
    }

    /// Waits (bounded) until the replicas of node `i` hold all it wrote.
    pub fn wait_for_replication(&self, i: usize) {
        let offset = |text: &str, field: &str| -> Option<u64> {
            text.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().parse().ok())
        };
        self.wait_until("the replicas caught up", Duration::from_secs(10), |c| {
            let primary = c.nodes[i].info("replication");
            let Some(want) = offset(&primary, "master_repl_offset:") else {
                return false;
            };
            let replicas: Vec<&str> = primary
                .lines()
                .filter(|l| l.starts_with("slave") && l.contains("offset="))
                .collect();
            !replicas.is_empty()
                && replicas.iter().all(|l| {
                    l.split(',')
                        .find_map(|kv| kv.strip_prefix("offset="))
                        .and_then(|v| v.parse::<u64>().ok())
                        == Some(want)
                })
        });
    }

    /// Kills node `i` (SIGKILL: a crash, nothing flushed).
    pub fn kill(&mut self, i: usize) {
        self.nodes[i].stop();
    }
}

impl RedisServer {
    /// `CLUSTER INFO` of a plain server (empty when unreachable).
    pub fn cluster_info(&self) -> String {
        self.command(&["CLUSTER", "INFO"]).unwrap_or_default()
    }

    /// `INFO <section>` of a plain server (empty when unreachable).
    pub fn info(&self, section: &str) -> String {
        self.command(&["INFO", section]).unwrap_or_default()
    }
}
