//! Claude Code `-p --input-format stream-json --output-format stream-json --verbose`.

use std::time::Instant;

use serde_json::{Value, json};

use crate::common::{
    Agent, Flow, GARBAGE_LINES, Hang, History, Home, Plan, Stream, emit, emit_raw, env_flag,
    exit_now, new_uuid, text_of_content,
};
use crate::misbehave::Misbehave;

const PROTOCOL: &str = "claude";
/// What each turn costs, so that cumulative totals are easy to check.
const FAKE_TURN_COST: f64 = 0.0002;
const VERSION: &str = "2.1.197 (cap-fake-agent)";
use crate::claude_args::{ClaudeArgs, parse_args};

struct Turn {
    plan: Plan,
    stream: Stream,
    started: Instant,
    msg_id: String,
}

/// A turn waiting for the host's answer to its `can_use_tool` request.
struct Asking {
    request_id: String,
    plan: Plan,
    misbehave: Misbehave,
    started: Instant,
    msg_id: String,
}

pub struct Claude {
    home: Home,
    /// Result lines written by this process, for the running cost.
    results: std::cell::Cell<u64>,
    cwd: String,
    model: String,
    permission_mode: String,
    /// `--permission-prompt-tool stdio`: permission questions go to the host.
    prompt_tool: bool,
    asking: Option<Asking>,
    partial_messages: bool,
    never_ready: bool,
    session_id: String,
    history: Option<History>,
    /// `--resume X` found nothing for this cwd: fail on the first user line.
    missing_resume: Option<String>,
    running: Option<Turn>,
    /// User lines received mid-turn; coalesced into one turn like real claude.
    queued: Vec<String>,
    eof: bool,
}

impl Claude {
    /// Sets up the session; `Err` is (message for stderr, exit code).
    pub fn new(args: &[String], home: Home, cwd: String) -> Result<Claude, (String, i32)> {
        let a = parse_args(args).map_err(|m| (m, 1))?;
        if env_flag("FAKE_ENFORCE_SANDBOX")
            && a.permission_mode.as_deref() == Some("bypassPermissions")
            && is_root()
            && std::env::var("IS_SANDBOX").ok().as_deref() != Some("1")
        {
            return Err((
                "--dangerously-skip-permissions cannot be used with root/sudo privileges for security reasons"
                    .to_string(),
                1,
            ));
        }
        let mut missing_resume = None;
        let (session_id, history) = if let Some(rid) = &a.resume {
            match home.load(rid, PROTOCOL).filter(|h| h.cwd == cwd) {
                Some(h) => fork_or_keep(h, &a, &cwd),
                None => {
                    missing_resume = Some(rid.clone());
                    (rid.clone(), None)
                }
            }
        } else if a.continue_ {
            match home.latest_in(PROTOCOL, &cwd) {
                Some(h) => fork_or_keep(h, &a, &cwd),
                None => (a.session_id.clone().unwrap_or_else(new_uuid), None),
            }
        } else if let Some(id) = &a.session_id {
            if home.exists(id) {
                return Err((format!("Error: Session ID {id} is already in use."), 1));
            }
            (id.clone(), None)
        } else {
            (new_uuid(), None)
        };
        Ok(Claude {
            home,
            results: std::cell::Cell::new(0),
            cwd,
            model: a
                .model
                .clone()
                .unwrap_or_else(|| "claude-fake-model".to_string()),
            permission_mode: a
                .permission_mode
                .clone()
                .unwrap_or_else(|| "default".to_string()),
            prompt_tool: a.permission_prompt_tool.as_deref() == Some("stdio"),
            asking: None,
            partial_messages: a.include_partial_messages,
            never_ready: env_flag("FAKE_NEVER_READY"),
            session_id,
            history,
            missing_resume,
            running: None,
            queued: Vec::new(),
            eof: false,
        })
    }

