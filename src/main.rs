use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use std::time::Duration;

use clap::{Parser, Subcommand};

use hookgate::config::DedupBackend;
use hookgate::dedup::memory::MemoryStore;
use hookgate::dedup::redis::{RedisConfig, RedisStore};
use hookgate::dedup::{snapshot, Dedup, DedupStore};
use hookgate::metrics::Metrics;
use hookgate::provider;
use hookgate::reload::ConfigSource;
use hookgate::secret::Secret;
use hookgate::send;
use hookgate::server::OnExit;

/// mimalloc: the request path (JSON trees, header maps) is allocation-heavy,
/// and glibc's malloc cost ~20 % of its CPU in profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Prints a line to stdout; a reader that went away (e.g. `| head -1`) is
/// not an error of ours.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

#[derive(Parser)]
#[command(
    name = "hookgate",
    version,
    about = "Webhook-hardening sidecar: verify, deduplicate, normalize, forward"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve webhooks with the given configuration.
    Run {
        /// The TOML configuration file (config.example.toml shows every
        /// key). `${NAME}` values are read from the environment.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a configuration without serving: every error with its
    /// location, and warnings (literal secrets, shared secrets, short windows).
    Check {
        /// The TOML configuration file to validate.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Send a realistic, correctly signed test event, as the provider would.
    Send {
        /// The provider to sign as (`hookgate send --list` names them).
        #[arg(required_unless_present = "list")]
        provider: Option<String>,
        /// Where to POST it (e.g. http://127.0.0.1:8080/webhooks/nixflex).
        #[arg(long, required_unless_present = "list")]
        to: Option<String>,
        /// The webhook secret (whsec_… for agntix and allo). Prefer
        /// HOOKGATE_SEND_SECRET in the environment: arguments show in `ps`.
        #[arg(
            long,
            env = "HOOKGATE_SEND_SECRET",
            hide_env_values = true,
            required_unless_present = "list"
        )]
        secret: Option<String>,
        /// One of the provider's documented events (default: its first).
        #[arg(long)]
        event: Option<String>,
        /// Voxagent's signature header (same as `--option
        /// signature_header=NAME`).
        #[arg(long)]
        signature_header: Option<String>,
        /// A provider option, as on its route: `--option key=value`
        /// (repeatable).
        #[arg(long = "option", value_name = "KEY=VALUE")]
        options: Vec<String>,
        /// Send the same signed delivery this many times, as a provider's
        /// retries would (hookgate forwards it once).
        #[arg(long, default_value_t = 1)]
        repeat: u32,
        /// List the providers, or a provider's events, and exit.
        #[arg(long)]
        list: bool,
    },
    /// GET a URL and exit 0 on a 2xx answer (container health checks).
    Healthcheck {
        #[arg(long, default_value = "http://127.0.0.1:9090/healthz")]
        url: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check(config),
        Command::Send {
            provider,
            to,
            secret,
            event,
            signature_header,
            options,
            repeat,
            list,
        } => {
            let mut options = options;
            if let Some(h) = signature_header {
                options.push(format!("signature_header={h}"));
            }
            let opts = SendOptions {
                event: event.as_deref(),
                options: &options,
                repeat,
                list,
            };
            send(
                provider.as_deref(),
                to.as_deref().unwrap_or_default(),
                secret.as_deref().unwrap_or_default(),
                &opts,
            )
        }
        Command::Healthcheck { url } => healthcheck(&url),
        Command::Run { config } => {
            let result = run(config);
            hookgate::logging::flush();
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hookgate: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn check(path: PathBuf) -> ExitCode {
    match ConfigSource::new(&path).load() {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            out!(
                "{}: valid ({} routes)",
                path.display(),
                loaded.config.routes().count()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{}: {errors}", path.display());
            ExitCode::FAILURE
        }
    }
}

fn run(path: PathBuf) -> anyhow::Result<()> {
    let source = ConfigSource::new(&path);
    let loaded = source
        .load()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    hookgate::logging::init(&loaded.config.log);
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    let settings = &loaded.config.dedup;
    let (store, on_exit): (Arc<dyn DedupStore>, OnExit) = match &settings.backend {
        DedupBackend::Memory {
            max_entries,
            snapshot,
        } => {
            let store = Arc::new(MemoryStore::new(*max_entries));
            let on_exit = match snapshot {
                Some(path) => {
                    snapshot::load_at_startup(&store, path);
                    keep_snapshots(store.clone(), path.clone(), settings.snapshot_interval)?
                }
                None => Box::new(|| {}),
            };
            (store, on_exit)
        }
        DedupBackend::Redis(config) => {
            let store = RedisStore::new(config).map_err(|e| anyhow::anyhow!("dedup: {e}"))?;
            check_redis_at_start(config.clone());
            (Arc::new(store), Box::new(|| {}))
        }
    };
    let dedup = Arc::new(Dedup::new(store, settings.on_backend_error));
    let metrics = Arc::new(Metrics::default());
    hookgate::server::run(source, loaded, dedup, metrics, on_exit)
}

/// Says at start-up, in the log, whether Redis can be used and if not why
/// (refused, a certificate, a password), without holding the start up: the
/// gateway serves meanwhile, following `dedup.on_backend_error`.
fn check_redis_at_start(config: RedisConfig) {
    let spawned = std::thread::Builder::new()
        .name("dedup-check".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let target = config.describe();
            match runtime.block_on(hookgate::dedup::redis::probe(&config)) {
                Ok(()) => tracing::info!("dedup backend: Redis at {target} answers"),
                Err(e) => tracing::warn!(
                    "dedup backend: Redis at {target} cannot be used: {e}; until it can, requests follow dedup.on_backend_error and /readyz answers 503"
                ),
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("dedup backend: the start-up check did not run: {e}");
    }
}

/// Saves the memory backend's deliveries every `every` on a thread of its
/// own; the returned hook writes the last snapshot before the process
/// exits (waiting at most 5 s for it).
fn keep_snapshots(
    store: Arc<MemoryStore>,
    path: PathBuf,
    every: Duration,
) -> anyhow::Result<OnExit> {
    let (stop, stopped) = std::sync::mpsc::channel::<std::sync::mpsc::Sender<()>>();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("dedup-snapshots".into())
        .spawn(move || {
            runtime.block_on(async move {
                let task = snapshot::spawn_snapshots(store, path, every);
                let asked = tokio::task::spawn_blocking(move || stopped.recv()).await;
                if let Ok(Ok(done)) = asked {
                    let _ = task.stop_and_save().await;
                    let _ = done.send(());
                }
            })
        })?;
    Ok(Box::new(move || {
        let (done, finished) = std::sync::mpsc::channel();
        if stop.send(done).is_ok() {
            let _ = finished.recv_timeout(Duration::from_secs(5));
        }
    }))
}

struct SendOptions<'a> {
    event: Option<&'a str>,
    options: &'a [String],
    repeat: u32,
    list: bool,
}

fn send(provider: Option<&str>, to: &str, secret: &str, opts: &SendOptions<'_>) -> ExitCode {
    let SendOptions {
        event,
        options,
        repeat,
        list,
    } = *opts;
    let Some(name) = provider else {
        for p in provider::all() {
            out!("{}", p.name());
        }
        return ExitCode::SUCCESS;
    };
    let Some(p) = provider::find(name) else {
        eprintln!(
            "hookgate send: unknown provider {name:?} (one of {})",
            provider::names()
        );
        return ExitCode::from(2);
    };
    if list {
        for sample in p.samples() {
            out!("{}", sample.event);
        }
        return ExitCode::SUCCESS;
    }
    let mut table = toml::Table::new();
    for option in options {
        let Some((key, value)) = option.split_once('=') else {
            eprintln!("hookgate send: --option {option:?} is not KEY=VALUE");
            return ExitCode::from(2);
        };
        table.insert(key.to_owned(), toml::Value::String(value.to_owned()));
    }
    let signed = match send::sign_event(p, event, &Secret::new(secret), &table, to) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hookgate send: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut all_ok = true;
    for _ in 0..repeat.max(1) {
        match runtime.block_on(send::post(to, &signed, Duration::from_secs(30))) {
            Ok(answer) => {
                out!("{name} {} -> {to}: HTTP {}", signed.event, answer.status);
                for (k, v) in &answer.headers {
                    if k.starts_with("x-hookgate") || k == "retry-after" {
                        out!("  {k}: {v}");
                    }
                }
                out!("  {}", String::from_utf8_lossy(&answer.body));
                all_ok &= (200..300).contains(&answer.status);
            }
            Err(e) => {
                eprintln!("hookgate send: {e}");
                all_ok = false;
            }
        }
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn healthcheck(url: &str) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(send::get(url, Duration::from_secs(3))) {
        Ok(status) if (200..300).contains(&status) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("{url}: HTTP {status}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{url}: {e}");
            ExitCode::FAILURE
        }
    }
}
