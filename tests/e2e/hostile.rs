//! Slow, stuck and hostile clients: each must cost capd a bounded amount of time, memory,
//! descriptors and log, and never stop it serving everyone else.

use cap_tests::*;
use serde_json::Value;
use std::io::Write;

/// Asserts that the next reply is an error (id 0) mentioning `needle`, then end of stream.
fn assert_closed_with(conn: &mut Raw, needle: &str) {
    let reply = conn.recv();
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(needle),
        "expected an error about {needle:?}: {reply}"
    );
    assert_eq!(conn.recv(), Value::Null, "the connection stayed open");
}

/// `sessions` works on a fresh connection.
fn assert_daemon_serves(env: &Env) {
    let mut conn = Raw::hello(&env.socket);
    conn.send_line(r#"{"id":2,"op":"sessions"}"#);
    assert!(conn.recv()["sessions"].is_array());
}

fn prompt_line(env: &Env, id: u64, text: &str) -> String {
    serde_json::json!({
        "id": id,
        "op": "prompt",
        "text": text,
        "route": {"cwd": env.work},
    })
    .to_string()
}

#[test]
fn a_client_that_never_says_hello_is_closed_after_the_handshake_timeout() {
    let mut env = Env::new();
    env.set_var("CAP_HANDSHAKE_TIMEOUT_MS", "300");
    env.start_daemon();
    let mut silent = Raw::connect(&env.socket);
    // Requests other than hello do not buy time either.
    let mut chatty = Raw::connect(&env.socket);
    chatty.send_line(r#"{"id":3,"op":"sessions"}"#);
    assert_eq!(chatty.recv()["id"], 3);
    assert_closed_with(&mut silent, "hello");
    assert_closed_with(&mut chatty, "hello");
    assert_daemon_serves(&env);
}

#[test]
fn a_line_that_never_ends_is_dropped_after_the_line_timeout() {
    let mut env = Env::new();
    env.set_var("CAP_LINE_TIMEOUT_MS", "300");
    env.start_daemon();
    let mut conn = Raw::hello(&env.socket);
    conn.send_bytes(br#"{"id":2,"op":"sess"#);
    assert_closed_with(&mut conn, "incomplete");
    assert_daemon_serves(&env);
}

/// An idle connection is closed, but not one streaming a prompt or attached to a session,
/// however quiet the client is meanwhile.
#[test]
fn idle_connections_are_closed_but_not_a_running_prompt_or_attach() {
    let mut env = Env::new();
    env.set_var("CAP_IDLE_CONN_TIMEOUT_MS", "300");
    // A SLOW turn streams 10 chunks 150 ms apart: five idle periods long.
    env.set_var("FAKE_SLOW_MS", "150");
    env.start_daemon();
    let first = env.prompt_ok(&["hello"]);
    let session = first["session"].as_str().unwrap().to_string();

    let mut watcher = Raw::hello(&env.socket);
    watcher.send_line(&format!(
        r#"{{"id":2,"op":"attach","session":"{session}"}}"#
    ));
    let mut prompter = Raw::hello(&env.socket);
    prompter.send_line(&prompt_line(&env, 2, "SLOW and steady"));
    let replies = prompter.recv_until_done(2);
    let last = &replies[replies.len() - 1];
    assert_eq!(last["event"]["type"], "result", "{replies:#?}");
    // The attached client saw the same turn end (after the backlog of the first one), and
    // was never closed meanwhile.
    loop {
        let reply = watcher.recv();
        assert!(reply.get("error").is_none(), "attach was closed: {reply}");
        assert!(!reply.is_null(), "attach was closed");
        let output = reply["event"]["output"].as_str().unwrap_or_default();
        if reply["event"]["type"] == "result" && output.contains("steady") {
            break;
        }
    }
    // Once the prompt is over, its connection is idle like any other.
    assert_closed_with(&mut prompter, "idle");
    let mut lazy = Raw::hello(&env.socket);
    assert_closed_with(&mut lazy, "idle");
}

#[test]
fn connections_over_the_cap_are_refused_with_a_clear_error() {
    let mut env = Env::new();
    env.set_var("CAP_MAX_CONNECTIONS", "3");
    env.start_daemon();
    let mut held: Vec<Raw> = (0..3).map(|_| Raw::hello(&env.socket)).collect();
    // A raw client gets the error as the reply to its hello, then the connection closes.
    let mut extra = Raw::connect(&env.socket);
    extra.send_line(&format!(
        r#"{{"id":1,"op":"hello","version":{}}}"#,
        cap_proto::PROTOCOL_VERSION
    ));
    let reply = extra.recv();
    assert_eq!(reply["id"], 1, "{reply}");
    assert_eq!(reply["error"]["code"], "limit", "{reply}");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("3 connections") && message.contains("CAP_MAX_CONNECTIONS"),
        "unclear: {message}"
    );
    assert_eq!(extra.recv(), Value::Null);
    // `cap` shows the message and exits with the limit code.
    let out = env.cap(&["--no-autostart", "daemon", "status"]);
    assert_eq!(code(&out), 7, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("connections"),
        "{}",
        text(&out.stderr)
    );
    // A freed slot is usable again.
    held.pop();
    wait_until("a slot to free up", || {
        Raw::try_hello(&env.socket).is_some()
    });
    assert!(env.daemon_log().contains("refused"), "{}", env.daemon_log());
}

#[test]
fn an_oversized_line_names_the_limit_and_crlf_lines_work() {
    let mut env = Env::new();
    env.start_daemon();
    let mut conn = Raw::connect(&env.socket);
    conn.send_bytes(
        format!(
            "{{\"id\":1,\"op\":\"hello\",\"version\":{}}}\r\n",
            cap_proto::PROTOCOL_VERSION
        )
        .as_bytes(),
    );
    assert!(conn.recv().get("hello").is_some());
    let mut line = br#"{"id":9,"op":"sessions","pad":""#.to_vec();
    line.resize(cap_proto::MAX_LINE + 1, b'x');
    line.extend_from_slice(b"\"}\r\n");
    conn.send_bytes(&line);
    let reply = conn.recv();
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("16 MiB") && message.contains(&cap_proto::MAX_LINE.to_string()),
        "the error does not name the limit: {message}"
    );
    conn.send_bytes(b"{\"id\":10,\"op\":\"sessions\"}\r\n");
    let reply = conn.recv();
    assert_eq!(reply["id"], 10, "{reply}");
    assert!(reply["sessions"].is_array(), "{reply}");
}

/// D5: a client that pipelines requests and never reads a reply is held by backpressure
/// (capd stops reading it) and dropped once stuck, without capd's memory growing.
#[test]
fn pipelined_requests_without_reading_keep_memory_bounded() {
    const REQUESTS: u64 = 200_000;
    const BOUND_KIB: u64 = 128 * 1024;
    let mut env = Env::new();
    env.set_var("CAP_WRITE_STALL_TIMEOUT_MS", "2000");
    env.start_daemon();
    let pid = env.daemon_pid().unwrap();
    let before = rss_kib(pid);
    let conn = Raw::hello(&env.socket);
    let mut socket = conn.writer_clone();
    let flood = std::thread::spawn(move || {
        let mut batch = Vec::new();
        for id in 2..REQUESTS + 2 {
            batch.extend_from_slice(format!("{{\"id\":{id},\"op\":\"status\"}}\n").as_bytes());
        }
        socket.write_all(&batch)
    });
    let mut peak = 0;
    wait_until("capd to drop the stuck client", || {
        peak = peak.max(rss_kib(pid));
        assert!(
            peak < BOUND_KIB,
            "capd's RSS reached {peak} KiB (it was {before} KiB) under pipelining"
        );
        flood.is_finished()
    });
    let written = flood.join().unwrap();
    assert!(
        written.is_err(),
        "capd read all {REQUESTS} requests of a client that reads nothing"
    );
    eprintln!("capd RSS: {before} KiB before, peak {peak} KiB while flooded");
    drop(conn);
    assert_daemon_serves(&env);
    assert!(
        env.daemon_log().contains("read no reply"),
        "{}",
        env.daemon_log()
    );
}

/// A client that vanishes while attached frees its connection slot at once, not when the
/// quiet session next emits an event.
#[test]
fn a_vanished_attach_client_frees_its_slot() {
    let mut env = Env::new();
    env.set_var("CAP_MAX_CONNECTIONS", "2");
    env.start_daemon();
    let session = env.prompt_ok(&["hello"])["session"]
        .as_str()
        .unwrap()
        .to_string();
    let mut watcher = Raw::hello(&env.socket);
    watcher.send_line(&format!(
        r#"{{"id":2,"op":"attach","session":"{session}"}}"#
    ));
    // The backlog ends with the first turn's result: the attach is now just waiting.
    while watcher.recv()["event"]["type"] != "result" {}
    drop(watcher);
    let mut held = Vec::new();
    wait_until("both slots to be free", || {
        if let Some(conn) = Raw::try_hello(&env.socket) {
            held.push(conn);
        }
        held.len() == 2
    });
}

/// D4: at the descriptor limit capd pauses accepting (100 ms doubling to 1 s, one log line
/// per pause) instead of spinning and logging at megabytes per second, and recovers.
#[test]
fn fd_exhaustion_backs_off_with_little_log_and_recovers() {
    const LOG_BOUND: u64 = 64 * 1024;
    let mut env = Env::new();
    // Idle connections must stay open for the whole test.
    env.set_var("CAP_HANDSHAKE_TIMEOUT_MS", "0");
    env.daemon_wrapper = vec![
        "sh".into(),
        "-c".into(),
        "ulimit -n 40 && exec \"$0\"".into(),
    ];
    env.start_daemon();
    let log = env.dir.path().join("capd.log");
    let size = || std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let baseline = size();
    let held: Vec<Raw> = (0..80).map(|_| Raw::connect(&env.socket)).collect();
    // The pause reaching its ceiling proves capd sat at the limit for 1.5 s of pauses.
    wait_until("capd to back off to 1 s pauses", || {
        assert!(
            size() - baseline < LOG_BOUND,
            "capd logged {} bytes at the fd limit",
            size() - baseline
        );
        env.daemon_log().contains("pausing accepts for 1000 ms")
    });
    drop(held);
    let out = env.cap(&["--no-autostart", "daemon", "status"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let grown = size() - baseline;
    let lines = env.daemon_log().matches("cannot accept").count();
    eprintln!("capd logged {grown} bytes ({lines} accept failures) at the fd limit");
    assert!(grown < LOG_BOUND, "capd logged {grown} bytes");
    assert!(
        env.daemon_log().contains("open-file limit"),
        "{}",
        env.daemon_log()
    );
}
