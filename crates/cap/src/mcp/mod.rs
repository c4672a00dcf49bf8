//! `cap mcp`: an MCP server over stdio that lets any MCP-capable agent hold warm, multi-turn
//! conversations with every other agent capd runs.
//!
//! It is one more client of capd, like `cap prompt`: each tool call is a capd request on the
//! blocking client (capd is autostarted unless told not to), and a delegated turn goes the
//! normal prompt path, so the permission policy, spending caps, queues and records apply to
//! it as to a person's turn. What is particular to agents asking agents:
//!
//! - [`keys`]: the default key is made from the server's directory and the target agent, so
//!   asking the same agent twice continues one conversation.
//! - The caller: capd names each agent's session in its environment (`CAP_SESSION`); a
//!   server started by such an agent says so in each prompt, and capd refuses a call deeper
//!   than `mcp_max_depth` or one that would wait on its own caller.
//! - [`server`]: tool dispatch, progress notifications, `notifications/cancelled` cancelling
//!   the delegated turn, permission questions put to the calling client by elicitation.
//! - [`setup`]: the configuration snippet for each agent.

pub mod elicit;
pub mod keys;
pub mod server;
pub mod setup;
pub mod tools;
pub mod turn;

use crate::Ctx;
use crate::failure::Failure;
use rmcp::ServiceExt;
use std::path::PathBuf;

/// The environment variable naming the capd session whose agent started this server.
pub const SESSION_ENV: &str = "CAP_SESSION";

/// Serves MCP on stdin and stdout until the client closes stdin.
pub fn serve(ctx: &Ctx, key_prefix: Option<&str>, cwd: PathBuf) -> anyhow::Result<()> {
    let caller = std::env::var(SESSION_ENV)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let server = server::Server {
        ctx: ctx.clone(),
        keys: keys::Keys::new(key_prefix, &cwd),
        cwd,
        caller,
        ancestors: ancestors(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the MCP server's runtime: {e}")))?;
    runtime.block_on(async move {
        let running = server
            .serve(rmcp::transport::stdio())
            .await
            .map_err(|e| Failure::runtime(format!("the MCP handshake failed: {e}")))?;
        running
            .waiting()
            .await
            .map_err(|e| Failure::runtime(format!("the MCP server stopped: {e}")))?;
        Ok::<(), anyhow::Error>(())
    })
}

/// This process's ancestors, nearest first (Linux: `/proc/PID/stat`; elsewhere none). An MCP
/// server is its agent's child or grandchild (a wrapper between them is common).
fn ancestors() -> Vec<u32> {
    /// Enough for any wrapper chain; a loop in what /proc says must not hang the server.
    const MAX: usize = 32;
    let mut out = Vec::new();
    let mut pid = std::process::id();
    while out.len() < MAX {
        match parent(pid) {
            Some(p) if p > 1 && !out.contains(&p) => {
                out.push(p);
                pid = p;
            }
            _ => break,
        }
    }
    out
}

/// The parent of `pid`: the field after the `(comm)` of `/proc/PID/stat` (the name may hold
/// spaces and parentheses, so it is found from the last `)`).
fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn the_parent_of_this_process_is_among_its_ancestors() {
        let ancestors = super::ancestors();
        let parent = nix::unistd::getppid().as_raw() as u32;
        if parent > 1 {
            assert_eq!(ancestors.first(), Some(&parent), "{ancestors:?}");
        }
    }
}
