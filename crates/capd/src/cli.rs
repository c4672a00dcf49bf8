//! `capd`'s command line, in the library so the man page can be generated from it.

use clap::Parser;
use std::path::PathBuf;

/// The cap daemon: keeps coding agents alive as warm, multi-turn sessions.
///
/// Runs in the foreground; `cap` starts it detached on demand. Logs go to stderr, or to
/// <state dir>/cap/capd.log with --detach. Set CAP_LOG or RUST_LOG (e.g. `debug`) for more.
///
/// Started by systemd with a listening socket (socket activation: LISTEN_PID, LISTEN_FDS=1,
/// descriptor 3), it serves that socket instead of binding one; `cap daemon
/// install-service` sets this up.
#[derive(Debug, Parser)]
#[command(name = "capd", version, about)]
pub struct Args {
    /// Socket path [default: <runtime dir>/cap/capd.sock]
    #[arg(long, env = "CAP_SOCKET")]
    pub socket: Option<PathBuf>,
    /// Config file [default: <config dir>/cap/config.toml]
    #[arg(long, env = "CAP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Detach from the terminal and log to <state dir>/cap/capd.log (used by `cap`).
    #[arg(long)]
    pub detach: bool,
    /// More logging (-v debug, -vv trace).
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
}
