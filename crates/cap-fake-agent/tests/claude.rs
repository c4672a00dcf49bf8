//! Claude Code stream-json mode, through the built binary.

mod support;

use serde_json::{Value, json};
use support::{Proc, s};

const SID: &str = "3b1f0000-0000-4000-8000-0000000000aa";

fn user(text: &str) -> Value {
    json!({"type": "user", "message": {"role": "user", "content": text}})
}

fn claude_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "-p",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
        "--permission-mode",
        "bypassPermissions",
    ];
    v.extend_from_slice(extra);
    v
}

fn is_result(v: &Value) -> bool {
    v["type"] == "result"
}

/// Sends one user line and returns (lines of the turn, final result).
fn turn(p: &mut Proc, text: &str) -> (Vec<Value>, Value) {
    p.send(&user(text));
    let lines = p.until(is_result);
    let result = lines.last().cloned().unwrap_or(Value::Null);
    (lines, result)
}

#[test]
fn conversation_resume_and_startup_errors() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let other = tempfile::tempdir().unwrap();

    let mut p = Proc::spawn(
        home.path(),
        work.path(),
        &claude_args(&["--session-id", SID, "--model", "m1"]),
        &[("IS_SANDBOX", "1")],
    );
    p.send(
        &json!({"type":"control_request","request_id":"init-1","request":{"subtype":"initialize"}}),
    );
    let init = p.next();
    assert_eq!(init["type"], "control_response");
    assert_eq!(s(&init, "/response/request_id"), "init-1");
    assert_eq!(s(&init, "/response/subtype"), "success");
    assert!(init.pointer("/response/response/pid").is_some());

    let (lines, result) = turn(&mut p, "first message alpha");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(s(&lines[0], "/subtype"), "init");
    assert_eq!(s(&lines[0], "/session_id"), SID);
    assert_eq!(
        s(&lines[1], "/message/content/0/text"),
        "ECHO[turns=1]: first message alpha"
    );
    assert_eq!(result["subtype"], "success");
    assert_eq!(result["is_error"], false);
    assert_eq!(result["num_turns"], 1);
    assert_eq!(result["stop_reason"], "end_turn");
    assert_eq!(s(&result, "/result"), "ECHO[turns=1]: first message alpha");

    p.send(&json!({"type":"user","message":{"role":"user","content":[{"type":"text","text":"second beta"}]},"parent_tool_use_id":null,"session_id":""}));
    let r2 = p.until(is_result).pop().unwrap();
    assert_eq!(s(&r2, "/result"), "ECHO[turns=2]: second beta");
    let (status, _, _) = p.finish();
    assert_eq!(status.code(), Some(0));

    // A new process resumes the same session in the same cwd: the count goes on.
    let mut p = Proc::spawn(
        home.path(),
        work.path(),
        &claude_args(&["--resume", SID]),
        &[],
    );
    let (lines, result) = turn(&mut p, "third gamma");
    assert_eq!(s(&lines[0], "/session_id"), SID);
    assert_eq!(s(&result, "/result"), "ECHO[turns=3]: third gamma");
    assert_eq!(p.finish().0.code(), Some(0));

    // --continue picks the most recent session of this cwd.
    let mut p = Proc::spawn(home.path(), work.path(), &claude_args(&["--continue"]), &[]);
    let (_, result) = turn(&mut p, "fourth");
    assert_eq!(s(&result, "/session_id"), SID);
    assert_eq!(s(&result, "/result"), "ECHO[turns=4]: fourth");
    drop(p);

    // Resume is scoped by cwd.
    let mut p = Proc::spawn(
        home.path(),
        other.path(),
        &claude_args(&["--resume", SID]),
        &[],
    );
    let (_, result) = turn(&mut p, "elsewhere");
    assert_eq!(result["is_error"], true);
    assert_eq!(result["subtype"], "error_during_execution");
    assert_eq!(
        s(&result, "/result"),
        format!("No conversation found with session ID: {SID}")
    );
    assert_eq!(p.finish().0.code(), Some(1));

    // Reusing an id fails at start, with nothing on stdout.
    let p = Proc::spawn(
        home.path(),
        work.path(),
        &claude_args(&["--session-id", SID]),
        &[],
    );
    let (status, out, err) = p.finish();
    assert_eq!(status.code(), Some(1));
    assert!(out.is_empty());
    assert!(
        err.contains(&format!("Session ID {SID} is already in use")),
        "{err}"
    );

    // Every start is logged with argv, cwd and IS_SANDBOX.
    let log = std::fs::read_to_string(home.path().join("invocations.jsonl")).unwrap();
    let entries: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[0]["IS_SANDBOX"], "1");
    assert_eq!(entries[0]["protocol"], "claude");
    assert!(
        entries[1]["argv"]
            .as_array()
            .unwrap()
            .contains(&json!("--resume"))
    );
    assert_eq!(
        s(&entries[1], "/cwd"),
        std::fs::canonicalize(work.path())
            .unwrap()
            .to_str()
            .unwrap()
    );
}

