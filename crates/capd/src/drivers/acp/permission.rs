//! ACP permission requests: what a `session/request_permission` asks about, which of the
//! agent's options answers it, and what an agent needs at session start to ask at all.

use cap_proto::policy::{Kind, ToolUse};
use serde_json::{Value, json};
use std::collections::HashMap;

/// What an agent needs in its session requests' `_meta` to ask before it acts. The Claude
/// adapter runs Claude Code, which runs the Bash commands it judges read-only, and reads
/// inside the cwd, without asking; the adapter passes `_meta.claudeCode.options.settings` on
/// to Claude Code, so it gets the same `ask` rules as the `claude` driver gives it
/// (docs/permissions.md).
pub(super) fn session_meta(info: &Value) -> Option<Value> {
    let name = info["agentInfo"]["name"].as_str()?;
    let claude = name.ends_with("claude-agent-acp") || name.ends_with("claude-code-acp");
    claude.then(
        || json!({"claudeCode": {"options": {"settings": super::super::claude::ask_settings()}}}),
    )
}

/// What the agent told of each running tool call. A permission request carries a tool call
/// *update*, and in ACP an update's missing fields keep the values earlier updates gave:
/// opencode asks about a read with no path, which only its `tool_call_update` before the
/// request carries. Without it a rule such as `--deny 'read(secrets/*)'` would never match.
#[derive(Default)]
pub(super) struct Calls(HashMap<String, Value>);

impl Calls {
    /// Records a `tool_call` or `tool_call_update`; a finished call is forgotten.
    pub fn update(&mut self, u: &Value) {
        let kind = u["sessionUpdate"].as_str().unwrap_or_default();
        let Some(id) = u["toolCallId"]
            .as_str()
            .filter(|_| kind.starts_with("tool_call"))
        else {
            return;
        };
        if matches!(u["status"].as_str(), Some("completed" | "failed")) {
            self.0.remove(id);
            return;
        }
        let known = self.0.entry(id.to_string()).or_insert_with(|| json!({}));
        merge(known, u);
    }

    /// A permission request's tool call, with what its earlier updates told filled in.
    pub fn known(&self, call: &Value) -> Value {
        let mut known = call["toolCallId"]
            .as_str()
            .and_then(|id| self.0.get(id))
            .cloned()
            .unwrap_or_else(|| json!({}));
        merge(&mut known, call);
        known
    }

