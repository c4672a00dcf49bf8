//! The Agent Client Protocol (JSON-RPC 2.0 over stdio): OpenCode, Gemini CLI, the Claude and
//! Codex ACP adapters, and any custom ACP agent.
//!
//! Facts this relies on (docs/protocols.md, "ACP"): `initialize` with protocol version 1 and no
//! fs or terminal capabilities (Gemini then reads and writes the disk itself; opencode sends
//! `fs/write_text_file` anyway, which gets a proper error); `session/new` with the cwd and MCP
//! servers; `session/resume` when advertised (no replay, fast), else `session/load` (which
//! replays history, sometimes after its reply — replays are never part of a turn); one
//! `session/prompt` per turn with `session/update` notifications; `session/cancel`;
//! `session/request_permission` answered by the session's policy, picking options by `kind`.
//!
//! We use our own serde handling rather than the `agent-client-protocol` crate: the SDK's
//! typed handlers silently drop update kinds unknown to its pinned schema, and cap must pass
//! every unknown kind through. The whole driver is a few hundred lines against ~80 extra
//! crates and ~40 s of clean build on 2 cores for the SDK (docs/protocols.md).

mod permission;

use super::acks::{Ack, Pending};
use super::host::Proc as AgentProcess;
use super::lines::{Lines, Lost, Segment};
use super::process::Writer;
use super::reader::Handler;
use super::rpc::{self, Dialect, Incoming};
use super::{
    Conn, Driver, DriverError, DriverEvent, OpenError, OpenMode, Spare, StartSpec, TurnEnd,
    open_on, spawn_and_open, summary,
};
use cap_proto::ToolCall;
use cap_proto::{StopReason, Usage};
use permission::{Calls, outcome, session_meta, tool_use};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DIALECT: Dialect = Dialect { jsonrpc: true };

/// State shared with the reader task.
struct Shared {
    /// Our pending `session/prompt` request id.
    prompt_request: Option<u64>,
    /// Open permission requests: our id → (the agent's JSON-RPC id, the options it offered).
    asks: HashMap<String, (Value, Value)>,
}

/// A live ACP agent hosting one session.
pub struct AcpDriver {
    conn: Conn,
    session: String,
    shared: Arc<Mutex<Shared>>,
    next_id: AtomicU64,
    /// How this agent lets the client pick the model, if it does.
    models: Option<ModelControl>,
    /// Our requests outside a turn (a model switch) waiting for their answer.
    pending: Pending<u64>,
}

/// How an ACP agent lets a client pick the model, as its session's answer says: a config
/// option of category `model` (`session/set_config_option`, preferred: it is stable ACP), or
/// the `models` state of the unstable `session/set_model`.
#[derive(Debug, Clone, PartialEq)]
enum ModelControl {
    ConfigOption(String),
    SetModel,
}

impl ModelControl {
    /// Reads the answer to `session/new`, `session/resume`, `session/load` or `session/fork`.
    fn of(answer: &Value) -> Option<ModelControl> {
        let option = answer["configOptions"]
            .as_array()
            .and_then(|o| o.iter().find(|o| o["category"] == "model"))
            .and_then(|o| o["id"].as_str());
        match option {
            Some(id) => Some(ModelControl::ConfigOption(id.to_string())),
            None if answer["models"].is_object() => Some(ModelControl::SetModel),
            None => None,
        }
    }

    /// The request that switches `session` to `model`.
    fn request(&self, session: &str, model: &str) -> (&'static str, Value) {
        match self {
            ModelControl::ConfigOption(id) => (
                "session/set_config_option",
                json!({"sessionId": session, "configId": id, "value": model}),
            ),
            ModelControl::SetModel => (
                "session/set_model",
                json!({"sessionId": session, "modelId": model}),
            ),
        }
    }
}

/// A session just opened: its id and how its model is picked.
type Opened = (String, Option<ModelControl>);

impl AcpDriver {
    /// Spawns the agent, initialises it and opens, resumes or loads the session.
    pub async fn start(spec: StartSpec) -> Result<AcpDriver, DriverError> {
        let (proc, lines, opened) = spawn_and_open(&spec, &[], async |proc, lines| {
            open_session(proc, lines, &spec, None).await
        })
        .await?;
        AcpDriver::on(proc, lines, opened, &spec).await
    }

