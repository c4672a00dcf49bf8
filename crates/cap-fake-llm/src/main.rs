//! `cap-fake-llm`: a fake LLM HTTP server on 127.0.0.1 for cap's end-to-end tests.
//!
//! The real agent CLIs (Claude Code, Codex, OpenCode, Gemini CLI, the Claude ACP
//! adapter) are pointed at it instead of a real provider. It speaks the Anthropic
//! Messages, OpenAI Responses and Chat Completions, and Gemini APIs well enough for
//! them, and answers `ECHO[turns=N]: <last user text>`, so a test can prove that a
//! session kept its context. Magic words in the prompt: `SLOW` streams for about
//! 10 s (to cancel mid-turn), `FAIL500` answers HTTP 500, `RUNCMD <command>`,
//! `WRITEFILE <path>` and `READFILE <path>` call the agent's shell, file-write or
//! file-read tool and then answer
//! `TOOL RESULT: <what the tool returned>` (see `tools`). A request for JSON, by the
//! API's own schema field or by a `JSON Schema:` block in the prompt (`cap prompt
//! --schema`), gets an instance of the schema; with `WRONGJSON` one that breaks it
//! (see `schema`).

mod anthropic;
mod conversation;
mod gemini;
mod http;
mod log;
mod openai;
mod reply;
mod routes;
mod schema;
mod server;
mod sse;
mod tools;

use std::io::{IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// A fake LLM HTTP server for end-to-end tests of coding agent CLIs.
///
/// Prints `listening on 127.0.0.1:<port>` once bound, then serves until SIGTERM or
/// SIGINT. Per-request log lines go to stderr at debug level (RUST_LOG=debug).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Append one JSON line per request to this file.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let log = server::AppState {
        log: Arc::new(
            log::RequestLog::open(args.log.as_deref())
                .with_context(|| format!("cannot open the log file {:?}", args.log))?,
        ),
    };
    // Watch signals before announcing the port, so a test that kills the fake
    // right after reading the port line still sees it exit 0.
    let stop = shutdown_signal()?;
    // Loopback only: the fake must never be reachable from another machine.
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)))
            .await
            .with_context(|| format!("cannot bind 127.0.0.1:{}", args.port))?;
    let addr = listener.local_addr()?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "listening on {addr}")?;
        stdout.flush()?;
    }

    let serve = axum::serve(listener, server::router(log));
    // No graceful drain: a SLOW stream would hold up exit for seconds, and a test
    // fake has nothing to finish. Returning drops every connection at once.
    tokio::select! {
        result = serve => result.context("server failed")?,
        () = stop => {}
    }
    Ok(())
}

/// A future that resolves on SIGTERM or SIGINT, the two ways tests and scripts
/// stop the fake. The handlers are installed before this returns.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: exiting"),
            _ = int.recv() => tracing::info!("SIGINT: exiting"),
        }
    })
}