    /// Forgets every call (the turn ended).
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// Copies `from`'s fields that say something (not null, not empty) into `into`.
fn merge(into: &mut Value, from: &Value) {
    let (Some(into), Some(from)) = (into.as_object_mut(), from.as_object()) else {
        return;
    };
    for (k, v) in from {
        let empty = match v {
            Value::Null => true,
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            _ => false,
        };
        if !empty {
            into.insert(k.clone(), v.clone());
        }
    }
}

/// Classifies a permission request's tool call by its `kind` (an unknown or `other` kind
/// counts as `execute`), with the command or path it acts on.
pub(super) fn tool_use(call: &Value) -> ToolUse {
    let raw = &call["rawInput"];
    let kind = Kind::classify(call["kind"].as_str().unwrap_or("other"));
    // A command is a string or a list of words; a plain shell wrapper around it is taken off
    // (codex-acp sends `["/bin/bash", "-lc", "touch x"]`), so rules see the command itself.
    let text = |v: &Value| match v {
        Value::String(s) => Some(super::super::unwrap_shell(s)),
        Value::Array(parts) => {
            let words: Vec<String> = parts
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            Some(super::super::unwrap_shell_words(&words).unwrap_or_else(|| words.join(" ")))
        }
        _ => None,
    };
    let path = || {
        call["locations"][0]["path"]
            .as_str()
            .or_else(|| {
                ["file_path", "filePath", "path", "absolute_path"]
                    .iter()
                    .find_map(|k| raw[*k].as_str())
            })
            .map(str::to_string)
    };
    let subject = match kind {
        Kind::Edit | Kind::Read => path(),
        Kind::Fetch => raw["url"].as_str().map(str::to_string),
        Kind::Execute => text(&raw["command"]),
    }
    .or_else(|| call["title"].as_str().map(str::to_string));
    ToolUse {
        tool: call["title"]
            .as_str()
            .or_else(|| call["kind"].as_str())
            .unwrap_or("tool")
            .to_string(),
        kind,
        subject,
    }
}

/// The outcome that answers a request, choosing among the agent's options by their `kind`
/// (option ids differ per agent). With no fitting option the request is cancelled, which
/// every agent treats as a refusal.
pub(super) fn outcome(options: &Value, allow: bool) -> Value {
    let kinds: &[&str] = if allow {
        &["allow_once", "allow_always"]
    } else {
        &["reject_once", "reject_always"]
    };
    let options = options.as_array().cloned().unwrap_or_default();
    let chosen = kinds.iter().find_map(|k| {
        options
            .iter()
            .find(|o| o["kind"] == *k)
            .and_then(|o| o["optionId"].as_str())
    });
    match chosen {
        Some(id) => json!({"outcome": "selected", "optionId": id}),
        None => json!({"outcome": "cancelled"}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claude_adapter_is_given_claude_codes_ask_rule() {
        let info = json!({"agentInfo": {"name": "@agentclientprotocol/claude-agent-acp"}});
        let meta = session_meta(&info).expect("meta for the Claude adapter");
        assert_eq!(
            meta["claudeCode"]["options"]["settings"]["permissions"]["ask"][0],
            "Bash"
        );
        assert_eq!(
            session_meta(&json!({"agentInfo": {"name": "gemini-cli"}})),
            None
        );
        assert_eq!(session_meta(&json!({})), None);
    }

    #[test]
    fn permissions_pick_options_by_kind() {
        let options = json!([
            {"optionId": "always", "kind": "allow_always"},
            {"optionId": "once", "kind": "allow_once"},
            {"optionId": "no", "kind": "reject_once"}]);
        assert_eq!(outcome(&options, true)["optionId"], "once");
        assert_eq!(outcome(&options, false)["optionId"], "no");
        assert_eq!(outcome(&json!([]), true)["outcome"], "cancelled");
    }

    #[test]
    fn permission_requests_are_classified_with_their_subject() {
        let shell =
            json!({"title": "touch x", "kind": "execute", "rawInput": {"command": "touch x"}});
        let t = tool_use(&shell);
        assert_eq!(
            (t.kind, t.subject.as_deref()),
            (Kind::Execute, Some("touch x"))
        );
        let wrapped = json!({"title": "touch x", "kind": "execute",
            "rawInput": {"command": ["/bin/bash", "-lc", "touch x"]}});
        assert_eq!(
            tool_use(&wrapped).subject.as_deref(),
            Some("touch x"),
            "codex-acp's shell wrapper is taken off"
        );
        let write = json!({"title": "Write", "kind": "edit", "locations": [{"path": "/w/a.txt"}]});
        let t = tool_use(&write);
        assert_eq!(
            (t.kind, t.subject.as_deref()),
            (Kind::Edit, Some("/w/a.txt"))
        );
        let other = json!({"title": "bash: ls /", "kind": "other"});
        let t = tool_use(&other);
        assert_eq!(t.kind, Kind::Execute, "unclassified is execute");
        assert_eq!(t.subject.as_deref(), Some("bash: ls /"));
    }

    /// opencode 1.18: the read's path comes only in the update before the request.
    #[test]
    fn a_request_is_completed_with_what_earlier_updates_told() {
        let mut calls = Calls::default();
        calls.update(
            &json!({"sessionUpdate": "tool_call", "toolCallId": "c1", "kind": "read",
            "title": "read", "status": "pending", "locations": [], "rawInput": {}}),
        );
        calls.update(
            &json!({"sessionUpdate": "tool_call_update", "toolCallId": "c1",
            "status": "in_progress", "locations": [{"path": "/w/secret.txt"}],
            "rawInput": {"filePath": "/w/secret.txt"}}),
        );
        let asked = json!({"toolCallId": "c1", "kind": "read", "title": "read",
            "status": "pending", "locations": [], "rawInput": {}});
        let t = tool_use(&calls.known(&asked));
        assert_eq!(
            (t.kind, t.subject.as_deref()),
            (Kind::Read, Some("/w/secret.txt"))
        );
        // The request's own fields win, and a finished call is forgotten.
        let own = json!({"toolCallId": "c1", "kind": "edit", "locations": [{"path": "/w/b"}]});
        assert_eq!(
            tool_use(&calls.known(&own)).subject.as_deref(),
            Some("/w/b")
        );
        calls.update(
            &json!({"sessionUpdate": "tool_call_update", "toolCallId": "c1",
            "status": "completed"}),
        );
        assert_eq!(
            tool_use(&calls.known(&asked)).subject.as_deref(),
            Some("read")
        );
        // Other updates are no tool calls.
        calls.update(&json!({"sessionUpdate": "plan", "toolCallId": "c2", "kind": "read"}));
        assert!(calls.0.is_empty());
    }
}
