//! Running the gateway: pingora's server with the webhook and admin
//! listeners, signals, configuration reloads, and the drain.
//!
//! pingora's own SIGTERM handling sleeps out its whole grace period even
//! when nothing is in flight, leaves SIGHUP to kill the process, and its
//! fast shutdown (SIGINT) tears the runtimes down under running accept
//! loops. So hookgate watches the signals itself: SIGTERM stops the
//! listeners (through pingora's graceful path) and exits as soon as the
//! requests in flight are done, or at `shutdown_timeout`; SIGINT exits at
//! once; SIGHUP and a change of the file reload. Every exit flushes the log
//! and saves what must survive (`on_exit`).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use pingora_rustls::TlsAcceptor;
use tokio::signal::unix::{signal, SignalKind};

use super::budget::Budget;
use super::listener::{self, App, Listener};
use super::{Snapshot, State};
use crate::config::{Loaded, TlsFiles};
use crate::dedup::Dedup;
use crate::metrics::Metrics;
use crate::reload::{ConfigSource, Reload};

/// How often the configuration file is checked for changes.
const WATCH_INTERVAL: Duration = Duration::from_millis(1000);
/// Connections the admin listener holds at most (health checks, scrapes).
const ADMIN_CONNECTIONS: usize = 64;
/// File descriptors kept free beyond the webhook connections: the admin
/// listener, upstream connections, Redis, the log, the snapshot file.
const RESERVED_FDS: usize = 256;

/// Work to do before the process exits (saving the dedup snapshot).
pub type OnExit = Box<dyn Fn() + Send + Sync>;

/// Starts the gateway and blocks until it exits.
pub fn run(
    source: ConfigSource,
    loaded: Loaded,
    dedup: Arc<Dedup>,
    metrics: Arc<Metrics>,
    on_exit: OnExit,
) -> anyhow::Result<()> {
    // Before anything listens: a signal sent as soon as the port accepts is
    // then handled, never the default action (SIGHUP would end the process).
    let signals = watch_signals()?;
    let mut config = loaded.config;
    let fds = raise_fd_limit();
    let server = &mut config.server;
    if server.max_connections + RESERVED_FDS > fds {
        let fit = fds.saturating_sub(RESERVED_FDS).max(1);
        tracing::warn!(
            max_connections = server.max_connections,
            open_files_limit = fds,
            "server.max_connections does not fit the open-files limit with room for the admin listener and upstreams; using {fit} (raise `ulimit -n` for more)"
        );
        server.max_connections = fit;
    }
    let settings = config.server.clone();
    let conf = ServerConf {
        threads: settings.threads,
        // One single-threaded runtime per thread, a connection staying on
        // the thread that accepted it.
        work_stealing: false,
        // Draining is ours (see the module comment); pingora only has to stop.
        grace_period_seconds: Some(settings.shutdown_timeout.as_secs() + 1),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let tls = settings.tls.as_ref().map(tls_acceptor).transpose()?;
    let gateway_sockets = listener::bind(settings.listen, settings.threads)
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.listen))?;
    let admin_sockets = settings
        .admin_listen
        .map(|addr| {
            listener::bind(addr, 1).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
        })
        .transpose()?;

    let mut pingora = Server::new_with_opt_and_conf(None, conf);
    pingora.bootstrap();
    let state = Arc::new(State::new(Snapshot::new(config, &metrics), dedup, metrics));
    pingora.add_service(Listener::new(
        "hookgate",
        App::Gateway(state.clone()),
        gateway_sockets,
        tls.map(Arc::new),
        state.budget.clone(),
    ));
    if let Some(sockets) = admin_sockets {
        pingora.add_service(Listener::new(
            "hookgate-admin",
            App::Admin(state.clone()),
            sockets,
            None,
            Budget::new(ADMIN_CONNECTIONS, 0),
        ));
    }

    tracing::info!(
        listen = %settings.listen,
        admin = ?settings.admin_listen,
        threads = settings.threads,
        routes = state.snapshot.load().config.routes().count(),
        "hookgate listening"
    );
    let watch = Signals {
        events: tokio::sync::Mutex::new(signals),
        state,
        reload: Mutex::new(Reload::new(source)),
        shutdown_timeout: settings.shutdown_timeout,
        on_exit: Arc::new(on_exit),
    };
    pingora.run(RunArgs {
        shutdown_signal: Box::new(watch),
    });
    Ok(())
}