    fn system_init(&self) -> Value {
        json!({
            "type": "system",
            "subtype": "init",
            "cwd": self.cwd,
            "session_id": self.session_id,
            "tools": [],
            "mcp_servers": [],
            "model": self.model,
            "permissionMode": self.permission_mode,
            "slash_commands": [],
            "apiKeySource": "none",
            "claude_code_version": VERSION,
            "output_style": "default",
            "agents": [],
            "uuid": new_uuid(),
        })
    }

    fn assistant(&self, msg_id: &str, text: &str) -> Value {
        json!({
            "type": "assistant",
            "message": {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": self.model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": null,
                "stop_sequence": null,
                "usage": {"input_tokens": 1, "output_tokens": 1},
            },
            "parent_tool_use_id": null,
            "session_id": self.session_id,
            "uuid": new_uuid(),
        })
    }

    fn result(
        &self,
        subtype: &str,
        is_error: bool,
        text: &str,
        n: usize,
        started: Instant,
    ) -> Value {
        let ms = started.elapsed().as_millis() as u64;
        self.results.set(self.results.get() + 1);
        json!({
            "type": "result",
            "subtype": subtype,
            "is_error": is_error,
            "duration_ms": ms,
            "duration_api_ms": ms,
            "num_turns": n,
            "result": text,
            "stop_reason": if subtype == "success" { json!("end_turn") } else { Value::Null },
            "session_id": self.session_id,
            // Like Claude Code: usage is this turn's, the cost is the process's running total.
            "total_cost_usd": FAKE_TURN_COST * self.results.get() as f64,
            "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2},
            "permission_denials": [],
            "terminal_reason": "completed",
            "uuid": new_uuid(),
        })
    }

    fn control_response(request_id: &Value, response: Value) -> Value {
        json!({
            "type": "control_response",
            "response": {"subtype": "success", "request_id": request_id, "response": response},
        })
    }

    fn on_control(&mut self, v: &Value) {
        let rid = v.get("request_id").cloned().unwrap_or(Value::Null);
        let subtype = v
            .get("request")
            .and_then(|r| r.get("subtype"))
            .and_then(Value::as_str)
            .unwrap_or("");
        match subtype {
            "initialize" => {
                if self.never_ready {
                    return;
                }
                emit(&Self::control_response(
                    &rid,
                    json!({
                        "commands": [],
                        "agents": [],
                        "output_style": "default",
                        "available_output_styles": ["default"],
                        "models": [],
                        "account": {},
                        "pid": std::process::id(),
                    }),
                ));
            }
            "interrupt" => {
                emit(&Self::control_response(&rid, json!({})));
                self.interrupt();
            }
            "set_permission_mode" => {
                if let Some(m) = v
                    .get("request")
                    .and_then(|r| r.get("mode"))
                    .and_then(Value::as_str)
                {
                    self.permission_mode = m.to_string();
                }
                emit(&Self::control_response(&rid, json!({})));
            }
            "set_model" => {
                if let Some(m) = v
                    .get("request")
                    .and_then(|r| r.get("model"))
                    .and_then(Value::as_str)
                {
                    self.model = m.to_string();
                }
                emit(&Self::control_response(&rid, json!({})));
            }
            other => emit(&json!({
                "type": "control_response",
                "response": {
                    "subtype": "error",
                    "request_id": rid,
                    "error": format!("Unsupported control request subtype: {other}"),
                },
            })),
        }
    }

