//! Shared agent processes (`share = true`): many sessions on one ACP agent or Codex
//! app-server. Each session keeps its own cwd, history and turns; a cancel touches only its
//! own turn; a crash, or a turn that ignores its cancel, takes the process down, and every
//! session on it resumes and retries its interrupted turn once, told why.

use cap_tests::*;
use serde_json::Value;

/// Fake Codex and ACP agents that share their processes, with `extra` config on top.
fn config(extra: &str) -> String {
    let fake = bin("cap-fake-agent");
    format!(
        "{extra}\n[agents.fcodex]\nprotocol = \"codex-app-server\"\ncommand = \"{f}\"\nargs = [\"app-server\"]\nshare = true\n\
         [agents.facp]\nprotocol = \"acp\"\ncommand = \"{f}\"\nargs = [\"acp\"]\nshare = true\n",
        f = fake.display()
    )
}

const AGENTS: [(&str, &str); 2] = [("facp", "acp"), ("fcodex", "codex")];

fn id(v: &Value) -> String {
    v["id"].as_str().expect("session id").to_string()
}

fn wait_busy(env: &Env, sid: &str) {
    wait_until("the turn to be running", || {
        env.show_doc(sid)["state"] == "busy"
    });
}

/// Starts `text` on `key` with `agent` and waits until its turn runs; returns the prompt
/// and its session id.
fn running(env: &Env, agent: &str, key: &str, text: &str) -> (Running, String) {
    let mut p = env.spawn_prompt(&["-a", agent, "--key", key, text]);
    let sid = id(&p.wait_session());
    wait_busy(env, &sid);
    (p, sid)
}

fn assert_cancelled(p: Running) {
    let (events, rc, stderr) = p.finish();
    assert_eq!(rc, 0, "a cancelled turn is a success: {events:#?} {stderr}");
    let last = events.last().expect("events");
    assert_eq!(last["stop_reason"], "cancelled", "{events:#?}");
}

