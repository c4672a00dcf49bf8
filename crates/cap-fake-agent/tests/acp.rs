//! ACP mode, through the built binary.

mod support;

use serde_json::{Value, json};
use support::{Proc, s};

fn req(p: &mut Proc, id: u64, method: &str, params: Value) {
    p.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
}

/// Lines up to the response to our request `id`; returns (notifications before, response).
fn response(p: &Proc, id: u64) -> (Vec<Value>, Value) {
    let mut lines = p.until(|v| v["id"] == id && v.get("method").is_none());
    let r = lines.pop().unwrap_or(Value::Null);
    (lines, r)
}

fn init(p: &mut Proc) -> Value {
    req(
        p,
        0,
        "initialize",
        json!({"protocolVersion": 1, "clientCapabilities": {"fs": {"readTextFile": false, "writeTextFile": false}, "terminal": false}}),
    );
    let (_, r) = response(p, 0);
    assert_eq!(r["jsonrpc"], "2.0");
    assert_eq!(r["result"]["protocolVersion"], 1);
    assert_eq!(s(&r, "/result/agentInfo/name"), "cap-fake-agent");
    assert_eq!(r["result"]["agentCapabilities"]["loadSession"], true);
    r
}

fn prompt_params(sid: &str, text: &str) -> Value {
    json!({"sessionId": sid, "prompt": [{"type": "text", "text": text}]})
}

fn kind(v: &Value) -> &str {
    s(v, "/params/update/sessionUpdate")
}

fn message_text(lines: &[Value]) -> String {
    lines
        .iter()
        .filter(|v| kind(v) == "agent_message_chunk")
        .map(|v| s(v, "/params/update/content/text"))
        .collect()
}

/// Sends a prompt and returns (agent text, response).
fn prompt(p: &mut Proc, id: u64, sid: &str, text: &str) -> (String, Value) {
    req(p, id, "session/prompt", prompt_params(sid, text));
    let (lines, r) = response(p, id);
    (message_text(&lines), r)
}

#[test]
fn sessions_prompts_load_and_resume() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path().to_str().unwrap();
    let mut p = Proc::spawn(home.path(), work.path(), &["--acp"], &[]);
    let r = init(&mut p);
    assert!(r["result"]["agentCapabilities"]["sessionCapabilities"]["resume"].is_object());

    req(
        &mut p,
        1,
        "session/new",
        json!({"cwd": cwd, "mcpServers": []}),
    );
    let (_, r) = response(&p, 1);
    let sid = s(&r, "/result/sessionId").to_string();
    assert!(!sid.is_empty());

    let (text, r) = prompt(&mut p, 2, &sid, "alpha");
    assert_eq!(text, "ECHO[turns=1]: alpha");
    assert_eq!(r["result"]["stopReason"], "end_turn");
    let (text, _) = prompt(&mut p, 3, &sid, "beta");
    assert_eq!(text, "ECHO[turns=2]: beta");

    let (_, r) = prompt(&mut p, 4, "unknown-session", "x");
    assert_eq!(r["error"]["code"], -32002);
    req(&mut p, 5, "session/nonsense", json!({}));
    let (_, r) = response(&p, 5);
    assert_eq!(r["error"]["code"], -32601);
    assert_eq!(p.finish().0.code(), Some(0));

    // New process: session/load replays the history before responding.
    let mut p = Proc::spawn(home.path(), work.path(), &["acp"], &[]);
    init(&mut p);
    req(
        &mut p,
        1,
        "session/load",
        json!({"sessionId": sid, "cwd": cwd, "mcpServers": []}),
    );
    let (replay, r) = response(&p, 1);
    assert!(r.get("result").is_some(), "{r}");
    let kinds: Vec<&str> = replay.iter().map(kind).collect();
    assert_eq!(
        kinds,
        [
            "user_message_chunk",
            "agent_message_chunk",
            "user_message_chunk",
            "agent_message_chunk"
        ]
    );
    assert_eq!(s(&replay[2], "/params/update/content/text"), "beta");
    assert_eq!(
        s(&replay[3], "/params/update/content/text"),
        "ECHO[turns=2]: beta"
    );
    let (text, _) = prompt(&mut p, 2, &sid, "gamma");
    assert_eq!(text, "ECHO[turns=3]: gamma");
    req(
        &mut p,
        3,
        "session/load",
        json!({"sessionId": "nope", "cwd": cwd, "mcpServers": []}),
    );
    assert_eq!(response(&p, 3).1["error"]["code"], -32002);
    drop(p);

    // session/resume: no replay.
    let mut p = Proc::spawn(home.path(), work.path(), &["acp"], &[]);
    init(&mut p);
    req(
        &mut p,
        1,
        "session/resume",
        json!({"sessionId": sid, "cwd": cwd, "mcpServers": []}),
    );
    let (before, r) = response(&p, 1);
    assert!(before.is_empty());
    assert!(r["result"].is_object());
    let (text, _) = prompt(&mut p, 2, &sid, "delta");
    assert_eq!(text, "ECHO[turns=4]: delta");
    drop(p);

    // Without the resume capability.
    let mut p = Proc::spawn(
        home.path(),
        work.path(),
        &["acp"],
        &[("FAKE_ACP_NO_RESUME", "1")],
    );
    let r = init(&mut p);
    assert!(
        r["result"]["agentCapabilities"]["sessionCapabilities"]
            .get("resume")
            .is_none()
    );
    req(
        &mut p,
        1,
        "session/resume",
        json!({"sessionId": sid, "cwd": cwd, "mcpServers": []}),
    );
    assert_eq!(response(&p, 1).1["error"]["code"], -32601);
}