    fn interrupt(&mut self) {
        if let Some(a) = self.asking.take() {
            let mut r = self.result("error_during_execution", false, "", a.plan.n, a.started);
            r["terminal_reason"] = json!("aborted_streaming");
            self.finish_history("", "interrupted");
            emit(&r);
            self.start_queued();
            return;
        }
        let Some(turn) = self.running.take() else {
            return;
        };
        if turn.stream.hang == Hang::Uninterruptible {
            self.running = Some(turn);
            return;
        }
        let partial = turn.stream.sent.clone();
        if !turn.plan.huge {
            emit(&self.assistant(&turn.msg_id, &partial));
        }
        let mut r = self.result(
            "error_during_execution",
            false,
            "",
            turn.plan.n,
            turn.started,
        );
        r["terminal_reason"] = json!("aborted_streaming");
        r["errors"] = json!([]);
        // Like a real agent, the transcript is written before the turn is reported over:
        // whoever hears the result may read the history at once.
        self.finish_history(&partial, "interrupted");
        emit(&r);
        self.start_queued();
    }

    fn finish_history(&mut self, agent: &str, status: &str) {
        if let Some(h) = self.history.as_mut() {
            h.end_turn(agent, status);
            self.home.save_or_warn(h);
        }
    }

    fn start_queued(&mut self) {
        if self.running.is_none() && self.asking.is_none() && !self.queued.is_empty() {
            let text = std::mem::take(&mut self.queued).join("\n");
            self.start_turn(text);
        }
    }

    fn start_turn(&mut self, text: String) {
        let started = Instant::now();
        let history = self
            .history
            .get_or_insert_with(|| History::new(&self.session_id, PROTOCOL, &self.cwd));
        let n = history.begin_turn(&text);
        self.home.save_or_warn(history);
        let plan = Plan::new(&text, n, &self.home, &self.session_id);
        let misbehave = Misbehave::new(&text, &self.home, &self.session_id);
        emit(&self.system_init());
        if plan.garbage {
            for g in GARBAGE_LINES {
                emit_raw(g);
            }
            emit(
                &json!({"type": "fake_vendor_event", "session_id": self.session_id, "payload": {"x": 1}}),
            );
        }
        if plan.orphan {
            self.home.spawn_orphan();
        }
        if plan.crash {
            eprintln!("cap-fake-agent: CRASH requested, exiting mid-turn");
            exit_now(3);
        }
        let msg_id = format!("msg_fake_{}", new_uuid().replace('-', ""));
        if plan.error {
            let text = "API Error: 500 fake";
            emit(&self.assistant(&msg_id, text));
            self.finish_history(text, "failed");
            emit(&self.result("success", true, text, n, started));
            self.start_queued();
            return;
        }
        misbehave.act(&self.home);
        if plan.permission {
            // Like Claude Code: bypass mode never asks; a host with the stdio prompt tool is
            // asked; without one, an ask is a denial.
            let suffix = if self.permission_mode == "bypassPermissions" {
                " [permission bypassed]"
            } else if self.prompt_tool {
                let request_id = format!("perm-{}", new_uuid());
                emit(&json!({
                    "type": "control_request",
                    "request_id": request_id,
                    "request": {
                        "subtype": "can_use_tool",
                        "tool_name": "Write",
                        "input": {"file_path": "permission.txt", "content": "fake"},
                        "tool_use_id": format!("toolu_{n}"),
                    },
                }));
                self.asking = Some(Asking {
                    request_id,
                    plan,
                    misbehave,
                    started,
                    msg_id,
                });
                return;
            } else {
                " [PERMISSION DENIED: no permission prompt tool]"
            };
            return self.stream_turn(plan, &misbehave, started, msg_id, suffix);
        }
        self.stream_turn(plan, &misbehave, started, msg_id, "");
    }

    fn stream_turn(
        &mut self,
        plan: Plan,
        misbehave: &Misbehave,
        started: Instant,
        msg_id: String,
        suffix: &str,
    ) {
        let reply = plan.reply(suffix);
        let stream = misbehave
            .stream(&reply)
            .unwrap_or_else(|| plan.stream(&reply));
        self.running = Some(Turn {
            plan,
            stream,
            started,
            msg_id,
        });
    }

