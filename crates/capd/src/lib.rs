//! `capd`: keeps coding agents alive as warm, multi-turn sessions behind one local socket.
//!
//! [`run`] is public so tests can boot a daemon in-process in a temp dir (pueue-style); the
//! `capd` binary is a thin wrapper that adds argument parsing, logging and signal handling.

pub mod agents;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod delegation;
pub mod drivers;
mod handlers;
mod handoff;
pub mod mcp;
pub mod memory;
pub mod persist;
pub mod routing;
pub mod saver;
pub mod schema;
pub mod server;
pub mod session;
pub mod spares;
pub mod transcript;

use daemon::{Daemon, Paths};
use std::path::PathBuf;
use std::time::Duration;

/// How to run a daemon.
#[derive(Debug, Clone)]
pub struct Options {
    pub socket: PathBuf,
    pub config_file: Option<PathBuf>,
    pub state_file: PathBuf,
    /// Install SIGTERM/SIGINT handlers. Off in in-process tests, where several daemons share
    /// one process.
    pub handle_signals: bool,
}

/// Runs the daemon until `stop` or a signal, then ends every session's process group and
/// removes the socket and pid file. Records stay on disk so the next daemon resumes them.
pub async fn run(opts: Options) -> anyhow::Result<()> {
    run_with(opts, None).await
}

/// [`run`], serving `inherited` (a socket passed by systemd, see [`server::activation`])
/// instead of binding `opts.socket`. The inherited socket's own path, when it has one, is
/// the daemon's socket path (its pid file sits beside it, `cap daemon status` shows it).
pub async fn run_with(
    mut opts: Options,
    inherited: Option<server::activation::Inherited>,
) -> anyhow::Result<()> {
    let config = config::Config::load(opts.config_file.as_deref())?;
    if let Some(path) = inherited.as_ref().and_then(|i| i.path.clone()) {
        opts.socket = path;
    }
    let guard = match &inherited {
        Some(_) => server::claim_inherited(&opts.socket)?,
        None => server::claim(&opts.socket)?,
    };
    let (records, warning) = persist::load(&opts.state_file)?;
    if let Some(w) = warning {
        tracing::warn!("{w}");
    }
    let listener = match inherited {
        Some(i) => {
            tracing::info!("serving the socket passed by the service manager");
            server::activation::listener(i.fd)?
        }
        None => server::listen(&opts.socket)?,
    };
    let d = Daemon::new(
        config,
        Paths {
            socket: opts.socket.clone(),
            state_file: opts.state_file.clone(),
            config_file: opts.config_file.clone(),
        },
        records,
    );
    tracing::info!(
        pid = std::process::id(),
        socket = %opts.socket.display(),
        "capd {} listening",
        cap_proto::VERSION
    );
    tokio::spawn(sweeper(d.clone()));
    tokio::spawn(memory::sampler(d.clone()));
    if opts.handle_signals {
        tokio::spawn(on_signals(d.clone()));
    }
    server::serve(d.clone(), listener).await;
    tracing::info!("shutting down: ending every session");
    d.end_all().await;
    // The last state reaches the disk before the daemon exits.
    d.flush_state().await;
    let _ = std::fs::remove_file(cap_proto::paths::pid_file(&opts.socket));
    drop(guard);
    tracing::info!("capd stopped");
    Ok(())
}

/// The periodic sweeps: idle sessions, and transcripts past `transcript_days`. It runs on its
/// own timer, not only when sessions spawn, so an idle agent is freed even when nobody uses
/// cap for hours.
async fn sweeper(d: std::sync::Arc<Daemon>) {
    let idle = d.config.idle_timeout();
    let retention = d.transcript_retention();
    let every = match idle {
        Some(idle) => (idle / 4).clamp(Duration::from_millis(250), Duration::from_secs(30)),
        None if retention.is_some() => TRANSCRIPT_SWEEP,
        None => return,
    };
    let mut stop = d.shutdown.subscribe();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick fires at once, so old transcripts go when the daemon starts.
    let mut last_transcript_sweep: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if idle.is_some() {
                    let _ = d.sweep();
                }
                if let Some((dir, keep)) = &retention
                    && last_transcript_sweep.is_none_or(|t| t.elapsed() >= TRANSCRIPT_SWEEP)
                {
                    last_transcript_sweep = Some(std::time::Instant::now());
                    let removed = transcript::sweep(dir, *keep, std::time::SystemTime::now());
                    if removed > 0 {
                        tracing::info!("removed {removed} transcripts older than transcript_days");
                    }
                }
            }
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

/// How often old transcripts are looked for: retention is counted in days.
const TRANSCRIPT_SWEEP: Duration = Duration::from_secs(3600);

async fn on_signals(d: std::sync::Arc<Daemon>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::warn!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
        _ = hup.recv() => {}
    }
    tracing::info!("signal received");
    d.shutdown.send_replace(true);
}