    /// Opens the session on a prewarmed agent, already initialized.
    pub async fn start_on(spare: Spare, spec: StartSpec) -> Result<AcpDriver, DriverError> {
        let Spare {
            proc, lines, init, ..
        } = spare;
        let (proc, lines, opened) = open_on(&spec, proc, lines, async |w, l| {
            open_session(w, l, &spec, Some(init)).await
        })
        .await?;
        AcpDriver::on(proc, lines, opened, &spec).await
    }

    /// The driver of the session just opened on `proc`, switched to `spec`'s model first
    /// when one is asked for (a session opens with the agent's default).
    async fn on(
        proc: AgentProcess,
        mut lines: Lines,
        (session, models): Opened,
        spec: &StartSpec,
    ) -> Result<AcpDriver, DriverError> {
        if let Some(model) = &spec.model {
            let Some(control) = &models else {
                return Err(no_model_control(&spec.agent.name));
            };
            let (method, params) = control.request(&session, model);
            let writer = proc.writer();
            let call = rpc::call(&writer, &mut lines, DIALECT, 5, method, params);
            match tokio::time::timeout(spec.ready_timeout, call).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    return Err(DriverError::Rejected {
                        agent: spec.agent.name.clone(),
                        message: format!("it could not switch to model {model}: {e}"),
                    });
                }
                Err(_) => {
                    return Err(DriverError::NotReady {
                        agent: spec.agent.name.clone(),
                        secs: spec.ready_timeout.as_secs(),
                        stderr: String::new(),
                    });
                }
            }
        }
        let shared = Arc::new(Mutex::new(Shared {
            prompt_request: None,
            asks: HashMap::new(),
        }));
        let pending = Pending::default();
        let reader = Reader {
            shared: shared.clone(),
            tools: HashMap::new(),
            cost_so_far: None,
            calls: Calls::default(),
            pending: pending.clone(),
        };
        Ok(AcpDriver {
            conn: Conn::new(proc, lines, reader),
            session,
            shared,
            next_id: AtomicU64::new(100),
            models,
            pending,
        })
    }
}

/// `initialize`; the answer says what the agent can do.
pub(crate) async fn initialize(writer: &Writer, lines: &mut Lines) -> Result<Value, String> {
    let init = json!({
        "protocolVersion": 1,
        "clientCapabilities": {"fs": {"readTextFile": false, "writeTextFile": false}, "terminal": false},
        "clientInfo": {"name": "cap", "version": cap_proto::VERSION},
    });
    rpc::call(writer, lines, DIALECT, 1, "initialize", init).await
}

/// Opens a throwaway session in `cwd` on a spare, and closes it where the agent can: every
/// agent spends more on the first session of a process than on later ones (docs/
/// benchmarks.md, "Shared processes and new-key latency"), and that should not fall on the
/// prompt that takes the spare.
pub(crate) async fn warm_up(
    writer: &Writer,
    lines: &mut Lines,
    cwd: &std::path::Path,
    info: &Value,
) -> Result<(), String> {
    let mut params = json!({"cwd": cwd, "mcpServers": []});
    if let Some(meta) = session_meta(info) {
        params["_meta"] = meta;
    }
    let made = rpc::call(writer, lines, DIALECT, 8, "session/new", params).await?;
    let closes = info["agentCapabilities"]["sessionCapabilities"]["close"].is_object();
    if let (Some(id), true) = (made["sessionId"].as_str(), closes) {
        // Only a courtesy: an agent that fails it still serves.
        let params = json!({"sessionId": id});
        if let Err(e) = rpc::call(writer, lines, DIALECT, 9, "session/close", params).await {
            tracing::debug!("the agent did not close the warm-up session: {e}");
        }
    }
    Ok(())
}

/// The refusal of `--model` by an agent that offers no way to pick one.
fn no_model_control(agent: &str) -> DriverError {
    DriverError::Cannot(format!(
        "{agent} cannot switch models: it offers neither a model config option nor session/set_model; drop --model, or set the model in the agent's own configuration"
    ))
}

