//! Codex's `app-server` protocol: JSON-RPC without the `"jsonrpc"` field, one object per line.
//!
//! Facts this relies on (docs/protocols.md, "Codex"): `initialize` then `initialized`,
//! then `thread/start` (the thread id is the native id) or `thread/resume` with `excludeTurns`
//! (works from any cwd); a turn is `turn/start`, streamed as `item/agentMessage/delta` until
//! `turn/completed` (completed, interrupted or failed); `turn/interrupt` cancels; a second
//! `turn/start` mid-turn would be steered into the running turn, so the actor's one-turn-at-a-
//! time rule matters; stdin EOF kills Codex at once, so stdin stays open for the session's life.
//!
//! Process model: one app-server per session, or many threads on one shared app-server when
//! the agent has `share` on (`super::host`, which this driver runs on unchanged: every
//! request and notification of a thread names its `threadId`).

use super::acks::{Ack, Pending};
use super::host::Proc as AgentProcess;
use super::lines::{Lines, Lost};
use super::process::Writer;
use super::reader::Handler;
use super::rpc::{self, Dialect, Incoming};
use super::{
    Conn, Driver, DriverError, DriverEvent, OpenMode, Spare, StartSpec, TurnEnd, open_on,
    spawn_and_open,
};
use crate::session::wall::Wall;
use cap_proto::policy::{Kind, ToolUse};
use cap_proto::{StopReason, Usage};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use binary::native_binary;
use items::{last_agent_message, riskiest, tool_event};
use open::open_thread;
pub(crate) use open::{initialize, warm_up};

const DIALECT: Dialect = Dialect { jsonrpc: false };

/// State the reader task shares with the driver.
#[derive(Default)]
struct Shared {
    /// The running turn's id, for `turn/interrupt`.
    turn: Option<String>,
    /// The id of our last `turn/start` request, whose error reply fails the turn.
    start_request: Option<u64>,
    /// A cancel came before the turn id: interrupt as soon as the id arrives.
    interrupt_pending: bool,
    /// A turn failed by cap when a line that may have ended it was dropped: its late
    /// `turn/completed`, should it come, must not end the next turn.
    abandoned: Option<String>,
    /// Open approval requests: our id → Codex's JSON-RPC id.
    asks: HashMap<String, Value>,
    /// The paths of file-change items, which their approval requests do not repeat.
    changes: HashMap<String, Vec<String>>,
}

impl Shared {
    /// Records the running turn's id; true when a cancel is waiting for it.
    fn turn_known(&mut self, turn: &str) -> bool {
        self.turn = Some(turn.to_string());
        std::mem::take(&mut self.interrupt_pending)
    }
}

/// A live Codex app-server hosting one thread.
pub struct CodexDriver {
    conn: Conn,
    thread: String,
    shared: Arc<Mutex<Shared>>,
    next_id: Arc<AtomicU64>,
    /// The `outputSchema` of the turns sent from now on (`--schema`).
    output_schema: Option<Value>,
    /// The second wall of the turns sent from now on, where Codex's sandbox runs here.
    wall: Wall,
    /// Whether Codex's sandbox runs on this machine ([`sandbox::works`]).
    sandboxed: bool,
    cwd: PathBuf,
    /// The model every `turn/start` names once switched (`--model` on a warm session).
    model: Option<String>,
    /// Our `turn/steer` requests waiting for their answer.
    pending: Pending<u64>,
}

impl CodexDriver {
    /// Spawns the app-server, initialises it and starts or resumes the thread.
    pub async fn start(mut spec: StartSpec) -> Result<CodexDriver, DriverError> {
        // `Daemon::acquire` refuses --continue for this protocol before anything is opened;
        // this guard only keeps a future caller from silently getting a fresh thread.
        if spec.mode == OpenMode::Continue {
            return Err(DriverError::Unsupported(
                "--continue with codex (resume a thread with --resume THREAD_ID)",
            ));
        }
        spec.agent.program = native_binary(&spec.agent.program);
        let (proc, lines, thread) = spawn_and_open(&spec, &[], async |proc, lines| {
            initialize(proc, lines).await?;
            open_thread(proc, lines, &spec).await
        })
        .await?;
        let sandboxed = sandboxed(&spec).await;
        Ok(CodexDriver::on(proc, lines, thread, &spec, sandboxed))
    }

