//! `codex app-server`: JSON-RPC without the `"jsonrpc"` field, one object per line.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};

use crate::common::{
    Agent, Flow, GARBAGE_LINES, Hang, History, Home, Plan, Stream, emit, emit_raw, env_flag,
    exit_now, new_uuid, new_uuid_v7,
};

const PROTOCOL: &str = "codex";
const VERSION: &str = "0.169.0";
const METHODS: &[&str] = &[
    "initialize",
    "thread/start",
    "thread/resume",
    "thread/fork",
    "turn/start",
    "turn/steer",
    "turn/interrupt",
    "thread/unsubscribe",
];

struct Turn {
    id: String,
    item_id: String,
    stream: Stream,
    started: Instant,
}

struct Thread {
    history: History,
    model: String,
    approval_policy: Value,
    sandbox: Value,
    running: Option<Turn>,
}

impl Thread {
    /// A thread over `history`, with the settings `thread/start` or `thread/resume` asked for.
    fn new(history: History, params: &Value) -> Thread {
        Thread {
            history,
            model: params
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or("gpt-fake")
                .to_string(),
            approval_policy: params
                .get("approvalPolicy")
                .cloned()
                .unwrap_or(json!("never")),
            sandbox: sandbox_policy(params.get("sandbox").and_then(Value::as_str)),
            running: None,
        }
    }
}

pub struct Codex {
    home: Home,
    cwd: String,
    initialized: bool,
    never_ready: bool,
    threads: BTreeMap<String, Thread>,
}

fn error(id: &Value, code: i64, message: &str) {
    emit(&json!({"id": id, "error": {"code": code, "message": message}}));
}

fn notify(method: &str, params: Value) {
    emit(&json!({"method": method, "params": params}));
}

fn sandbox_policy(s: Option<&str>) -> Value {
    match s {
        Some("danger-full-access") => json!({"type": "dangerFullAccess"}),
        Some("workspace-write") => json!({
            "type": "workspaceWrite",
            "writableRoots": [],
            "networkAccess": false,
            "excludeTmpdirEnvVar": false,
            "excludeSlashTmp": false,
        }),
        _ => json!({"type": "readOnly", "networkAccess": false}),
    }
}

impl Codex {
    pub fn new(home: Home, cwd: String) -> Codex {
        Codex {
            home,
            cwd,
            initialized: false,
            never_ready: env_flag("FAKE_NEVER_READY"),
            threads: BTreeMap::new(),
        }
    }

