//! Agent Client Protocol (JSON-RPC 2.0 over stdio, one object per line).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::Instant;

use serde_json::{Value, json};

use crate::common::{
    Agent, Flow, GARBAGE_LINES, Hang, History, Home, Plan, Stream, emit, emit_raw, env_flag,
    exit_now, new_uuid, text_of_content,
};

use crate::acp_options::{config_options, modes};

const PROTOCOL: &str = "acp";

/// Where a running prompt is.
enum Phase {
    /// Waiting for the answer to our `session/request_permission` (request id).
    Permission(u64),
    /// Waiting for the answer to our `fs/write_text_file` (request id).
    FsWrite(u64),
    Streaming(Stream),
}

struct Turn {
    request_id: Value,
    plan: Plan,
    phase: Phase,
    /// Appended to the reply: the permission outcome.
    suffix: String,
    tool_seq: u64,
}

struct Session {
    history: History,
    running: Option<Turn>,
    /// Prompts received while one is running: run in order afterwards.
    queue: VecDeque<(Value, String)>,
}

pub struct Acp {
    home: Home,
    initialized: bool,
    never_ready: bool,
    no_resume: bool,
    /// `FAKE_ACP_LATE_REPLAY=1`: answer `session/load` first and replay after, as Gemini CLI
    /// does.
    late_replay: bool,
    sessions: BTreeMap<String, Session>,
    next_request_id: u64,
    /// Our outstanding agent→client requests: id → session id.
    outgoing: HashMap<u64, String>,
}

fn respond(id: &Value, result: Value) {
    emit(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
}

fn error(id: &Value, code: i64, message: &str) {
    emit(&json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}));
}

fn update(sid: &str, u: Value) {
    emit(&json!({
        "jsonrpc": "2.0",
        "method": "session/update",
        "params": {"sessionId": sid, "update": u},
    }));
}

fn text_block(t: &str) -> Value {
    json!({"type": "text", "text": t})
}

impl Acp {
    pub fn new(home: Home) -> Acp {
        Acp {
            home,
            initialized: false,
            never_ready: env_flag("FAKE_NEVER_READY"),
            no_resume: env_flag("FAKE_ACP_NO_RESUME"),
            late_replay: env_flag("FAKE_ACP_LATE_REPLAY"),
            sessions: BTreeMap::new(),
            next_request_id: 0,
            outgoing: HashMap::new(),
        }
    }

