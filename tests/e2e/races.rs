//! Races (issue "Never lose a conversation, never hang, never leak"): requests that collide on
//! one key or one session, and a daemon stopped under load. Each test ends by checking that
//! the daemon's tables are consistent and that no agent process is left over
//! ([`assert_consistent`], [`assert_no_stray_agents`]).
//!
//! Which request of a race wins is up to the scheduler; the tests assert what must hold
//! whichever does: every client ends (with an answer or a clear error, never a hang), exactly
//! one session holds the key, and every other session's agent is gone.

use cap_tests::*;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};

// ---------------------------------------------------------------------------------------------
// Checks shared with chaos.rs and misbehave.rs
// ---------------------------------------------------------------------------------------------

/// Whether `pid` is a live process of this test's fake agent (the agent or one of its
/// helpers). Pids are reused quickly on a busy machine (pid_max is often 32768), so a bare
/// "does the pid exist" could be fooled by a stranger; the fake's processes carry the test's
/// own `FAKE_AGENT_HOME` in their environment.
pub(crate) fn agent_alive(env: &Env, pid: u32) -> bool {
    if !alive(pid) {
        return false;
    }
    let want = format!("FAKE_AGENT_HOME={}", env.fake_home.display());
    match std::fs::read(format!("/proc/{pid}/environ")) {
        Ok(bytes) => bytes.split(|b| *b == 0).any(|v| v == want.as_bytes()),
        // Gone between the two reads.
        Err(_) => false,
    }
}

/// Every agent process the fake has logged a start of.
pub(crate) fn started_pids(env: &Env) -> Vec<u32> {
    env.invocations()
        .iter()
        .map(|inv| inv["pid"].as_u64().expect("invocation pid") as u32)
        .collect()
}

/// The agent pids of the live sessions.
pub(crate) fn live_pids(env: &Env) -> HashSet<u32> {
    env.sessions_doc()
        .iter()
        .filter_map(|s| s["pid"].as_u64())
        .map(|p| p as u32)
        .collect()
}

/// Every agent started in this environment that no live session owns is gone (ending a
/// session kills its process group asynchronously in some paths, so this waits).
pub(crate) fn assert_no_stray_agents(env: &Env) {
    let live = live_pids(env);
    for pid in started_pids(env) {
        if !live.contains(&pid) {
            wait_until(
                &format!("agent {pid} of an ended session to be gone"),
                || !agent_alive(env, pid),
            );
        }
    }
    for pid in &live {
        assert!(
            agent_alive(env, *pid),
            "a live session's agent {pid} is gone"
        );
    }
}

/// The daemon's tables agree with themselves and with the state file:
///
/// - every binding and every parked entry names a live session of the right agent;
/// - the record of such a (key, agent) holds that session's native id, so a restart would
///   resume the very conversation the key leads to now;
/// - `state.json` holds exactly the records `cap keys` shows, with the same current agent
///   and the parked flags of the suspended pool.
pub(crate) fn assert_consistent(env: &Env) {
    let sessions: HashMap<String, Value> = env
        .sessions_doc()
        .into_iter()
        .map(|s| (s["id"].as_str().expect("id").to_string(), s))
        .collect();
    let keys = env.keys_doc();
    let records: HashMap<(String, String), Value> = keys["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            let k = r["key"].as_str().expect("key").to_string();
            let a = r["agent"].as_str().expect("agent").to_string();
            ((k, a), r.clone())
        })
        .collect();
    let mut parked = BTreeSet::new();
    for (what, list) in [("binding", &keys["bindings"]), ("parked", &keys["parked"])] {
        for b in list.as_array().expect("list") {
            let key = b["key"].as_str().expect("key").to_string();
            let sid = b["session"].as_str().expect("session");
            let s = sessions
                .get(sid)
                .unwrap_or_else(|| panic!("{what} {b} names no live session: {keys:#}"));
            let agent = s["agent"].as_str().expect("agent").to_string();
            if what == "parked" {
                assert_eq!(b["agent"], s["agent"], "{b}");
                parked.insert((key.clone(), agent.clone()));
            }
            if let Some(native) = s["native_id"].as_str() {
                let rec = records
                    .get(&(key.clone(), agent.clone()))
                    .unwrap_or_else(|| panic!("{what} {b} has no record: {keys:#}"));
                assert_eq!(
                    rec["native_id"], native,
                    "the record of {key} must name the conversation the key leads to: {keys:#}"
                );
            }
        }
    }
    let from_keys: BTreeSet<String> = records
        .iter()
        .map(|((k, a), r)| {
            let p = parked.contains(&(k.clone(), a.clone()));
            format!(
                "{k} {a} {} {} {} {p}",
                r["native_id"], r["cwd"], r["current"]
            )
        })
        .collect();
    let state = env.state_doc();
    let mut from_state = BTreeSet::new();
    if let Some(map) = state["keys"].as_object() {
        for (k, rec) in map {
            for (a, r) in rec["agents"].as_object().into_iter().flatten() {
                let current = rec["current"].as_str() == Some(a.as_str());
                from_state.insert(format!(
                    "{k} {a} {} {} {current} {}",
                    r["native_id"],
                    r["cwd"],
                    r["parked"].as_bool().unwrap_or(false)
                ));
            }
        }
    }
    assert_eq!(
        from_state, from_keys,
        "state.json and `cap keys` disagree\nstate: {state:#}\nkeys: {keys:#}"
    );
}

