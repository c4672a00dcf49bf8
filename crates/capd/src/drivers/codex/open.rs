//! Codex's handshakes: `initialize`, a spare's throwaway thread, and opening a session's
//! thread (start, resume or fork).

use super::{APPROVAL, DIALECT};
use crate::drivers::lines::Lines;
use crate::drivers::process::Writer;
use crate::drivers::rpc;
use crate::drivers::{OpenError, OpenMode, StartSpec};
use serde_json::{Value, json};

/// `initialize` and `initialized`; returns the agent's answer.
pub(crate) async fn initialize(writer: &Writer, lines: &mut Lines) -> Result<Value, String> {
    let init =
        json!({"clientInfo": {"name": "cap", "title": "cap", "version": cap_proto::VERSION}});
    let info = rpc::call(writer, lines, DIALECT, 1, "initialize", init).await?;
    writer
        .send(&DIALECT.notification("initialized", None))
        .map_err(|e| e.to_string())?;
    Ok(info)
}

/// Starts a throwaway thread in `cwd` on a spare and unsubscribes from it, for the reason
/// given at `acp::warm_up`.
pub(crate) async fn warm_up(
    writer: &Writer,
    lines: &mut Lines,
    cwd: &std::path::Path,
) -> Result<(), String> {
    let params = json!({"cwd": cwd, "approvalPolicy": APPROVAL});
    let started = rpc::call(writer, lines, DIALECT, 8, "thread/start", params).await?;
    if let Some(id) = started["thread"]["id"].as_str() {
        // Only a courtesy: a Codex without it still serves.
        let params = json!({"threadId": id});
        if let Err(e) = rpc::call(writer, lines, DIALECT, 9, "thread/unsubscribe", params).await {
            tracing::debug!("codex did not unsubscribe the warm-up thread: {e}");
        }
    }
    Ok(())
}

/// `thread/start`, `thread/resume` or `thread/fork` on an initialized app-server; returns
/// the thread id.
pub(super) async fn open_thread(
    writer: &Writer,
    lines: &mut Lines,
    spec: &StartSpec,
) -> Result<String, OpenError> {
    // MCP servers are config overrides on the thread (one dotted key each, so the user's own
    // servers stay), given again on every resume: the thread does not keep them.
    let config = crate::mcp::codex_config(&spec.mcp_servers).map_err(OpenError::Cannot)?;
    let result = match &spec.mode {
        OpenMode::Resume(id) => {
            let mut params = json!({"threadId": id, "excludeTurns": true, "config": config});
            if let Some(m) = &spec.model {
                params["model"] = json!(m);
            }
            rpc::call(writer, lines, DIALECT, 2, "thread/resume", params).await?
        }
        OpenMode::Fork(id) => {
            rpc::call(
                writer,
                lines,
                DIALECT,
                2,
                "thread/fork",
                json!({"threadId": id, "excludeTurns": true, "config": config}),
            )
            .await?
        }
        _ => {
            let mut params = json!({"cwd": spec.cwd, "approvalPolicy": APPROVAL, "config": config});
            if let Some(m) = &spec.model {
                params["model"] = json!(m);
            }
            rpc::call(writer, lines, DIALECT, 2, "thread/start", params).await?
        }
    };
    result["thread"]["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("codex answered without a thread id: {result}").into())
}
