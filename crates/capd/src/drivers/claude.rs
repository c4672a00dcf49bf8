//! Claude Code's stream-json protocol (also `openclaude` and `qoder`).
//!
//! Facts this relies on (shared/agents/claude-codex.md §3): Claude prints nothing until it
//! reads input, so the `initialize` control request is the ready signal; each user line is one
//! turn, ending with exactly one `result` line whose `is_error` (not `subtype`) tells failure;
//! `interrupt` cancels; one non-JSON stdin line kills it, so only serde-made lines are written;
//! resume is scoped to the session's original cwd, which the caller passes.

use super::process::{AgentProcess, Lines};
use super::{
    Conn, Driver, DriverError, DriverEvent, OpenMode, StartSpec, TurnEnd, spawn_and_open, summary,
};
use cap_proto::StopReason;
use cap_proto::ToolCall;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

const INIT_ID: &str = "cap-init";

/// A live Claude Code process.
pub struct ClaudeDriver {
    conn: Conn,
    native: Arc<Mutex<Option<String>>>,
    next_request: u64,
}

impl ClaudeDriver {
    /// Spawns Claude Code in `spec.cwd` and waits for its answer to `initialize`.
    pub async fn start(spec: StartSpec) -> Result<ClaudeDriver, DriverError> {
        let mut args: Vec<String> = [
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
            "--permission-mode",
            "bypassPermissions",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if let Some(m) = &spec.model {
            args.extend(["--model".to_string(), m.clone()]);
        }
        let native = match &spec.mode {
            OpenMode::Fresh => {
                let id = uuid::Uuid::new_v4().to_string();
                args.extend(["--session-id".to_string(), id.clone()]);
                Some(id)
            }
            OpenMode::Resume(id) => {
                args.extend(["--resume".to_string(), id.clone()]);
                Some(id.clone())
            }
            OpenMode::Continue => {
                args.push("--continue".to_string());
                None
            }
        };
        let (proc, lines, ()) = spawn_and_open(&spec, &args, initialize).await?;
        let native = Arc::new(Mutex::new(native));
        let (tx, rx) = mpsc::unbounded_channel();
        let reply = proc.stdin_sender();
        tokio::spawn(read_events(lines, tx, native.clone(), reply));
        Ok(ClaudeDriver {
            conn: Conn { proc, events: rx },
            native,
            next_request: 1,
        })
    }
}

/// Sends `initialize` and reads until its `control_response`: Claude's ready signal.
async fn initialize(proc: &AgentProcess, lines: &mut Lines) -> Result<(), String> {
    let init =
        json!({"type":"control_request","request_id":INIT_ID,"request":{"subtype":"initialize"}});
    proc.write_line(init.to_string().into_bytes())
        .map_err(|e| format!("cannot write to the agent: {e}"))?;
    while let Ok(Some(line)) = lines.next_segment().await {
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        if v["type"] == "control_response" && v["response"]["request_id"] == INIT_ID {
            return Ok(());
        }
    }
    Err("the agent exited before it was ready".into())
}

/// Turns Claude's stdout lines into driver events until the process closes stdout.
async fn read_events(
    mut lines: Lines,
    tx: mpsc::UnboundedSender<DriverEvent>,
    native: Arc<Mutex<Option<String>>>,
    reply: Option<mpsc::WeakUnboundedSender<Vec<u8>>>,
) {
    let mut tools: HashMap<String, String> = HashMap::new();
    let mut streamed = false;
    while let Ok(Some(line)) = lines.next_segment().await {
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            tracing::warn!(
                "ignoring a non-JSON line from the agent: {}",
                String::from_utf8_lossy(&line[..line.len().min(200)])
            );
            continue;
        };
        if let Some(id) = v["session_id"].as_str().filter(|s| !s.is_empty())
            && let Ok(mut n) = native.lock()
            && n.as_deref() != Some(id)
        {
            *n = Some(id.to_string());
            let _ = tx.send(DriverEvent::NativeId(id.to_string()));
        }
        for ev in translate(&v, &mut tools, &mut streamed) {
            let _ = tx.send(ev);
        }
        if v["type"] == "control_request" {
            // Claude asks for something cap does not offer (e.g. a permission prompt outside
            // bypass mode). Answer at once so the turn fails visibly instead of hanging.
            let answer = json!({"type":"control_response","response":{
                "subtype":"error","request_id":v["request_id"],
                "error":"cap does not handle this control request"}});
            if let Some(r) = reply.as_ref().and_then(|r| r.upgrade()) {
                let mut bytes = answer.to_string().into_bytes();
                bytes.push(b'\n');
                let _ = r.send(bytes);
            }
        }
    }
    let _ = tx.send(DriverEvent::Exited);
}

