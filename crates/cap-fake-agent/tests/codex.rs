//! `codex app-server` mode, through the built binary.

mod support;

use serde_json::{Value, json};
use support::{Proc, s};

fn req(p: &mut Proc, id: u64, method: &str, params: Value) {
    p.send(&json!({"id": id, "method": method, "params": params}));
}

/// The response to request `id` (notifications before it are returned too).
fn response(p: &Proc, id: u64) -> (Vec<Value>, Value) {
    let mut lines = p.until(|v| v["id"] == id && v.get("method").is_none());
    let r = lines.pop().unwrap_or(Value::Null);
    (lines, r)
}

fn init(p: &mut Proc) {
    req(
        p,
        0,
        "initialize",
        json!({"clientInfo": {"name": "capd-test", "title": "t", "version": "0"}}),
    );
    let (_, r) = response(p, 0);
    assert!(s(&r, "/result/userAgent").starts_with("capd-test/"));
    p.send(&json!({"method": "initialized"}));
}

/// Runs a turn to `turn/completed`; returns (concatenated deltas, completed params, result).
fn run_turn(p: &mut Proc, id: u64, tid: &str, text: &str) -> (String, Value, Value) {
    req(
        p,
        id,
        "turn/start",
        json!({"threadId": tid, "input": [{"type": "text", "text": text}]}),
    );
    let (_, r) = response(p, id);
    assert_eq!(s(&r, "/result/turn/status"), "inProgress", "{r}");
    let turn_id = s(&r, "/result/turn/id").to_string();
    let lines = p.until(|v| v["method"] == "turn/completed" && v["params"]["threadId"] == tid);
    let deltas: Vec<&Value> = lines
        .iter()
        .filter(|v| v["method"] == "item/agentMessage/delta")
        .collect();
    assert!(lines.iter().any(|v| v["method"] == "turn/started"));
    let text: String = deltas.iter().map(|v| s(v, "/params/delta")).collect();
    let done = lines.last().cloned().unwrap_or(Value::Null);
    assert_eq!(s(&done, "/params/turn/id"), turn_id);
    (text, done["params"].clone(), r)
}

#[test]
fn threads_turns_and_resume_in_a_new_process() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let cwd = work.path().to_str().unwrap();
    let mut p = Proc::spawn(home.path(), work.path(), &["app-server"], &[]);

    req(&mut p, 1, "thread/start", json!({}));
    let (_, r) = response(&p, 1);
    assert_eq!(s(&r, "/error/message"), "Not initialized");
    init(&mut p);

    req(
        &mut p,
        2,
        "thread/start",
        json!({"model": "gpt-5.5", "cwd": cwd, "approvalPolicy": "never", "sandbox": "read-only"}),
    );
    let (_, r) = response(&p, 2);
    let tid = s(&r, "/result/thread/id").to_string();
    assert!(!tid.is_empty());
    let started = p.next();
    assert_eq!(started["method"], "thread/started");
    assert_eq!(s(&started, "/params/thread/id"), tid);

    let (text, done, _) = run_turn(&mut p, 3, &tid, "codex first alpha");
    assert_eq!(text, "ECHO[turns=1]: codex first alpha");
    assert_eq!(s(&done, "/turn/status"), "completed");
    assert!(done["turn"]["error"].is_null());
    let (text, _, _) = run_turn(&mut p, 4, &tid, "codex second beta");
    assert_eq!(text, "ECHO[turns=2]: codex second beta");

    // A second thread in the same process has its own history.
    req(&mut p, 5, "thread/start", json!({"cwd": cwd}));
    let (_, r) = response(&p, 5);
    let tid2 = s(&r, "/result/thread/id").to_string();
    assert_ne!(tid, tid2);
    let (text, _, _) = run_turn(&mut p, 6, &tid2, "other");
    assert_eq!(text, "ECHO[turns=1]: other");

    req(&mut p, 7, "thread/bogus", json!({}));
    let (_, r) = response(&p, 7);
    assert_eq!(r["error"]["code"], -32600);
    assert_eq!(p.finish().0.code(), Some(0));

    // New process: resume carries the count on.
    let mut p = Proc::spawn(home.path(), work.path(), &["app-server"], &[]);
    init(&mut p);
    req(
        &mut p,
        1,
        "thread/resume",
        json!({"threadId": "no-such-thread", "excludeTurns": true}),
    );
    let (_, r) = response(&p, 1);
    assert_eq!(s(&r, "/error/message"), "thread not found: no-such-thread");
    req(
        &mut p,
        2,
        "thread/resume",
        json!({"threadId": tid, "excludeTurns": false}),
    );
    let (_, r) = response(&p, 2);
    assert_eq!(s(&r, "/result/thread/id"), tid);
    assert_eq!(
        r["result"]["thread"]["turns"].as_array().map(Vec::len),
        Some(2)
    );
    let (text, _, _) = run_turn(&mut p, 3, &tid, "codex third");
    assert_eq!(text, "ECHO[turns=3]: codex third");
}

#[test]
fn interrupt_error_and_eof_mid_turn() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut p = Proc::spawn(home.path(), work.path(), &["app-server"], &[]);
    init(&mut p);
    req(&mut p, 1, "thread/start", json!({}));
    let (_, r) = response(&p, 1);
    let tid = s(&r, "/result/thread/id").to_string();

    req(
        &mut p,
        2,
        "turn/start",
        json!({"threadId": tid, "input": [{"type": "text", "text": "HANG"}]}),
    );
    let (_, r) = response(&p, 2);
    let turn_id = s(&r, "/result/turn/id").to_string();
    p.until(|v| v["method"] == "turn/started");
    req(
        &mut p,
        3,
        "turn/interrupt",
        json!({"threadId": tid, "turnId": turn_id}),
    );
    let (_, r) = response(&p, 3);
    assert_eq!(r["result"], json!({}));
    let done = p.until(|v| v["method"] == "turn/completed").pop().unwrap();
    assert_eq!(s(&done, "/params/turn/status"), "interrupted");

    let (_, done, _) = run_turn(&mut p, 4, &tid, "ERROR now");
    assert_eq!(s(&done, "/turn/status"), "failed");
    assert_eq!(s(&done, "/turn/error/message"), "API Error: 500 fake");

    let (text, _, _) = run_turn(&mut p, 5, &tid, "fine");
    assert_eq!(text, "ECHO[turns=3]: fine");

    // stdin EOF mid-turn: exit 0 at once.
    req(
        &mut p,
        6,
        "turn/start",
        json!({"threadId": tid, "input": [{"type": "text", "text": "HANGNOINT"}]}),
    );
    response(&p, 6);
    let (status, _, _) = p.finish();
    assert_eq!(status.code(), Some(0));
}
