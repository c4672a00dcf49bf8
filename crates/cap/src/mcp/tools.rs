//! The tools `cap mcp` offers, described for the model that calls them, and their arguments.
//!
//! The descriptions are the only manual the calling model gets, so they say what it needs to
//! hold a conversation: that the other agent stays warm with its context, that calling
//! `prompt` again with the same agent continues the conversation, what a key is, and how to
//! start over.

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// The tools, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Name {
    Prompt,
    Sessions,
    Result,
    Cancel,
    End,
}

impl Name {
    pub fn parse(name: &str) -> Option<Name> {
        Some(match name {
            "prompt" => Name::Prompt,
            "sessions" => Name::Sessions,
            "result" => Name::Result,
            "cancel" => Name::Cancel,
            "end" => Name::End,
            _ => return None,
        })
    }
}

const PROMPT: &str = "Ask another coding agent (Claude Code, Codex, Gemini CLI, OpenCode, ...) \
something and get its answer. The agent runs in a warm session that keeps its whole \
conversation: calling `prompt` again with the same `agent` (and the same `key`, if you gave \
one) continues that conversation, so you can ask follow-up questions without repeating \
context. By default each agent has one conversation per project directory; give a `key` (any \
short name, e.g. \"review\") to hold several separate conversations with the same agent, and \
`new: true` to start a conversation afresh. The agent works in this project's directory under \
the user's permission policy and spending caps. Returns the agent's reply text, then a line \
naming the session and key; with a `schema`, also the validated JSON answer as structured \
content. Progress is reported while the agent works; a turn may take \
minutes.";

const SESSIONS: &str = "List the agent sessions cap keeps warm: session id, agent, state \
(idle, busy, parked), the keys bound to it, its working directory and number of turns. Use it \
to find a session to continue (pass its id as `session` to `prompt`) or to cancel or end.";

const RESULT: &str = "The last finished turn of a session (its reply text), e.g. after a \
`prompt` call was interrupted or timed out on your side while the agent kept working.";

const CANCEL: &str = "Stop the turn a session is running (the agent is interrupted; the \
session and its conversation stay). Name the session by `session` id, by `key`, or by `agent` \
(its default conversation). Nothing to cancel is not an error.";

const END: &str = "End a session: the agent process stops and the key forgets the \
conversation, so the next `prompt` on it starts afresh. Name the session by `session` id, by \
`key`, or by `agent` (its default conversation). Only do this when the conversation is done \
or went wrong: idle sessions are collected automatically.";

/// Every tool's definition.
pub fn list() -> Vec<Tool> {
    let target = || {
        object(
            json!({
                "session": {"type": "string", "description": "A session id (from `sessions` or a `prompt` result)."},
                "key": {"type": "string", "description": "The key the conversation runs under, as given to `prompt` or shown in its result."},
                "agent": {"type": "string", "description": "The agent whose default conversation (no key) is meant."}
            }),
            &[],
        )
    };
    vec![
        tool(
            "prompt",
            PROMPT,
            object(
                json!({
                    "agent": {"type": "string", "description": "Which agent answers: claude, codex, gemini, opencode, or another name cap knows. Required unless `session` is given."},
                    "prompt": {"type": "string", "description": "What to say to the agent, as you would type it to a colleague. In a continued conversation the agent remembers what was said before."},
                    "key": {"type": "string", "description": "Optional name of the conversation. Same agent and key: the same warm conversation. Omit it for the agent's default conversation in this project."},
                    "session": {"type": "string", "description": "Optional session id to continue exactly that session, whatever its key."},
                    "new": {"type": "boolean", "description": "Start a fresh conversation on this key instead of continuing the current one."},
                    "timeout": {"type": "integer", "minimum": 0, "description": "Seconds the turn may take before it is cancelled; 0 means no limit. Default: capd's prompt_timeout (300)."},
                    "schema": {"type": "object", "description": "Optional JSON Schema the answer must match. The agent is asked for JSON, its answer validated (and re-asked once when it does not match), and the value returned as structured content next to the text."}
                }),
                &["prompt"],
            ),
            false,
        ),
        tool("sessions", SESSIONS, object(json!({}), &[]), true),
        tool(
            "result",
            RESULT,
            object(
                json!({"session": {"type": "string", "description": "The session id."}}),
                &["session"],
            ),
            true,
        ),
        tool("cancel", CANCEL, target(), false),
        tool("end", END, target(), false),
    ]
}

fn tool(
    name: &'static str,
    description: &'static str,
    schema: JsonObject,
    read_only: bool,
) -> Tool {
    let mut annotations = ToolAnnotations::new();
    annotations.read_only_hint = Some(read_only);
    annotations.open_world_hint = Some(!read_only);
    let mut t = Tool::new(name, description, Arc::new(schema));
    t.annotations = Some(annotations);
    t
}

fn object(properties: serde_json::Value, required: &[&str]) -> JsonObject {
    let mut schema = JsonObject::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), properties);
    if !required.is_empty() {
        schema.insert("required".into(), json!(required));
    }
    schema.insert("additionalProperties".into(), json!(false));
    schema
}

/// `prompt`'s arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptArgs {
    #[serde(default)]
    pub agent: Option<String>,
    pub prompt: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub new: bool,
    #[serde(default)]
    pub timeout: Option<u64>,
    /// A JSON Schema the answer must validate against (`cap prompt --schema`).
    #[serde(default)]
    pub schema: Option<serde_json::Value>,
}

/// `result`'s arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionArgs {
    pub session: String,
}

/// `cancel`'s and `end`'s arguments.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetArgs {
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub agent: Option<String>,
}

/// Decodes a tool's arguments; the error says what was wrong, for the model to fix.
pub fn args<T: serde::de::DeserializeOwned>(
    tool: &str,
    raw: Option<JsonObject>,
) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::Object(raw.unwrap_or_default()))
        .map_err(|e| format!("invalid arguments for `{tool}`: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_tool_has_a_name_we_dispatch_and_an_object_schema() {
        for t in list() {
            assert!(Name::parse(&t.name).is_some(), "{}", t.name);
            assert_eq!(t.input_schema["type"], "object");
            assert!(t.description.is_some_and(|d| d.len() > 60), "{}", t.name);
        }
    }

    #[test]
    fn arguments_are_checked() {
        let ok: PromptArgs = args(
            "prompt",
            json!({"agent": "codex", "prompt": "hi", "new": true})
                .as_object()
                .cloned(),
        )
        .unwrap();
        assert!(ok.new && ok.agent.as_deref() == Some("codex"));
        let missing = args::<PromptArgs>("prompt", None).unwrap_err();
        assert!(missing.contains("prompt"), "{missing}");
        let typo = args::<PromptArgs>(
            "prompt",
            json!({"prompt": "hi", "agnt": "x"}).as_object().cloned(),
        )
        .unwrap_err();
        assert!(typo.contains("agnt"), "{typo}");
    }
}