    /// Opens the thread on a prewarmed app-server, already initialized.
    pub async fn start_on(spare: Spare, spec: StartSpec) -> Result<CodexDriver, DriverError> {
        if spec.mode == OpenMode::Continue {
            return Err(DriverError::Unsupported(
                "--continue with codex (resume a thread with --resume THREAD_ID)",
            ));
        }
        let Spare { proc, lines, .. } = spare;
        let (proc, lines, thread) = open_on(&spec, proc, lines, async |w, l| {
            open_thread(w, l, &spec).await
        })
        .await?;
        let sandboxed = sandboxed(&spec).await;
        Ok(CodexDriver::on(proc, lines, thread, &spec, sandboxed))
    }

    /// The driver of `thread`, opened on `proc`.
    fn on(
        proc: AgentProcess,
        lines: Lines,
        thread: String,
        spec: &StartSpec,
        sandboxed: bool,
    ) -> CodexDriver {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let next_id = Arc::new(AtomicU64::new(10));
        let pending = Pending::default();
        let reader = Reader {
            shared: shared.clone(),
            last_error: None,
            thread: thread.clone(),
            next_id: next_id.clone(),
            cwd: spec.cwd.clone(),
            pending: pending.clone(),
        };
        CodexDriver {
            conn: Conn::new(proc, lines, reader),
            thread,
            shared,
            next_id,
            output_schema: None,
            wall: Wall::Open,
            sandboxed,
            cwd: spec.cwd.clone(),
            model: None,
            pending,
        }
    }
}

/// Whether `spec`'s Codex can sandbox its turns here (probed once per binary, off the
/// runtime's threads).
async fn sandboxed(spec: &StartSpec) -> bool {
    let program = native_binary(&spec.agent.program);
    let env = spec.agent.env.clone();
    tokio::task::spawn_blocking(move || sandbox::works(&program, &env))
        .await
        .unwrap_or(false)
}

/// Codex's reading of its output: turn state shared with the driver, and what it needs to
/// send a `turn/interrupt` that had to wait for the turn id.
struct Reader {
    shared: Arc<Mutex<Shared>>,
    /// The last `error` notification: `turn/completed` with status failed may not repeat it.
    last_error: Option<String>,
    thread: String,
    next_id: Arc<AtomicU64>,
    /// The session's cwd, to judge which changed file matters most.
    cwd: std::path::PathBuf,
    pending: Pending<u64>,
}

