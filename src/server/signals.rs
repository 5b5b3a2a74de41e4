//! Running the server: pingora services, signals and configuration reloads.
//!
//! pingora's own SIGTERM handling sleeps out its whole grace period even
//! when nothing is in flight, and it leaves SIGHUP to kill the process. So
//! hookgate watches the signals itself: SIGTERM stops the listeners (through
//! pingora's graceful path) and exits as soon as the requests in flight are
//! done, or at `shutdown_timeout`; SIGHUP and a change of the file reload.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use pingora::services::listening::Service;
use tokio::signal::unix::{signal, SignalKind};

use super::admin::Admin;
use super::{Gateway, Snapshot, State};
use crate::config::Loaded;
use crate::dedup::Dedup;
use crate::metrics::Metrics;
use crate::reload::{ConfigSource, Reload};

/// How often the configuration file is checked for changes.
const WATCH_INTERVAL: Duration = Duration::from_millis(1000);

/// Starts the gateway and blocks until it shuts down.
pub fn run(
    source: ConfigSource,
    loaded: Loaded,
    dedup: Arc<Dedup>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<()> {
    let config = loaded.config;
    let server_settings = config.server.clone();
    let conf = ServerConf {
        threads: server_settings.threads,
        // One single-threaded runtime per thread (connections are spread
        // across them at random): ~15 % less CPU per request than the
        // work-stealing runtime in the load bench.
        work_stealing: false,
        // Draining is ours (see the module comment); pingora only has to stop.
        grace_period_seconds: Some(server_settings.shutdown_timeout.as_secs() + 1),
        graceful_shutdown_timeout_seconds: Some(1),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let snapshot = Snapshot::new(config, &metrics);
    let state = Arc::new(State::new(snapshot, dedup, metrics, 256));

    let mut gateway = Service::new("hookgate".to_string(), Gateway::new(state.clone()));
    let listen = server_settings.listen.to_string();
    match &server_settings.tls {
        Some(tls) => gateway
            .add_tls(
                &listen,
                &tls.cert.to_string_lossy(),
                &tls.key.to_string_lossy(),
            )
            .map_err(|e| anyhow::anyhow!("TLS listener on {listen}: {e}"))?,
        None => gateway.add_tcp(&listen),
    }
    server.add_service(gateway);
    if let Some(admin_addr) = server_settings.admin_listen {
        let mut admin = Service::new("hookgate-admin".to_string(), Admin::new(state.clone()));
        admin.threads = Some(1);
        admin.add_tcp(&admin_addr.to_string());
        server.add_service(admin);
    }

    tracing::info!(
        listen = %server_settings.listen,
        admin = ?server_settings.admin_listen,
        routes = state.snapshot.load().config.routes().count(),
        "hookgate listening"
    );
    let watch = Signals {
        state,
        reload: std::sync::Mutex::new(Reload::new(source)),
        shutdown_timeout: server_settings.shutdown_timeout,
    };
    server.run(RunArgs {
        shutdown_signal: Box::new(watch),
    });
    Ok(())
}

struct Signals {
    state: Arc<State>,
    reload: std::sync::Mutex<Reload>,
    shutdown_timeout: Duration,
}

impl Signals {
    fn reload(&self, forced: bool) {
        let mut reload = self.reload.lock().expect("reload lock");
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
                self.state.snapshot.store(Arc::new(snapshot));
                self.state.metrics.reloads_ok.fetch_add(1, Relaxed);
                tracing::info!(
                    routes = self.state.snapshot.load().config.routes().count(),
                    "configuration reloaded"
                );
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
            crate::logging::flush();
            std::process::exit(0);
        });
    }
}

#[async_trait]
impl ShutdownSignalWatch for Signals {
    async fn recv(&self) -> ShutdownSignal {
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
        let mut hup = signal(SignalKind::hangup()).expect("SIGHUP handler");
        let mut tick = tokio::time::interval(WATCH_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = term.recv() => {
                    tracing::info!("SIGTERM: no new connections; finishing requests in flight");
                    self.drain_then_exit();
                    return ShutdownSignal::GracefulTerminate;
                }
                _ = int.recv() => return ShutdownSignal::FastShutdown,
                _ = hup.recv() => self.reload(true),
                _ = tick.tick() => self.reload(false),
            }
        }
    }
}