/// The TLS acceptor for `server.tls`, with the files' errors reported
/// instead of the panic pingora's builder would raise.
fn tls_acceptor(files: &TlsFiles) -> anyhow::Result<TlsAcceptor> {
    let (cert, key) = (files.cert.to_string_lossy(), files.key.to_string_lossy());
    match pingora_rustls::load_certs_and_key_files(&cert, &key) {
        Ok(Some(_)) => {}
        _ => anyhow::bail!(
            "server.tls: cannot load a certificate chain from {cert} and a private key from {key}"
        ),
    }
    let settings = pingora::listeners::tls::TlsSettings::intermediate(&cert, &key)
        .map_err(|e| anyhow::anyhow!("server.tls: {e}"))?;
    Ok(settings.build().acceptor)
}

/// Raises the open-files soft limit to the hard limit; the limit in force.
fn raise_fd_limit() -> usize {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        return usize::MAX;
    };
    let limit = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    usize::try_from(limit).unwrap_or(usize::MAX)
}

/// The signals hookgate acts on.
#[derive(Debug, Clone, Copy)]
enum Sig {
    Term,
    Int,
    Hup,
}

/// Handles SIGTERM, SIGINT and SIGHUP from now on, on a thread of its own;
/// they queue until the server reads them.
fn watch_signals() -> anyhow::Result<tokio::sync::mpsc::UnboundedReceiver<Sig>> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            runtime.block_on(async move {
                let handlers = (|| {
                    Ok::<_, std::io::Error>((
                        signal(SignalKind::terminate())?,
                        signal(SignalKind::interrupt())?,
                        signal(SignalKind::hangup())?,
                    ))
                })();
                let (mut term, mut int, mut hup) = match handlers {
                    Ok(h) => h,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                loop {
                    let sig = tokio::select! {
                        _ = term.recv() => Sig::Term,
                        _ = int.recv() => Sig::Int,
                        _ = hup.recv() => Sig::Hup,
                    };
                    if tx.send(sig).is_err() {
                        return;
                    }
                }
            });
        })?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(rx),
        Ok(Err(e)) => anyhow::bail!("cannot handle signals: {e}"),
        Err(_) => anyhow::bail!("cannot handle signals"),
    }
}

struct Signals {
    events: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Sig>>,
    state: Arc<State>,
    reload: Mutex<Reload>,
    shutdown_timeout: Duration,
    on_exit: Arc<OnExit>,
}

impl Signals {
    fn reload(&self, forced: bool) {
        let mut reload = self.reload.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.state.snapshot.load_full();
        let Some(result) = reload.check(forced) else {
            return;
        };
        match result {
            Ok(loaded) => {
                for w in &loaded.warnings {
                    tracing::warn!("{w}");
                }
                let restart = current.config.restart_needed(&loaded.config);
                if !restart.is_empty() {
                    tracing::warn!(
                        settings = ?restart,
                        "configuration reloaded; these settings need a restart to take effect"
                    );
                }
                let snapshot = Snapshot::new(loaded.config, &self.state.metrics);
                let routes = snapshot.config.routes().count();
                self.state.snapshot.store(Arc::new(snapshot));
                self.state.metrics.reloads_ok.fetch_add(1, Relaxed);
                tracing::info!(routes, "configuration reloaded");
            }
            Err(errors) => {
                self.state.metrics.reloads_refused.fetch_add(1, Relaxed);
                tracing::error!(
                    "configuration reload refused; the running configuration stays. {errors}"
                );
            }
        }
    }

    /// Exits once nothing is in flight, or when the shutdown timeout is up.
    fn drain_then_exit(&self) {
        self.state.draining.store(true, Relaxed);
        let state = self.state.clone();
        let on_exit = self.on_exit.clone();
        let deadline = Instant::now() + self.shutdown_timeout;
        std::thread::spawn(move || {
            // Let the listeners close before judging that nothing is in flight.
            std::thread::sleep(Duration::from_millis(100));
            while state.metrics.in_flight.load(Relaxed) > 0 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let left = state.metrics.in_flight.load(Relaxed);
            if left > 0 {
                tracing::warn!(
                    in_flight = left,
                    "shutdown timeout reached with requests in flight"
                );
            } else {
                tracing::info!("drained; exiting");
            }
            exit(&on_exit, 0);
        });
    }
}

/// Saves what must survive, flushes the log, and ends the process.
fn exit(on_exit: &OnExit, code: i32) -> ! {
    on_exit();
    crate::logging::flush();
    std::process::exit(code)
}

#[async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        let mut events = self.events.lock().await;
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                sig = events.recv() => match sig {
                    Some(Sig::Term) => {
                        tracing::info!("SIGTERM: no new connections; finishing requests in flight");
                        self.drain_then_exit();
                        return ShutdownSignal::GracefulTerminate;
                    }
                    Some(Sig::Int) => {
                        tracing::info!("SIGINT: exiting now");
                        exit(&self.on_exit, 0);
                    }
                    Some(Sig::Hup) => self.reload(true),
                    None => exit(&self.on_exit, 1),
                },
                _ = tick.tick() => self.reload(false),
            }
        }
    }
}