impl Reader {
    fn interrupt(&self, writer: &Writer, turn: &str) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let params = json!({"threadId": self.thread, "turnId": turn});
        let _ = writer.send(&DIALECT.request(id, "turn/interrupt", params));
    }

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
                let mut s = self.shared();
                if s.start_request != Some(id) {
                    return;
                }
                s.start_request = None;
                match result {
                    Ok(r) => {
                        if let Some(turn) = r["turn"]["id"].as_str()
                            && s.turn_known(turn)
                        {
                            drop(s);
                            self.interrupt(writer, turn);
                        }
                    }
                    Err(e) => out.push(DriverEvent::TurnEnd(TurnEnd {
                        ok: false,
                        output: None,
                        stop_reason: StopReason::Other("failed".into()),
                        error: Some(e),
                    })),
                }
            }
            Incoming::Request { id, method, params } => {
                let tool = match method.as_str() {
                    "item/commandExecution/requestApproval" => Some(ToolUse {
                        tool: "shell".into(),
                        kind: Kind::Execute,
                        subject: params["command"].as_str().map(super::unwrap_shell),
                    }),
                    "item/fileChange/requestApproval" => {
                        let item = params["itemId"].as_str().unwrap_or_default();
                        let paths = self.shared().changes.get(item).cloned();
                        Some(ToolUse {
                            tool: "apply_patch".into(),
                            kind: Kind::Edit,
                            subject: riskiest(paths.unwrap_or_default(), &self.cwd)
                                .or_else(|| params["grantRoot"].as_str().map(str::to_string)),
                        })
                    }
                    _ => None,
                };
                match tool {
                    // The session decides; Codex waits for `answer`.
                    Some(tool) => {
                        let ask = id.to_string();
                        self.shared().asks.insert(ask.clone(), id);
                        out.push(DriverEvent::Permission { id: ask, tool });
                    }
                    None => {
                        let _ = writer.send(&DIALECT.unsupported(&id, &method));
                    }
                }
            }
            Incoming::Notification { method, params } => {
                if method == "thread/tokenUsage/updated" {
                    // `last` is the one model call this notification is about; `total` is
                    // the thread's, and a resumed thread's total includes turns other
                    // processes already counted.
                    let last = &params["tokenUsage"]["last"];
                    let tokens = |k: &str| last[k].as_u64();
                    let usage = Usage {
                        input_tokens: tokens("inputTokens"),
                        cache_read_tokens: tokens("cachedInputTokens"),
                        output_tokens: tokens("outputTokens"),
                        cache_write_tokens: tokens("cacheWriteInputTokens"),
                        cost_usd: None,
                    };
                    if !usage.is_empty() {
                        out.push(DriverEvent::Usage(usage));
                    }
                }
                if method == "item/started"
                    && params["item"]["type"] == "fileChange"
                    && let Some(item) = params["item"]["id"].as_str()
                {
                    let paths = params["item"]["changes"]
                        .as_array()
                        .map(|c| {
                            c.iter()
                                .filter_map(|c| c["path"].as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    self.shared().changes.insert(item.to_string(), paths);
                }
                if method == "turn/started"
                    && let Some(turn) = params["turn"]["id"].as_str()
                    && self.shared().turn_known(turn)
                {
                    self.interrupt(writer, turn);
                }
                if method == "turn/completed" {
                    let mut s = self.shared();
                    if s.abandoned.is_some()
                        && s.abandoned.as_deref() == params["turn"]["id"].as_str()
                    {
                        s.abandoned = None;
                        return;
                    }
                }
                out.extend(translate(
                    &method,
                    &params,
                    &self.shared,
                    &mut self.last_error,
                ));
            }
            Incoming::Other => {}
        }
    }

    /// Codex writes `id` and `method` before `params` and `result`. A lost `turn/completed`
    /// ended the running turn, and a line whose start does not say what it was may have; a
    /// lost `turn/start` reply only carried the turn id, which `turn/started` repeats.
    fn on_oversized(&mut self, lost: Lost, out: &mut Vec<DriverEvent>, writer: &Writer) {
        let method = lost.str("method");
        if let (Some(method), Some(id)) = (method, lost.fields.get("id")) {
            let _ = writer.send(&DIALECT.unsupported(id, method));
        }
        let mut s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let running = s.turn.is_some() || s.start_request.is_some();
        let may_end = match method {
            Some(m) => m == "turn/completed",
            None => !lost.fields.contains_key("id"),
        };
        if running && may_end {
            s.abandoned = s.turn.take();
            s.start_request = None;
            s.interrupt_pending = false;
            self.last_error = None;
            out.push(DriverEvent::TurnEnd(lost.turn_end()));
        } else {
            out.push(lost.event());
        }
    }
}

fn translate(
    method: &str,
    p: &Value,
    shared: &Arc<Mutex<Shared>>,
    last_error: &mut Option<String>,
) -> Vec<DriverEvent> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    match method {
        "item/agentMessage/delta" => vec![DriverEvent::Text(text(&p["delta"]))],
        m if m.starts_with("item/reasoning/") && m.ends_with("Delta") => {
            vec![DriverEvent::Thought(text(&p["delta"]))]
        }
        // The turn id is recorded by the reader (a cancel may be waiting for it).
        "turn/started" => Vec::new(),
        "item/started" | "item/completed" => tool_event(method, &p["item"]).into_iter().collect(),
        "turn/plan/updated" => vec![DriverEvent::Plan(p["plan"].clone())],
        "error" => {
            *last_error = Some(
                p["error"]["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| p["error"].to_string()),
            );
            Vec::new()
        }
        "turn/completed" => {
            {
                let mut s = shared.lock().unwrap_or_else(|e| e.into_inner());
                s.turn = None;
                s.interrupt_pending = false;
            }
            let turn = &p["turn"];
            let status = turn["status"].as_str().unwrap_or("completed");
            let error = turn["error"]["message"]
                .as_str()
                .map(str::to_string)
                .or_else(|| last_error.take());
            vec![DriverEvent::TurnEnd(match status {
                "failed" => TurnEnd {
                    ok: false,
                    output: None,
                    stop_reason: StopReason::Other("failed".into()),
                    error: Some(error.unwrap_or_else(|| "the turn failed".into())),
                },
                "interrupted" => TurnEnd {
                    ok: true,
                    output: None,
                    stop_reason: StopReason::Cancelled,
                    error: None,
                },
                _ => TurnEnd {
                    ok: true,
                    output: last_agent_message(turn),
                    stop_reason: StopReason::EndTurn,
                    error: None,
                },
            })]
        }
        "thread/started"
        | "thread/status/changed"
        | "thread/tokenUsage/updated"
        | "account/rateLimits/updated"
        | "configWarning"
        | "remoteControl/status/changed" => Vec::new(),
        other => vec![DriverEvent::Raw {
            kind: other.to_string(),
            payload: p.clone(),
        }],
    }
}

