//! Shared agent processes with the genuine agents: for every agent that can host several
//! sessions in one process, two sessions on one process in two cwds each see their own cwd
//! and history; a cancel on one leaves the other's turn complete; and a kill of the process
//! resumes both, each with its history.

use cap_tests::real::{real_env, turns_seen};
use cap_tests::*;
use serde_json::Value;

fn output(r: &Value) -> String {
    r["output"].as_str().unwrap_or_default().to_string()
}

fn shared(agent: &str) {
    let mut env = real_env();
    // Commands run without asking, so the cwd they ran in shows (codex-acp runs only under
    // approve-all anyway); sharing is forced on, whatever the agent's default.
    env.amend_config(
        "default_permissions = \"approve-all\"",
        &format!("[share]\n\"{agent}\" = true"),
    );
    env.start_daemon();
    let cwd_b = env.dir.path().join("work-b");
    std::fs::create_dir_all(&cwd_b).expect("cwd b");
    let cwd_a = env.work.display().to_string();
    let cwd_b = cwd_b.display().to_string();
    let a = ["-a", agent, "-C", cwd_a.as_str(), "--key", "a"];
    let b = ["-a", agent, "-C", cwd_b.as_str(), "--key", "b"];

    // Two cwds, two histories, one process.
    let ra = env.prompt_ok(&[&a[..], &["RUNCMD touch made_in_a"]].concat());
    let rb = env.prompt_ok(&[&b[..], &["RUNCMD touch made_in_b"]].concat());
    let (sa, sb) = (
        ra["session"].as_str().expect("session").to_string(),
        rb["session"].as_str().expect("session").to_string(),
    );
    let pid = env.session_pid(&sa);
    assert_eq!(env.session_pid(&sb), pid, "{agent}: one process");
    assert!(
        env.work.join("made_in_a").exists(),
        "{agent}: a's command in a's cwd: {ra:#}"
    );
    assert!(
        std::path::Path::new(&cwd_b).join("made_in_b").exists(),
        "{agent}: b's command in b's cwd: {rb:#}"
    );
    assert!(!env.work.join("made_in_b").exists(), "{agent}");
    let ra2 = env.prompt_ok(&[&a[..], &["TURN2 alpha"]].concat());
    let rb2 = env.prompt_ok(&[&b[..], &["TURN2 beta"]].concat());
    assert!(output(&ra2).contains("TURN2 alpha"), "{agent}: {ra2:#}");
    assert!(output(&rb2).contains("TURN2 beta"), "{agent}: {rb2:#}");
    let (ta, tb) = (turns_seen(&output(&ra2)), turns_seen(&output(&rb2)));
    assert_eq!(
        ta, tb,
        "{agent}: the same number of turns each, not both: {ra2:#} {rb2:#}"
    );

    // A cancel on a leaves b's turn complete.
    let mut slow_b = env.spawn_prompt(&[&b[..], &["TURN3 SLOW beta"]].concat());
    slow_b.wait_for("b's first text", |v| v["type"] == "text");
    let mut slow_a = env.spawn_prompt(&[&a[..], &["TURN3 SLOW alpha"]].concat());
    slow_a.wait_for("a's first text", |v| v["type"] == "text");
    let out = env.cap(&["cancel", &sa]);
    assert_eq!(code(&out), 0, "{agent}: {}", text(&out.stderr));
    let (events, rc, stderr) = slow_a.finish();
    assert_eq!(rc, 0, "{agent}: {events:#?} {stderr}");
    assert_eq!(
        events.last().expect("a's end")["stop_reason"],
        "cancelled",
        "{agent}"
    );
    let (events, rc, stderr) = slow_b.finish();
    assert_eq!(rc, 0, "{agent}: {events:#?} {stderr}");
    let last = events.last().expect("b's end");
    assert_eq!(last["stop_reason"], "end_turn", "{agent}: {last:#}");
    let out_b = result_output(&events);
    assert!(
        out_b.contains("TURN3 SLOW beta"),
        "{agent}: b's whole reply: {out_b}"
    );
    assert_eq!(turns_seen(&out_b), tb + 1, "{agent}: {out_b}");

    // A kill of the shared process: both resume, each with its own history.
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("kill the shared process");
    wait_until("the shared process to go", || !alive(pid));
    if agent == "gemini" {
        super::wait_for_next_minute();
    }
    let rb4 = env.prompt_ok(&[&b[..], &["TURN4 beta again"]].concat());
    let ra4 = env.prompt_ok(&[&a[..], &["TURN4 alpha again"]].concat());
    assert_eq!(rb4["session"], sb.as_str(), "{agent}");
    assert_eq!(ra4["session"], sa.as_str(), "{agent}");
    let new = env.session_pid(&sa);
    assert_ne!(new, pid, "{agent}: a new process");
    assert_eq!(env.session_pid(&sb), new, "{agent}: both on it");
    assert!(
        turns_seen(&output(&rb4)) > tb + 1,
        "{agent}: b's history: {rb4:#}"
    );
    assert!(
        turns_seen(&output(&ra4)) > ta,
        "{agent}: a's history: {ra4:#}"
    );
    assert!(
        output(&ra4).contains("TURN4 alpha again"),
        "{agent}: {ra4:#}"
    );

    // Ending one session leaves the process to the other; the agent frees what the session
    // held (the Claude adapter runs a native `claude` per session, and closes it).
    let before = in_group(new);
    assert_eq!(code(&env.cap(&["end", &sa])), 0, "{agent}");
    let rb5 = env.prompt_ok(&[&b[..], &["TURN5 beta still"]].concat());
    assert_eq!(env.session_pid(&sb), new, "{agent}: the same process");
    assert!(
        output(&rb5).contains("TURN5 beta still"),
        "{agent}: {rb5:#}"
    );
    if agent == "claude-acp" {
        let natives = |names: &[String]| names.iter().filter(|n| *n == "claude").count();
        wait_until("the adapter to end a's native claude", || {
            natives(&in_group(new)) < natives(&before)
        });
    }
}

/// The command names of the processes in process group `pgid`.
fn in_group(pgid: u32) -> Vec<String> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let group = stat[close + 1..].split_whitespace().nth(2);
        if group.and_then(|g| g.parse::<u32>().ok()) == Some(pgid) {
            names.push(stat[open + 1..close].to_string());
        }
    }
    names
}

#[test]
fn codex_shares_a_process() {
    shared("codex");
}

#[test]
fn gemini_shares_a_process() {
    shared("gemini");
}

#[test]
fn opencode_shares_a_process() {
    shared("opencode");
}

#[test]
fn claude_acp_shares_a_process() {
    shared("claude-acp");
}

#[test]
fn codex_acp_shares_a_process() {
    shared("codex-acp");
}
