//! Claude Code's stream-json protocol (also `openclaude` and `qoder`).
//!
//! Facts this relies on (docs/protocols.md, "Claude Code"): Claude prints nothing until it
//! reads input, so the `initialize` control request is the ready signal; each user line is one
//! turn, ending with exactly one `result` line whose `is_error` (not `subtype`) tells failure;
//! `interrupt` cancels; one non-JSON stdin line kills it, so only serde-made lines are written;
//! resume is scoped to the session's original cwd, which the caller passes.

use super::acks::{Ack, Pending};
use super::lines::{Lines, Lost, Segment};
use super::process::Writer;
use super::reader::Handler;
use super::{
    Conn, Driver, DriverError, DriverEvent, OpenMode, StartSpec, TurnEnd, spawn_and_open, summary,
};
use cap_proto::ToolCall;
use cap_proto::policy::{Kind, ToolUse};
use cap_proto::{StopReason, Usage};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const INIT_ID: &str = "cap-init";

/// Settings that make Claude Code ask before every command, read and web access. Its
/// `default` mode runs the commands it judges read-only (`echo`, `ls`, `cat`, …) and reads
/// inside the cwd without asking, which would let them past a policy that leaves commands to
/// a person or refuses everything (`--deny-all`); an `ask` rule is checked before that
/// judgement. Passed with `--settings`, merged over the user's own. The Claude ACP adapter
/// gets the same through `_meta` (drivers/acp/permission.rs).
pub fn ask_settings() -> Value {
    json!({"permissions": {"ask": ["Bash", "Read", "Glob", "Grep", "WebFetch", "WebSearch"]}})
}

/// Open `can_use_tool` requests: request id → the tool's input (echoed back on allow).
type Asks = Arc<Mutex<HashMap<String, Value>>>;

/// A live Claude Code process.
pub struct ClaudeDriver {
    conn: Conn,
    native: Arc<Mutex<Option<String>>>,
    asks: Asks,
    next_request: u64,
    /// Our control requests (`set_model`) waiting for their `control_response`.
    pending: Pending<String>,
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
            // Never bypass: Claude asks its host (us, over stdio) before every tool use its
            // default mode does not allow outright, and the session's policy answers.
            "--permission-mode",
            "default",
            "--permission-prompt-tool",
            "stdio",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(["--settings".to_string(), ask_settings().to_string()]);
        if let Some(m) = &spec.model {
            args.extend(["--model".to_string(), m.clone()]);
        }
        args.extend(crate::mcp::claude_args(&spec.mcp_servers));
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
            OpenMode::Fork(source) => {
                // A new id of our choosing, so it is known before the first turn (Claude
                // 2.1.197 accepts --session-id together with --fork-session).
                let id = uuid::Uuid::new_v4().to_string();
                args.extend([
                    "--resume".to_string(),
                    source.clone(),
                    "--fork-session".to_string(),
                    "--session-id".to_string(),
                    id.clone(),
                ]);
                Some(id)
            }
            OpenMode::Continue => {
                args.push("--continue".to_string());
                None
            }
        };
        let (proc, lines, ()) = spawn_and_open(&spec, &args, initialize).await?;
        let native = Arc::new(Mutex::new(native));
        let asks = Asks::default();
        let pending = Pending::default();
        let reader = Reader::new(native.clone(), asks.clone(), pending.clone());
        Ok(ClaudeDriver {
            conn: Conn::new(proc, lines, reader),
            native,
            asks,
            next_request: 1,
            pending,
        })
    }
}

/// Sends `initialize` and reads until its `control_response`: Claude's ready signal.
async fn initialize(writer: &Writer, lines: &mut Lines) -> Result<(), String> {
    let init =
        json!({"type":"control_request","request_id":INIT_ID,"request":{"subtype":"initialize"}});
    writer
        .send(&init)
        .map_err(|e| format!("cannot write to the agent: {e}"))?;
    while let Ok(Some(segment)) = lines.next_segment().await {
        let line = match segment {
            Segment::Line(line) => line,
            Segment::Oversized(lost)
                if matches!(lost.str("type"), None | Some("control_response")) =>
            {
                return Err(format!(
                    "the agent's answer to initialize was a line of {} bytes, longer than cap reads",
                    lost.len
                ));
            }
            Segment::Oversized(_) => continue,
        };
        let Ok(v) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        if v["type"] == "control_response" && v["response"]["request_id"] == INIT_ID {
            return Ok(());
        }
    }
    Err("the agent exited before it was ready".into())
}

/// Claude's reading of its output: the translation state, and the native id it shares with
/// the driver.
struct Reader {
    native: Arc<Mutex<Option<String>>>,
    asks: Asks,
    /// The process's cumulative `total_cost_usd` so far: Claude reports cost per process,
    /// not per turn, so a turn's cost is the increase.
    cost_so_far: Option<f64>,
    tools: HashMap<String, String>,
    streamed: bool,
    pending: Pending<String>,
}

impl Reader {
    /// A reader in its starting state, sharing the native id, the open questions and the
    /// pending control requests with its driver.
    fn new(native: Arc<Mutex<Option<String>>>, asks: Asks, pending: Pending<String>) -> Reader {
        Reader {
            native,
            asks,
            cost_so_far: None,
            tools: HashMap::new(),
            streamed: false,
            pending,
        }
    }
}

