use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use hookgate::config::DedupBackend;
use hookgate::dedup::Dedup;
use hookgate::metrics::Metrics;
use hookgate::reload::ConfigSource;

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
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a configuration without serving.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => check(config),
        Command::Run { config } => match run(config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("hookgate: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn check(path: PathBuf) -> ExitCode {
    match ConfigSource::new(&path).load() {
        Ok(loaded) => {
            for w in &loaded.warnings {
                eprintln!("warning: {w}");
            }
            println!(
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
    let store = match &loaded.config.dedup.backend {
        DedupBackend::Memory { max_entries } => {
            Arc::new(hookgate::dedup::memory::MemoryStore::new(*max_entries))
        }
        DedupBackend::Redis { .. } => anyhow::bail!("the redis dedup backend is not built in yet"),
    };
    let dedup = Dedup::new(store, loaded.config.dedup.on_backend_error);
    let metrics = Arc::new(Metrics::default());
    hookgate::server::run(source, loaded, dedup, metrics)
}