#[test]
fn permission_cancel_extras_and_errors() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path().to_str().unwrap();
    let mut p = Proc::spawn(home.path(), work.path(), &["acp"], &[]);
    init(&mut p);
    req(
        &mut p,
        1,
        "session/new",
        json!({"cwd": cwd, "mcpServers": []}),
    );
    let sid = s(&response(&p, 1).1, "/result/sessionId").to_string();

    // PERMISSION, answered by kind allow_always.
    req(
        &mut p,
        2,
        "session/prompt",
        prompt_params(&sid, "PERMISSION please"),
    );
    let ask = p
        .until(|v| v["method"] == "session/request_permission")
        .pop()
        .unwrap();
    let options = ask["params"]["options"].as_array().unwrap().clone();
    let kinds: Vec<&str> = options.iter().map(|o| s(o, "/kind")).collect();
    assert_eq!(kinds, ["allow_once", "allow_always", "reject_once"]);
    assert!(ask["params"]["toolCall"]["toolCallId"].is_string());
    let always = options
        .iter()
        .find(|o| o["kind"] == "allow_always")
        .unwrap();
    p.send(&json!({"jsonrpc": "2.0", "id": ask["id"], "result": {"outcome": {"outcome": "selected", "optionId": always["optionId"]}}}));
    let (lines, r) = response(&p, 2);
    assert_eq!(r["result"]["stopReason"], "end_turn");
    assert!(message_text(&lines).contains("optionId=always"));

    // Rejected.
    req(
        &mut p,
        3,
        "session/prompt",
        prompt_params(&sid, "PERMISSION again"),
    );
    let ask = p
        .until(|v| v["method"] == "session/request_permission")
        .pop()
        .unwrap();
    p.send(&json!({"jsonrpc": "2.0", "id": ask["id"], "result": {"outcome": {"outcome": "selected", "optionId": "reject"}}}));
    let (lines, _) = response(&p, 3);
    assert!(message_text(&lines).contains("PERMISSION DENIED"));

    // THINK TOOL PLAN WEIRD.
    req(
        &mut p,
        4,
        "session/prompt",
        prompt_params(&sid, "THINK TOOL PLAN WEIRD"),
    );
    let (lines, _) = response(&p, 4);
    let kinds: Vec<&str> = lines.iter().map(kind).collect();
    for k in [
        "agent_thought_chunk",
        "tool_call",
        "tool_call_update",
        "plan",
        "fake_vendor_kind",
        "agent_message_chunk",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }

    // FSWRITE: an error answer does not stop the turn.
    req(&mut p, 5, "session/prompt", prompt_params(&sid, "FSWRITE"));
    let w = p
        .until(|v| v["method"] == "fs/write_text_file")
        .pop()
        .unwrap();
    assert!(s(&w, "/params/path").starts_with(cwd));
    p.send(&json!({"jsonrpc": "2.0", "id": w["id"], "error": {"code": -32601, "message": "Method not found"}}));
    let (lines, r) = response(&p, 5);
    assert_eq!(r["result"]["stopReason"], "end_turn");
    assert_eq!(message_text(&lines), "ECHO[turns=4]: FSWRITE");

    // HANG, then session/cancel.
    req(&mut p, 6, "session/prompt", prompt_params(&sid, "HANG"));
    p.send(&json!({"jsonrpc": "2.0", "method": "session/cancel", "params": {"sessionId": sid}}));
    let (_, r) = response(&p, 6);
    assert_eq!(r["result"]["stopReason"], "cancelled");

    // ERROR.
    let (_, r) = prompt(&mut p, 7, &sid, "ERROR");
    assert_eq!(r["error"]["code"], -32603);

    // Garbage input gets a parse error and the agent lives on.
    p.send_raw("not json");
    let e = p.next();
    assert_eq!(e["error"]["code"], -32700);
    let (text, _) = prompt(&mut p, 8, &sid, "still here");
    assert_eq!(text, "ECHO[turns=7]: still here");

    req(
        &mut p,
        9,
        "session/set_mode",
        json!({"sessionId": sid, "modeId": "bypassPermissions"}),
    );
    assert_eq!(response(&p, 9).1["result"], json!({}));
}
