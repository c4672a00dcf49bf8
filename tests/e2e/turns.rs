//! SPEC §2 turns: one at a time in FIFO order, a bounded queue, per-prompt timeouts, cancel,
//! `--no-wait` with `cap result`, callers that go away, and `cap attach`.

use cap_tests::*;
use serde_json::Value;
use std::time::{Duration, Instant};

fn id(v: &Value) -> String {
    v["id"].as_str().expect("session id").to_string()
}

/// Waits until the session runs a turn with nothing queued behind it (nothing announces that
/// the actor has taken a queued prompt).
fn wait_busy(env: &Env, sid: &str, queued: u64) {
    wait_until("the turn to be running", || {
        let s = env.show_doc(sid);
        s["state"] == "busy" && s["queued"] == queued
    });
}

/// Polls `cap result ID` until a finished turn is there; returns its event.
fn wait_result(env: &Env, sid: &str) -> Value {
    let mut last = Value::Null;
    wait_until("a finished turn for `cap result`", || {
        let out = env.cap(&["--format", "json", "result", sid]);
        if code(&out) == 0 {
            last = serde_json::from_slice(&out.stdout).expect("result JSON");
            true
        } else {
            false
        }
    });
    last
}

#[test]
fn prompts_on_one_key_run_one_at_a_time_in_order() {
    let mut env = Env::new();
    env.vars.push(("FAKE_SLOW_MS".into(), "60".into()));
    env.start_daemon();
    let mut running = Vec::new();
    let mut session = None;
    for word in ["alpha", "bravo", "charlie"] {
        let mut p = env.spawn_prompt(&[&format!("SLOW {word}")]);
        // Each one is queued before the next starts, so the order is fixed.
        let s = p.wait_session();
        match &session {
            None => session = Some(id(&s)),
            Some(sid) => assert_eq!(&id(&s), sid, "one key, one session"),
        }
        running.push((word, p));
    }
    for (n, (word, p)) in running.into_iter().enumerate() {
        let (events, rc, stderr) = p.finish();
        assert_eq!(rc, 0, "{word}: {events:#?} {stderr}");
        assert_eq!(
            result_output(&events),
            format!("ECHO[turns={}]: SLOW {word}", n + 1),
            "turns must not overlap or reorder"
        );
    }
}

