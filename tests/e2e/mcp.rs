//! `cap mcp` end to end: a scripted MCP client speaks JSON-RPC to the real `cap mcp` over its
//! stdio, against a real capd running the fake agent.

use cap_tests::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;

/// A running `cap mcp` and the client side of its stdio.
struct Mcp {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<Value>,
    next: u64,
    /// Notifications received so far, in order.
    notes: Vec<Value>,
}

impl Mcp {
    /// Starts `cap mcp ARGS` with `vars` added to the environment, and initializes it.
    fn start(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Mcp {
        Mcp::start_with(env, args, vars, json!({}))
    }

    /// Like [`Mcp::start`], declaring the client capabilities `caps`.
    fn start_with(env: &Env, args: &[&str], vars: &[(&str, &str)], caps: Value) -> Mcp {
        let mut cmd = env.command("cap");
        cmd.arg("mcp").args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn cap mcp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("cap mcp wrote a non-JSON line ({e}): {line}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        let mut mcp = Mcp {
            child,
            stdin,
            lines,
            next: 0,
            notes: Vec::new(),
        };
        let init = mcp.request(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": caps,
                "clientInfo": {"name": "e2e", "version": "1"}
            }),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "cap", "{init}");
        mcp.notify("notifications/initialized", json!({}));
        mcp
    }

    fn send(&mut self, msg: Value) {
        writeln!(self.stdin, "{msg}").expect("write to cap mcp");
        self.stdin.flush().expect("flush");
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and returns its id without waiting.
    fn start_request(&mut self, method: &str, params: Value) -> u64 {
        self.next += 1;
        let id = self.next;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// The next message from the server; panics after the deadline.
    fn next_message(&mut self) -> Value {
        let msg = self
            .lines
            .recv_timeout(DEADLINE)
            .expect("cap mcp said nothing in time");
        if msg.get("id").is_none() {
            self.notes.push(msg.clone());
        }
        msg
    }

    /// Waits for the response to `id`, keeping notifications.
    fn response(&mut self, id: u64) -> Value {
        loop {
            let msg = self.next_message();
            if msg["id"] == id && msg.get("method").is_none() {
                return msg;
            }
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.start_request(method, params);
        self.response(id)
    }

    /// Calls a tool and returns its result (`isError` included).
    fn call(&mut self, tool: &str, args: Value) -> Value {
        let resp = self.request("tools/call", json!({"name": tool, "arguments": args}));
        assert!(resp.get("error").is_none(), "{tool} failed: {resp}");
        resp["result"].clone()
    }

    /// Waits for a progress notification of request `token` whose message contains `what`.
    fn wait_progress(&mut self, token: &str, what: &str) -> Value {
        let seen = |n: &Value| {
            n["method"] == "notifications/progress"
                && n["params"]["progressToken"] == token
                && n["params"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(what))
        };
        if let Some(n) = self.notes.iter().find(|n| seen(n)) {
            return n.clone();
        }
        loop {
            let msg = self.next_message();
            if seen(&msg) {
                return msg;
            }
        }
    }
}

impl Drop for Mcp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text of a tool result's content blocks, joined.
fn text(result: &Value) -> String {
    result["content"]
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn is_error(result: &Value) -> bool {
    result["isError"] == true
}

#[test]
fn two_prompts_hold_one_conversation_with_progress_on_the_way() {
    let mut env = Env::new();
    env.start_daemon();
    let mut mcp = Mcp::start(&env, &[], &[]);
    let tools = mcp.request("tools/list", json!({}));
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["prompt", "sessions", "result", "cancel", "end"]);
    let prompt_tool = &tools["result"]["tools"][0];
    assert!(
        prompt_tool["description"]
            .as_str()
            .is_some_and(|d| d.contains("continues")),
        "{prompt_tool}"
    );

    let id = mcp.start_request(
        "tools/call",
        json!({
            "name": "prompt",
            "arguments": {"agent": "claude", "prompt": "remember the word teal SHOWCAPENV"},
            "_meta": {"progressToken": "p1"}
        }),
    );
    let first = mcp.response(id);
    let first = &first["result"];
    assert!(!is_error(first), "{first}");
    let reply = text(first);
    assert!(
        reply.contains("ECHO[turns=1]: remember the word teal"),
        "{reply}"
    );
    let key = format!("mcp:claude@{}", env.work.display());
    assert!(reply.contains(&key), "the result names the key: {reply}");
    // capd told the agent who it is and where capd listens.
    let socket = format!("CAP_SOCKET={}", env.socket.display());
    assert!(reply.contains(&socket), "{reply}");
    assert!(!reply.contains("CAP_SESSION=unset"), "{reply}");
    mcp.wait_progress("p1", "session");
    mcp.wait_progress("p1", "ECHO");

    let second = mcp.call("prompt", json!({"agent": "claude", "prompt": "what word?"}));
    assert!(!is_error(&second), "{second}");
    assert!(
        text(&second).contains("ECHO[turns=2]: what word?"),
        "the second call continues the conversation: {second}"
    );
    let sessions = env.sessions_doc();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let sid = sessions[0]["id"].as_str().expect("id").to_string();
    assert!(
        text(first).contains(&format!("CAP_SESSION={sid}")),
        "{first}"
    );
    assert_eq!(
        sessions[0]["keys"],
        json!([key]),
        "not the person's dir: key"
    );

    // A named key is a separate conversation with the same agent.
    let named = mcp.call(
        "prompt",
        json!({"agent": "claude", "key": "review", "prompt": "fresh"}),
    );
    assert!(text(&named).contains("ECHO[turns=1]: fresh"), "{named}");
    assert!(text(&named).contains("mcp:review"), "{named}");

    let listed = mcp.call("sessions", json!({}));
    assert!(text(&listed).contains(&sid), "{listed}");
    let last = mcp.call("result", json!({"session": sid}));
    assert!(text(&last).contains("ECHO[turns=2]"), "{last}");
    let ended = mcp.call("end", json!({"agent": "claude"}));
    assert!(text(&ended).contains(&sid), "{ended}");
    let again = mcp.call("prompt", json!({"agent": "claude", "prompt": "anew"}));
    assert!(
        text(&again).contains("ECHO[turns=1]: anew"),
        "ended means forgotten: {again}"
    );
}

#[test]
fn a_schema_gets_the_validated_answer_as_structured_content() {
    let mut env = Env::new();
    env.start_daemon();
    let mut mcp = Mcp::start(&env, &[], &[]);
    // What the fake agent answers a schema turn with (tests/e2e/structured.rs).
    let schema = json!({
        "type": "object",
        "properties": {"turns": {"type": "integer"}, "via": {"enum": ["prompt"]}},
        "required": ["turns", "via"]
    });
    let r = mcp.call(
        "prompt",
        json!({"agent": "claude", "prompt": "classify", "schema": schema}),
    );
    assert!(!is_error(&r), "{r}");
    assert_eq!(
        r["structuredContent"],
        json!({"turns": 1, "via": "prompt"}),
        "{r}"
    );
    // An answer that never matches is a tool error naming what is wrong.
    let r = mcp.call(
        "prompt",
        json!({"agent": "claude", "prompt": "WRONGJSON", "schema": schema}),
    );
    assert!(is_error(&r), "{r}");
    assert!(text(&r).contains("turns"), "{r}");
    // Without a schema there is no structured content.
    let r = mcp.call("prompt", json!({"agent": "claude", "prompt": "plain"}));
    assert!(r.get("structuredContent").is_none(), "{r}");
}

#[test]
fn a_key_prefix_separates_callers() {
    let mut env = Env::new();
    env.start_daemon();
    let mut alice = Mcp::start(&env, &["--key-prefix", "alice"], &[]);
    let mut bob = Mcp::start(&env, &["--key-prefix", "bob"], &[]);
    let a = alice.call("prompt", json!({"agent": "claude", "prompt": "one"}));
    let b = bob.call("prompt", json!({"agent": "claude", "prompt": "two"}));
    assert!(text(&a).contains("ECHO[turns=1]: one"), "{a}");
    assert!(text(&b).contains("ECHO[turns=1]: two"), "{b}");
    assert!(text(&a).contains("mcp:alice:claude@"), "{a}");
    assert_eq!(env.sessions_doc().len(), 2);
}

#[test]
fn a_cancelled_request_cancels_the_delegated_turn() {
    let mut env = Env::new();
    env.start_daemon();
    let mut mcp = Mcp::start(&env, &[], &[]);
    let id = mcp.start_request(
        "tools/call",
        json!({
            "name": "prompt",
            "arguments": {"agent": "claude", "prompt": "HANG until cancelled"},
            "_meta": {"progressToken": "hang"}
        }),
    );
    mcp.wait_progress("hang", "session");
    mcp.notify(
        "notifications/cancelled",
        json!({"requestId": id, "reason": "the user pressed Esc"}),
    );
    // The hung turn holds the session until it is cancelled in the agent: the next prompt on
    // the same conversation can only run once it has been.
    let next = mcp.call(
        "prompt",
        json!({"agent": "claude", "prompt": "after the cancel", "timeout": 25}),
    );
    assert!(!is_error(&next), "{next}");
    assert!(text(&next).contains("after the cancel"), "{next}");
}

#[test]
fn bad_calls_are_errors_the_model_can_read() {
    let mut env = Env::new();
    env.start_daemon();
    let mut mcp = Mcp::start(&env, &[], &[]);
    let no_agent = mcp.call("prompt", json!({"prompt": "hi"}));
    assert!(is_error(&no_agent), "{no_agent}");
    assert!(text(&no_agent).contains("which agent"), "{no_agent}");
    let unknown = mcp.call("prompt", json!({"agent": "nosuchagent", "prompt": "hi"}));
    assert!(is_error(&unknown), "{unknown}");
    assert!(text(&unknown).contains("nosuchagent"), "{unknown}");
    let typo = mcp.call("prompt", json!({"agent": "claude", "promt": "hi"}));
    assert!(is_error(&typo), "{typo}");
    assert!(text(&typo).contains("promt"), "{typo}");
    let nothing = mcp.call("cancel", json!({}));
    assert!(is_error(&nothing), "{nothing}");
    let missing = mcp.call("result", json!({"session": "nope"}));
    assert!(is_error(&missing), "{missing}");
    let no_tool = mcp.request("tools/call", json!({"name": "nope", "arguments": {}}));
    assert!(no_tool.get("error").is_some(), "{no_tool}");
    // The server is still fine.
    let ok = mcp.call("prompt", json!({"agent": "claude", "prompt": "still here"}));
    assert!(text(&ok).contains("still here"), "{ok}");
}

#[test]
fn nested_calls_past_the_depth_limit_or_onto_the_caller_are_refused() {
    let mut env = Env::new(); // mcp_max_depth: the default, 2
    env.start_daemon();
    // A person's agent asks claude (depth 1); that turn hangs, as if its agent were now
    // asking someone else in turn.
    let mut top = Mcp::start(&env, &[], &[]);
    let id = top.start_request(
        "tools/call",
        json!({
            "name": "prompt",
            "arguments": {"agent": "claude", "prompt": "HANG while I delegate"},
            "_meta": {"progressToken": "outer"}
        }),
    );
    top.wait_progress("outer", "session");
    let outer = env.session_ids();
    assert_eq!(outer.len(), 1);
    let outer = outer[0].clone();

    // The cap mcp that claude's agent would start: capd named its session in its environment.
    let mut inner = Mcp::start(&env, &[], &[("CAP_SESSION", &outer)]);
    let own = inner.call("prompt", json!({"agent": "claude", "prompt": "hello me"}));
    assert!(is_error(&own), "{own}");
    assert!(text(&own).contains("own session"), "{own}");
    let by_id = inner.call("prompt", json!({"session": outer, "prompt": "hello me"}));
    assert!(text(&by_id).contains("own session"), "{by_id}");

    // Depth 2 is allowed: another agent answers, and its turn hangs in turn.
    let id2 = inner.start_request(
        "tools/call",
        json!({
            "name": "prompt",
            "arguments": {"agent": "other", "prompt": "HANG at depth 2"},
            "_meta": {"progressToken": "middle"}
        }),
    );
    inner.wait_progress("middle", "session");
    let middle = env
        .session_ids()
        .into_iter()
        .find(|s| *s != outer)
        .expect("a second session");

    // From depth 2, any call is too deep (one back up the chain included; a cycle within
    // the limit is the next test's).
    let mut deepest = Mcp::start(&env, &[], &[("CAP_SESSION", &middle)]);
    let back = deepest.call("prompt", json!({"session": outer, "prompt": "loop"}));
    assert!(is_error(&back), "{back}");
    let deep = deepest.call(
        "prompt",
        json!({"agent": "claude", "key": "third", "prompt": "too deep"}),
    );
    assert!(is_error(&deep), "{deep}");
    assert!(text(&deep).contains("depth 3"), "{deep}");
    assert!(text(&deep).contains("mcp_max_depth"), "{deep}");
    assert_eq!(env.session_ids().len(), 2, "a refused call opens nothing");

    // Once the chain is done, the same calls are first hops again.
    for (mcp, id) in [(&mut inner, id2), (&mut top, id)] {
        mcp.notify("notifications/cancelled", json!({"requestId": id}));
    }
    let later = top.call(
        "prompt",
        json!({"agent": "claude", "prompt": "done", "timeout": 25}),
    );
    assert!(text(&later).contains("done"), "{later}");
}

#[test]
fn a_call_back_up_the_chain_is_refused_within_the_depth_limit() {
    let mut env = Env::with_config("mcp_max_depth = 3");
    env.start_daemon();
    let hang = |mcp: &mut Mcp, agent: &str, token: &str| {
        let id = mcp.start_request(
            "tools/call",
            json!({
                "name": "prompt",
                "arguments": {"agent": agent, "prompt": "HANG while I ask"},
                "_meta": {"progressToken": token}
            }),
        );
        mcp.wait_progress(token, "session");
        id
    };
    let mut top = Mcp::start(&env, &[], &[]);
    hang(&mut top, "claude", "a");
    let a = env.session_ids()[0].clone();
    let mut from_a = Mcp::start(&env, &[], &[("CAP_SESSION", &a)]);
    hang(&mut from_a, "other", "b");
    let b = env.session_ids().into_iter().find(|s| *s != a).expect("b");
    // B asks A, which waits for B's answer: refused though depth 3 is allowed.
    let mut from_b = Mcp::start(&env, &[], &[("CAP_SESSION", &b)]);
    let back = from_b.call("prompt", json!({"session": a, "prompt": "loop"}));
    assert!(is_error(&back), "{back}");
    assert!(text(&back).contains("waiting for"), "{back}");
    // Another session at depth 3 is fine.
    let fine = from_b.call(
        "prompt",
        json!({"agent": "claude", "key": "third", "prompt": "depth three"}),
    );
    assert!(text(&fine).contains("ECHO[turns=1]: depth three"), "{fine}");
}

#[test]
fn a_delegated_permission_question_goes_to_the_calling_client() {
    // Edits are asked under approve-reads; the fake Claude asks to write a file on PERMISSION.
    let mut env = Env::with_config("default_permissions = \"approve-reads\"");
    env.start_daemon();
    let caps = json!({"elicitation": {"form": {}}});
    let mut mcp = Mcp::start_with(&env, &[], &[], caps);
    let id = mcp.start_request(
        "tools/call",
        json!({"name": "prompt", "arguments": {"agent": "claude", "prompt": "PERMISSION please"}}),
    );
    // The question arrives as an elicitation; the person says yes.
    let question = loop {
        let msg = mcp.next_message();
        if msg["method"] == "elicitation/create" {
            break msg;
        }
        assert_ne!(msg["id"], id, "the turn ended without asking: {msg}");
    };
    let message = question["params"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Allow"), "{question}");
    mcp.send(json!({
        "jsonrpc": "2.0",
        "id": question["id"],
        "result": {"action": "accept", "content": {"answer": "allow"}}
    }));
    let allowed = mcp.response(id);
    let allowed = text(&allowed["result"]);
    assert!(allowed.contains("[permission granted"), "{allowed}");

    // A client that cannot ask leaves it to the policy, which denies an open question.
    let mut plain = Mcp::start(&env, &[], &[]);
    let denied = plain.call(
        "prompt",
        json!({"agent": "claude", "key": "plain", "prompt": "PERMISSION again"}),
    );
    assert!(text(&denied).contains("[PERMISSION DENIED"), "{denied}");
}

#[test]
fn a_spending_cap_holds_a_delegated_conversation_too() {
    let mut env = Env::with_config("[budgets]\n\"mcp:capped\" = 0.0001\n");
    env.start_daemon();
    let mut mcp = Mcp::start(&env, &[], &[]);
    let one = mcp.call(
        "prompt",
        json!({"agent": "claude", "key": "capped", "prompt": "one"}),
    );
    assert!(!is_error(&one), "{one}");
    let two = mcp.call(
        "prompt",
        json!({"agent": "claude", "key": "capped", "prompt": "two"}),
    );
    assert!(is_error(&two), "{two}");
    assert!(text(&two).contains("cap budget reset"), "{two}");
    assert_eq!(env.sessions_doc()[0]["turns"], 1, "refused before it ran");
}

#[test]
fn cap_mcp_starts_capd_unless_told_not_to() {
    let env = Env::new();
    let mut refused = Mcp::start(&env, &["--no-autostart"], &[]);
    let r = refused.call("prompt", json!({"agent": "claude", "prompt": "hi"}));
    assert!(is_error(&r), "{r}");
    assert!(text(&r).contains("cap daemon start"), "{r}");
    let mut mcp = Mcp::start(&env, &[], &[]);
    let r = mcp.call("prompt", json!({"agent": "claude", "prompt": "hi"}));
    assert!(text(&r).contains("ECHO[turns=1]: hi"), "{r}");
}

#[test]
fn print_config_gives_each_agent_its_snippet() {
    let env = Env::new();
    let out = env.cap(&["mcp", "--print-config", "claude"]);
    assert_eq!(code(&out), 0);
    assert!(text_of(&out).contains("claude mcp add --scope user cap -- "));
    let out = env.cap(&["mcp", "--print-config", "codex", "--key-prefix", "me"]);
    assert!(text_of(&out).contains("[mcp_servers.cap]"));
    assert!(text_of(&out).contains("\"--key-prefix\", \"me\""));
    for agent in ["gemini", "opencode"] {
        let out = env.cap(&["mcp", "--print-config", agent]);
        assert_eq!(code(&out), 0, "{agent}");
    }
    let out = env.cap(&["mcp", "--print-config", "nope"]);
    assert_eq!(code(&out), 2);
    let out = env.cap(&["mcp", "--key-prefix", " "]);
    assert_eq!(code(&out), 2);
}

fn text_of(out: &std::process::Output) -> String {
    cap_tests::text(&out.stdout)
}
