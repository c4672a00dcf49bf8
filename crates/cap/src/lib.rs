//! `cap`, the thin command-line client of `capd`.
//!
//! The grammar lives in [`cli`] (so man pages and completions can be generated from it), one
//! module per verb in [`commands`], connection and daemon autostart in [`connect`], and the
//! three output formats in [`render`] (streamed events) and [`output`] (documents, tables).
//! Replies are read through a [`link`], which keeps every wait on the daemon bounded (the
//! bounds are in [`timeouts`]), and kept as received by [`wire`] so `--format json` can pass
//! them through unchanged.

pub mod ask;
pub mod cli;
pub mod commands;
pub mod connect;
pub mod failure;
pub mod link;
pub mod mcp;
pub mod output;
pub mod remote;
pub mod render;
pub mod route;
pub mod spinner;
pub mod timeouts;
pub mod wire;

use cli::{Cli, Command, Format, Global};
use std::path::PathBuf;

/// What every command needs from the global options, resolved once.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub format: Format,
    pub verbose: u8,
    /// The socket path: `--socket`, else `$CAP_SOCKET`, else the per-user default.
    pub socket: PathBuf,
    /// Config file for an autostarted daemon.
    pub config: Option<PathBuf>,
    pub autostart: bool,
    /// How long to wait on the daemon before giving up.
    pub timeouts: timeouts::Timeouts,
    /// The machine whose capd to talk to (`--host`), through ssh; `None` for this one.
    pub host: Option<remote::Host>,
}

impl Ctx {
    /// Fails (usage) when a timeout in the environment is not a number of seconds.
    pub fn new(g: &Global) -> Result<Ctx, failure::Failure> {
        Ok(Ctx {
            format: g.format,
            verbose: g.verbose,
            socket: cap_proto::paths::socket_path(g.socket.as_deref()),
            config: g.config.clone(),
            autostart: !g.no_autostart,
            timeouts: timeouts::Timeouts::from_env()?,
            host: match g.host.as_deref().filter(|h| !h.is_empty()) {
                Some(h) => Some(remote::resolve(h, g.config.as_deref())?),
                None => None,
            },
        })
    }
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = Ctx::new(&cli.global)?;
    if let Some(host) = &ctx.host {
        route::set_remote(host.label.clone());
    }
    use commands::*;
    match cli.command {
        Command::Prompt(args) => prompt::run(&ctx, args),
        Command::Open(args) => open::run(&ctx, args),
        Command::Sessions => sessions::run(&ctx),
        Command::Show { id } => show::run(&ctx, id),
        Command::End(args) => end::run(&ctx, args),
        Command::Bind { key, id } => bind::run(&ctx, key, id),
        Command::Unbind { key } => unbind::run(&ctx, key),
        Command::Keys => keys::run(&ctx),
        Command::Cancel(args) => cancel::run(&ctx, args),
        Command::Fork(args) => fork::run(&ctx, args),
        Command::Decide { id, answer, always } => decide::run(&ctx, id, answer, always),
        Command::Attach { id } => attach::run(&ctx, id),
        Command::Result { id } => result::run(&ctx, id),
        Command::Log {
            target,
            turns,
            follow,
        } => log::run(&ctx, target.into(), turns, follow),
        Command::Export { target, to } => export::run(&ctx, target.into(), to),
        Command::Agents => agents::run(&ctx),
        Command::Daemon { action } => daemon::run(&ctx, action),
        Command::Gc => gc::run(&ctx),
        Command::Budget { action } => budget::run(&ctx, action),
        Command::Config { action } => config::run(&ctx, action),
        Command::Mcp(args) => commands::mcp::run(&ctx, args),
        Command::Completions { shell } => completions::run(shell),
    }
}

/// Reports a failed command on stderr ("cap: …") and returns the exit code.
pub fn report(err: &anyhow::Error) -> i32 {
    if !failure::is_silent(err) {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "cap: {err:#}");
    }
    failure::exit_code(err)
}
