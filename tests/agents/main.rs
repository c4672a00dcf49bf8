//! The end-to-end tier: the genuine agent CLIs, installed from npm at pinned versions, driven
//! through the real `cap` and `capd` against the fake LLM on 127.0.0.1.
//!
//! For each agent: three turns that carry context, a cancel mid-turn, then a daemon restart
//! and a fourth turn that still sees the history. The cold start and the cancelled turn's fate
//! are printed (run with `--nocapture`) and recorded in docs/agents.md.

mod figures;
mod mcp;
mod permissions;
mod prewarm;
mod record;
mod sandbox;
mod share;
mod structured;
mod turnopts;

use cap_tests::real::{real_env, turns_seen};
use cap_tests::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Instant;

fn tier(agent: &str) {
    let mut env = real_env();
    // codex-acp runs some commands without asking, so cap runs it only under --approve-all
    // (docs/permissions.md); every other agent runs under the default policy.
    if agent == "codex-acp" {
        env.amend_config("default_permissions = \"approve-all\"", "");
    }
    env.start_daemon();

    let started = Instant::now();
    let r1 = env.prompt_ok(&["-a", agent, "TURN1 alpha"]);
    let cold = started.elapsed();
    let r1_out = r1["output"].as_str().unwrap_or_default().to_string();
    assert_eq!(turns_seen(&r1_out), 1, "{agent}: {r1_out}");
    assert!(r1_out.contains("TURN1 alpha"), "{agent}: {r1_out}");
    let r2 = env.prompt_ok(&["TURN2 beta"]);
    assert_eq!(
        turns_seen(r2["output"].as_str().unwrap_or_default()),
        2,
        "{agent}: {r2}"
    );
    let r3 = env.prompt_ok(&["-a", agent, "TURN3 gamma"]);
    assert_eq!(
        turns_seen(r3["output"].as_str().unwrap_or_default()),
        3,
        "{agent}: {r3}"
    );
    let session = r3["session"].as_str().unwrap_or_default().to_string();
    let rss_mb = group_rss_kb(&env, &session) / 1024;
    if agent == "codex" {
        // cap runs the native binary from the platform package, not npm's Node wrapper.
        let pid = env.session_pid(&session);
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).expect("agent exe");
        assert!(
            exe.file_name().is_some_and(|n| n == "codex")
                && exe.to_string_lossy().contains("/vendor/"),
            "codex runs through {}",
            exe.display()
        );
    }

    // Cancel mid-turn: wait for the first streamed text, then `cap cancel`.
    let mut child = env
        .command("cap")
        .args([
            "--format",
            "json",
            "prompt",
            "-a",
            agent,
            "TURN4 SLOW please stream slowly",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn cap prompt");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut saw_text = false;
    for line in lines.by_ref() {
        let line = line.expect("read line");
        let v: Value = serde_json::from_str(&line).expect("json line");
        if v["type"] == "text" {
            saw_text = true;
            break;
        }
        assert_ne!(
            v["type"], "result",
            "{agent}: the SLOW turn finished before any text: {line}"
        );
    }
    assert!(
        saw_text,
        "{agent}: no text streamed before the end of output"
    );
    let cancel_at = Instant::now();
    let out = env.cap(&["cancel", &session]);
    assert_eq!(code(&out), 0, "{agent} cancel: {}", text(&out.stderr));
    let rest: Vec<Value> = lines
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    let status = child.wait().expect("wait prompt");
    let settle = cancel_at.elapsed();
    let last = rest.last().cloned().unwrap_or(Value::Null);
    assert_eq!(
        status.code(),
        Some(0),
        "{agent}: cancelled prompt exit: {rest:#?}"
    );
    assert_eq!(last["stop_reason"], "cancelled", "{agent}: {last}");

    // Restart the daemon: the fourth real turn still sees the history.
    env.restart_daemon();
    if agent == "gemini" {
        wait_for_next_minute();
    }
    let r5 = env.prompt_ok(&["-a", agent, "TURN5 after restart"]);
    let r5_out = r5["output"].as_str().unwrap_or_default().to_string();
    let seen = turns_seen(&r5_out);
    assert!(
        seen >= 4,
        "{agent}: history lost across the restart: {r5_out}"
    );
    let kept = if seen >= 5 { "kept" } else { "dropped" };
    eprintln!(
        "e2e {agent}: cold start + first turn {:.2} s; cancel settled in {:.2} s; cancelled turn {kept} in history; after restart the agent saw {seen} turns; RSS of the session's process group after 3 turns {rss_mb} MB",
        cold.as_secs_f64(),
        settle.as_secs_f64()
    );
}

/// Resident memory of the session's agent process group, as capd measures it (every 2 s).
fn group_rss_kb(env: &Env, session: &str) -> u64 {
    let memory = || env.show_doc(session)["memory"].as_u64();
    wait_until("capd to measure the session", || memory().is_some());
    memory().unwrap_or_default() / 1024
}

/// Gemini CLI 0.61 wipes a session when it is loaded in the same wall-clock minute as it
/// was created (docs/protocols.md, "ACP"). Wait for the minute to turn.
fn wait_for_next_minute() {
    let minute = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() / 60)
            .unwrap_or_default()
    };
    let start = minute();
    while minute() == start {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn claude() {
    tier("claude");
}

#[test]
fn codex() {
    tier("codex");
}

#[test]
fn opencode() {
    tier("opencode");
}

#[test]
fn gemini() {
    tier("gemini");
}

#[test]
fn claude_acp() {
    tier("claude-acp");
}

#[test]
fn codex_acp() {
    tier("codex-acp");
}