#[test]
fn interrupt_stops_a_slow_turn_and_the_session_goes_on() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut p = Proc::spawn(
        home.path(),
        work.path(),
        &claude_args(&[]),
        &[("FAKE_SLOW_MS", "5000")],
    );
    p.send(&user("please be SLOW"));
    let init = p.next();
    assert_eq!(s(&init, "/subtype"), "init");
    let started = std::time::Instant::now();
    p.send(
        &json!({"type":"control_request","request_id":"int-1","request":{"subtype":"interrupt"}}),
    );
    let lines = p.until(is_result);
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert_eq!(lines[0]["type"], "control_response");
    assert_eq!(s(&lines[0], "/response/request_id"), "int-1");
    assert_eq!(lines[1]["type"], "assistant");
    let partial = s(&lines[1], "/message/content/0/text");
    assert!(!partial.is_empty());
    assert!("ECHO[turns=1]: please be SLOW".starts_with(partial));
    assert!(partial.len() < "ECHO[turns=1]: please be SLOW".len());
    let r = &lines[2];
    assert_eq!(r["subtype"], "error_during_execution");
    assert_eq!(r["is_error"], false);
    assert_eq!(r["terminal_reason"], "aborted_streaming");

    let (_, result) = turn(&mut p, "after");
    assert_eq!(s(&result, "/result"), "ECHO[turns=2]: after");
    assert_eq!(p.finish().0.code(), Some(0));
}

#[test]
fn crash_once_then_resume_replies() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut p = Proc::spawn(
        home.path(),
        work.path(),
        &claude_args(&["--session-id", SID]),
        &[],
    );
    p.send(&user("CRASHONCE now"));
    assert_eq!(s(&p.next(), "/subtype"), "init");
    let (status, rest, _) = p.finish();
    assert_eq!(status.code(), Some(3));
    assert!(rest.is_empty(), "{rest:?}");

    let mut p = Proc::spawn(
        home.path(),
        work.path(),
        &claude_args(&["--resume", SID]),
        &[],
    );
    let (_, result) = turn(&mut p, "CRASHONCE now");
    // The crashed turn was persisted when it started.
    assert_eq!(s(&result, "/result"), "ECHO[turns=2]: CRASHONCE now");
}

#[test]
fn garbage_error_empty_huge_and_bad_input() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut p = Proc::spawn(home.path(), work.path(), &claude_args(&[]), &[]);

    p.send(&user("GARBAGE please"));
    let mut raw = Vec::new();
    loop {
        let l = p.next_raw();
        let done = serde_json::from_str::<Value>(&l).is_ok_and(|v| is_result(&v));
        raw.push(l);
        if done {
            break;
        }
    }
    assert!(
        raw.iter()
            .any(|l| serde_json::from_str::<Value>(l).is_err())
    );
    assert!(raw.iter().any(|l| l.contains("fake_vendor_event")));
    assert!(
        raw.last()
            .unwrap()
            .contains("ECHO[turns=1]: GARBAGE please")
    );

    p.send(&json!({"type": "something_new", "x": 1}));
    let (lines, result) = turn(&mut p, "ERROR please");
    assert_eq!(s(&lines[0], "/subtype"), "init");
    assert_eq!(result["is_error"], true);
    assert_eq!(s(&result, "/result"), "API Error: 500 fake");

    let (_, result) = turn(&mut p, "EMPTY");
    assert_eq!(result["is_error"], false);
    assert_eq!(s(&result, "/result"), "");

    let (lines, result) = turn(&mut p, "HUGE");
    let text = s(&result, "/result");
    assert!(text.len() > 4 * 1024 * 1024);
    assert!(text.starts_with("ECHO[turns=4]: HUGE"));
    assert!(text.ends_with("HUGE-END"));
    let streamed: String = lines
        .iter()
        .filter(|l| l["type"] == "assistant")
        .map(|l| s(l, "/message/content/0/text").to_string())
        .collect();
    assert_eq!(streamed, text);
    assert!(lines.iter().filter(|l| l["type"] == "assistant").count() > 1);

    p.send_raw("this is not json");
    let (status, _, err) = p.finish();
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("Error parsing streaming input line"), "{err}");
}

#[test]
fn orphan_and_start_env() {
    let home = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut p = Proc::spawn(home.path(), work.path(), &claude_args(&[]), &[]);
    let (_, result) = turn(&mut p, "ORPHAN");
    assert_eq!(s(&result, "/result"), "ECHO[turns=1]: ORPHAN");
    let pid = std::fs::read_to_string(home.path().join("orphan.pid")).unwrap();
    let pid = pid.trim();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let _ = std::process::Command::new("kill")
        .args(["-9", pid])
        .status();
    drop(p);

    let p = Proc::spawn(
        home.path(),
        work.path(),
        &claude_args(&[]),
        &[("FAKE_EXIT_AT_START", "1")],
    );
    let (status, out, err) = p.finish();
    assert_eq!(status.code(), Some(1));
    assert!(out.is_empty());
    assert!(!err.is_empty());

    // FAKE_NEVER_READY: initialize is never answered, but turns still work.
    let mut p = Proc::spawn(
        home.path(),
        work.path(),
        &claude_args(&[]),
        &[("FAKE_NEVER_READY", "1")],
    );
    p.send(&json!({"type":"control_request","request_id":"i","request":{"subtype":"initialize"}}));
    let (lines, _) = turn(&mut p, "hi");
    assert!(lines.iter().all(|l| l["type"] != "control_response"));
}