/// `initialize` (unless a spare's answer `info` is given), then `session/new`,
/// `session/resume`, `session/load` or (for `--continue`) `session/list` + resume; then
/// `session/set_mode` when a mode is configured. Returns the session id and how the agent
/// lets the client pick the model.
async fn open_session(
    writer: &Writer,
    lines: &mut Lines,
    spec: &StartSpec,
    info: Option<Value>,
) -> Result<Opened, OpenError> {
    let info = match info {
        Some(info) => info,
        None => initialize(writer, lines).await?,
    };
    let caps = &info["agentCapabilities"];
    let can_resume = caps["sessionCapabilities"]["resume"].is_object();
    let can_load = caps["loadSession"].as_bool().unwrap_or(false);
    let can_list = caps["sessionCapabilities"]["list"].is_object();
    let servers = crate::mcp::acp_servers(&spec.mcp_servers, caps).map_err(OpenError::Cannot)?;
    let mut base = json!({"cwd": spec.cwd, "mcpServers": servers});
    if let Some(meta) = session_meta(&info) {
        base["_meta"] = meta;
    }
    if let OpenMode::Fork(source) = &spec.mode {
        if !caps["sessionCapabilities"]["fork"].is_object() {
            return Err(format!(
                "{} cannot fork a session: it does not offer session/fork",
                spec.agent.name
            )
            .into());
        }
        let mut params = base;
        params["sessionId"] = json!(source);
        let forked = rpc::call(writer, lines, DIALECT, 3, "session/fork", params).await?;
        return forked["sessionId"]
            .as_str()
            .map(|id| (id.to_string(), ModelControl::of(&forked)))
            .ok_or_else(|| format!("session/fork answered without a sessionId: {forked}").into());
    }
    let target = match &spec.mode {
        OpenMode::Fresh | OpenMode::Fork(_) => None,
        OpenMode::Resume(id) => Some(id.clone()),
        OpenMode::Continue => {
            if !can_list {
                return Err("this agent cannot list its sessions, so --continue cannot find the last one (Session not found)".into());
            }
            let listed = rpc::call(
                writer,
                lines,
                DIALECT,
                2,
                "session/list",
                json!({"cwd": spec.cwd}),
            )
            .await?;
            let latest = listed["sessions"]
                .as_array()
                .and_then(|s| {
                    s.iter()
                        .max_by_key(|s| s["updatedAt"].as_str().unwrap_or_default().to_string())
                })
                .and_then(|s| s["sessionId"].as_str())
                .map(str::to_string);
            Some(latest.ok_or("no previous session in this cwd (Session not found)")?)
        }
    };
    let (session, models) = match target {
        None => {
            let created = rpc::call(writer, lines, DIALECT, 3, "session/new", base).await?;
            let id = created["sessionId"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("session/new answered without a sessionId: {created}"))?;
            (id, ModelControl::of(&created))
        }
        Some(id) => {
            let mut params = base;
            params["sessionId"] = json!(id);
            let method = if can_resume {
                "session/resume"
            } else if can_load {
                "session/load"
            } else {
                return Err(
                    "this agent can neither resume nor load sessions (Session not found)".into(),
                );
            };
            let opened = rpc::call(writer, lines, DIALECT, 3, method, params).await?;
            if method == "session/load" {
                drain_replay(writer, lines).await;
            }
            (id, ModelControl::of(&opened))
        }
    };
    if let Some(mode) = &spec.agent.mode {
        rpc::call(
            writer,
            lines,
            DIALECT,
            4,
            "session/set_mode",
            json!({"sessionId": session, "modeId": mode}),
        )
        .await?;
    }
    Ok((session, models))
}

/// How long the agent must stay quiet after `session/load` before the replay counts as over.
const REPLAY_QUIET: Duration = Duration::from_millis(500);

/// Drops the history replay of `session/load`. Gemini CLI sends most of it *after* its load
/// reply (docs/protocols.md, "ACP"), and a replay that reached the first turn would be
/// printed as that turn's answer. Nothing marks the replay's end, so wait for a quiet spell.
async fn drain_replay(writer: &Writer, lines: &mut Lines) {
    while let Ok(Ok(Some(segment))) = tokio::time::timeout(REPLAY_QUIET, lines.next_segment()).await
    {
        if let Segment::Line(line) = segment
            && let Ok(v) = serde_json::from_slice::<Value>(&line)
            && let Incoming::Request { id, method, .. } = rpc::classify(v)
        {
            let _ = writer.send(&DIALECT.unsupported(&id, &method));
        }
    }
}

