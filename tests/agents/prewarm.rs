//! Prewarmed spares with the genuine agents: for every agent cap can prewarm (Codex and the
//! ACP agents), a new key's session opens on the spare, which was started in an empty
//! directory, and still works in the key's own cwd: a command the agent runs lands there.
//! Then the conversation continues on the same process.

use cap_tests::real::real_env;
use cap_tests::*;

fn prewarmed(agent: &str) {
    let mut env = real_env();
    // Commands run without asking, so the cwd they ran in shows; every agent (codex-acp
    // included) runs under approve-all.
    env.amend_config(
        "default_permissions = \"approve-all\"",
        &format!("[prewarm]\n{agent} = 1"),
    );
    env.start_daemon();
    let spare_pid = spare_other_than(&env, agent, None);

    let r1 = env.prompt_ok(&["-a", agent, "RUNCMD touch made_by_the_spare"]);
    let session = r1["session"].as_str().expect("session").to_string();
    assert_eq!(
        u64::from(env.session_pid(&session)),
        spare_pid,
        "{agent}: the session runs on the spare"
    );
    assert!(
        env.work.join("made_by_the_spare").exists(),
        "{agent}: the command ran in the key's cwd ({}): {r1:#}",
        env.work.display()
    );
    let r2 = env.prompt_ok(&["-a", agent, "TURN2 beta"]);
    assert_eq!(r2["session"], session.as_str(), "{agent}: the same session");
    assert!(
        r2["output"]
            .as_str()
            .unwrap_or_default()
            .contains("TURN2 beta"),
        "{agent}: {r2:#}"
    );
    spare_other_than(&env, agent, Some(spare_pid));
}

/// Waits for the one spare's pid, other than `not`. An agent's start under load can take
/// longer than the usual deadline; this one is bounded by capd's ready_timeout (90 s here),
/// after which a failed start is in the daemon's log.
fn spare_other_than(env: &Env, agent: &str, not: Option<u64>) -> u64 {
    let started = std::time::Instant::now();
    loop {
        let pids = env.cap_doc(&["daemon", "status"])["spare_pids"].clone();
        if let Some([pid]) = pids.as_array().map(Vec::as_slice)
            && pid.as_u64() != not
            && let Some(pid) = pid.as_u64()
        {
            return pid;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "{agent}: no spare; daemon log:\n{}",
            env.daemon_log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn codex_opens_on_a_spare() {
    prewarmed("codex");
}

#[test]
fn gemini_opens_on_a_spare() {
    prewarmed("gemini");
}

#[test]
fn opencode_opens_on_a_spare() {
    prewarmed("opencode");
}

#[test]
fn claude_acp_opens_on_a_spare() {
    prewarmed("claude-acp");
}

#[test]
fn codex_acp_opens_on_a_spare() {
    prewarmed("codex-acp");
}