/// The key's binding, if any: (session id, agent).
fn binding(env: &Env, key: &str) -> Option<String> {
    env.keys_doc()["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .find(|b| b["key"] == key)
        .map(|b| b["session"].as_str().expect("session").to_string())
}

/// A client's outcome: an answer (exit 0 ending in `result`) or a clear error (exit 1 ending
/// in `error` with a message). Returns whether it was an answer.
fn answered_or_failed_clearly(events: &[Value], rc: i32, stderr: &str) -> bool {
    let last = events.last().cloned().unwrap_or(Value::Null);
    match rc {
        0 => {
            assert_eq!(last["type"], "result", "{events:#?} {stderr}");
            true
        }
        1 => {
            assert_eq!(last["type"], "error", "{events:#?} {stderr}");
            let msg = last["message"].as_str().unwrap_or_default();
            assert!(msg.len() > 10, "an error that says something: {last:#}");
            false
        }
        other => panic!("exit {other}: {events:#?} {stderr}"),
    }
}

// ---------------------------------------------------------------------------------------------
// D1: the reproductions of the hangs
// ---------------------------------------------------------------------------------------------

#[test]
fn ending_a_key_while_its_agent_starts_fails_the_waiting_prompt() {
    let mut env = Env::new();
    env.vars.push(("FAKE_START_DELAY_MS".into(), "1500".into()));
    env.start_daemon();
    let p = env.spawn_prompt(&["--timeout", "3", "--key", "s", "hi"]);
    // No event announces a session before its agent is ready, so wait for what the start
    // leaves behind: the key's binding, and the agent's own record of being started.
    let mut sid = None;
    wait_until("the key to be bound and the agent to be starting", || {
        sid = binding(&env, "s");
        sid.is_some() && !env.invocations().is_empty()
    });
    let sid = sid.expect("bound");
    let agent = started_pids(&env)[0];
    let out = env.cap(&["end", "--key", "s"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&sid), "{}", text(&out.stdout));

    let (events, rc, stderr) = p.finish();
    assert_eq!(rc, 1, "an error, not the timeout (3): {events:#?} {stderr}");
    let last = events.last().expect("an event");
    assert_eq!(last["type"], "error", "{events:#?}");
    assert!(
        last["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ended"),
        "says the session was ended: {last:#}"
    );
    assert!(
        events_of(&events, "result").is_empty(),
        "the prompt never ran: {events:#?}"
    );
    wait_until("the starting agent to be killed", || {
        !agent_alive(&env, agent)
    });
    assert!(env.session_ids().is_empty());
    assert_eq!(binding(&env, "s"), None);
    assert_consistent(&env);
}

/// Ten `cap prompt --new` on one key at once: each replaces the key's session, so the earlier
/// ones lose theirs; every client still ends, and one session holds the key at the end.
fn new_sessions_race(env: &Env, key: &str, text: &str) -> usize {
    let clients: Vec<Running> = (0..10)
        .map(|_| env.spawn_prompt(&["--new", "--key", key, text]))
        .collect();
    let mut answered = 0;
    for p in clients {
        let (events, rc, stderr) = p.finish();
        if answered_or_failed_clearly(&events, rc, &stderr) {
            answered += 1;
            assert_eq!(
                result_output(&events),
                format!("ECHO[turns=1]: {text}"),
                "every answer comes from a fresh session"
            );
        }
    }
    answered
}

#[test]
fn ten_concurrent_new_prompts_on_one_key_all_end_and_leave_one_session() {
    let mut env = Env::with_config("max_sessions = 16");
    env.start_daemon();
    let answered = new_sessions_race(&env, "N", "x");
    assert!(answered >= 1, "the last session to take the key answers");
    let ids = env.session_ids();
    assert_eq!(ids.len(), 1, "only the key's session is left: {ids:?}");
    assert_eq!(binding(&env, "N").as_deref(), Some(ids[0].as_str()));
    assert_consistent(&env);
    assert_no_stray_agents(&env);
    // The key works on, in the session that holds it.
    let r = env.prompt_ok(&["--key", "N", "after"]);
    assert_eq!(r["session"], ids[0].as_str());
    assert_eq!(r["output"], "ECHO[turns=2]: after");
}

// ---------------------------------------------------------------------------------------------
// Races
// ---------------------------------------------------------------------------------------------

#[test]
fn ending_a_key_while_its_prompt_runs_fails_the_prompt_and_kills_the_agent() {
    let mut env = Env::new();
    env.start_daemon();
    let warm = env.prompt_ok(&["--key", "k", "one"]);
    let sid = warm["session"].as_str().expect("session").to_string();
    let pid = env.session_pid(&sid);
    let mut p = env.spawn_prompt(&["--key", "k", "STALLONCE two"]);
    p.wait_for("the turn to stream", |v| v["type"] == "text");
    let mut queued = env.spawn_prompt(&["--key", "k", "three"]);
    queued.wait_session();

    let out = env.cap(&["end", "--key", "k"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    // `cap end` returns once the process group is gone.
    assert!(!agent_alive(&env, pid), "the agent outlived `cap end`");

    for (what, client) in [("running", p), ("queued", queued)] {
        let (events, rc, stderr) = client.finish();
        assert_eq!(rc, 1, "{what}: {events:#?} {stderr}");
        assert_eq!(
            events.last().unwrap()["type"],
            "error",
            "{what}: {events:#?}"
        );
    }
    assert!(env.session_ids().is_empty());
    assert_consistent(&env);
    assert_no_stray_agents(&env);
    // `cap end` forgot the key: the next prompt starts a fresh conversation.
    let (events, rc) = env.prompt_json(&["--key", "k", "fresh"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(session_event(&events)["how"], "opened");
    assert_eq!(result_output(&events), "ECHO[turns=1]: fresh");
}

#[test]
fn twenty_concurrent_binds_of_one_key_leave_one_binding_and_no_orphans() {
    let mut env = Env::with_config("max_sessions = 24");
    env.start_daemon();
    let mut ids = Vec::new();
    for i in 0..20 {
        let out = env.cap(&[
            "--format",
            "quiet",
            "open",
            "--new",
            "--no-bind",
            "--key",
            &format!("o{i}"),
        ]);
        assert_eq!(code(&out), 0, "{}", text(&out.stderr));
        ids.push(text(&out.stdout).trim().to_string());
    }
    assert_eq!(env.session_ids().len(), 20);
    let binds: Vec<Running> = ids
        .iter()
        .map(|sid| env.spawn_cap(&["bind", "B", sid]))
        .collect();
    let mut won = 0;
    for b in binds {
        let (_, rc, stderr) = b.finish();
        // A bind whose session a concurrent bind had already replaced finds it gone.
        match rc {
            0 => won += 1,
            4 => assert!(stderr.contains("no live session"), "{stderr}"),
            other => panic!("bind exited {other}: {stderr}"),
        }
    }
    assert!(won >= 1);
    // Rebinding a key to a new session of the same agent ends the old one: only the last
    // bound session is left.
    let bound = binding(&env, "B").expect("B is bound");
    assert_eq!(env.session_ids(), vec![bound.clone()]);
    assert_consistent(&env);
    assert_no_stray_agents(&env);
    let r = env.prompt_ok(&["--key", "B", "who holds B?"]);
    assert_eq!(r["session"], bound.as_str());
}

#[test]
fn ten_concurrent_new_prompts_mid_turn_replace_each_other_cleanly() {
    // Like the D1 reproduction, but every replaced session is busy streaming a turn.
    let mut env = Env::with_config("max_sessions = 16");
    env.vars.push(("FAKE_SLOW_MS".into(), "50".into()));
    env.start_daemon();
    let answered = new_sessions_race(&env, "M", "SLOW racing");
    assert!(answered >= 1);
    let ids = env.session_ids();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(binding(&env, "M").as_deref(), Some(ids[0].as_str()));
    assert_consistent(&env);
    assert_no_stray_agents(&env);
}

#[test]
fn stopping_the_daemon_while_ten_prompts_stream_ends_every_client_and_agent() {
    let mut env = Env::with_config("max_sessions = 16");
    env.start_daemon();
    let mut clients = Vec::new();
    for i in 0..10 {
        let mut p = env.spawn_prompt(&["--key", &format!("k{i}"), &format!("STALLONCE {i}")]);
        p.wait_for("the turn to stream", |v| v["type"] == "text");
        clients.push(p);
    }
    // And one queued behind a streaming turn.
    let mut queued = env.spawn_prompt(&["--key", "k0", "behind"]);
    queued.wait_session();
    let pids = live_pids(&env);
    assert_eq!(pids.len(), 10);

    let out = env.cap(&["daemon", "stop"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let status = env.wait_daemon_exit();
    assert!(status.success(), "capd exited with {status}");
    // capd waits for every process group before it exits.
    for pid in &pids {
        assert!(!agent_alive(&env, *pid), "agent {pid} outlived capd");
    }
    clients.push(queued);
    for p in clients {
        let (events, rc, stderr) = p.finish();
        assert_eq!(rc, 1, "{events:#?} {stderr}");
        assert_eq!(events.last().unwrap()["type"], "error", "{events:#?}");
    }
    assert_no_stray_agents_after_exit(&env);
    // Every conversation is remembered: a new daemon resumes each key.
    env.start_daemon();
    let (events, rc) = env.prompt_json(&["--key", "k3", "back"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(session_event(&events)["how"], "resumed");
    assert_eq!(result_output(&events), "ECHO[turns=2]: back");
    assert_consistent(&env);
}

/// With no daemon to ask which sessions live, every agent ever started must be gone.
fn assert_no_stray_agents_after_exit(env: &Env) {
    for pid in started_pids(env) {
        assert!(!agent_alive(env, pid), "agent {pid} outlived capd");
    }
}

// ---------------------------------------------------------------------------------------------
// Load (the full size, 64 clients × 100 prompts, is `cap-bench --only load`)
// ---------------------------------------------------------------------------------------------

/// One answered prompt of the load test.
struct Answer {
    client: usize,
    index: usize,
    key: String,
    session: String,
    /// The agent's turn number, from `ECHO[turns=N]`.
    n: u64,
}

#[test]
fn eight_clients_by_ten_prompts_on_shared_keys_lose_misroute_and_reorder_nothing() {
    const CLIENTS: usize = 8;
    const PROMPTS: usize = 10;
    const KEYS: usize = 3;
    let mut env = Env::new();
    env.start_daemon();
    let answers: Vec<Answer> = std::thread::scope(|s| {
        let env = &env;
        let handles: Vec<_> = (0..CLIENTS)
            .map(|client| {
                s.spawn(move || {
                    (0..PROMPTS)
                        .map(|index| {
                            // Each client walks the keys, so every key sees every client.
                            let key = format!("load{}", (client + index) % KEYS);
                            let text = format!("load c{client} p{index}");
                            let (events, rc) = env.prompt_json(&["--key", &key, &text]);
                            assert_eq!(rc, 0, "{text} on {key} was lost: {events:#?}");
                            let out = result_output(&events);
                            let n = out
                                .strip_prefix("ECHO[turns=")
                                .and_then(|r| r.split_once("]: "))
                                .filter(|(_, echoed)| *echoed == text)
                                .and_then(|(n, _)| n.parse::<u64>().ok())
                                .unwrap_or_else(|| panic!("{text} got another reply: {out}"));
                            let session = session_event(&events);
                            assert_eq!(session["key"], key.as_str(), "misrouted: {session}");
                            assert_eq!(events.last().unwrap()["turns"], n, "{events:#?}");
                            Answer {
                                client,
                                index,
                                key,
                                session: session["id"].as_str().expect("id").to_string(),
                                n,
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a client panicked"))
            .collect()
    });
    assert_eq!(answers.len(), CLIENTS * PROMPTS);
    let mut by_key: HashMap<&str, Vec<&Answer>> = HashMap::new();
    for a in &answers {
        by_key.entry(a.key.as_str()).or_default().push(a);
    }
    assert_eq!(by_key.len(), KEYS);
    for (key, list) in &by_key {
        let sessions: BTreeSet<&str> = list.iter().map(|a| a.session.as_str()).collect();
        assert_eq!(
            sessions.len(),
            1,
            "{key} is served by one session: {sessions:?}"
        );
        // Every prompt on the key is one turn of its conversation: no turn lost, merged or
        // counted twice.
        let mut ns: Vec<u64> = list.iter().map(|a| a.n).collect();
        ns.sort_unstable();
        let want: Vec<u64> = (1..=list.len() as u64).collect();
        assert_eq!(ns, want, "{key}: turn numbers");
        // A client's prompts on the key ran in the order it sent them.
        for client in 0..CLIENTS {
            let mut mine: Vec<&&Answer> = list.iter().filter(|a| a.client == client).collect();
            mine.sort_by_key(|a| a.index);
            assert!(
                mine.windows(2).all(|w| w[0].n < w[1].n),
                "{key}: client {client}'s turns out of order"
            );
        }
    }
    assert_consistent(&env);
    assert_no_stray_agents(&env);
}