    fn thread_json(&self, t: &Thread, with_turns: bool) -> Value {
        let h = &t.history;
        let turns: Vec<Value> = if with_turns {
            h.turns
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut items = vec![json!({
                        "type": "userMessage",
                        "id": format!("item_user_{i}"),
                        "content": [{"type": "text", "text": r.user}],
                    })];
                    if let Some(a) = &r.agent {
                        items.push(json!({"type": "agentMessage", "id": format!("msg_fake_{i}"), "text": a}));
                    }
                    json!({"id": format!("turn_{i}"), "status": r.status, "items": items, "error": null})
                })
                .collect()
        } else {
            Vec::new()
        };
        let path = self
            .home
            .session_path(&h.session_id)
            .map(|p| p.to_string_lossy().into_owned());
        json!({
            "id": h.session_id,
            "sessionId": h.session_id,
            "path": path,
            "cwd": h.cwd,
            "status": {"type": if t.running.is_some() { "active" } else { "idle" }},
            "turns": turns,
            "preview": h.turns.first().map(|r| r.user.clone()).unwrap_or_default(),
            "modelProvider": "fake",
            "createdAt": h.created_ms / 1000,
            "updatedAt": h.updated_ms / 1000,
            "ephemeral": false,
            "cliVersion": VERSION,
            "source": "appServer",
            "name": null,
        })
    }

    fn thread_result(&self, tid: &str, with_turns: bool) -> Value {
        match self.threads.get(tid) {
            Some(t) => json!({
                "thread": self.thread_json(t, with_turns),
                "model": t.model,
                "modelProvider": "fake",
                "cwd": t.history.cwd,
                "approvalPolicy": t.approval_policy,
                "sandbox": t.sandbox,
                "reasoningEffort": null,
            }),
            None => Value::Null,
        }
    }

    fn on_request(&mut self, id: &Value, method: &str, params: &Value) {
        if method == "initialize" {
            if self.never_ready {
                return;
            }
            if self.initialized {
                return error(id, -32600, "Already initialized");
            }
            self.initialized = true;
            let client = params
                .get("clientInfo")
                .and_then(|c| c.get("name"))
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            emit(&json!({"id": id, "result": {
                "userAgent": format!("{client}/{VERSION} (cap-fake-agent)"),
                "codexHome": self.home.dir.to_string_lossy(),
                "platformFamily": "unix",
                "platformOs": std::env::consts::OS,
            }}));
            return;
        }
        if !METHODS.contains(&method) {
            return error(
                id,
                -32600,
                &format!(
                    "Invalid request: unknown variant `{method}`, expected one of {}",
                    METHODS
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        if !self.initialized {
            return error(id, -32600, "Not initialized");
        }
        match method {
            "thread/start" => self.thread_start(id, params),
            "thread/resume" => self.thread_resume(id, params),
            "thread/fork" => self.thread_fork(id, params),
            "turn/start" => self.turn_start(id, params),
            "turn/steer" => self.turn_steer(id, params),
            "turn/interrupt" => self.turn_interrupt(id, params),
            // Like Codex 0.169: the thread stays loaded; this client just stops listening.
            "thread/unsubscribe" => emit(&json!({"id": id, "result": {"status": "unsubscribed"}})),
            _ => error(id, -32600, "Invalid request"),
        }
    }

    fn thread_start(&mut self, id: &Value, params: &Value) {
        let tid = new_uuid_v7();
        let cwd = params
            .get("cwd")
            .and_then(Value::as_str)
            .unwrap_or(&self.cwd)
            .to_string();
        let history = History::new(&tid, PROTOCOL, &cwd);
        self.home.save_or_warn(&history);
        self.threads
            .insert(tid.clone(), Thread::new(history, params));
        let result = self.thread_result(&tid, false);
        emit(&json!({"id": id, "result": result}));
        notify("thread/started", json!({"thread": result["thread"]}));
    }

    fn thread_resume(&mut self, id: &Value, params: &Value) {
        let Some(tid) = params.get("threadId").and_then(Value::as_str) else {
            return error(id, -32602, "Invalid params: missing field `threadId`");
        };
        let exclude = params
            .get("excludeTurns")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !self.threads.contains_key(tid) {
            let Some(history) = self.home.load(tid, PROTOCOL) else {
                return error(id, -32600, &format!("thread not found: {tid}"));
            };
            self.threads
                .insert(tid.to_string(), Thread::new(history, params));
        }
        let result = self.thread_result(tid, !exclude);
        emit(&json!({"id": id, "result": result}));
    }

    /// Like Codex: a new thread whose history starts as a copy of the source's.
    fn thread_fork(&mut self, id: &Value, params: &Value) {
        let Some(src) = params.get("threadId").and_then(Value::as_str) else {
            return error(id, -32602, "Invalid params: missing field `threadId`");
        };
        let Some(source) = self.home.load(src, PROTOCOL) else {
            return error(id, -32600, &format!("thread not found: {src}"));
        };
        let tid = new_uuid_v7();
        let mut history = History::new(&tid, PROTOCOL, &source.cwd);
        history.turns = source.turns;
        self.home.save_or_warn(&history);
        self.threads
            .insert(tid.clone(), Thread::new(history, params));
        let result = self.thread_result(&tid, false);
        emit(&json!({"id": id, "result": result}));
        notify("thread/started", json!({"thread": result["thread"]}));
    }

    fn turn_start(&mut self, id: &Value, params: &Value) {
        let Some(tid) = params.get("threadId").and_then(Value::as_str) else {
            return error(id, -32602, "Invalid params: missing field `threadId`");
        };
        let Some(input) = params.get("input").and_then(Value::as_array) else {
            return error(id, -32602, "Invalid params: missing field `input`");
        };
        let text = input
            .iter()
            .filter(|i| i.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|i| i.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n");
        let home = self.home.clone();
        let Some(thread) = self.threads.get_mut(tid) else {
            return error(id, -32600, &format!("thread not found: {tid}"));
        };
        if let Some(model) = params.get("model").and_then(Value::as_str) {
            // "Override the model for this turn and subsequent turns."
            thread.model = model.to_string();
        }
        if let Some(turn) = &thread.running {
            // Real codex steers the input into the active turn and returns its id.
            thread.history.begin_turn(&text);
            home.save_or_warn(&thread.history);
            emit(
                &json!({"id": id, "result": {"turn": {"id": turn.id, "status": "inProgress", "items": [], "error": null}}}),
            );
            return;
        }
        let turn_id = new_uuid_v7();
        let n = thread.history.begin_turn(&text);
        home.save_or_warn(&thread.history);
        let mut plan = Plan::new(&text, n, &home, tid);
        if params.get("outputSchema").is_some_and(|s| !s.is_null()) {
            plan.structured = Some(crate::plan::Structured::OutputSchema);
        }
        let turn_json = json!({"id": turn_id, "status": "inProgress", "items": [], "error": null});
        emit(&json!({"id": id, "result": {"turn": turn_json}}));
        notify(
            "thread/status/changed",
            json!({"threadId": tid, "status": {"type": "active"}}),
        );
        notify("turn/started", json!({"threadId": tid, "turn": turn_json}));
        let user_item = json!({"type": "userMessage", "id": new_uuid(), "content": [{"type": "text", "text": text}]});
        notify(
            "item/started",
            json!({"item": user_item, "threadId": tid, "turnId": turn_id}),
        );
        notify(
            "item/completed",
            json!({"item": user_item, "threadId": tid, "turnId": turn_id}),
        );
        if plan.garbage {
            for g in GARBAGE_LINES {
                emit_raw(g);
            }
            notify(
                "fake/vendorEvent",
                json!({"threadId": tid, "payload": {"x": 1}}),
            );
        }
        if plan.orphan {
            home.spawn_orphan();
        }
        if plan.crash {
            eprintln!("cap-fake-agent: CRASH requested, exiting mid-turn");
            exit_now(3);
        }
        let started = Instant::now();
        if plan.error {
            let message = "API Error: 500 fake";
            notify(
                "error",
                json!({
                    "error": {"message": message, "codexErrorInfo": "internalServerError", "additionalDetails": null},
                    "willRetry": false,
                    "threadId": tid,
                    "turnId": turn_id,
                }),
            );
            thread.history.end_turn(message, "failed");
            home.save_or_warn(&thread.history);
            notify(
                "thread/status/changed",
                json!({"threadId": tid, "status": {"type": "idle"}}),
            );
            notify(
                "turn/completed",
                json!({"threadId": tid, "turn": {
                    "id": turn_id,
                    "status": "failed",
                    "items": [],
                    "error": {"message": message, "codexErrorInfo": "internalServerError", "additionalDetails": null},
                    "durationMs": started.elapsed().as_millis() as u64,
                }}),
            );
            return;
        }
        let item_id = format!("msg_fake_{}", new_uuid().replace('-', ""));
        notify(
            "item/started",
            json!({"item": {"type": "agentMessage", "id": item_id, "text": ""}, "threadId": tid, "turnId": turn_id}),
        );
        let reply = plan.reply("");
        let stream = plan.stream(&reply);
        thread.running = Some(Turn {
            id: turn_id,
            item_id,
            stream,
            started,
        });
    }

    /// `turn/steer {threadId, expectedTurnId, input}`: the input joins the running turn (it
    /// is recorded as a user turn, which the next reply's count shows); without a running
    /// turn of that id it fails, as Codex 0.169 does.
    fn turn_steer(&mut self, id: &Value, params: &Value) {
        let Some(tid) = params.get("threadId").and_then(Value::as_str) else {
            return error(id, -32602, "Invalid params: missing field `threadId`");
        };
        let text = params
            .get("input")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|i| i.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_default();
        let expected = params.get("expectedTurnId").and_then(Value::as_str);
        let home = self.home.clone();
        let Some(thread) = self.threads.get_mut(tid) else {
            return error(id, -32600, &format!("thread not found: {tid}"));
        };
        let Some(turn) = thread
            .running
            .as_ref()
            .filter(|t| Some(t.id.as_str()) == expected)
        else {
            return error(id, -32600, "no active turn to steer");
        };
        let turn_id = turn.id.clone();
        thread.history.begin_turn(&text);
        home.save_or_warn(&thread.history);
        emit(&json!({"id": id, "result": {"turnId": turn_id}}));
    }

    fn turn_interrupt(&mut self, id: &Value, params: &Value) {
        let Some(tid) = params.get("threadId").and_then(Value::as_str) else {
            return error(id, -32602, "Invalid params: missing field `threadId`");
        };
        let turn_id = params.get("turnId").and_then(Value::as_str);
        let home = self.home.clone();
        let Some(thread) = self.threads.get_mut(tid) else {
            return error(id, -32600, &format!("thread not found: {tid}"));
        };
        emit(&json!({"id": id, "result": {}}));
        let matches = thread
            .running
            .as_ref()
            .is_some_and(|t| turn_id.is_none_or(|x| x == t.id));
        if !matches {
            return;
        }
        let Some(turn) = thread.running.take() else {
            return;
        };
        if turn.stream.hang == Hang::Uninterruptible {
            thread.running = Some(turn);
            return;
        }
        complete(&home, tid, thread, turn, "interrupted");
    }
}

/// Ends a turn: final item, status change, `turn/completed`.
fn complete(home: &Home, tid: &str, thread: &mut Thread, turn: Turn, status: &str) {
    let text = turn.stream.sent.clone();
    let item = json!({"type": "agentMessage", "id": turn.item_id, "text": text});
    notify(
        "item/completed",
        json!({"item": item, "threadId": tid, "turnId": turn.id}),
    );
    thread.history.end_turn(&text, status);
    home.save_or_warn(&thread.history);
    // Like Codex: `last` is this model call's usage, `total` the thread's so far.
    let n = thread.history.turns.len() as u64;
    let call = json!({"inputTokens": 10, "cachedInputTokens": 2, "outputTokens": 5, "reasoningOutputTokens": 0, "totalTokens": 15});
    let total = json!({"inputTokens": 10 * n, "cachedInputTokens": 2 * n, "outputTokens": 5 * n, "reasoningOutputTokens": 0, "totalTokens": 15 * n});
    notify(
        "thread/tokenUsage/updated",
        json!({"threadId": tid, "turnId": turn.id, "tokenUsage": {"last": call, "total": total}}),
    );
    notify(
        "thread/status/changed",
        json!({"threadId": tid, "status": {"type": "idle"}}),
    );
    notify(
        "turn/completed",
        json!({"threadId": tid, "turn": {
            "id": turn.id,
            "status": status,
            "items": [item],
            "error": null,
            "durationMs": turn.started.elapsed().as_millis() as u64,
        }}),
    );
}

impl Agent for Codex {
    fn on_line(&mut self, line: &str) -> Flow {
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("cap-fake-agent: failed to parse JSON-RPC line: {e}");
                return Flow::Continue;
            }
        };
        let method = v.get("method").and_then(Value::as_str);
        let id = v.get("id");
        let empty = json!({});
        let params = v.get("params").unwrap_or(&empty);
        // Notifications (`initialized`, ...) and responses need no answer.
        if let (Some(m), Some(id)) = (method, id) {
            let id = id.clone();
            self.on_request(&id, m, params);
        }
        Flow::Continue
    }

    fn on_eof(&mut self) -> Flow {
        // Real codex exits at once, even mid-turn.
        Flow::Exit(0)
    }

    fn tick(&mut self, now: Instant) -> Flow {
        let home = self.home.clone();
        for (tid, thread) in self.threads.iter_mut() {
            let Some(mut turn) = thread.running.take() else {
                continue;
            };
            while let Some(delta) = turn.stream.next_due(now) {
                notify(
                    "item/agentMessage/delta",
                    json!({"threadId": tid, "turnId": turn.id, "itemId": turn.item_id, "delta": delta}),
                );
            }
            if turn.stream.finished() {
                complete(&home, tid, thread, turn, "completed");
            } else {
                thread.running = Some(turn);
            }
        }
        Flow::Continue
    }

    fn deadline(&self) -> Option<Instant> {
        self.threads
            .values()
            .filter_map(|t| t.running.as_ref().and_then(|r| r.stream.deadline()))
            .min()
    }
}
