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