    fn send_request(&mut self, sid: &str, method: &str, params: Value) -> u64 {
        let id = self.next_request_id;
        self.next_request_id += 1;
        self.outgoing.insert(id, sid.to_string());
        emit(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    fn on_request(&mut self, id: &Value, method: &str, params: &Value) {
        if method == "initialize" {
            if self.never_ready {
                return;
            }
            self.initialized = true;
            let mut session_caps = json!({});
            if !self.no_resume {
                session_caps["resume"] = json!({});
            }
            if !env_flag("FAKE_ACP_NO_FORK") {
                session_caps["fork"] = json!({});
            }
            // Like the Claude and Codex adapters: a client may free a session it leaves.
            session_caps["close"] = json!({});
            respond(
                id,
                json!({
                    "protocolVersion": 1,
                    "agentInfo": {"name": "cap-fake-agent", "version": env!("CARGO_PKG_VERSION")},
                    "agentCapabilities": {
                        "loadSession": true,
                        "promptCapabilities": {"image": false, "audio": false, "embeddedContext": false},
                        "mcpCapabilities": {"http": false, "sse": false},
                        "sessionCapabilities": session_caps,
                    },
                    "authMethods": [],
                }),
            );
            return;
        }
        if !self.initialized {
            return error(id, -32000, "Not initialized: call initialize first");
        }
        match method {
            "authenticate" => respond(id, json!({})),
            "session/new" => self.session_new(id, params),
            "session/load" => self.session_load(id, params, true),
            "session/resume" if !self.no_resume => self.session_load(id, params, false),
            "session/fork" if !env_flag("FAKE_ACP_NO_FORK") => self.session_fork(id, params),
            "session/prompt" => self.session_prompt(id, params),
            "session/cancel" => {
                self.cancel(params);
                respond(id, Value::Null);
            }
            "session/set_mode" => {
                let sid = params
                    .get("sessionId")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if !self.sessions.contains_key(sid) {
                    return error(id, -32002, &format!("Resource not found: {sid}"));
                }
                respond(id, json!({}));
                if let Some(m) = params.get("modeId").and_then(Value::as_str) {
                    update(
                        sid,
                        json!({"sessionUpdate": "current_mode_update", "currentModeId": m}),
                    );
                }
            }
            "session/set_config_option" if !env_flag("FAKE_ACP_NO_MODELS") => {
                let value = params.get("value").and_then(Value::as_str).unwrap_or("");
                respond(id, json!({"configOptions": config_options(value)}));
            }
            "session/set_model" if !env_flag("FAKE_ACP_NO_MODELS") => respond(id, json!({})),
            "session/close" => {
                let sid = params
                    .get("sessionId")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                match self.sessions.remove(sid) {
                    Some(_) => respond(id, json!({})),
                    None => error(id, -32002, &format!("Resource not found: {sid}")),
                }
            }
            _ => error(id, -32601, &format!("Method not found: {method}")),
        }
    }

    fn session_new(&mut self, id: &Value, params: &Value) {
        let Some(cwd) = params.get("cwd").and_then(Value::as_str) else {
            return error(id, -32602, "Invalid params: missing field `cwd`");
        };
        if !cwd.starts_with('/') {
            return error(id, -32602, "Invalid params: cwd must be an absolute path");
        }
        let sid = new_uuid();
        let history = History::new(&sid, PROTOCOL, cwd);
        self.home.save_or_warn(&history);
        self.sessions.insert(
            sid.clone(),
            Session {
                history,
                running: None,
                queue: VecDeque::new(),
            },
        );
        respond(
            id,
            json!({"sessionId": sid, "modes": modes(), "configOptions": config_options("fake-default")}),
        );
    }

    /// `session/fork`: a new session whose history starts as a copy of the source's.
    fn session_fork(&mut self, id: &Value, params: &Value) {
        let Some(src) = params.get("sessionId").and_then(Value::as_str) else {
            return error(id, -32602, "Invalid params: missing field `sessionId`");
        };
        let Some(source) = self.home.load(src, PROTOCOL) else {
            return error(id, -32002, &format!("Resource not found: {src}"));
        };
        let sid = new_uuid();
        let mut history = History::new(&sid, PROTOCOL, &source.cwd);
        history.turns = source.turns;
        self.home.save_or_warn(&history);
        self.sessions.insert(
            sid.clone(),
            Session {
                history,
                running: None,
                queue: VecDeque::new(),
            },
        );
        respond(id, json!({"sessionId": sid, "modes": modes()}));
    }

    /// `session/load` (replay = true) and `session/resume` (no replay).
    fn session_load(&mut self, id: &Value, params: &Value, replay: bool) {
        let Some(sid) = params.get("sessionId").and_then(Value::as_str) else {
            return error(id, -32602, "Invalid params: missing field `sessionId`");
        };
        if !self.sessions.contains_key(sid) {
            let Some(history) = self.home.load(sid, PROTOCOL) else {
                return error(id, -32002, &format!("Resource not found: {sid}"));
            };
            self.sessions.insert(
                sid.to_string(),
                Session {
                    history,
                    running: None,
                    queue: VecDeque::new(),
                },
            );
        }
        let late = replay && self.late_replay;
        let answer = json!({"configOptions": config_options("fake-default")});
        if late {
            respond(id, answer.clone());
        }
        if replay && let Some(s) = self.sessions.get(sid) {
            for t in &s.history.turns {
                update(
                    sid,
                    json!({"sessionUpdate": "user_message_chunk", "content": text_block(&t.user)}),
                );
                if let Some(a) = t.agent.as_deref().filter(|a| !a.is_empty()) {
                    update(
                        sid,
                        json!({"sessionUpdate": "agent_message_chunk", "content": text_block(a)}),
                    );
                }
            }
        }
        if !late {
            respond(id, answer);
        }
    }

    fn session_prompt(&mut self, id: &Value, params: &Value) {
        let Some(sid) = params.get("sessionId").and_then(Value::as_str) else {
            return error(id, -32602, "Invalid params: missing field `sessionId`");
        };
        let Some(text) = params.get("prompt").and_then(text_of_content) else {
            return error(id, -32602, "Invalid params: missing field `prompt`");
        };
        let Some(s) = self.sessions.get_mut(sid) else {
            return error(id, -32002, &format!("Resource not found: {sid}"));
        };
        if s.running.is_some() {
            s.queue.push_back((id.clone(), text));
            return;
        }
        let sid = sid.to_string();
        self.start_turn(&sid, id.clone(), text);
    }

    fn start_turn(&mut self, sid: &str, request_id: Value, text: String) {
        let home = self.home.clone();
        let Some(s) = self.sessions.get_mut(sid) else {
            return;
        };
        let n = s.history.begin_turn(&text);
        home.save_or_warn(&s.history);
        let plan = Plan::new(&text, n, &home, sid);
        if plan.garbage {
            for g in GARBAGE_LINES {
                emit_raw(g);
            }
            emit(
                &json!({"jsonrpc": "2.0", "method": "_fake/vendor_event", "params": {"sessionId": sid}}),
            );
        }
        if plan.orphan {
            home.spawn_orphan();
        }
        if plan.crash {
            eprintln!("cap-fake-agent: CRASH requested, exiting mid-turn");
            exit_now(3);
        }
        if plan.error {
            s.history.end_turn("API Error: 500 fake", "failed");
            home.save_or_warn(&s.history);
            error(&request_id, -32603, "Internal error: API Error: 500 fake");
            self.start_queued(sid);
            return;
        }
        if plan.think {
            update(
                sid,
                json!({"sessionUpdate": "agent_thought_chunk", "content": text_block(&format!("**Thinking**\nabout: {text}"))}),
            );
        }
        if plan.tool {
            let call = format!("call_fake_{}", new_uuid().replace('-', ""));
            update(
                sid,
                json!({"sessionUpdate": "tool_call", "toolCallId": call, "title": "fake read", "kind": "read", "status": "pending", "locations": [], "rawInput": {"path": "fake.txt"}}),
            );
            update(
                sid,
                json!({"sessionUpdate": "tool_call_update", "toolCallId": call, "status": "completed", "content": [{"type": "content", "content": text_block("fake tool output")}], "rawOutput": {"ok": true}}),
            );
        }
        if plan.plan_update {
            update(
                sid,
                json!({"sessionUpdate": "plan", "entries": [
                    {"content": "step one", "status": "in_progress", "priority": "medium"},
                    {"content": "step two", "status": "pending", "priority": "medium"},
                ]}),
            );
        }
        if plan.weird {
            update(
                sid,
                json!({"sessionUpdate": "fake_vendor_kind", "payload": {"anything": [1, 2, 3]}}),
            );
        }
        let mut turn = Turn {
            request_id,
            plan,
            phase: Phase::Streaming(Stream::new(Vec::new(), Default::default(), Hang::No)),
            suffix: String::new(),
            tool_seq: 0,
        };
        if turn.plan.permission {
            turn.tool_seq = self.next_request_id;
            let call = format!("call_fake_perm_{}", turn.tool_seq);
            let rid = self.send_request(
                sid,
                "session/request_permission",
                json!({
                    "sessionId": sid,
                    "toolCall": {
                        "toolCallId": call,
                        "title": "fake privileged action",
                        "kind": "edit",
                        "status": "pending",
                        "rawInput": {"path": "permission.txt"},
                    },
                    "options": [
                        {"optionId": "allow", "name": "Allow", "kind": "allow_once"},
                        {"optionId": "always", "name": "Always", "kind": "allow_always"},
                        {"optionId": "reject", "name": "Reject", "kind": "reject_once"},
                    ],
                }),
            );
            turn.phase = Phase::Permission(rid);
            self.set_running(sid, turn);
        } else {
            self.after_permission(sid, turn);
        }
    }

    fn set_running(&mut self, sid: &str, turn: Turn) {
        if let Some(s) = self.sessions.get_mut(sid) {
            s.running = Some(turn);
        }
    }

    /// Next phase after the permission answer: fs write request, or streaming.
    fn after_permission(&mut self, sid: &str, mut turn: Turn) {
        if turn.plan.fswrite {
            let cwd = self
                .sessions
                .get(sid)
                .map(|s| s.history.cwd.clone())
                .unwrap_or_default();
            let rid = self.send_request(
                sid,
                "fs/write_text_file",
                json!({
                    "sessionId": sid,
                    "path": format!("{}/fake-agent-fswrite.txt", cwd.trim_end_matches('/')),
                    "content": "written by cap-fake-agent\n",
                }),
            );
            turn.phase = Phase::FsWrite(rid);
        } else {
            let reply = turn.plan.reply(&turn.suffix);
            turn.phase = Phase::Streaming(turn.plan.stream(&reply));
        }
        self.set_running(sid, turn);
    }

    fn on_response(&mut self, id: u64, v: &Value) {
        let Some(sid) = self.outgoing.remove(&id) else {
            return;
        };
        let Some(mut turn) = self.sessions.get_mut(&sid).and_then(|s| s.running.take()) else {
            return;
        };
        match turn.phase {
            Phase::Permission(rid) if rid == id => {
                let outcome = v.get("result").and_then(|r| r.get("outcome"));
                let selected = outcome
                    .filter(|o| o.get("outcome").and_then(Value::as_str) == Some("selected"))
                    .and_then(|o| o.get("optionId"))
                    .and_then(Value::as_str);
                let call = format!("call_fake_perm_{}", turn.tool_seq);
                let granted = match selected {
                    Some(opt) if opt != "reject" => {
                        turn.suffix = format!(" [permission granted: optionId={opt}]");
                        true
                    }
                    Some(opt) => {
                        turn.suffix = format!(" [PERMISSION DENIED: optionId={opt}]");
                        false
                    }
                    None => {
                        turn.suffix = " [PERMISSION DENIED: cancelled]".to_string();
                        false
                    }
                };
                update(
                    &sid,
                    json!({"sessionUpdate": "tool_call_update", "toolCallId": call, "status": if granted { "completed" } else { "failed" }}),
                );
                self.after_permission(&sid, turn);
            }
            Phase::FsWrite(rid) if rid == id => {
                if let Some(e) = v.get("error") {
                    eprintln!("cap-fake-agent: fs/write_text_file failed (continuing): {e}");
                }
                let reply = turn.plan.reply(&turn.suffix);
                turn.phase = Phase::Streaming(turn.plan.stream(&reply));
                self.set_running(&sid, turn);
            }
            _ => self.set_running(&sid, turn),
        }
    }

    fn cancel(&mut self, params: &Value) {
        let Some(sid) = params.get("sessionId").and_then(Value::as_str) else {
            return;
        };
        let home = self.home.clone();
        let Some(s) = self.sessions.get_mut(sid) else {
            return;
        };
        let Some(turn) = s.running.take() else {
            return;
        };
        let (hang, partial) = match &turn.phase {
            Phase::Streaming(st) => (st.hang, st.sent.clone()),
            _ => (Hang::No, String::new()),
        };
        if hang == Hang::Uninterruptible {
            s.running = Some(turn);
            return;
        }
        self.outgoing.retain(|_, v| v != sid);
        s.history.end_turn(&partial, "interrupted");
        home.save_or_warn(&s.history);
        respond(&turn.request_id, json!({"stopReason": "cancelled"}));
        let sid = sid.to_string();
        self.start_queued(&sid);
    }

    fn start_queued(&mut self, sid: &str) {
        let next = self
            .sessions
            .get_mut(sid)
            .filter(|s| s.running.is_none())
            .and_then(|s| s.queue.pop_front());
        if let Some((id, text)) = next {
            self.start_turn(sid, id, text);
        }
    }
}

impl Agent for Acp {
    fn on_line(&mut self, line: &str) -> Flow {
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(_) => {
                emit(
                    &json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": "Parse error"}}),
                );
                return Flow::Continue;
            }
        };
        let method = v.get("method").and_then(Value::as_str);
        let empty = json!({});
        let params = v.get("params").unwrap_or(&empty);
        match (method, v.get("id")) {
            (Some(m), Some(id)) => {
                let id = id.clone();
                self.on_request(&id, m, params);
            }
            (Some("session/cancel"), None) => self.cancel(params),
            (Some(_), None) => {}
            (None, Some(id)) => {
                if let Some(id) = id.as_u64() {
                    self.on_response(id, &v);
                }
            }
            (None, None) => {}
        }
        Flow::Continue
    }

    fn on_eof(&mut self) -> Flow {
        Flow::Exit(0)
    }

    fn tick(&mut self, now: Instant) -> Flow {
        let home = self.home.clone();
        let mut done = Vec::new();
        for (sid, s) in self.sessions.iter_mut() {
            let Some(turn) = s.running.as_mut() else {
                continue;
            };
            let Phase::Streaming(stream) = &mut turn.phase else {
                continue;
            };
            while let Some(chunk) = stream.next_due(now) {
                update(
                    sid,
                    json!({"sessionUpdate": "agent_message_chunk", "content": text_block(&chunk)}),
                );
            }
            if stream.finished() {
                let reply = stream.sent.clone();
                let request_id = turn.request_id.clone();
                s.running = None;
                s.history.end_turn(&reply, "completed");
                home.save_or_warn(&s.history);
                respond(
                    &request_id,
                    json!({"stopReason": "end_turn", "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}}),
                );
                done.push(sid.clone());
            }
        }
        for sid in done {
            self.start_queued(&sid);
        }
        Flow::Continue
    }

    fn deadline(&self) -> Option<Instant> {
        self.sessions
            .values()
            .filter_map(|s| match s.running.as_ref().map(|t| &t.phase) {
                Some(Phase::Streaming(st)) => st.deadline(),
                _ => None,
            })
            .min()
    }
}