    /// The host answered a `can_use_tool` request.
    fn on_permission_answer(&mut self, v: &Value) {
        let r = &v["response"];
        let Some(a) = self
            .asking
            .take_if(|a| r["request_id"].as_str() == Some(a.request_id.as_str()))
        else {
            return;
        };
        let answer = &r["response"];
        let suffix = match (r["subtype"].as_str(), answer["behavior"].as_str()) {
            (Some("success"), Some("allow")) => " [permission granted]".to_string(),
            (Some("success"), Some("deny")) => format!(
                " [PERMISSION DENIED: {}]",
                answer["message"].as_str().unwrap_or("")
            ),
            _ => " [PERMISSION DENIED: bad answer]".to_string(),
        };
        self.stream_turn(a.plan, &a.misbehave, a.started, a.msg_id, &suffix);
    }
}

fn fork_or_keep(h: History, a: &ClaudeArgs, cwd: &str) -> (String, Option<History>) {
    if a.fork_session {
        let id = a.session_id.clone().unwrap_or_else(new_uuid);
        let mut f = History::new(&id, PROTOCOL, cwd);
        f.turns = h.turns;
        (id, Some(f))
    } else {
        (h.session_id.clone(), Some(h))
    }
}

/// Root check without libc: the real uid from /proc.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

impl Agent for Claude {
    fn on_line(&mut self, line: &str) -> Flow {
        let v: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("Error parsing streaming input line: {line}: {e}");
                return Flow::Exit(1);
            }
        };
        match v.get("type").and_then(Value::as_str) {
            Some("control_request") => self.on_control(&v),
            Some("user") => {
                let Some(text) = v
                    .get("message")
                    .and_then(|m| m.get("content"))
                    .and_then(text_of_content)
                else {
                    eprintln!("cap-fake-agent: user line without message.content, ignored");
                    return Flow::Continue;
                };
                if let Some(id) = self.missing_resume.take() {
                    let msg = format!("No conversation found with session ID: {id}");
                    eprintln!("{msg}");
                    let mut r =
                        self.result("error_during_execution", true, &msg, 0, Instant::now());
                    r["errors"] = json!([msg]);
                    emit(&r);
                    return Flow::Exit(1);
                }
                if self.running.is_some() || self.asking.is_some() {
                    self.queued.push(text);
                } else {
                    self.start_turn(text);
                }
            }
            Some("control_response") => self.on_permission_answer(&v),
            // Unknown types are ignored.
            _ => {}
        }
        Flow::Continue
    }

    fn on_eof(&mut self) -> Flow {
        self.eof = true;
        if self.running.is_none() && self.asking.is_none() && self.queued.is_empty() {
            Flow::Exit(0)
        } else {
            Flow::Continue
        }
    }

    fn tick(&mut self, now: Instant) -> Flow {
        if let Some(mut turn) = self.running.take() {
            while let Some(chunk) = turn.stream.next_due(now) {
                if self.partial_messages {
                    emit(&json!({
                        "type": "stream_event",
                        "event": {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "text_delta", "text": chunk},
                        },
                        "parent_tool_use_id": null,
                        "session_id": self.session_id,
                        "uuid": new_uuid(),
                    }));
                }
                if turn.plan.huge {
                    emit(&self.assistant(&turn.msg_id, &chunk));
                }
            }
            if turn.stream.finished() {
                let reply = turn.stream.sent.clone();
                if !turn.plan.huge {
                    emit(&self.assistant(&turn.msg_id, &reply));
                }
                let result = self.result("success", false, &reply, turn.plan.n, turn.started);
                self.finish_history(&reply, "completed");
                emit(&result);
                self.start_queued();
            } else {
                self.running = Some(turn);
            }
        }
        if self.eof && self.running.is_none() && self.asking.is_none() && self.queued.is_empty() {
            return Flow::Exit(0);
        }
        Flow::Continue
    }

    fn deadline(&self) -> Option<Instant> {
        self.running.as_ref().and_then(|t| t.stream.deadline())
    }
}