/// An ACP agent's reading of its output: the turn state shared with the driver, and tool
/// titles by id so that updates can be labelled.
struct Reader {
    shared: Arc<Mutex<Shared>>,
    tools: HashMap<String, String>,
    /// The session's cumulative cost from `usage_update` so far (a turn's cost is the
    /// increase).
    cost_so_far: Option<f64>,
    /// What the agent told of each running tool call, for its permission requests.
    calls: Calls,
    pending: Pending<u64>,
}

impl Reader {
    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Handler for Reader {
    fn on_message(&mut self, v: Value, out: &mut Vec<DriverEvent>, writer: &Writer) {
        match rpc::classify(v) {
            Incoming::Reply { id, result } => {
                if self.pending.settle(&id, result.clone().map(|_| ())) {
                    return;
                }
                let mut s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
                if s.prompt_request == Some(id) {
                    s.prompt_request = None;
                    if let Ok(r) = &result
                        && let Some(usage) = prompt_usage(&r["usage"])
                    {
                        out.push(DriverEvent::Usage(usage));
                    }
                    self.calls.clear();
                    out.push(DriverEvent::TurnEnd(match result {
                        Ok(r) => TurnEnd {
                            ok: true,
                            output: None,
                            stop_reason: StopReason::from_agent(
                                r["stopReason"].as_str().unwrap_or("end_turn"),
                            ),
                            error: None,
                        },
                        Err(e) => TurnEnd {
                            ok: false,
                            output: None,
                            stop_reason: StopReason::Other("error".into()),
                            error: Some(e),
                        },
                    }));
                }
            }
            Incoming::Request { id, method, params } => {
                if method == "session/request_permission" {
                    // The session decides; the agent waits for `answer`.
                    let ask = id.to_string();
                    let tool = tool_use(&self.calls.known(&params["toolCall"]));
                    self.shared()
                        .asks
                        .insert(ask.clone(), (id, params["options"].clone()));
                    out.push(DriverEvent::Permission { id: ask, tool });
                } else {
                    // fs/* and anything else: cap advertises no such capability.
                    let _ = writer.send(&DIALECT.unsupported(&id, &method));
                }
            }
            Incoming::Notification { method, params }
                if method == "session/update"
                    && params["update"]["sessionUpdate"] == "usage_update" =>
            {
                // Cost is cumulative for the session; tokens here are the context's size,
                // not this turn's, so only the cost is taken (the prompt's reply has tokens).
                let cost = &params["update"]["cost"];
                if cost["currency"].as_str().is_none_or(|c| c == "USD")
                    && let Some(total) = cost["amount"].as_f64()
                {
                    let spent = super::increase(&mut self.cost_so_far, total);
                    out.push(DriverEvent::Usage(Usage {
                        cost_usd: Some(spent),
                        ..Usage::default()
                    }));
                }
                out.push(DriverEvent::Raw {
                    kind: "usage_update".into(),
                    payload: params["update"].clone(),
                });
            }
            Incoming::Notification { method, params } if method == "session/update" => {
                self.calls.update(&params["update"]);
                out.extend(translate(&params["update"], &mut self.tools));
            }
            Incoming::Notification { method, params } => out.push(DriverEvent::Raw {
                kind: method,
                payload: params,
            }),
            Incoming::Other => {}
        }
    }

    /// JSON-RPC writers put `id` and `method` before `params` and `result`. A lost reply to
    /// the running prompt ended the turn, and a line whose start does not say what it was may
    /// have; the prompt's reply, should it still come, is then ignored like any stale reply.
    /// A lost request is refused (a permission request so refused is not granted).
    fn on_oversized(&mut self, lost: Lost, out: &mut Vec<DriverEvent>, writer: &Writer) {
        let method = lost.str("method");
        if let (Some(method), Some(id)) = (method, lost.fields.get("id")) {
            let _ = writer.send(&DIALECT.unsupported(id, method));
        }
        let mut s = self.shared();
        match s.prompt_request {
            Some(id) if rpc::may_be_reply(&lost.fields, id) => {
                s.prompt_request = None;
                out.push(DriverEvent::TurnEnd(lost.turn_end()));
            }
            _ => out.push(lost.event()),
        }
    }
}

/// The token counts of a `session/prompt` reply (`usage`, where the agent reports it).
fn prompt_usage(u: &Value) -> Option<Usage> {
    let tokens = |k: &str| u[k].as_u64();
    let usage = Usage {
        input_tokens: tokens("inputTokens"),
        output_tokens: tokens("outputTokens"),
        cache_read_tokens: tokens("cachedReadTokens"),
        cache_write_tokens: tokens("cachedWriteTokens"),
        cost_usd: None,
    };
    (!usage.is_empty()).then_some(usage)
}

/// Maps one `session/update` to events. Unknown kinds pass through raw; replayed user text
/// (from `session/load`) is dropped.
fn translate(u: &Value, tools: &mut HashMap<String, String>) -> Vec<DriverEvent> {
    let kind = u["sessionUpdate"].as_str().unwrap_or_default();
    let content_text = |c: &Value| c["text"].as_str().unwrap_or_default().to_string();
    match kind {
        "agent_message_chunk" => {
            let t = content_text(&u["content"]);
            if t.is_empty() {
                Vec::new()
            } else {
                vec![DriverEvent::Text(t)]
            }
        }
        "agent_thought_chunk" => vec![DriverEvent::Thought(content_text(&u["content"]))],
        "user_message_chunk" => Vec::new(),
        "tool_call" | "tool_call_update" => {
            let id = u["toolCallId"].as_str().unwrap_or_default().to_string();
            if let Some(title) = u["title"].as_str() {
                tools.insert(id.clone(), title.to_string());
            }
            let output = u
                .get("rawOutput")
                .or_else(|| u.get("content"))
                .filter(|v| !v.is_null() && kind == "tool_call_update")
                .map(summary);
            vec![DriverEvent::ToolCall(ToolCall {
                name: tools.get(&id).cloned().unwrap_or_else(|| "tool".into()),
                id,
                status: u["status"].as_str().unwrap_or("pending").to_string(),
                input: u
                    .get("rawInput")
                    .filter(|v| !v.is_null() && v.as_object().is_none_or(|o| !o.is_empty()))
                    .map(summary),
                output,
            })]
        }
        "plan" => vec![DriverEvent::Plan(u["entries"].clone())],
        other => vec![DriverEvent::Raw {
            kind: other.to_string(),
            payload: u.clone(),
        }],
    }
}

impl Driver for AcpDriver {
    fn send_turn(&mut self, text: &str) -> Result<(), DriverError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .prompt_request = Some(id);
        let params = json!({"sessionId": self.session, "prompt": [{"type": "text", "text": text}]});
        self.conn
            .send(&DIALECT.request(id, "session/prompt", params))
    }