/// Codex's approval policy for every turn: ask about anything outside its small list of
/// trusted read-only commands.
pub(super) const APPROVAL: &str = "untrusted";

impl Driver for CodexDriver {
    fn send_turn(&mut self, text: &str) -> Result<(), DriverError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        {
            let mut s = self.shared.lock().unwrap_or_else(|e| e.into_inner());
            s.start_request = Some(id);
            s.interrupt_pending = false;
        }
        // Every turn asks for approval of anything Codex does not trust, so the session's
        // policy decides; Codex's sandbox holds the same line again where it runs.
        let wall = if self.sandboxed {
            self.wall
        } else {
            Wall::Open
        };
        let mut params = json!({
            "threadId": self.thread,
            "input": [{"type": "text", "text": text}],
            "approvalPolicy": APPROVAL,
            "sandboxPolicy": sandbox::policy(wall, &self.cwd),
        });
        if let Some(schema) = &self.output_schema {
            // Codex 0.169's TurnStartParams: "JSON Schema used to constrain the final
            // assistant message for this turn"; it is not kept for later turns.
            params["outputSchema"] = schema.clone();
        }
        if let Some(m) = &self.model {
            params["model"] = json!(m);
        }
        self.conn.send(&DIALECT.request(id, "turn/start", params))
    }

    /// `turn/start` takes a model "for this turn and subsequent turns" (Codex 0.169): the
    /// switch is sent with the next turn, and an unknown model fails that turn.
    fn set_model(&mut self, model: &str) -> Result<Ack, DriverError> {
        self.model = Some(model.to_string());
        Ok(super::acks::done())
    }

    /// `turn/steer {threadId, expectedTurnId, input}` adds input to the running turn; it
    /// needs the turn's id, so input that comes before `turn/start` is answered is refused
    /// (and queued by the session).
    fn steer(&mut self, text: &str) -> Result<Ack, DriverError> {
        let turn = self
            .shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .turn
            .clone();
        let Some(turn) = turn else {
            return Err(DriverError::Unsupported(
                "steering before the turn has started",
            ));
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let ack = self.pending.add(id);
        let params = json!({
            "threadId": self.thread,
            "expectedTurnId": turn,
            "input": [{"type": "text", "text": text}],
        });
        self.conn.send(&DIALECT.request(id, "turn/steer", params))?;
        Ok(ack)
    }

    fn cancel(&mut self) -> Result<(), DriverError> {
        let turn = {
            let mut s = self.shared.lock().unwrap_or_else(|e| e.into_inner());
            if s.turn.is_none() {
                // `turn/start` is unanswered, so there is no turn id to interrupt yet: the
                // reader interrupts the turn as soon as the id arrives.
                s.interrupt_pending = true;
            }
            s.turn.clone()
        };
        let Some(turn) = turn else {
            return Ok(());
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let params = json!({"threadId": self.thread, "turnId": turn});
        self.conn
            .send(&DIALECT.request(id, "turn/interrupt", params))
    }

    fn native_id(&self) -> Option<String> {
        Some(self.thread.clone())
    }

    fn answer(&mut self, id: &str, allow: bool) -> Result<(), DriverError> {
        let asked = self
            .shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .asks
            .remove(id);
        let Some(rpc_id) = asked else {
            return Ok(());
        };
        let decision = if allow { "accept" } else { "decline" };
        self.conn
            .send(&DIALECT.result(&rpc_id, json!({"decision": decision})))
    }

    super::process_plumbing!();

    fn wall(&mut self, wall: Wall) {
        self.wall = wall;
    }

    fn output_schema(&mut self, schema: Option<&Value>) {
        self.output_schema = schema.cloned();
    }
}

/// A reader in the state of a turn in progress, for fuzzing.
pub(crate) fn fuzz_reader() -> impl Handler {
    Reader {
        shared: Arc::new(Mutex::new(Shared {
            turn: Some("t1".into()),
            start_request: Some(3),
            ..Shared::default()
        })),
        last_error: None,
        thread: "th".into(),
        next_id: Arc::new(AtomicU64::new(10)),
        cwd: "/w".into(),
        pending: Pending::default(),
    }
}

mod binary;
mod items;
mod open;
pub mod sandbox;
#[cfg(test)]
mod tests;
