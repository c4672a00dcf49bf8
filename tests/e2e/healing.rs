//! SPEC §2 self-healing and §5 process hygiene: readiness, respawn by resume, retries of
//! crashed and empty turns, fallback to a fresh session, no orphans, the root sandbox flag,
//! garbage and huge output.

use cap_tests::*;
use serde_json::Value;

fn env_with_vars(config: &str, vars: &[(&str, &str)]) -> Env {
    let mut env = Env::with_config(config);
    for (k, v) in vars {
        env.vars.push((k.to_string(), v.to_string()));
    }
    env.start_daemon();
    env
}

#[test]
fn an_agent_that_never_becomes_ready_fails_the_prompt_and_open() {
    let env = env_with_vars("ready_timeout = 1", &[("FAKE_NEVER_READY", "1")]);
    let out = env.cap(&["prompt", "hello"]);
    assert_eq!(code(&out), 1, "stdout: {}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("did not become ready"), "{err}");
    let (events, rc) = env.prompt_json(&["hello"]);
    assert_eq!(rc, 1);
    assert_eq!(events.last().unwrap()["type"], "error", "{events:#?}");

    let out = env.cap(&["open"]);
    assert_eq!(code(&out), 1, "stdout: {}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("did not become ready"), "{err}");

    assert!(env.session_ids().is_empty(), "failed sessions are dropped");
    let invs = env.invocations();
    assert_eq!(invs.len(), 3, "{invs:#?}");
    for inv in &invs {
        let pid = inv["pid"].as_u64().unwrap() as u32;
        wait_until("the unready agent to be killed", || !alive(pid));
    }
}

#[test]
fn a_prompt_sent_while_the_agent_starts_is_buffered_and_answered() {
    let env = env_with_vars("ready_timeout = 5", &[("FAKE_START_DELAY_MS", "700")]);
    let started = std::time::Instant::now();
    let r = env.prompt_ok(&["early bird"]);
    assert_eq!(r["output"], "ECHO[turns=1]: early bird");
    assert!(started.elapsed() >= std::time::Duration::from_millis(700));
    // Two prompts racing the start of one session are both answered, in order.
    let mut a = env.spawn_prompt(&["--key", "k", "first"]);
    a.wait_session();
    let mut b = env.spawn_prompt(&["--key", "k", "second"]);
    b.wait_session();
    let (ea, ra, _) = a.finish();
    let (eb, rb, _) = b.finish();
    assert_eq!((ra, rb), (0, 0), "{ea:#?} {eb:#?}");
    assert_eq!(result_output(&ea), "ECHO[turns=1]: first");
    assert_eq!(result_output(&eb), "ECHO[turns=2]: second");
}

#[test]
fn an_agent_that_crashes_once_is_respawned_by_resume_and_the_prompt_retried() {
    let env = env_with_vars("", &[]);
    let first = env.prompt_ok(&["one"]);
    let native = first["native_id"].as_str().unwrap().to_string();
    let (events, rc) = env.prompt_json(&["CRASHONCE two"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(status_kinds(&events), vec!["respawn"], "{events:#?}");
    // The crashed attempt is in the agent's history, so the retry is turn 3.
    assert_eq!(result_output(&events), "ECHO[turns=3]: CRASHONCE two");
    let invs = env.invocations();
    assert_eq!(invs.len(), 2, "{invs:#?}");
    assert!(has_pair(&invs[1], "--resume", &native), "{:#}", invs[1]);
    assert_eq!(events.last().unwrap()["native_id"], native);
}

#[test]
fn an_agent_that_always_crashes_fails_after_one_retry() {
    let env = env_with_vars("", &[]);
    let (events, rc) = env.prompt_json(&["CRASH"]);
    assert_eq!(rc, 1, "{events:#?}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "error", "{events:#?}");
    assert!(
        last["message"].as_str().unwrap().contains("exited"),
        "{last:#}"
    );
    assert_eq!(status_kinds(&events), vec!["respawn"], "{events:#?}");
    let invs = env.invocations();
    assert_eq!(invs.len(), 2, "one start and exactly one retry: {invs:#?}");
    // The session recovers for the next prompt.
    let (events, rc) = env.prompt_json(&["fine now"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(result_output(&events), "ECHO[turns=3]: fine now");
}

#[test]
fn an_empty_reply_is_resent() {
    let env = env_with_vars("", &[]);
    let (events, rc) = env.prompt_json(&["EMPTYONCE"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(status_kinds(&events), vec!["resend"], "{events:#?}");
    assert_eq!(result_output(&events), "ECHO[turns=2]: EMPTYONCE");
    assert_eq!(env.invocations().len(), 1, "re-sent to the same agent");
}

#[test]
fn an_always_empty_reply_is_resent_twice_then_the_turn_ends() {
    let env = env_with_vars("", &[]);
    let (events, rc) = env.prompt_json(&["EMPTY"]);
    assert_eq!(
        status_kinds(&events),
        vec!["resend", "resend"],
        "{events:#?}"
    );
    let last = events.last().unwrap();
    assert!(
        last["type"] == "result" || last["type"] == "error",
        "{events:#?}"
    );
    if last["type"] == "result" {
        assert_eq!(rc, 0);
        assert_eq!(last["output"], "");
    }
    // Three sends in all: the next turn is the fourth.
    let r = env.prompt_ok(&["next"]);
    assert_eq!(r["output"], "ECHO[turns=4]: next");
}

#[test]
fn resume_falls_back_to_a_fresh_session_when_the_native_one_is_gone() {
    let mut env = env_with_vars("", &[]);
    let first = env.prompt_ok(&["one"]);
    let native = first["native_id"].as_str().unwrap().to_string();
    env.stop_daemon();
    let file = env
        .fake_home
        .join("sessions")
        .join(format!("{native}.json"));
    std::fs::remove_file(&file).expect("the fake's session file");
    env.start_daemon();

    let (events, rc) = env.prompt_json(&["two"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(session_event(&events)["how"], "resumed");
    let kinds = status_kinds(&events);
    assert!(kinds.contains(&"fallback".to_string()), "{events:#?}");
    let fallback = events
        .iter()
        .find(|e| e["kind"] == "fallback")
        .and_then(|e| e["message"].as_str())
        .unwrap();
    assert!(
        fallback.contains(&native),
        "names the lost session: {fallback}"
    );
    assert_eq!(result_output(&events), "ECHO[turns=1]: two");
    let new_native = events.last().unwrap()["native_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new_native, native);
    // The new conversation is the one remembered now.
    let st = env.state_doc();
    assert_eq!(
        st["keys"][&env.key()]["agents"]["claude"]["native_id"],
        new_native,
        "{st:#}"
    );
    let r = env.prompt_ok(&["three"]);
    assert_eq!(r["output"], "ECHO[turns=2]: three");
    assert_eq!(r["native_id"], new_native);
}

#[test]
fn ending_a_session_leaves_no_orphans() {
    let env = env_with_vars("", &[]);
    let r = env.prompt_ok(&["ORPHAN"]);
    let orphan = env.orphan_pid();
    assert!(alive(orphan), "the orphan runs while the session lives");
    let pid = env.session_pid(r["session"].as_str().unwrap());
    let out = env.cap(&["end"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    wait_until("the orphan to be killed", || !alive(orphan));
    assert!(!alive(pid));
}

#[test]
fn stopping_the_daemon_leaves_no_orphans() {
    let mut env = env_with_vars("", &[]);
    env.prompt_ok(&["ORPHAN"]);
    let orphan = env.orphan_pid();
    assert!(alive(orphan));
    env.stop_daemon();
    wait_until("the orphan to be killed", || !alive(orphan));
}

#[test]
fn the_idle_sweep_leaves_no_orphans() {
    let env = env_with_vars("idle_timeout = 1", &[]);
    env.prompt_ok(&["ORPHAN"]);
    let orphan = env.orphan_pid();
    assert!(alive(orphan));
    wait_until("the idle sweep to kill the orphan", || !alive(orphan));
    assert!(env.session_ids().is_empty());
}

#[test]
fn the_agent_gets_is_sandbox_1_as_root() {
    let env = env_with_vars("", &[("IS_SANDBOX", "yes"), ("FAKE_ENFORCE_SANDBOX", "1")]);
    let r = env.prompt_ok(&["sandboxed"]);
    assert_eq!(r["output"], "ECHO[turns=1]: sandboxed");
    let invs = env.invocations();
    let root = nix::unistd::geteuid().is_root();
    let want = if root { Value::from("1") } else { Value::Null };
    assert_eq!(invs[0]["IS_SANDBOX"], want, "{:#}", invs[0]);
}

#[test]
fn garbage_lines_from_the_agent_are_skipped() {
    let env = env_with_vars("", &[]);
    let r = env.prompt_ok(&["GARBAGE"]);
    assert_eq!(r["output"], "ECHO[turns=1]: GARBAGE");
    let r = env.prompt_ok(&["after garbage"]);
    assert_eq!(r["output"], "ECHO[turns=2]: after garbage");
    assert_eq!(env.invocations().len(), 1, "the agent was not restarted");
}

#[test]
fn huge_output_streams_whole() {
    let env = env_with_vars("", &[]);
    let out = env.cap(&["prompt", "HUGE"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.len() > 4_000_000, "only {} bytes", stdout.len());
    assert!(stdout.starts_with("ECHO[turns=1]: HUGE"));
    assert!(
        stdout.trim_end().ends_with("HUGE-END"),
        "ends with: {:?}",
        &stdout[stdout.len().saturating_sub(100)..]
    );
    let r = env.prompt_ok(&["HUGE again"]);
    let output = r["output"].as_str().unwrap();
    assert!(output.len() > 4_000_000 && output.ends_with("HUGE-END"));
}

#[test]
fn a_huge_reply_streams_whole_but_an_attach_catches_up_on_its_first_8_mib_and_is_told() {
    // ACP streams a reply in chunks only (Claude's stream-json repeats it whole at the end,
    // on a line over the limit).
    let acp = format!(
        "[agents.facp]\nprotocol = \"acp\"\ncommand = \"{}\"\nargs = [\"acp\"]\n",
        bin("cap-fake-agent").display()
    );
    let env = env_with_vars(&acp, &[("FAKE_HUGE_BYTES", "20000000")]);
    let out = env.cap(&["prompt", "-a", "facp", "HUGE"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        out.stdout.len() > 20_000_000,
        "only {} bytes",
        out.stdout.len()
    );
    assert!(text(&out.stdout).trim_end().ends_with("HUGE-END"));
    // The finished turn is still the session's backlog: an attach replays it.
    let sid = env.session_ids().pop().expect("the session");
    let mut attach = env.spawn_cap(&["--format", "json", "attach", &sid]);
    let result = attach.wait_for("the replayed result", |v| v["type"] == "result");
    assert_eq!(result["truncated"], true, "{result:#}");
    let mut kept = 0;
    let mut told = None;
    for v in attach
        .seen
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        match v["type"].as_str() {
            Some("text") if told.is_none() => kept += v["delta"].as_str().unwrap_or("").len(),
            Some("text") => panic!("text after the omitted note: {}", v["seq"]),
            Some("status") if v["kind"] == "omitted" => told = Some(v),
            _ => {}
        }
    }
    assert!(
        kept > 7 << 20 && kept <= 8 << 20,
        "the catch-up kept {kept} bytes"
    );
    let told = told.expect("an omitted status event");
    assert!(
        told["message"].as_str().unwrap_or("").contains("8 MiB"),
        "{told:#}"
    );
    attach.kill();
}

#[test]
fn a_crash_on_the_first_turn_after_a_resume_keeps_the_conversation() {
    // After a restart the key resumes its session; the agent then crashes mid-turn. The resume
    // itself worked, so the respawn resumes again instead of starting over.
    let mut env = env_with_vars("", &[]);
    let first = env.prompt_ok(&["one"]);
    let native = first["native_id"].as_str().unwrap().to_string();
    env.restart_daemon();
    let (events, rc) = env.prompt_json(&["CRASHONCE two"]);
    assert_eq!(rc, 0, "{events:#?}");
    let kinds = status_kinds(&events);
    assert!(!kinds.contains(&"fallback".to_string()), "{events:#?}");
    assert_eq!(kinds, vec!["respawn"], "{events:#?}");
    assert_eq!(result_output(&events), "ECHO[turns=3]: CRASHONCE two");
    assert_eq!(events.last().unwrap()["native_id"], native);
}

#[test]
fn an_agent_killed_between_turns_is_resumed_at_the_next_prompt() {
    let env = env_with_vars("", &[]);
    let first = env.prompt_ok(&["one"]);
    let native = first["native_id"].as_str().unwrap().to_string();
    let sid = first["session"].as_str().unwrap().to_string();
    let pid = env.session_pid(&sid);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until("the agent to die", || !alive(pid));
    let (events, rc) = env.prompt_json(&["two"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(
        session_event(&events)["id"],
        sid.as_str(),
        "same daemon session"
    );
    assert_eq!(result_output(&events), "ECHO[turns=2]: two");
    let invs = env.invocations();
    assert_eq!(invs.len(), 2, "{invs:#?}");
    assert!(has_pair(&invs[1], "--resume", &native), "{:#}", invs[1]);
}

#[test]
fn an_agent_error_fails_the_turn_but_not_the_session() {
    let env = env_with_vars("", &[]);
    let (events, rc) = env.prompt_json(&["ERROR"]);
    assert_eq!(rc, 1, "{events:#?}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "error", "{events:#?}");
    assert!(
        last["message"].as_str().unwrap().contains("API Error"),
        "the agent's own words: {last:#}"
    );
    let r = env.prompt_ok(&["after"]);
    assert_eq!(r["output"], "ECHO[turns=2]: after");
    assert_eq!(env.invocations().len(), 1);
}

#[test]
fn an_agent_that_exits_at_start_fails_with_its_stderr() {
    let env = env_with_vars("", &[("FAKE_EXIT_AT_START", "1")]);
    let out = env.cap(&["prompt", "hello"]);
    assert_eq!(code(&out), 1, "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(
        err.contains("FAKE_EXIT_AT_START"),
        "shows the agent's stderr: {err}"
    );
    assert!(env.session_ids().is_empty());
}

#[test]
fn an_agent_mid_turn_dies_with_a_killed_daemon() {
    let mut env = Env::new();
    env.start_daemon();
    // A turn that never ends: the fake agent then ignores its stdin closing.
    let mut p = env.spawn_prompt(&["HANG"]);
    let sid = p.wait_session()["id"].as_str().expect("id").to_string();
    let agent = env.session_pid(&sid);
    assert!(alive(agent));
    let daemon = env.daemon_pid().expect("daemon pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("SIGKILL capd");
    wait_until("the agent to die with its daemon", || !alive(agent));
    p.kill();
}
