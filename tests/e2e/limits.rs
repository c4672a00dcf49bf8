//! SPEC §2 limits: at `max_sessions` the least recently used idle session is evicted (parked
//! ones first) with its record kept, and only a daemon whose sessions are all busy or starting
//! refuses with exit code 7.

use cap_tests::*;
use serde_json::Value;

/// Runs a prompt that must succeed; returns (session event, result event, every event).
fn run(env: &Env, args: &[&str]) -> (Value, Value, Vec<Value>) {
    let events = env.prompt_events_ok(args);
    let last = events.last().cloned().unwrap_or(Value::Null);
    (session_event(&events).clone(), last, events)
}

fn ok(env: &Env, args: &[&str]) -> (Value, Value) {
    env.prompt_session_ok(args)
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("session id").to_string()
}

/// Waits until session `sid` runs a turn.
fn wait_busy(env: &Env, sid: &str) {
    wait_until("the turn to be running", || {
        env.show_doc(sid)["state"] == "busy"
    });
}

#[test]
fn at_the_limit_the_least_recently_used_parked_session_is_evicted() {
    let mut env = Env::with_config("max_sessions = 4");
    env.start_daemon();
    let (c1, _) = ok(&env, &["--key", "k1", "--agent", "claude", "c1"]);
    let c1 = id(&c1);
    let c1_pid = env.session_pid(&c1);
    ok(&env, &["--key", "k1", "--agent", "other", "o1"]); // parks c1
    let (c2, _) = ok(&env, &["--key", "k2", "--agent", "claude", "c2"]);
    let c2 = id(&c2);
    let c2_pid = env.session_pid(&c2);
    ok(&env, &["--key", "k2", "--agent", "other", "o2"]); // parks c2 (later than c1)
    assert_eq!(env.session_ids().len(), 4);

    let (s, r) = ok(&env, &["--key", "k3", "c3"]);
    assert_eq!(s["how"], "opened");
    assert_eq!(r["output"], "ECHO[turns=1]: c3");
    wait_until("the LRU parked session to end", || !alive(c1_pid));
    assert!(alive(c2_pid), "the more recently parked session stays");
    let ids = env.session_ids();
    assert_eq!(ids.len(), 4, "{ids:?}");
    assert!(!ids.contains(&c1) && ids.contains(&c2), "{ids:?}");

    // Eviction keeps the key's record: claude on k1 comes back by resume, with context.
    let (s, r) = ok(&env, &["--key", "k1", "--agent", "claude", "c1 back"]);
    assert_eq!(s["how"], "resumed");
    assert_eq!(r["output"], "ECHO[turns=2]: c1 back");
    wait_until("c2 (now the LRU parked one) to end", || !alive(c2_pid));
}

#[test]
fn at_the_limit_an_idle_bound_session_is_evicted_and_its_key_resumes_it() {
    let mut env = Env::with_config("max_sessions = 2");
    env.start_daemon();
    let (s1, _) = ok(&env, &["--key", "k1", "one"]);
    let pid1 = env.session_pid(&id(&s1));
    ok(&env, &["--key", "k2", "two"]);
    let (_, r, events) = run(&env, &["--key", "k3", "three"]);
    assert_eq!(r["output"], "ECHO[turns=1]: three");
    let evicted: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "status" && e["kind"] == "evicted")
        .collect();
    assert_eq!(evicted.len(), 1, "{events:#?}");
    let message = evicted[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&id(&s1)) && message.contains("k1"),
        "{message}"
    );
    wait_until("the evicted agent to exit", || !alive(pid1));
    assert_eq!(env.session_ids().len(), 2);
    let (s, r) = ok(&env, &["--key", "k1", "again"]);
    assert_eq!(s["how"], "resumed");
    assert_eq!(
        r["output"], "ECHO[turns=2]: again",
        "the conversation goes on"
    );
}

#[test]
fn at_the_limit_with_every_session_busy_the_request_fails_with_7() {
    let mut env = Env::with_config("max_sessions = 2");
    env.start_daemon();
    let mut hang1 = env.spawn_prompt(&["--key", "k1", "HANG"]);
    let s1 = id(&hang1.wait_session());
    wait_busy(&env, &s1);
    let mut hang2 = env.spawn_prompt(&["--key", "k2", "HANG"]);
    let s2 = id(&hang2.wait_session());
    wait_busy(&env, &s2);

    let out = env.cap(&["prompt", "--key", "k3", "three"]);
    assert_eq!(code(&out), 7, "stderr: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("busy") && err.contains("cap end"), "{err}");
    let (events, rc) = env.prompt_json(&["--key", "k3", "three"]);
    assert_eq!(rc, 7);
    let last = events.last().unwrap();
    assert_eq!(last["type"], "error", "{events:#?}");
    assert_eq!(last["code"], "limit", "{last:#}");
    // `cap open` is held to the same limit.
    let out = env.cap(&["open", "--key", "k3"]);
    assert_eq!(code(&out), 7, "stderr: {}", text(&out.stderr));
    assert_eq!(env.session_ids().len(), 2);

    // Once a turn ends its session is idle, and the next new key evicts it.
    let out = env.cap(&["cancel", "--key", "k1"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let (_, rc, _) = hang1.finish();
    assert_eq!(rc, 0);
    let (_, r) = ok(&env, &["--key", "k3", "three"]);
    assert_eq!(r["output"], "ECHO[turns=1]: three");
    hang2.kill();
}

#[test]
fn switching_a_key_to_another_agent_at_the_limit_parks_and_evicts_the_old_one() {
    let mut env = Env::with_config("max_sessions = 1");
    env.start_daemon();
    ok(&env, &["--key", "k", "--agent", "claude", "c1"]);
    let (s, r) = ok(&env, &["--key", "k", "--agent", "other", "o1"]);
    assert_eq!(s["how"], "opened");
    assert_eq!(r["output"], "ECHO[turns=1]: o1");
    let (s, r) = ok(&env, &["--key", "k", "--agent", "claude", "c2"]);
    assert_eq!(
        s["how"], "resumed",
        "the evicted claude session comes back by resume"
    );
    assert_eq!(r["output"], "ECHO[turns=2]: c2");
}

#[test]
fn twenty_repositories_in_turn_under_the_default_limit_all_get_answers() {
    let mut env = Env::new();
    env.start_daemon();
    let base = env.dir.path().join("repos");
    let mut first_sid = String::new();
    for i in 0..20 {
        let repo = base.join(format!("repo{i}"));
        std::fs::create_dir_all(&repo).expect("repo dir");
        let dir = repo.to_string_lossy().to_string();
        let (s, r) = ok(&env, &["-C", &dir, &format!("hello {i}")]);
        assert_eq!(r["output"], format!("ECHO[turns=1]: hello {i}"));
        if i == 0 {
            first_sid = id(&s);
        }
    }
    assert!(env.session_ids().len() <= 8);
    assert!(
        !env.session_ids().contains(&first_sid),
        "the first was evicted"
    );
    let dir = base.join("repo0").to_string_lossy().to_string();
    let (s, r) = ok(&env, &["-C", &dir, "do you remember?"]);
    assert_eq!(s["how"], "resumed");
    assert_eq!(r["output"], "ECHO[turns=2]: do you remember?");
}