#[test]
fn a_full_queue_refuses_with_7() {
    let mut env = Env::with_config("queue_depth = 1");
    env.start_daemon();
    let (events, rc) = env.prompt_json(&["warm"]);
    assert_eq!(rc, 0, "{events:#?}");
    let sid = id(session_event(&events));

    let mut hang = env.spawn_prompt(&["HANG"]);
    hang.wait_session();
    wait_busy(&env, &sid, 0);
    let mut queued = env.spawn_prompt(&["queued one"]);
    queued.wait_session();
    assert_eq!(env.show_doc(&sid)["queued"], 1);

    let out = env.cap(&["prompt", "third"]);
    assert_eq!(code(&out), 7, "queue full: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("queue"),
        "the message says why: {}",
        text(&out.stderr)
    );

    let out = env.cap(&["cancel", &sid]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let (events, rc, _) = hang.finish();
    assert_eq!(rc, 0);
    assert_eq!(events.last().unwrap()["stop_reason"], "cancelled");
    let (events, rc, _) = queued.finish();
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(result_output(&events), "ECHO[turns=3]: queued one");
}

#[test]
fn timeout_cancels_the_turn_in_the_agent_and_exits_3() {
    let mut env = Env::new();
    env.start_daemon();
    let started = Instant::now();
    let (events, rc) = env.prompt_json(&["--timeout", "1", "HANG"]);
    assert_eq!(rc, 3, "{events:#?}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "error");
    assert_eq!(last["code"], "timeout");
    assert!(started.elapsed() < Duration::from_secs(10));
    let sid = id(session_event(&events));
    let pid = env.session_pid(&sid);

    // The agent stopped the turn: the next prompt runs at once in the same process, and the
    // abandoned turn is part of the history.
    let started = Instant::now();
    let (events, rc) = env.prompt_json(&["--timeout", "5", "after"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(result_output(&events), "ECHO[turns=2]: after");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        env.session_pid(&sid),
        pid,
        "cancelled cooperatively, not killed"
    );
    assert_eq!(env.invocations().len(), 1);

    // Text format: the same exit code and a message that says what to do.
    let out = env.cap(&["prompt", "--timeout", "1", "HANG"]);
    assert_eq!(code(&out), 3);
    assert!(
        text(&out.stderr).contains("timed out"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_turn_that_ignores_the_cancel_gets_its_agent_killed_and_resumed() {
    let mut env = Env::with_config("cancel_grace = 1");
    env.start_daemon();
    let first = env.prompt_ok(&["first"]);
    let native = first["native_id"].as_str().unwrap().to_string();
    let sid = first["session"].as_str().unwrap().to_string();
    let pid = env.session_pid(&sid);

    let (events, rc) = env.prompt_json(&["--timeout", "1", "HANGNOINT"]);
    assert_eq!(rc, 3, "{events:#?}");
    wait_until("the stuck agent to be killed", || !alive(pid));

    let (events, rc) = env.prompt_json(&["next"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(id(session_event(&events)), sid, "same daemon session");
    assert_eq!(result_output(&events), "ECHO[turns=3]: next");
    assert_respawned_by_resume(&env, &events, &native);
    assert_ne!(env.session_pid(&sid), pid);
}

#[test]
fn config_prompt_timeout_applies_without_the_flag() {
    let mut env = Env::with_config("prompt_timeout = 1");
    env.vars.push(("FAKE_SLOW_MS".into(), "200".into()));
    env.start_daemon();
    let (events, rc) = env.prompt_json(&["HANG"]);
    assert_eq!(rc, 3, "{events:#?}");
    // The flag wins over the config: 0 means no limit (this turn takes ~2 s).
    let (events, rc) = env.prompt_json(&["--timeout", "0", "SLOW"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(result_output(&events), "ECHO[turns=2]: SLOW");
}

/// Starts a HANG prompt and waits until its turn runs; returns the prompt and session id.
fn hanging(env: &Env, args: &[&str]) -> (Running, String) {
    let mut all = args.to_vec();
    all.push("HANG");
    let mut p = env.spawn_prompt(&all);
    let sid = id(&p.wait_session());
    wait_busy(env, &sid, 0);
    (p, sid)
}

/// The turn ran in an agent respawned once, by resuming `native`.
fn assert_respawned_by_resume(env: &Env, events: &[Value], native: &str) {
    assert!(
        status_kinds(events).contains(&"respawn".to_string()),
        "{events:#?}"
    );
    let invs = env.invocations();
    assert_eq!(invs.len(), 2, "{invs:#?}");
    assert!(
        has_pair(&invs[1], "--resume", native),
        "respawned by resume: {:?}",
        argv(&invs[1])
    );
}

fn assert_cancelled(p: Running) {
    let (events, rc, stderr) = p.finish();
    assert_eq!(rc, 0, "a cancelled turn is a success: {events:#?} {stderr}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "result", "{events:#?}");
    assert_eq!(last["stop_reason"], "cancelled", "{last:#}");
}

#[test]
fn cancel_by_id_by_key_and_by_the_default_key() {
    let mut env = Env::new();
    env.start_daemon();

    let (p, sid) = hanging(&env, &[]);
    let out = env.cap(&["cancel", &sid]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("cancelled"),
        "{}",
        text(&out.stdout)
    );
    assert_cancelled(p);

    let (p, _) = hanging(&env, &["--key", "named"]);
    let out = env.cap(&["cancel", "--key", "named"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_cancelled(p);

    let (p, _) = hanging(&env, &[]);
    let out = env.cap(&["cancel"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_cancelled(p);

    // The session is usable right after, and kept its history.
    let (events, rc) = env.prompt_json(&["after"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(result_output(&events), "ECHO[turns=3]: after");
}

#[test]
fn cancel_with_nothing_running_is_a_success() {
    let mut env = Env::new();
    env.start_daemon();
    let out = env.cap(&["cancel"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("nothing to cancel"),
        "{}",
        text(&out.stdout)
    );

    let r = env.prompt_ok(&["idle now"]);
    let sid = r["session"].as_str().unwrap();
    for args in [
        vec!["cancel"],
        vec!["cancel", sid],
        vec!["cancel", "--key", "unbound"],
    ] {
        let out = env.cap(&args);
        assert_eq!(code(&out), 0, "{args:?}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("nothing to cancel"),
            "{args:?}: {}",
            text(&out.stdout)
        );
    }
    // The idle session was not disturbed.
    assert_eq!(
        env.prompt_ok(&["still fine"])["output"],
        "ECHO[turns=2]: still fine"
    );
}

#[test]
fn no_wait_returns_at_once_and_result_fetches_the_answer() {
    let mut env = Env::new();
    env.vars.push(("FAKE_SLOW_MS".into(), "300".into()));
    env.start_daemon();
    let queued = env.cap_doc(&["prompt", "--no-wait", "SLOW later"]);
    let sid = queued["session"].as_str().expect("session").to_string();
    assert!(queued["request"].is_string(), "{queued:#}");
    // Returned before the turn (~3 s) finished.
    let out = env.cap(&["result", &sid]);
    assert_eq!(code(&out), 4, "no finished turn yet: {}", text(&out.stdout));

    let r = wait_result(&env, &sid);
    assert_eq!(r["type"], "result", "{r:#}");
    assert_eq!(r["output"], "ECHO[turns=1]: SLOW later");
    assert_eq!(r["request"], queued["request"]);
    let out = env.cap(&["result", &sid]);
    assert_eq!(code(&out), 0);
    assert_eq!(text(&out.stdout), "ECHO[turns=1]: SLOW later\n");
}

#[test]
fn a_caller_that_goes_away_does_not_cancel_the_turn() {
    let mut env = Env::new();
    env.vars.push(("FAKE_SLOW_MS".into(), "100".into()));
    env.start_daemon();
    let mut p = env.spawn_prompt(&["SLOW survive"]);
    let sid = id(&p.wait_session());
    p.wait_for("the first text", |v| v["type"] == "text");
    p.kill();

    let r = wait_result(&env, &sid);
    assert_eq!(r["type"], "result", "{r:#}");
    assert_eq!(r["output"], "ECHO[turns=1]: SLOW survive");
    assert_eq!(r["stop_reason"], "end_turn");
}

#[test]
fn attach_follows_the_turns_of_a_session() {
    let mut env = Env::new();
    env.vars.push(("FAKE_SLOW_MS".into(), "50".into()));
    env.start_daemon();
    let opened = env.cap_doc(&["open"]);
    let sid = id(&opened);
    let mut attach = env.spawn_cap(&["--format", "json", "attach", &sid]);

    let r = env.prompt_ok(&["watched one"]);
    assert_eq!(r["session"], sid.as_str());
    let seen = attach.wait_for("the first result", |v| v["type"] == "result");
    assert_eq!(seen["output"], "ECHO[turns=1]: watched one");

    let r = env.prompt_ok(&["SLOW watched two"]);
    let mut streamed = String::new();
    let seen = attach.wait_for("the second result", |v| {
        v["type"] == "result" && v["output"] != "ECHO[turns=1]: watched one"
    });
    for line in &attach.seen {
        let v: Value = serde_json::from_str(line).unwrap();
        if v["type"] == "text" && v["request"] == seen["request"] {
            streamed.push_str(v["delta"].as_str().unwrap());
        }
    }
    assert_eq!(seen["output"], r["output"]);
    assert_eq!(
        streamed, "ECHO[turns=2]: SLOW watched two",
        "{:#?}",
        attach.seen
    );
    attach.kill();
}

#[test]
fn cancel_reaches_a_turn_whose_agent_is_being_respawned() {
    // Every start of the agent takes a second, so the respawn after the crash leaves a window
    // in which the turn runs (the session is busy) but no agent is there to interrupt.
    let mut env = Env::with_config("ready_timeout = 10");
    env.vars.push(("FAKE_START_DELAY_MS".into(), "1000".into()));
    env.start_daemon();
    env.prompt_ok(&["warm"]);
    let mut p = env.spawn_prompt(&["--timeout", "8", "CRASHONCE HANG"]);
    p.wait_for("the respawn", |v| {
        v["type"] == "status" && v["kind"] == "respawn"
    });
    let out = env.cap(&["cancel"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains("nothing to cancel"),
        "the turn is running: {}",
        text(&out.stdout)
    );
    assert_cancelled(p);
}

#[test]
fn cancel_reaches_a_prompt_waiting_for_its_agent_to_start() {
    let mut env = Env::with_config("ready_timeout = 10");
    env.vars.push(("FAKE_START_DELAY_MS".into(), "1500".into()));
    env.start_daemon();
    let mut p = env.spawn_prompt(&["--timeout", "8", "HANG"]);
    p.wait_session();
    let out = env.cap(&["cancel"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains("nothing to cancel"),
        "the prompt is waiting to run: {}",
        text(&out.stdout)
    );
    assert_cancelled(p);
    // The session itself is fine.
    let r = env.prompt_ok(&["after"]);
    assert!(r["output"].as_str().unwrap().ends_with("after"), "{r:#}");
}

#[test]
fn attach_ends_when_the_session_ends() {
    let mut env = Env::new();
    env.start_daemon();
    let sid = id(&env.cap_doc(&["open"]));
    let mut attach = env.spawn_cap(&["--format", "json", "attach", &sid]);
    env.prompt_ok(&["seen"]);
    attach.wait_for("the result", |v| v["type"] == "result");
    let out = env.cap(&["end", &sid]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let (_, rc, stderr) = attach.finish();
    assert_eq!(rc, 0, "{stderr}");

    let out = env.cap(&["attach", "0123456789abcdef0123456789abcdef"]);
    assert_eq!(code(&out), 4, "{}", text(&out.stderr));
    let out = env.cap(&["result", "0123456789abcdef0123456789abcdef"]);
    assert_eq!(code(&out), 4, "{}", text(&out.stderr));
}

#[test]
fn different_sessions_run_concurrently() {
    let mut env = Env::new();
    env.start_daemon();
    let (mut a, _) = hanging(&env, &["--key", "a"]);
    // While a's turn hangs, another key is answered.
    let r = env.prompt_ok(&["--key", "b", "meanwhile"]);
    assert_eq!(r["output"], "ECHO[turns=1]: meanwhile");
    assert!(matches!(a.child.try_wait(), Ok(None)), "a is still running");
    let out = env.cap(&["cancel", "--key", "a"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    a.wait_for("a's result", |v| v["type"] == "result");
    assert_cancelled(a);
}

#[test]
fn cancelling_a_turn_that_will_not_stop_kills_the_agent_and_the_queue_goes_on() {
    let mut env = Env::with_config("cancel_grace = 1");
    env.start_daemon();
    let first = env.prompt_ok(&["first"]);
    let sid = first["session"].as_str().unwrap().to_string();
    let native = first["native_id"].as_str().unwrap().to_string();
    let pid = env.session_pid(&sid);

    let mut stuck = env.spawn_prompt(&["HANGNOINT"]);
    stuck.wait_session();
    wait_busy(&env, &sid, 0);
    let mut next = env.spawn_prompt(&["next"]);
    next.wait_session();
    let out = env.cap(&["cancel", &sid]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_cancelled(stuck);
    wait_until("the stuck agent to be killed", || !alive(pid));

    // The queued prompt ran only after the stuck turn was over, in a resumed agent.
    let (events, rc, stderr) = next.finish();
    assert_eq!(rc, 0, "{events:#?} {stderr}");
    assert_eq!(result_output(&events), "ECHO[turns=3]: next");
    assert_respawned_by_resume(&env, &events, &native);
}

#[test]
fn ctrl_c_on_a_queued_prompt_cancels_only_that_prompt() {
    let mut env = Env::new();
    env.start_daemon();
    let (running, sid) = hanging(&env, &[]);
    let mut queued = env.spawn_prompt(&["queued behind the hang"]);
    queued.wait_session();
    wait_busy(&env, &sid, 1);
    let pid = nix::unistd::Pid::from_raw(queued.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    // The running turn is another caller's: it must still be running.
    let (events, rc, _) = queued.finish();
    assert_eq!(rc, 130, "{events:#?}");
    let s = env.show_doc(&sid);
    assert_eq!(
        s["state"], "busy",
        "the other caller's turn was cancelled: {s:#}"
    );
    let out = env.cap(&["cancel", &sid]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_cancelled(running);
    // The queued prompt ended as cancelled without reaching the agent.
    let after = env.prompt_ok(&["after"]);
    let output = after["output"].as_str().unwrap_or_default();
    assert!(
        output.starts_with("ECHO[turns=2]"),
        "the queued prompt reached the agent: {output}"
    );
}

#[test]
fn attach_shows_the_cancellation_of_a_queued_prompt() {
    let mut env = Env::new();
    env.start_daemon();
    let (running, sid) = hanging(&env, &[]);
    let mut attach = env.spawn_cap(&["--format", "json", "attach", &sid]);
    // The backlog (the hanging turn's `session` event) comes with the subscription, so once
    // it is read the attach sees every later event. Without this wait, a slow attach could
    // subscribe after the queued prompt's cancellation, which no backlog replays.
    attach.wait_for("the running turn's backlog", |v| v["type"] == "session");
    let mut queued = env.spawn_prompt(&["queued behind the hang"]);
    let request = queued.wait_session()["request"]
        .as_str()
        .expect("request id")
        .to_string();
    wait_busy(&env, &sid, 1);
    let pid = nix::unistd::Pid::from_raw(queued.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let (_, rc, _) = queued.finish();
    assert_eq!(rc, 130);
    let seen = attach.wait_for("the queued prompt's cancellation", |v| {
        v["type"] == "result" && v["request"] == request.as_str()
    });
    assert_eq!(seen["stop_reason"], "cancelled", "{seen:#}");
    assert_eq!(seen["session"], sid.as_str());
    let out = env.cap(&["cancel", &sid]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_cancelled(running);
    attach.kill();
}
