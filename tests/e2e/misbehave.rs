//! Misbehaving agents (issue "Never lose a conversation, never hang, never leak"): garbage on
//! stdout, an agent that never becomes ready, a 100 MB line without a newline, stdout closed
//! while the process lives, SIGTERM ignored, helpers left behind by an agent that exits.
//!
//! Each case must end in a clear error (or, for the stubborn process, a clean end), leave no
//! process behind, and keep capd's memory bounded. Memory is asserted only against a generous
//! bound (growth of capd's VmRSS and VmHWM under 200 MB); the figures each run prints
//! (`--nocapture`) are recorded in docs/reliability.md.

use crate::races::{agent_alive, assert_consistent, assert_no_stray_agents, started_pids};
use cap_tests::*;
use serde_json::Value;

/// The most capd's resident set may grow over one misbehaving case.
const MAX_GROWTH_KIB: u64 = 200 * 1024;

/// capd's memory from /proc/PID/status: (VmRSS, VmHWM) in KiB.
fn mem(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("capd status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in {status}"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Watches capd's memory over one case.
pub(crate) struct Memory {
    pid: u32,
    before: u64,
    peak_before: u64,
}

impl Memory {
    pub(crate) fn start(env: &Env) -> Memory {
        let pid = env.daemon_pid().expect("capd pid");
        let (before, peak_before) = mem(pid);
        Memory {
            pid,
            before,
            peak_before,
        }
    }

    /// Prints the figures and asserts the bound.
    pub(crate) fn check(&self, case: &str) {
        let (after, peak) = mem(self.pid);
        eprintln!(
            "memory: {case}: capd VmRSS {:.1} MiB before, {:.1} MiB after, peak (VmHWM) {:.1} MiB",
            self.before as f64 / 1024.0,
            after as f64 / 1024.0,
            peak as f64 / 1024.0
        );
        assert!(
            after.saturating_sub(self.before) < MAX_GROWTH_KIB,
            "{case}: capd grew from {} KiB to {after} KiB",
            self.before
        );
        assert!(
            peak.saturating_sub(self.peak_before) < MAX_GROWTH_KIB,
            "{case}: capd's peak grew from {} KiB to {peak} KiB",
            self.peak_before
        );
    }
}

fn env_with(config: &str, vars: &[(&str, &str)]) -> Env {
    let mut env = Env::with_config(config);
    for (k, v) in vars {
        env.vars.push((k.to_string(), v.to_string()));
    }
    env.start_daemon();
    env
}

/// The final event of a failed prompt: an `error` with a message; returns the message.
fn error_message(events: &[Value]) -> String {
    let last = events.last().cloned().unwrap_or(Value::Null);
    assert_eq!(last["type"], "error", "{events:#?}");
    last["message"].as_str().unwrap_or_default().to_string()
}

#[test]
fn a_flood_of_garbage_lines_ends_in_a_timeout_and_the_session_goes_on() {
    // A long grace: however slowly the flood drains on a loaded machine, the agent answers
    // the cancel once it is done, and is not killed for being late.
    let env = env_with("cancel_grace = 60", &[]);
    let warm = env.prompt_ok(&["warm"]);
    let pid = env.session_pid(warm["session"].as_str().expect("session"));
    let m = Memory::start(&env);
    // 64 MiB of non-JSON lines, then nothing: only the timeout ends the turn.
    let (events, rc) = env.prompt_json(&["--timeout", "3", "FLOOD"]);
    assert_eq!(rc, 3, "{events:#?}");
    assert!(error_message(&events).contains("timed out"), "{events:#?}");
    m.check("64 MiB of garbage lines in one turn");
    // The agent was cancelled, not killed: the same process answers the next prompt.
    let r = env.prompt_ok(&["after the flood"]);
    assert_eq!(r["output"], "ECHO[turns=3]: after the flood");
    assert_eq!(env.session_pid(warm["session"].as_str().unwrap()), pid);
    assert_no_stray_agents(&env);
}

#[test]
fn an_agent_that_prints_only_garbage_never_becomes_ready_and_is_killed() {
    let env = env_with("ready_timeout = 1", &[("FAKE_ONLY_GARBAGE", "1")]);
    let m = Memory::start(&env);
    for i in 0..3 {
        let (events, rc) = env.prompt_json(&[&format!("hello {i}")]);
        assert_eq!(rc, 1, "{events:#?}");
        assert!(
            error_message(&events).contains("did not become ready"),
            "{events:#?}"
        );
    }
    m.check("an agent printing only garbage, 3 starts");
    assert!(env.session_ids().is_empty());
    assert_eq!(started_pids(&env).len(), 3);
    assert_no_stray_agents(&env);
    assert_consistent(&env);
}

#[test]
fn an_agent_that_never_becomes_ready_fails_every_prompt_without_leaking() {
    let env = env_with("ready_timeout = 1", &[("FAKE_NEVER_READY", "1")]);
    let m = Memory::start(&env);
    let clients: Vec<Running> = (0..4)
        .map(|i| env.spawn_prompt(&["--key", &format!("k{i}"), "hello"]))
        .collect();
    for p in clients {
        let (events, rc, stderr) = p.finish();
        assert_eq!(rc, 1, "{events:#?} {stderr}");
        let msg = error_message(&events);
        assert!(
            msg.contains("did not become ready") && msg.contains("ready_timeout"),
            "names the cause and the knob: {msg}"
        );
    }
    m.check("4 agents that never become ready");
    assert!(env.session_ids().is_empty());
    assert_eq!(started_pids(&env).len(), 4);
    assert_no_stray_agents(&env);
    assert_consistent(&env);
}

/// Needs no driver change to pass: today capd buffers the whole line (about 128 MiB at its
/// peak, see docs/reliability.md) until the timeout kills the agent. With a line limit in the
/// driver's reader the agent is dropped as soon as the line passes the limit; the test
/// accepts that outcome too (an error, exit 1).
#[test]
fn a_100_mb_line_without_a_newline_ends_in_an_error_with_memory_bounded() {
    let env = env_with("cancel_grace = 1", &[]);
    let warm = env.prompt_ok(&["warm"]);
    let native = warm["native_id"].as_str().expect("native").to_string();
    let m = Memory::start(&env);
    let (events, rc) = env.prompt_json(&["--timeout", "3", "LONGLINE"]);
    assert!(rc == 3 || rc == 1, "{events:#?}");
    error_message(&events);
    m.check("a 100 MiB line without a newline");
    // The stuck agent was killed; the next prompt resumes the conversation.
    let (events, rc) = env.prompt_json(&["after the long line"]);
    assert_eq!(rc, 0, "{events:#?}");
    let out = result_output(&events);
    assert!(
        out.ends_with(": after the long line") && out.starts_with("ECHO[turns="),
        "{out}"
    );
    assert_eq!(events.last().unwrap()["native_id"], native.as_str());
    assert_no_stray_agents(&env);
}

#[test]
fn an_agent_that_closes_stdout_but_lives_on_is_killed_and_the_turn_fails() {
    let env = env_with("", &[]);
    let warm = env.prompt_ok(&["warm"]);
    let native = warm["native_id"].as_str().expect("native").to_string();
    let m = Memory::start(&env);
    let (events, rc) = env.prompt_json(&["CLOSESTDOUT"]);
    assert_eq!(rc, 1, "{events:#?}");
    let msg = error_message(&events);
    assert!(msg.contains("mid-turn"), "{msg}");
    assert_eq!(status_kinds(&events), vec!["respawn"], "{events:#?}");
    m.check("stdout closed, process alive");
    // Both silent processes (the warm one and the one respawned to retry) were killed.
    let pids = started_pids(&env);
    assert_eq!(pids.len(), 2, "the warm agent and the respawned one");
    for pid in &pids {
        wait_until("the silent agent to be killed", || !agent_alive(&env, *pid));
    }
    let (events, rc) = env.prompt_json(&["after"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(result_output(&events), "ECHO[turns=4]: after");
    assert_eq!(events.last().unwrap()["native_id"], native.as_str());
    assert_no_stray_agents(&env);
}

#[test]
fn an_agent_that_ignores_sigterm_is_still_ended() {
    let mut env = env_with("", &[("FAKE_STUBBORN", "1")]);
    let a = env.prompt_ok(&["--key", "a", "one"]);
    let pid = env.session_pid(a["session"].as_str().expect("session"));
    let out = env.cap(&["end", "--key", "a"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        !agent_alive(&env, pid),
        "`cap end` returned with the agent alive"
    );

    // And when the daemon stops.
    let b = env.prompt_ok(&["--key", "b", "two"]);
    let pid = env.session_pid(b["session"].as_str().expect("session"));
    env.stop_daemon();
    assert!(!agent_alive(&env, pid), "the agent outlived capd");
    for pid in started_pids(&env) {
        assert!(!agent_alive(&env, pid));
    }
}

/// The helpers `FORKEXIT` left behind.
fn helper_pids(env: &Env) -> Vec<u32> {
    std::fs::read_to_string(env.fake_home.join("helpers.pids"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.trim().parse().expect("helper pid"))
        .collect()
}

#[test]
fn an_agent_that_forks_helpers_and_exits_leaves_no_helper_behind() {
    let env = env_with("", &[("FAKE_HELPERS", "3")]);
    env.prompt_ok(&["warm"]);
    let m = Memory::start(&env);
    let (events, rc) = env.prompt_json(&["FORKEXIT"]);
    assert_eq!(rc, 1, "{events:#?}");
    assert!(
        error_message(&events).contains("exited mid-turn"),
        "{events:#?}"
    );
    m.check("an agent forking helpers and exiting");
    let helpers = helper_pids(&env);
    assert_eq!(helpers.len(), 6, "3 helpers per attempt: {helpers:?}");
    for pid in &helpers {
        wait_until("a helper to be killed with its group", || {
            !agent_alive(&env, *pid)
        });
    }
    let out = env.cap(&["end"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_no_stray_agents(&env);
    assert!(env.session_ids().is_empty());
}

#[test]
fn an_agent_that_exits_mid_turn_while_its_helpers_hold_stdout_is_noticed() {
    // The helpers keep the agent's stdout open, so its output never ends: only the agent's
    // own exit tells that it is gone. Before capd watched for that, the turn hung until its
    // timeout (exit 3) and then blamed the timeout.
    let env = env_with(
        "",
        &[("FAKE_HELPERS", "2"), ("FAKE_HELPERS_KEEP_STDOUT", "1")],
    );
    let warm = env.prompt_ok(&["warm"]);
    let native = warm["native_id"].as_str().expect("native").to_string();
    let (events, rc) = env.prompt_json(&["--timeout", "20", "FORKEXIT"]);
    assert_eq!(
        rc, 1,
        "the agent's exit is the error, not a timeout: {events:#?}"
    );
    assert!(
        error_message(&events).contains("exited mid-turn"),
        "{events:#?}"
    );
    assert_eq!(status_kinds(&events), vec!["respawn"], "{events:#?}");
    let helpers = helper_pids(&env);
    assert_eq!(helpers.len(), 4, "2 helpers per attempt: {helpers:?}");
    for pid in &helpers {
        wait_until("a helper to be killed with its group", || {
            !agent_alive(&env, *pid)
        });
    }
    // The conversation goes on: warm, two attempts, this one.
    let (events, rc) = env.prompt_json(&["after"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(result_output(&events), "ECHO[turns=4]: after");
    assert_eq!(events.last().unwrap()["native_id"], native.as_str());
    assert_no_stray_agents(&env);
}

/// Fails today: capd's stderr collector (`collect_stderr` in crates/capd/src/drivers/process.rs,
/// owned elsewhere) reads stderr with `lines()`, which stops at the first line that is not
/// UTF-8; the pipe is then dropped and the agent's next stderr writes fail (EPIPE), which
/// kills many agents mid-turn. Reading with `split(b'\n')` and `String::from_utf8_lossy`
/// makes this pass (checked by hand). Remove the `ignore` with that change.
#[test]
fn an_agent_that_writes_invalid_utf8_on_stderr_keeps_working() {
    let env = env_with("", &[]);
    env.prompt_ok(&["warm"]);
    let (events, rc) = env.prompt_json(&["BADSTDERR"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(result_output(&events), "ECHO[turns=2]: BADSTDERR");
    assert!(status_kinds(&events).is_empty(), "{events:#?}");
    assert_eq!(env.invocations().len(), 1, "the agent was not restarted");
}