    fn cancel(&mut self) -> Result<(), DriverError> {
        let note = DIALECT.notification("session/cancel", Some(json!({"sessionId": self.session})));
        self.conn.send(&note)
    }

    fn answer(&mut self, id: &str, allow: bool) -> Result<(), DriverError> {
        let asked = self
            .shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .asks
            .remove(id);
        let Some((rpc_id, options)) = asked else {
            return Ok(());
        };
        let reply = DIALECT.result(&rpc_id, json!({"outcome": outcome(&options, allow)}));
        self.conn.send(&reply)
    }

    fn native_id(&self) -> Option<String> {
        Some(self.session.clone())
    }

    fn set_model(&mut self, model: &str) -> Result<Ack, DriverError> {
        let Some(control) = &self.models else {
            return Err(no_model_control("this agent"));
        };
        let (method, params) = control.request(&self.session, model);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let ack = self.pending.add(id);
        self.conn.send(&DIALECT.request(id, method, params))?;
        Ok(ack)
    }

    super::process_plumbing!();
}

/// A reader in the state of a turn in progress, for fuzzing.
pub(crate) fn fuzz_reader() -> impl Handler {
    Reader {
        shared: Arc::new(Mutex::new(Shared {
            prompt_request: Some(3),
            asks: HashMap::new(),
        })),
        tools: HashMap::new(),
        cost_so_far: None,
        calls: Calls::default(),
        pending: Pending::default(),
    }
}

#[cfg(test)]
mod tests;
