//! Memory-aware limits: capd measures each agent's whole process group, shows it in `cap
//! sessions`, `cap daemon status` and `cap agents`, and evicts the least recently used idle
//! session (its record kept) while the agents together exceed `max_agent_memory`.
//!
//! The fake agent holds `FAKE_BALLAST_MB` resident, so the figures are known. The sampler
//! measures every 2 s and announces nothing, so the tests poll with `wait_until`.

use cap_tests::*;
use serde_json::Value;

/// A config with `heavy`: the fake agent holding `mb` MiB resident.
fn heavy(mb: u64, extra: &str) -> String {
    format!(
        "{extra}\n[agents.heavy]\nprotocol = \"claude-stream-json\"\ncommand = \"{}\"\nenv = {{ FAKE_BALLAST_MB = \"{mb}\" }}\n",
        bin("cap-fake-agent").display()
    )
}

fn memory_of(env: &Env, sid: &str) -> Option<u64> {
    env.sessions_doc()
        .iter()
        .find(|s| s["id"] == sid)
        .and_then(|s| s["memory"].as_u64())
}

#[test]
fn each_session_shows_its_agents_memory_and_the_daemon_the_total() {
    let mut env = Env::with_config(&heavy(40, "max_agent_memory = \"off\""));
    env.start_daemon();
    let (s, _) = env.prompt_session_ok(&["-a", "heavy", "one"]);
    let sid = s["id"].as_str().expect("id").to_string();
    wait_until("a measurement of the session", || {
        memory_of(&env, &sid).is_some()
    });
    let mem = memory_of(&env, &sid).unwrap_or_default();
    // The ballast alone is 40 MiB; the group is measured, not a guess.
    assert!(mem >= 40 << 20, "measured {mem} bytes");
    assert!(mem < 400 << 20, "measured {mem} bytes");

    let text = String::from_utf8_lossy(&env.cap(&["sessions"]).stdout).to_string();
    assert!(
        text.lines().next().unwrap_or_default().contains("MEM"),
        "{text}"
    );
    assert!(text.contains('M'), "{text}");

    let st = env.cap(&["--format", "json", "daemon", "status"]);
    let st: Value = serde_json::from_slice(&st.stdout).expect("status json");
    assert!(
        st["agent_memory"].as_u64().unwrap_or_default() >= 40 << 20,
        "{st:#}"
    );
    assert!(
        st.get("max_agent_memory").is_none(),
        "off means no limit: {st:#}"
    );

    let agents = env.cap(&["--format", "json", "agents"]);
    let agents: Value = serde_json::from_slice(&agents.stdout).expect("agents json");
    let heavy = agents
        .as_array()
        .and_then(|a| a.iter().find(|a| a["name"] == "heavy"))
        .cloned()
        .unwrap_or_default();
    assert!(
        heavy["footprint"].as_u64().unwrap_or_default() >= 40 << 20,
        "{agents:#}"
    );
}

#[test]
fn over_max_agent_memory_the_least_recently_used_idle_session_goes_and_resumes() {
    // Two agents of 64 MiB each cannot both stay under 100 MiB.
    let mut env = Env::with_config(&heavy(64, "max_agent_memory = \"100MiB\""));
    env.start_daemon();
    let (a, _) = env.prompt_session_ok(&["-a", "heavy", "--key", "a", "a one"]);
    let a = a["id"].as_str().expect("id").to_string();
    let (b, _) = env.prompt_session_ok(&["-a", "heavy", "--key", "b", "b one"]);
    let b = b["id"].as_str().expect("id").to_string();
    wait_until("the older idle session to be evicted", || {
        !env.session_ids().contains(&a)
    });
    assert!(
        env.session_ids().contains(&b),
        "the newer session stays: {:?}",
        env.session_ids()
    );
    assert!(
        env.daemon_log().contains("max_agent_memory"),
        "the eviction is logged: {}",
        env.daemon_log()
    );
    // Its record was kept: the key resumes the conversation.
    let (s, r) = env.prompt_session_ok(&["--key", "a", "a two"]);
    assert_eq!(s["how"], "resumed");
    assert_eq!(r["output"], "ECHO[turns=2]: a two");
}

#[test]
fn a_bad_max_agent_memory_is_refused_with_the_key_named() {
    let env = Env::with_config("max_agent_memory = \"lots\"");
    let out = env.cap(&["daemon", "start"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(code(&out), 6, "{err}");
    // capd's own reason reaches the user, not only a pointer to its log.
    assert!(err.contains("max_agent_memory"), "{err}");
    assert!(err.contains("is not a size"), "{err}");
}