#[test]
fn sessions_in_two_cwds_share_one_process_and_keep_their_own_cwd_and_history() {
    let mut env = Env::with_config(&config(""));
    env.start_daemon();
    for (agent, protocol) in AGENTS {
        let dirs = [
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir().expect("tempdir"),
        ];
        let cwd: Vec<String> = dirs
            .iter()
            .map(|d| d.path().to_string_lossy().to_string())
            .collect();
        let a = ["-a", agent, "-C", &cwd[0], "--key", "a"];
        let b = ["-a", agent, "-C", &cwd[1], "--key", "b"];
        let (sa, ra) = env.prompt_session_ok(&[&a[..], &["one"]].concat());
        let (sb, rb) = env.prompt_session_ok(&[&b[..], &["uno"]].concat());
        let ra2 = env.prompt_ok(&[&a[..], &["two"]].concat());
        assert_eq!(ra["output"], "ECHO[turns=1]: one", "{agent}");
        assert_eq!(
            rb["output"], "ECHO[turns=1]: uno",
            "{agent}: its own history"
        );
        assert_eq!(
            ra2["output"], "ECHO[turns=2]: two",
            "{agent}: its own history"
        );
        assert_eq!(env.fake_starts(protocol).len(), 1, "{agent}: one process");
        let (pa, pb) = (env.session_pid(&id(&sa)), env.session_pid(&id(&sb)));
        assert_eq!(pa, pb, "{agent}: both sessions on one process");
        for (r, cwd) in [(&ra, &cwd[0]), (&rb, &cwd[1])] {
            let native = r["native_id"].as_str().expect("native id");
            assert_eq!(
                &env.fake_history(native)["cwd"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                cwd,
                "{agent}: its own cwd"
            );
        }
        let listed = env.sessions_doc();
        let shared: Vec<&Value> = listed.iter().filter(|s| s["agent"] == agent).collect();
        assert_eq!(shared.len(), 2, "{listed:#?}");
        assert!(shared.iter().all(|s| s["shared"] == true), "{listed:#?}");
        // Ending one session leaves the other's process and conversation.
        let out = env.cap(&["end", &id(&sa)]);
        assert_eq!(code(&out), 0, "{}", text(&out.stderr));
        let rb2 = env.prompt_ok(&[&b[..], &["dos"]].concat());
        assert_eq!(rb2["output"], "ECHO[turns=2]: dos", "{agent}");
        assert!(
            alive(pb),
            "{agent}: the process stays for the other session"
        );
        let out = env.cap(&["end", &id(&sb)]);
        assert_eq!(code(&out), 0, "{}", text(&out.stderr));
        wait_until("the process to end with its last session", || !alive(pb));
    }
    let status = env.cap_doc(&["daemon", "status"]);
    assert_eq!(status["agent_processes"], 0, "{status:#}");
}

#[test]
fn status_counts_sessions_and_processes_apart() {
    let mut env = Env::with_config(&config(""));
    env.start_daemon();
    for key in ["a", "b", "c"] {
        env.prompt_ok(&["-a", "facp", "--key", key, "hi"]);
    }
    env.prompt_ok(&["-a", "fcodex", "--key", "d", "hi"]);
    let status = env.cap_doc(&["daemon", "status"]);
    assert_eq!(status["sessions"], 4, "{status:#}");
    assert_eq!(status["agent_processes"], 2, "{status:#}");
    let shown = text(&env.cap(&["daemon", "status"]).stdout);
    assert!(
        shown.contains("4 live (0 busy, 0 parked) in 2 agent process(es)"),
        "{shown}"
    );
    let listed = text(&env.cap(&["sessions"]).stdout);
    assert!(listed.contains(" shared "), "{listed}");
    // Stopping the daemon ends the shared processes, their helpers with them.
    let pids: Vec<u32> = env
        .sessions_doc()
        .iter()
        .filter_map(|s| s["pid"].as_u64())
        .map(|p| p as u32)
        .collect();
    env.stop_daemon();
    for pid in pids {
        wait_until("the shared process to end with the daemon", || !alive(pid));
    }
}

#[test]
fn a_cancel_on_one_session_leaves_the_other_turn_complete() {
    let mut env = Env::with_config(&config(""));
    env.vars.push(("FAKE_SLOW_MS".into(), "400".into()));
    env.start_daemon();
    for (agent, _) in AGENTS {
        let (hung, sa) = running(&env, agent, "a", "HANG");
        let mut slow = env.spawn_prompt(&["-a", agent, "--key", "b", "SLOW"]);
        let sb = id(&slow.wait_session());
        slow.wait_for("the first chunk", |v| v["type"] == "text");
        assert_eq!(
            env.session_pid(&sa),
            env.session_pid(&sb),
            "{agent}: shared"
        );
        let out = env.cap(&["cancel", &sa]);
        assert_eq!(code(&out), 0, "{}", text(&out.stderr));
        assert_cancelled(hung);
        let (events, rc, stderr) = slow.finish();
        assert_eq!(rc, 0, "{agent}: {events:#?} {stderr}");
        assert_eq!(result_output(&events), "ECHO[turns=1]: SLOW", "{agent}");
        let last = events.last().expect("events");
        assert_eq!(last["stop_reason"], "end_turn", "{agent}: {last:#}");
        assert!(
            status_kinds(&events).is_empty(),
            "{agent}: untouched: {events:#?}"
        );
        for sid in [sa, sb] {
            assert_eq!(code(&env.cap(&["end", &sid])), 0);
        }
    }
}

#[test]
fn a_crash_resumes_every_session_and_retries_each_interrupted_turn_once() {
    let mut env = Env::with_config(&config(""));
    env.start_daemon();
    for (agent, protocol) in AGENTS {
        let (mut hung, sb) = running(&env, agent, "b", "HANG");
        let old = env.session_pid(&sb);
        // Session a's turn takes the shared process down; b's running turn with it.
        let (events, rc) = env.prompt_json(&["-a", agent, "--key", "a", "CRASHONCE"]);
        assert_eq!(rc, 0, "{agent}: {events:#?}");
        assert_eq!(
            result_output(&events),
            "ECHO[turns=2]: CRASHONCE",
            "{agent}"
        );
        assert!(
            status_kinds(&events).contains(&"respawn".into()),
            "{events:#?}"
        );
        hung.wait_for("b's respawn notice", |v| {
            v["type"] == "status" && v["kind"] == "respawn"
        });
        // b's turn was sent again, on the new process, by resume.
        wait_busy(&env, &sb);
        let sa = id(session_event(&events));
        let new = env.session_pid(&sb);
        assert_ne!(new, old, "{agent}");
        assert_eq!(
            env.session_pid(&sa),
            new,
            "{agent}: both on the new process"
        );
        assert_eq!(
            env.fake_starts(protocol).len(),
            2,
            "{agent}: one new process"
        );
        assert!(!alive(old));
        assert_eq!(code(&env.cap(&["cancel", &sb])), 0);
        assert_cancelled(hung);
        let r = env.prompt_ok(&["-a", agent, "--key", "b", "after"]);
        assert_eq!(
            r["output"], "ECHO[turns=3]: after",
            "{agent}: b's history kept"
        );
        for sid in [sa, sb] {
            assert_eq!(code(&env.cap(&["end", &sid])), 0);
        }
    }
}

#[test]
fn a_turn_that_ignores_cancel_kills_the_process_and_its_neighbours_resume_told_why() {
    let mut env = Env::with_config(&config("cancel_grace = 1"));
    env.start_daemon();
    for (agent, _) in AGENTS {
        let (mut neighbour, sb) = running(&env, agent, "b", "HANG");
        let (stuck, sa) = running(&env, agent, "a", "HANGNOINT");
        let old = env.session_pid(&sa);
        assert_eq!(env.session_pid(&sb), old, "{agent}: shared");
        assert_eq!(code(&env.cap(&["cancel", &sa])), 0);
        assert_cancelled(stuck);
        let notice = neighbour.wait_for("b's notice", |v| {
            v["type"] == "status" && v["kind"] == "respawn"
        });
        let message = notice["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("shared process was killed")
                && message.contains(&format!("a turn of session {sa} did not stop")),
            "{agent}: {notice:#}"
        );
        wait_until("the stuck process to be killed", || !alive(old));
        wait_busy(&env, &sb);
        assert_ne!(
            env.session_pid(&sb),
            old,
            "{agent}: b's turn retried on a new process"
        );
        assert_eq!(code(&env.cap(&["cancel", &sb])), 0);
        assert_cancelled(neighbour);
        // The stuck session's next prompt is told, and runs on the resumed conversation.
        let (events, rc) = env.prompt_json(&["-a", agent, "--key", "a", "next"]);
        assert_eq!(rc, 0, "{events:#?}");
        assert_eq!(result_output(&events), "ECHO[turns=2]: next", "{agent}");
        assert!(
            status_kinds(&events).contains(&"respawn".into()),
            "{events:#?}"
        );
        for sid in [sa, sb] {
            assert_eq!(code(&env.cap(&["end", &sid])), 0);
        }
    }
}

#[test]
fn claude_agents_cannot_share_a_process() {
    let env = Env::with_config("[share]\nclaude = true\n");
    let out = env.cap(&["daemon", "start"]);
    assert_ne!(code(&out), 0);
    assert!(
        text(&out.stderr).contains("cannot share a process"),
        "{}",
        text(&out.stderr)
    );
}

/// The status of the last turn the fake agent recorded for `native`.
fn last_turn_status(env: &Env, native: &str) -> String {
    env.fake_history(native)["turns"]
        .as_array()
        .and_then(|t| t.last())
        .and_then(|t| t["status"].as_str())
        .unwrap_or_default()
        .to_string()
}

#[test]
fn ending_a_session_mid_turn_stops_its_turn_in_the_shared_process() {
    let mut env = Env::with_config(&config(""));
    env.start_daemon();
    for (agent, _) in AGENTS {
        let rb = env.prompt_ok(&["-a", agent, "--key", "b", "stay"]);
        let (mut hung, sa) = running(&env, agent, "a", "HANG");
        let native = env.show_doc(&sa)["native_id"]
            .as_str()
            .expect("native id")
            .to_string();
        wait_until("the agent to run a's turn", || {
            last_turn_status(&env, &native) == "running"
        });
        assert_eq!(code(&env.cap(&["end", &sa])), 0);
        hung.wait_for("the ended turn's error", |v| v["type"] == "error");
        // The process lives on for b, and a's turn no longer runs in it.
        wait_until("the agent to stop a's turn", || {
            last_turn_status(&env, &native) == "interrupted"
        });
        let sb = rb["session"].as_str().expect("session");
        assert!(alive(env.session_pid(sb)), "{agent}");
        let r = env.prompt_ok(&["-a", agent, "--key", "b", "still"]);
        assert_eq!(r["output"], "ECHO[turns=2]: still", "{agent}");
        assert_eq!(code(&env.cap(&["end", sb])), 0);
    }
}

/// What capd wrote to the fake agents, in order.
fn written(env: &Env) -> Vec<Value> {
    env.fake_input()
        .into_iter()
        .map(|entry| entry["line"].clone())
        .collect()
}

#[test]
fn a_session_that_leaves_a_shared_process_is_freed_in_the_agent() {
    let mut env = Env::with_config(&config(""));
    env.start_daemon();
    for (agent, close, field) in [
        ("facp", "session/close", "sessionId"),
        ("fcodex", "thread/unsubscribe", "threadId"),
    ] {
        let ra = env.prompt_ok(&["-a", agent, "--key", "a", "hi"]);
        let rb = env.prompt_ok(&["-a", agent, "--key", "b", "hi"]);
        let native = ra["native_id"].as_str().expect("native id");
        let closes = |env: &Env| -> Vec<Value> {
            written(env)
                .into_iter()
                .filter(|l| l["method"] == close)
                .map(|l| l["params"][field].clone())
                .collect()
        };
        assert!(closes(&env).is_empty(), "{agent}");
        let sa = ra["session"].as_str().expect("session");
        assert_eq!(code(&env.cap(&["end", sa])), 0);
        wait_until("the close to reach the agent", || !closes(&env).is_empty());
        assert_eq!(closes(&env), vec![Value::from(native)], "{agent}: only a's");
        let sb = rb["session"].as_str().expect("session");
        assert_eq!(code(&env.cap(&["end", sb])), 0);
        std::fs::remove_file(env.fake_home.join("input.jsonl")).expect("reset the input log");
    }
}

#[test]
fn a_shared_process_counts_once_and_goes_when_its_idle_sessions_are_evicted_for_memory() {
    // One 64 MiB process hosts both sessions: counted once it fits under 100 MiB, and over
    // 50 MiB it is freed only by evicting both, whose records stay.
    let fake = bin("cap-fake-agent");
    let agent = |limit: &str| {
        format!(
            "max_agent_memory = \"{limit}\"\n[agents.heavy]\nprotocol = \"acp\"\ncommand = \"{}\"\nargs = [\"acp\"]\nshare = true\nenv = {{ FAKE_BALLAST_MB = \"64\" }}\n",
            fake.display()
        )
    };
    let mut env = Env::with_config(&agent("100MiB"));
    env.start_daemon();
    env.prompt_ok(&["-a", "heavy", "--key", "a", "one"]);
    let rb = env.prompt_ok(&["-a", "heavy", "--key", "b", "uno"]);
    let sb = rb["session"].as_str().expect("session").to_string();
    wait_until("a measurement", || {
        env.cap_doc(&["daemon", "status"])["agent_memory"]
            .as_u64()
            .is_some_and(|m| m >= 64 << 20)
    });
    let status = env.cap_doc(&["daemon", "status"]);
    let total = status["agent_memory"].as_u64().unwrap_or_default();
    assert!(
        total < 128 << 20,
        "the shared process counted once: {status:#}"
    );
    for s in env.sessions_doc() {
        assert!(
            s["memory"].as_u64().unwrap_or_default() >= 64 << 20,
            "each session shows the whole process: {s:#}"
        );
    }
    assert_eq!(env.session_ids().len(), 2, "both fit");

    let pid = env.session_pid(&sb);
    env.set_config(&agent("50MiB"));
    env.restart_daemon();
    env.prompt_ok(&["-a", "heavy", "--key", "a", "two"]);
    env.prompt_ok(&["-a", "heavy", "--key", "b", "dos"]);
    let pid2 = env.session_pid(&env.session_ids()[0]);
    assert!(!alive(pid), "the restart ended the old process");
    wait_until("both idle sessions to be evicted", || {
        env.session_ids().is_empty()
    });
    wait_until("the process to go with its last session", || !alive(pid2));
    let r = env.prompt_ok(&["-a", "heavy", "--key", "b", "tres"]);
    assert_eq!(r["output"], "ECHO[turns=3]: tres", "b's record kept");
}
