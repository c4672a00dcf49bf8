//! Codex's items (commands, file changes, MCP and web calls, messages) as cap sees them.

use crate::drivers::{DriverEvent, summary};
use cap_proto::ToolCall;
use serde_json::Value;

/// The path of a file change that the policy should judge: the first outside the cwd, else
/// the first.
pub(super) fn riskiest(paths: Vec<String>, cwd: &std::path::Path) -> Option<String> {
    let outside = paths
        .iter()
        .find(|p| {
            let p = std::path::Path::new(p);
            p.is_absolute() && !p.starts_with(cwd)
        })
        .cloned();
    outside.or_else(|| paths.into_iter().next())
}

/// A tool-like item (command, file change, MCP or web call) as a tool-call event.
pub(super) fn tool_event(method: &str, item: &Value) -> Option<DriverEvent> {
    let kind = item["type"].as_str()?;
    if matches!(kind, "userMessage" | "agentMessage" | "reasoning") {
        return None;
    }
    let done = method == "item/completed";
    let status = item["status"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| if done { "completed" } else { "running" }.to_string());
    Some(DriverEvent::ToolCall(ToolCall {
        id: item["id"].as_str().unwrap_or_default().to_string(),
        name: kind.to_string(),
        status,
        input: (!done).then(|| summary(item.get("command").unwrap_or(item))),
        output: done
            .then(|| item.get("aggregatedOutput").map(summary))
            .flatten(),
    }))
}

pub(super) fn last_agent_message(turn: &Value) -> Option<String> {
    turn["items"]
        .as_array()?
        .iter()
        .rev()
        .find(|i| i["type"] == "agentMessage")
        .and_then(|i| i["text"].as_str())
        .map(str::to_string)
}
