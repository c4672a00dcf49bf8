//! SPEC §2 idle GC: the periodic sweep ends idle and parked sessions, never busy ones, and
//! keeps their records so the key's next prompt resumes transparently.

use cap_tests::*;
use serde_json::Value;

fn ok(env: &Env, args: &[&str]) -> (Value, Value) {
    env.prompt_session_ok(args)
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("session id").to_string()
}

#[test]
fn idle_sweep_ends_idle_sessions_and_the_key_resumes_transparently() {
    let mut env = Env::with_config("idle_timeout = 1");
    env.start_daemon();
    let (s, r) = ok(&env, &["one"]);
    let native = r["native_id"].as_str().unwrap().to_string();
    let pid = env.session_pid(&id(&s));
    wait_until("the idle sweep to end the session", || {
        env.session_ids().is_empty()
    });
    wait_until("the swept agent to exit", || !alive(pid));

    let (s2, r) = ok(&env, &["two"]);
    assert_eq!(s2["how"], "resumed");
    assert_eq!(
        r["output"], "ECHO[turns=2]: two",
        "context survived the sweep"
    );
    assert_eq!(r["native_id"], native);
    assert!(has_pair(
        env.invocations().last().unwrap(),
        "--resume",
        &native
    ));
}

#[test]
fn idle_sweep_also_frees_parked_sessions_and_keeps_their_records() {
    let mut env = Env::with_config("idle_timeout = 1");
    env.start_daemon();
    ok(&env, &["--key", "k", "--agent", "claude", "c one"]);
    ok(&env, &["--key", "k", "--agent", "other", "o one"]);
    wait_until("the sweep to end both sessions", || {
        env.session_ids().is_empty()
    });
    let keys = env.keys_doc();
    assert!(keys["parked"].as_array().unwrap().is_empty(), "{keys:#}");
    assert_eq!(keys["records"].as_array().unwrap().len(), 2, "{keys:#}");

    let (s, r) = ok(&env, &["--key", "k", "o two"]);
    assert_eq!(s["agent"], "other");
    assert_eq!(s["how"], "resumed");
    assert_eq!(r["output"], "ECHO[turns=2]: o two");
    let (s, r) = ok(&env, &["--key", "k", "--agent", "claude", "c two"]);
    assert_eq!(s["how"], "resumed");
    assert_eq!(r["output"], "ECHO[turns=2]: c two");
}

#[test]
fn idle_sweep_never_reaps_a_busy_session() {
    let mut env = Env::with_config("idle_timeout = 1");
    env.vars.push(("FAKE_SLOW_MS".into(), "300".into()));
    env.start_daemon();
    let started = std::time::Instant::now();
    let (events, rc) = env.prompt_json(&["SLOW turn"]);
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(2500),
        "the turn should outlast idle_timeout"
    );
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(result_output(&events), "ECHO[turns=1]: SLOW turn");
    assert!(status_kinds(&events).is_empty(), "{events:#?}");
    assert_eq!(env.invocations().len(), 1, "never respawned mid-turn");
}
