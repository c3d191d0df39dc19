//! Depot: the registry server (`depot serve`), its read-only mirror (`depot
//! mirror`), the Spin build's composer (`depot compose`) and its command-line
//! client, behind the `depot` binary. The
//! storage layer is public so benchmarks can fill a registry through the
//! store's own write path.

#![warn(missing_docs)]

mod backup;
mod client;
mod gc;
mod logs;
mod mirror;
mod serve;
mod spin;
pub mod store;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Depot: a registry for WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "depot", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    registry: client::RegistryArgs,
    /// How log lines (on stderr) are written: `text` for people, `json`
    /// (one object per line) for log collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "DEPOT_LOG_FORMAT")]
    log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// One line of text per event.
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `fields`.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the registry server.
    Serve(serve::ServeArgs),
    /// Run a read-only mirror of another Depot registry: it follows the
    /// origin's feed, copies every entry and its content (digests checked),
    /// resumes after a restart, and serves the same reads.
    Mirror(serve::MirrorArgs),
    /// Compose the handlers with a store component (spin-store) into one
    /// component for Spin: the app `spin.toml` serves.
    Compose(serve::ComposeArgs),
    /// Back up a registry on embedded storage while it serves: a consistent
    /// snapshot of its database, its checkpoint key and every blob the
    /// snapshot names.
    Backup(backup::BackupArgs),
    /// Make a data directory from a backup, for `depot serve --data`.
    Restore(backup::RestoreArgs),
    /// Remove what nothing uses, while the registry serves: unpublished
    /// releases past their expiry, abandoned uploads, unreferenced blobs and
    /// unused compiled handlers, each only once older than the grace period.
    Gc(gc::GcArgs),
    #[command(flatten)]
    Client(client::ClientCommand),
}

/// Runs the `depot` command line.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Two TLS backends are linked (wasmtime-wasi-http's ring, reqwest's
    // aws-lc-rs), so rustls cannot pick one itself: a handler's `https://`
    // request (a content source) would panic. Installing one fails only when
    // one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Logs go to stderr, buffered, filtered by RUST_LOG (default: info).
    let logs = logs::Logs::start();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(logs.clone())
        // Colours only for a person at a terminal, not in a collector's file.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match cli.log_format {
        LogFormat::Text => subscriber.init(),
        LogFormat::Json => subscriber.json().init(),
    }
    logs::install(
        logs.clone(),
        match cli.log_format {
            LogFormat::Text => logs::Format::Text,
            LogFormat::Json => logs::Format::Json,
        },
    );
    let result = run(cli);
    logs.flush();
    result
}

/// Runs the command `cli` names.
fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve::run(args, None),
        Command::Mirror(args) => {
            let origin =
                client::Registry::new(&args.from)?.with_token(cli.registry.token.as_deref())?;
            serve::run(
                args.serve,
                Some(serve::Mirror {
                    origin,
                    batch: args.batch,
                }),
            )
        }
        Command::Compose(args) => serve::compose_app(args),
        Command::Backup(args) => backup::backup(&args),
        Command::Restore(args) => backup::restore(&args),
        Command::Gc(args) => gc::run(&args),
        Command::Client(command) => {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(client::run(command, &cli.registry));
            match result {
                Err(error) if client::stdout_closed(&error) => Ok(()),
                result => result,
            }
        }
    }
}