impl Handler for Reader {
    fn on_message(&mut self, v: Value, out: &mut Vec<DriverEvent>, writer: &Writer) {
        if let Some(id) = v["session_id"].as_str().filter(|s| !s.is_empty())
            && let Ok(mut n) = self.native.lock()
            && n.as_deref() != Some(id)
        {
            *n = Some(id.to_string());
            out.push(DriverEvent::NativeId(id.to_string()));
        }
        if v["type"] == "result" {
            let usage = &v["usage"];
            let tokens = |k: &str| usage[k].as_u64();
            let turn = Usage {
                input_tokens: tokens("input_tokens"),
                output_tokens: tokens("output_tokens"),
                cache_read_tokens: tokens("cache_read_input_tokens"),
                cache_write_tokens: tokens("cache_creation_input_tokens"),
                cost_usd: v["total_cost_usd"]
                    .as_f64()
                    .map(|total| super::increase(&mut self.cost_so_far, total)),
            };
            if !turn.is_empty() {
                out.push(DriverEvent::Usage(turn));
            }
        }
        out.extend(translate(&v, &mut self.tools, &mut self.streamed));
        match v["type"].as_str() {
            Some("control_request") if v["request"]["subtype"] == "can_use_tool" => {
                let id = match &v["request_id"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let request = &v["request"];
                let tool = tool_use(
                    request["tool_name"].as_str().unwrap_or("tool"),
                    &request["input"],
                );
                let mut asks = self.asks.lock().unwrap_or_else(|p| p.into_inner());
                asks.insert(id.clone(), request["input"].clone());
                out.push(DriverEvent::Permission { id, tool });
            }
            Some("control_request") => refuse(writer, &v["request_id"]),
            Some("control_response") => {
                let r = &v["response"];
                if let Some(id) = r["request_id"].as_str() {
                    let answer = match r["subtype"].as_str() {
                        Some("error") => Err(r["error"].as_str().unwrap_or("refused").to_string()),
                        _ => Ok(()),
                    };
                    self.pending.settle(&id.to_string(), answer);
                }
            }
            // Claude no longer needs an answer (the turn was interrupted).
            Some("control_cancel_request") => {
                if let Some(id) = v["request_id"].as_str() {
                    let mut asks = self.asks.lock().unwrap_or_else(|p| p.into_inner());
                    asks.remove(id);
                }
            }
            _ => {}
        }
    }

    /// Claude writes a line's `type` first. A lost `result` ended the turn, and a line whose
    /// start does not say what it was may have; any other line was a part of the turn.
    fn on_oversized(&mut self, lost: Lost, out: &mut Vec<DriverEvent>, writer: &Writer) {
        match lost.str("type") {
            None | Some("result") => {
                self.streamed = false;
                out.push(DriverEvent::TurnEnd(lost.turn_end()));
            }
            Some(kind) => {
                if kind == "control_request"
                    && let Some(id) = lost.fields.get("request_id")
                {
                    refuse(writer, id);
                }
                out.push(lost.event());
            }
        }
    }
}

/// Classifies one of Claude Code's tools with what it acts on. Tools cap does not know (MCP
/// tools, agents) count as `execute`.
fn tool_use(name: &str, input: &Value) -> ToolUse {
    let field = |k: &str| input[k].as_str().map(str::to_string);
    let (kind, subject) = match name {
        "Bash" | "BashOutput" | "KillShell" => (Kind::Execute, field("command")),
        "Write" | "Edit" | "MultiEdit" => (Kind::Edit, field("file_path")),
        "NotebookEdit" => (Kind::Edit, field("notebook_path")),
        "Read" => (Kind::Read, field("file_path")),
        "Glob" | "Grep" | "LS" => (Kind::Read, field("path").or_else(|| field("pattern"))),
        "WebFetch" => (Kind::Fetch, field("url")),
        "WebSearch" => (Kind::Fetch, field("query")),
        _ => (Kind::Execute, None),
    };
    ToolUse {
        tool: name.to_string(),
        kind,
        subject,
    }
}

/// Answers a control request from Claude (e.g. a permission prompt outside bypass mode): cap
/// offers none, and an answer at once makes the turn fail visibly instead of hanging.
fn refuse(writer: &Writer, request_id: &Value) {
    let answer = json!({"type":"control_response","response":{
        "subtype":"error","request_id":request_id,
        "error":"cap does not handle this control request"}});
    let _ = writer.send(&answer);
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
        self.conn.send(&line)
    }

    fn cancel(&mut self) -> Result<(), DriverError> {
        let id = format!("cap-int-{}", self.next_request);
        self.next_request += 1;
        let line =
            json!({"type":"control_request","request_id":id,"request":{"subtype":"interrupt"}});
        self.conn.send(&line)
    }

    fn native_id(&self) -> Option<String> {
        self.native.lock().ok().and_then(|n| n.clone())
    }

    /// The `set_model` control request (Claude Code 2.1.197; the Agent SDK's `setModel`):
    /// answered at once, and the next model call uses the new model with the same history.
    fn set_model(&mut self, model: &str) -> Result<Ack, DriverError> {
        let id = format!("cap-model-{}", self.next_request);
        self.next_request += 1;
        let ack = self.pending.add(id.clone());
        let line = json!({"type":"control_request","request_id":id,
            "request":{"subtype":"set_model","model":model}});
        self.conn.send(&line)?;
        Ok(ack)
    }

    fn answer(&mut self, id: &str, allow: bool) -> Result<(), DriverError> {
        let input = self
            .asks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        let Some(input) = input else {
            return Ok(());
        };
        let decision = if allow {
            json!({"behavior": "allow", "updatedInput": input})
        } else {
            json!({"behavior": "deny", "message": "cap's permission policy denied this tool use"})
        };
        let line = json!({"type": "control_response", "response": {
            "subtype": "success", "request_id": id, "response": decision}});
        self.conn.send(&line)
    }

    super::process_plumbing!();
}

/// A reader in its starting state, for fuzzing.
pub(crate) fn fuzz_reader() -> impl Handler {
    Reader::new(Arc::default(), Asks::default(), Pending::default())
}

#[cfg(test)]
mod tests;
