//! Prewarmed spares (`[prewarm]`): agent processes started and initialized ahead of need. A
//! new key's session opens on one, in the key's own cwd, and the spare is refilled; spares
//! never push sessions over `max_sessions`; Claude agents cannot be prewarmed.

use cap_tests::*;
use serde_json::Value;

/// Fake Codex and ACP agents, with `prewarm` as the `[prewarm]` table's body.
fn config(extra: &str, prewarm: &str) -> String {
    let fake = bin("cap-fake-agent");
    format!(
        "{extra}\n[agents.fcodex]\nprotocol = \"codex-app-server\"\ncommand = \"{f}\"\nargs = [\"app-server\"]\n\
         [agents.facp]\nprotocol = \"acp\"\ncommand = \"{f}\"\nargs = [\"acp\"]\n\
         [prewarm]\n{prewarm}\n",
        f = fake.display()
    )
}

fn spares(env: &Env) -> u64 {
    env.cap_doc(&["daemon", "status"])["spares"]
        .as_u64()
        .unwrap_or_default()
}

#[test]
fn a_new_key_opens_on_a_spare_in_its_own_cwd_and_the_spare_is_refilled() {
    let mut env = Env::with_config(&config("", "fcodex = 1\nfacp = 1"));
    env.start_daemon();
    wait_until("both spares to be ready", || spares(&env) == 2);
    for (agent, protocol) in [("facp", "acp"), ("fcodex", "codex")] {
        let before = env.fake_starts(protocol);
        assert_eq!(before.len(), 1, "{agent}: one spare started: {before:?}");
        let dir = tempfile::tempdir().expect("tempdir");
        let cwd = dir.path().to_string_lossy().to_string();
        let (s, r) = env.prompt_session_ok(&["-a", agent, "-C", &cwd, "--key", agent, "one"]);
        assert_eq!(r["output"], "ECHO[turns=1]: one", "{agent}");
        let pid = env.session_pid(s["id"].as_str().expect("id"));
        assert_eq!(
            u64::from(pid),
            before[0],
            "{agent}: the session runs on the spare"
        );
        let native = r["native_id"].as_str().expect("native id");
        assert_eq!(
            env.fake_history(native)["cwd"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            cwd,
            "{agent}: the agent got the key's cwd"
        );
        // The next turn is on the same warm session.
        let r = env.prompt_ok(&["-a", agent, "-C", &cwd, "--key", agent, "two"]);
        assert_eq!(r["output"], "ECHO[turns=2]: two", "{agent}");
        wait_until("the spare to be refilled", || {
            env.fake_starts(protocol).len() == 2 && spares(&env) == 2
        });
    }
}

#[test]
fn spares_give_way_to_sessions_at_the_session_limit() {
    let mut env = Env::with_config(&config("max_sessions = 2", "facp = 2"));
    env.start_daemon();
    wait_until("two spares", || spares(&env) == 2);
    let spare_pids = env.fake_starts("acp");
    env.prompt_ok(&["--key", "a", "one"]);
    assert_eq!(spares(&env), 1, "one spare made room for the session");
    env.prompt_ok(&["--key", "b", "one"]);
    assert_eq!(spares(&env), 0);
    assert_eq!(
        env.session_ids().len(),
        2,
        "no session was evicted for a spare"
    );
    for pid in spare_pids {
        let pid = u32::try_from(pid).expect("pid");
        wait_until("the dropped spare's process to end", || !alive(pid));
    }
    // Nothing is refilled while sessions fill the limit.
    assert_eq!(env.fake_starts("acp").len(), 2);
}

#[test]
fn a_claude_agent_cannot_be_prewarmed() {
    let env = Env::with_config("[prewarm]\nclaude = 1");
    let out = env.cap(&["daemon", "start"]);
    let err = text(&out.stderr);
    assert_eq!(code(&out), 6, "{err}");
    assert!(err.contains("cannot be prewarmed"), "{err}");
}

#[test]
fn a_taken_spare_is_refilled_only_after_the_first_turn_it_serves() {
    let mut env = Env::with_config(&config("", "facp = 1"));
    env.vars.push(("FAKE_SLOW_MS".into(), "100".into()));
    env.start_daemon();
    wait_until("the spare", || spares(&env) == 1);
    let r = env.prompt_ok(&["-a", "facp", "--key", "k", "SLOW"]);
    wait_until("the refill", || env.fake_starts("acp").len() == 2);
    let native = r["native_id"].as_str().expect("native id");
    let turn_ended = env.fake_history(native)["updated_ms"]
        .as_u64()
        .expect("the turn's end");
    let refill_started = env
        .invocations()
        .iter()
        .filter(|i| i["protocol"] == "acp")
        .filter_map(|i| i["ts_ms"].as_u64())
        .nth(1)
        .expect("the refill's start");
    // Started beside the turn, the refill would slow the prompt the spare was there for.
    assert!(
        refill_started >= turn_ended,
        "the refill started {} ms before the turn ended",
        turn_ended - refill_started
    );
}

#[test]
fn a_spare_opens_and_closes_a_session_of_its_own_before_it_serves_a_key() {
    let mut env = Env::with_config(&config("", "fcodex = 1\nfacp = 1"));
    env.start_daemon();
    wait_until("both spares", || spares(&env) == 2);
    let written = || -> Vec<Value> {
        env.fake_input()
            .into_iter()
            .map(|e| e["line"].clone())
            .collect()
    };
    let methods = |lines: &[Value]| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l["method"].as_str().map(str::to_string))
            .collect()
    };
    for (open, close) in [
        ("session/new", "session/close"),
        ("thread/start", "thread/unsubscribe"),
    ] {
        wait_until("the warm-up to be over", || {
            methods(&written()).contains(&close.to_string())
        });
        let lines = written();
        let opened = lines
            .iter()
            .find(|l| l["method"] == open)
            .expect("the warm-up");
        let cwd = opened["params"]["cwd"].as_str().unwrap_or_default();
        assert!(
            cwd.ends_with("spares"),
            "in the spares' own directory: {opened:#}"
        );
    }
    // The key's session is another one, in the key's cwd.
    let r = env.prompt_ok(&["-a", "facp", "--key", "k", "one"]);
    assert_eq!(r["output"], "ECHO[turns=1]: one");
    // Counted on the spare's own process: the refill that follows warms up one of its own.
    let pid = env.session_pid(r["session"].as_str().expect("session"));
    let news = env
        .fake_input()
        .into_iter()
        .filter(|e| e["pid"] == pid && e["line"]["method"] == "session/new")
        .count();
    assert_eq!(news, 2, "the warm-up's session and the key's");
}