/// Maps one stdout object to events. `tools` remembers tool names by id so results can be
/// labelled. With `--include-partial-messages` text and thinking arrive as deltas
/// (`stream_event`) and again whole in the `assistant` line; `streamed` records that the
/// deltas were seen so the whole copy is not emitted twice.
fn translate(
    v: &Value,
    tools: &mut HashMap<String, String>,
    streamed: &mut bool,
) -> Vec<DriverEvent> {
    let mut out = Vec::new();
    match v["type"].as_str().unwrap_or_default() {
        "stream_event" => {
            let delta = &v["event"]["delta"];
            if v["event"]["type"] == "content_block_delta" {
                match delta["type"].as_str().unwrap_or_default() {
                    "text_delta" => {
                        *streamed = true;
                        out.push(DriverEvent::Text(
                            delta["text"].as_str().unwrap_or_default().to_string(),
                        ));
                    }
                    "thinking_delta" => {
                        *streamed = true;
                        out.push(DriverEvent::Thought(
                            delta["thinking"].as_str().unwrap_or_default().to_string(),
                        ));
                    }
                    _ => {}
                }
            }
        }
        "assistant" => {
            let already = std::mem::take(streamed);
            for block in v["message"]["content"].as_array().into_iter().flatten() {
                match block["type"].as_str().unwrap_or_default() {
                    "text" if !already => {
                        if let Some(t) = block["text"].as_str().filter(|t| !t.is_empty()) {
                            out.push(DriverEvent::Text(t.to_string()));
                        }
                    }
                    "thinking" if !already => {
                        if let Some(t) = block["thinking"].as_str() {
                            out.push(DriverEvent::Thought(t.to_string()));
                        }
                    }
                    "tool_use" => {
                        let id = block["id"].as_str().unwrap_or_default().to_string();
                        let name = block["name"].as_str().unwrap_or("tool").to_string();
                        tools.insert(id.clone(), name.clone());
                        out.push(DriverEvent::ToolCall(ToolCall {
                            id,
                            name,
                            status: "running".into(),
                            input: Some(summary(&block["input"])),
                            output: None,
                        }));
                    }
                    _ => {}
                }
            }
        }
        "user" => {
            for block in v["message"]["content"].as_array().into_iter().flatten() {
                if block["type"] == "tool_result" {
                    let id = block["tool_use_id"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    let failed = block["is_error"].as_bool().unwrap_or(false);
                    out.push(DriverEvent::ToolCall(ToolCall {
                        name: tools.get(&id).cloned().unwrap_or_else(|| "tool".into()),
                        id,
                        status: if failed { "failed" } else { "completed" }.into(),
                        input: None,
                        output: Some(summary(&block["content"])),
                    }));
                }
            }
        }
        "result" => {
            *streamed = false;
            let is_error = v["is_error"].as_bool().unwrap_or(false);
            let text = v["result"].as_str().map(str::to_string);
            let subtype = v["subtype"].as_str().unwrap_or("success");
            let stop_reason = if subtype == "success" {
                StopReason::from_agent(v["stop_reason"].as_str().unwrap_or("end_turn"))
            } else {
                StopReason::Other(subtype.to_string())
            };
            out.push(DriverEvent::TurnEnd(TurnEnd {
                ok: !is_error,
                error: if is_error {
                    Some(text.clone().unwrap_or_else(|| subtype.to_string()))
                } else {
                    None
                },
                output: if is_error { None } else { text },
                stop_reason,
            }));
        }
        "system" => {
            let sub = v["subtype"].as_str().unwrap_or_default();
            if sub != "init" {
                out.push(DriverEvent::Raw {
                    kind: format!("system/{sub}"),
                    payload: v.clone(),
                });
            }
        }
        _ => {}
    }
    out
}

impl Driver for ClaudeDriver {
    fn send_turn(&mut self, text: &str) -> Result<(), DriverError> {
        let line = json!({"type":"user","message":{"role":"user","content":text}});
        self.conn
            .proc
            .write_line(line.to_string().into_bytes())
            .map_err(DriverError::Send)
    }

    fn cancel(&mut self) -> Result<(), DriverError> {
        let id = format!("cap-int-{}", self.next_request);
        self.next_request += 1;
        let line =
            json!({"type":"control_request","request_id":id,"request":{"subtype":"interrupt"}});
        self.conn
            .proc
            .write_line(line.to_string().into_bytes())
            .map_err(DriverError::Send)
    }

    fn native_id(&self) -> Option<String> {
        self.native.lock().ok().and_then(|n| n.clone())
    }

    fn answer(&mut self, _id: &str, _allow: bool) -> Result<(), DriverError> {
        Err(DriverError::Unsupported("answering permission requests"))
    }

    super::process_plumbing!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_lines_key_on_is_error_not_subtype() {
        let mut tools = HashMap::new();
        let s = &mut false;
        let ok = json!({"type":"result","subtype":"success","is_error":false,"result":"hi","stop_reason":"end_turn"});
        let api_err =
            json!({"type":"result","subtype":"success","is_error":true,"result":"API Error: 500"});
        match &translate(&ok, &mut tools, s)[..] {
            [DriverEvent::TurnEnd(t)] => assert!(t.ok && t.output.as_deref() == Some("hi")),
            other => panic!("{other:?}"),
        }
        match &translate(&api_err, &mut tools, s)[..] {
            [DriverEvent::TurnEnd(t)] => {
                assert!(!t.ok);
                assert_eq!(t.error.as_deref(), Some("API Error: 500"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn streamed_text_is_not_repeated_by_the_whole_message() {
        let mut tools = HashMap::new();
        let s = &mut false;
        let delta = json!({"type":"stream_event","event":{"type":"content_block_delta","delta":{"type":"text_delta","text":"he"}}});
        let whole =
            json!({"type":"assistant","message":{"content":[{"type":"text","text":"hello"}]}});
        assert_eq!(
            translate(&delta, &mut tools, s),
            vec![DriverEvent::Text("he".into())]
        );
        assert!(translate(&whole, &mut tools, s).is_empty());
        // Without deltas the whole message is the text.
        assert_eq!(
            translate(&whole, &mut tools, s),
            vec![DriverEvent::Text("hello".into())]
        );
    }

    #[test]
    fn tool_results_carry_the_tool_name() {
        let mut tools = HashMap::new();
        let call = json!({"type":"assistant","message":{"content":[
            {"type":"text","text":"let me look"},
            {"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]}});
        let res = json!({"type":"user","message":{"content":[
            {"type":"tool_result","tool_use_id":"t1","content":"a b"}]}});
        let s = &mut false;
        let evs = translate(&call, &mut tools, s);
        assert_eq!(evs[0], DriverEvent::Text("let me look".into()));
        let evs = translate(&res, &mut tools, s);
        match &evs[..] {
            [DriverEvent::ToolCall(t)] => {
                assert_eq!(t.name, "Bash");
                assert_eq!(t.status, "completed");
            }
            other => panic!("{other:?}"),
        }
    }
}
