//! The Codex app-server and ACP drivers through the real `cap` and `capd`, held to what the
//! Claude tests prove: warm turns, cancel, timeouts, kill after the grace, resume after a
//! daemon restart, fallback to a fresh session, respawn, re-send, agent errors, readiness and
//! no orphans. ACP adds permissions, typed and unknown updates, `fs/*` requests and ad hoc
//! agents. Each scenario is one function run for both agents (`drivers::codex::*` and
//! `drivers::acp::*`), so a failure names the agent.

use cap_tests::*;
use serde_json::Value;
use std::path::Path;

/// An agent under test: a custom config table pointing at the fake agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Agent {
    Codex,
    Acp,
}

impl Agent {
    /// Its name in the config.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Agent::Codex => "fcodex",
            Agent::Acp => "facp",
        }
    }

    /// What the fake logs as its protocol in `invocations.jsonl`.
    fn fake_protocol(self) -> &'static str {
        match self {
            Agent::Codex => "codex",
            Agent::Acp => "acp",
        }
    }
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Config text: `top` (top-level keys), `agent` as the default, and both custom agents.
/// `prompt_timeout` bounds every turn so a driver that loses a turn fails the test instead of
/// hanging it.
pub(crate) fn config(agent: Agent, top: &str) -> String {
    let fake = bin("cap-fake-agent");
    let fake = toml_str(&fake.to_string_lossy());
    format!(
        "prompt_timeout = 30\n{top}\ndefault_agent = \"{}\"\n\
         [agents.fcodex]\nprotocol = \"codex-app-server\"\ncommand = {fake}\nargs = [\"app-server\"]\n\
         [agents.facp]\nprotocol = \"acp\"\ncommand = {fake}\nargs = [\"acp\"]\n",
        agent.name()
    )
}

/// An environment whose default agent is `agent`, with a running daemon.
fn start(agent: Agent, top: &str, vars: &[(&str, &str)]) -> Env {
    let mut env = Env::with_config(&config(agent, top));
    for (k, v) in vars {
        env.vars.push((k.to_string(), v.to_string()));
    }
    env.start_daemon();
    env
}

fn sid(v: &Value) -> String {
    v["session"]
        .as_str()
        .or_else(|| v["id"].as_str())
        .expect("session id")
        .to_string()
}

fn native(v: &Value) -> String {
    v["native_id"].as_str().expect("native id").to_string()
}

/// The whole streamed text of a prompt's output.
fn streamed(events: &[Value]) -> String {
    events_of(events, "text")
        .iter()
        .filter_map(|e| e["delta"].as_str())
        .collect()
}

/// Asserts a successful prompt whose output is exactly `want`, and returns its events.
fn expect_output(env: &Env, args: &[&str], want: &str) -> Vec<Value> {
    let (events, rc) = env.prompt_json(args);
    assert_eq!(rc, 0, "prompt {args:?}: {events:#?}");
    assert_eq!(result_output(&events), want, "{events:#?}");
    events
}

fn assert_cancelled(p: Running) -> Vec<Value> {
    let (events, rc, stderr) = p.finish();
    assert_eq!(rc, 0, "a cancelled turn is a success: {events:#?} {stderr}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "result", "{events:#?}");
    assert_eq!(last["stop_reason"], "cancelled", "{last:#}");
    events
}

fn cancel(env: &Env, id: &str) {
    let out = env.cap(&["cancel", id]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains("nothing to cancel"),
        "a turn was running: {}",
        text(&out.stdout)
    );
}

// ---------------------------------------------------------------------------------------------
// Scenarios run for both agents.
// ---------------------------------------------------------------------------------------------

fn warm_turns_carry_context(a: Agent) {
    let env = start(a, "", &[]);
    let mut first_native = None;
    for n in 1..=3 {
        let prompt = format!("turn {n}");
        let events = expect_output(&env, &[&prompt], &format!("ECHO[turns={n}]: {prompt}"));
        let s = session_event(&events);
        assert_eq!(s["agent"], a.name());
        assert_eq!(s["how"], if n == 1 { "opened" } else { "reused" }, "{s:#}");
        let last = events.last().unwrap();
        assert_eq!(last["turns"], n);
        let id = native(last);
        // The `session` event comes once the agent is ready, so even the first one names
        // the native session (Codex and ACP agents only tell it in their handshake).
        assert_eq!(s["native_id"], id.as_str(), "{s:#}");
        assert_eq!(
            *first_native.get_or_insert(id.clone()),
            id,
            "one native session"
        );
    }
    let invs = env.invocations();
    assert_eq!(invs.len(), 1, "one agent start for three turns: {invs:#?}");
    assert_eq!(invs[0]["protocol"], a.fake_protocol(), "{:#}", invs[0]);
}

fn cancel_mid_turn_keeps_the_agent(a: Agent) {
    // Ten chunks 500 ms apart: the turn is still streaming when the cancel arrives.
    let env = start(a, "", &[("FAKE_SLOW_MS", "500")]);
    let first = env.prompt_ok(&["warm"]);
    let id = sid(&first);
    let pid = env.session_pid(&id);

    let mut p = env.spawn_prompt(&["SLOW stop me"]);
    assert_eq!(sid(&p.wait_session()).as_str(), id.as_str());
    p.wait_for("the first text", |v| v["type"] == "text");
    cancel(&env, &id);
    let events = assert_cancelled(p);
    let partial = events.last().unwrap()["output"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        partial.len() < "ECHO[turns=2]: SLOW stop me".len(),
        "the turn stopped early: {partial:?}"
    );

    assert_eq!(env.session_pid(&id), pid, "cancelled, not killed");
    assert!(alive(pid));
    expect_output(&env, &["after"], "ECHO[turns=3]: after");
    assert_eq!(env.invocations().len(), 1);
}

fn cancel_right_after_the_prompt_is_queued(a: Agent) {
    // The cancel races the turn's start in the agent (for Codex: before the turn id is
    // known). Whenever it lands, the turn ends cancelled without killing the agent.
    let env = start(a, "cancel_grace = 5", &[]);
    let first = env.prompt_ok(&["warm"]);
    let id = sid(&first);
    let pid = env.session_pid(&id);
    for _ in 0..3 {
        let mut p = env.spawn_prompt(&["HANG"]);
        p.wait_session();
        let out = env.cap(&["cancel", &id]);
        assert_eq!(code(&out), 0, "{}", text(&out.stderr));
        assert_cancelled(p);
        assert_eq!(env.session_pid(&id), pid, "the agent was killed");
    }
    let r = env.prompt_ok(&["after"]);
    let output = r["output"].as_str().unwrap();
    assert!(output.ends_with("]: after"), "{output}");
    assert_eq!(env.invocations().len(), 1);
}

fn timeout_exits_3_and_the_session_goes_on(a: Agent) {
    let env = start(a, "", &[]);
    let (events, rc) = env.prompt_json(&["--timeout", "1", "HANG"]);
    assert_eq!(rc, 3, "{events:#?}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "error", "{events:#?}");
    assert_eq!(last["code"], "timeout");
    let id = sid(session_event(&events));
    let pid = env.session_pid(&id);
    // The agent stopped the turn: the abandoned turn is history, the process is the same.
    expect_output(&env, &["after"], "ECHO[turns=2]: after");
    assert_eq!(
        env.session_pid(&id),
        pid,
        "cancelled cooperatively, not killed"
    );
    assert_eq!(env.invocations().len(), 1);
}

fn a_turn_that_ignores_the_cancel_gets_its_agent_killed_and_resumed(a: Agent) {
    let env = start(a, "cancel_grace = 1", &[]);
    let first = env.prompt_ok(&["first"]);
    let id = sid(&first);
    let native_id = native(&first);
    let pid = env.session_pid(&id);

    let (events, rc) = env.prompt_json(&["--timeout", "1", "HANGNOINT"]);
    assert_eq!(rc, 3, "{events:#?}");
    wait_until("the stuck agent to be killed", || !alive(pid));

    let events = expect_output(&env, &["next"], "ECHO[turns=3]: next");
    assert_eq!(sid(session_event(&events)), id, "same daemon session");
    assert!(
        status_kinds(&events).contains(&"respawn".to_string()),
        "{events:#?}"
    );
    assert_eq!(
        native(events.last().unwrap()),
        native_id,
        "resumed, not fresh"
    );
    assert_ne!(env.session_pid(&id), pid);
    assert_eq!(env.invocations().len(), 2);
}

/// Two turns, a daemon restart, a third turn: resumed with the whole history, and the output
/// is exactly the new turn's answer (nothing replayed leaks into it).
fn restart_resumes(a: Agent, vars: &[(&str, &str)]) {
    let mut env = start(a, "", vars);
    env.prompt_ok(&["one"]);
    let second = env.prompt_ok(&["two"]);
    let native_id = native(&second);
    env.restart_daemon();

    let events = expect_output(&env, &["three"], "ECHO[turns=3]: three");
    let s = session_event(&events);
    assert_eq!(s["how"], "resumed", "{s:#}");
    assert_eq!(s["native_id"], native_id.as_str());
    assert_eq!(streamed(&events), "ECHO[turns=3]: three", "{events:#?}");
    assert!(
        status_kinds(&events).is_empty(),
        "no fallback or retry: {events:#?}"
    );
    assert_eq!(native(events.last().unwrap()), native_id);
    let invs = env.invocations();
    assert_eq!(invs.len(), 2, "{invs:#?}");
    // And the resumed session stays warm.
    let events = expect_output(&env, &["four"], "ECHO[turns=4]: four");
    assert_eq!(session_event(&events)["how"], "reused");
}

fn restart_resumes_the_native_session(a: Agent) {
    restart_resumes(a, &[]);
}

fn resume_falls_back_to_a_fresh_session_when_the_native_one_is_gone(a: Agent) {
    let mut env = start(a, "", &[]);
    let first = env.prompt_ok(&["one"]);
    let old = native(&first);
    env.stop_daemon();
    let file = env.fake_home.join("sessions").join(format!("{old}.json"));
    std::fs::remove_file(&file).expect("the fake's session file");
    env.start_daemon();

    let events = expect_output(&env, &["two"], "ECHO[turns=1]: two");
    assert_eq!(session_event(&events)["how"], "resumed");
    let fallback = events
        .iter()
        .find(|e| e["type"] == "status" && e["kind"] == "fallback")
        .unwrap_or_else(|| panic!("no fallback status: {events:#?}"));
    let message = fallback["message"].as_str().unwrap();
    assert!(message.contains(&old), "names the lost session: {message}");
    let new = native(events.last().unwrap());
    assert_ne!(new, old);
    let st = env.state_doc();
    assert_eq!(
        st["keys"][&env.key()]["agents"][a.name()]["native_id"],
        new.as_str(),
        "{st:#}"
    );
    let r = env.prompt_ok(&["three"]);
    assert_eq!(r["output"], "ECHO[turns=2]: three");
    assert_eq!(r["native_id"], new.as_str());
}

fn a_crash_mid_turn_is_respawned_by_resume(a: Agent) {
    let env = start(a, "", &[]);
    let first = env.prompt_ok(&["one"]);
    let native_id = native(&first);
    let pid = env.session_pid(&sid(&first));
    let events = expect_output(&env, &["CRASHONCE two"], "ECHO[turns=3]: CRASHONCE two");
    assert_eq!(status_kinds(&events), vec!["respawn"], "{events:#?}");
    assert_eq!(native(events.last().unwrap()), native_id);
    assert_eq!(env.invocations().len(), 2);
    assert!(!alive(pid));
}

fn an_empty_reply_is_resent(a: Agent) {
    let env = start(a, "", &[]);
    let events = expect_output(&env, &["EMPTYONCE"], "ECHO[turns=2]: EMPTYONCE");
    assert_eq!(status_kinds(&events), vec!["resend"], "{events:#?}");
    assert_eq!(env.invocations().len(), 1, "re-sent to the same agent");
}

fn an_agent_error_fails_the_turn_but_not_the_session(a: Agent) {
    let env = start(a, "", &[]);
    let (events, rc) = env.prompt_json(&["ERROR"]);
    assert_eq!(rc, 1, "{events:#?}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "error", "{events:#?}");
    assert_eq!(last["code"], "agent");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .contains("API Error: 500 fake"),
        "the agent's own words: {last:#}"
    );
    let out = env.cap(&["prompt", "ERROR again"]);
    assert_eq!(code(&out), 1);
    assert!(
        text(&out.stderr).contains("API Error: 500 fake"),
        "{}",
        text(&out.stderr)
    );
    expect_output(&env, &["after"], "ECHO[turns=3]: after");
    assert_eq!(env.invocations().len(), 1);
}

fn an_agent_that_never_becomes_ready_fails_the_prompt(a: Agent) {
    let env = start(a, "ready_timeout = 1", &[("FAKE_NEVER_READY", "1")]);
    let out = env.cap(&["prompt", "hello"]);
    assert_eq!(code(&out), 1, "stdout: {}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains("did not become ready"), "{err}");
    assert!(err.contains(a.name()), "names the agent: {err}");
    assert!(env.session_ids().is_empty(), "failed sessions are dropped");
    let invs = env.invocations();
    assert_eq!(invs.len(), 1, "{invs:#?}");
    let pid = invs[0]["pid"].as_u64().unwrap() as u32;
    wait_until("the unready agent to be killed", || !alive(pid));
}

fn ending_a_session_leaves_no_orphans(a: Agent) {
    let env = start(a, "", &[]);
    let r = env.prompt_ok(&["ORPHAN"]);
    let orphan = env.orphan_pid();
    assert!(alive(orphan), "the orphan runs while the session lives");
    let pid = env.session_pid(&sid(&r));
    let out = env.cap(&["end"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    wait_until("the orphan to be killed", || !alive(orphan));
    wait_until("the agent to exit", || !alive(pid));
}

macro_rules! for_both_agents {
    ($($scenario:ident),* $(,)?) => {
        mod codex {
            $( #[test] fn $scenario() { super::$scenario(super::Agent::Codex) } )*
        }
        mod acp {
            $( #[test] fn $scenario() { super::$scenario(super::Agent::Acp) } )*
        }
    };
}

for_both_agents!(
    warm_turns_carry_context,
    cancel_mid_turn_keeps_the_agent,
    cancel_right_after_the_prompt_is_queued,
    timeout_exits_3_and_the_session_goes_on,
    a_turn_that_ignores_the_cancel_gets_its_agent_killed_and_resumed,
    restart_resumes_the_native_session,
    resume_falls_back_to_a_fresh_session_when_the_native_one_is_gone,
    a_crash_mid_turn_is_respawned_by_resume,
    an_empty_reply_is_resent,
    an_agent_error_fails_the_turn_but_not_the_session,
    an_agent_that_never_becomes_ready_fails_the_prompt,
    ending_a_session_leaves_no_orphans,
);

// ---------------------------------------------------------------------------------------------
// ACP only.
// ---------------------------------------------------------------------------------------------

#[test]
fn acp_restart_without_resume_loads_the_session_and_drops_the_replay() {
    // No `session/resume`: the driver uses `session/load`, which replays "one" and "two" and
    // their answers; none of it may appear in the third turn's output.
    restart_resumes(Agent::Acp, &[("FAKE_ACP_NO_RESUME", "1")]);
}

#[test]
fn acp_replay_that_arrives_after_the_load_reply_stays_out_of_the_turn() {
    // Gemini CLI answers `session/load` first and replays the history afterwards; the driver
    // must still keep every replayed line out of the next turn's output.
    restart_resumes(
        Agent::Acp,
        &[("FAKE_ACP_NO_RESUME", "1"), ("FAKE_ACP_LATE_REPLAY", "1")],
    );
}

#[test]
fn acp_permission_requests_follow_the_prompt_policy() {
    let env = start(Agent::Acp, "", &[]);
    // The default mode, approve-edits, allows an edit inside the cwd (the fake asks to write
    // permission.txt), picking the "allow once" option by its kind.
    let events = expect_output(
        &env,
        &["PERMISSION"],
        "ECHO[turns=1]: PERMISSION [permission granted: optionId=allow]",
    );
    let tools = events_of(&events, "tool_call");
    assert!(
        tools.iter().any(|t| t["status"] == "completed"),
        "{events:#?}"
    );
    let asked = events_of(&events, "permission");
    assert_eq!(asked.len(), 1, "{events:#?}");
    assert_eq!(asked[0]["decision"], "allow");
    assert_eq!(asked[0]["kind"], "edit");
    assert_eq!(asked[0]["subject"], "permission.txt");
    assert_eq!(asked[0]["by"], "policy");
    let events = expect_output(
        &env,
        &["--deny-all", "PERMISSION"],
        "ECHO[turns=2]: PERMISSION [PERMISSION DENIED: optionId=reject]",
    );
    let result = events.last().unwrap();
    assert_eq!(result["permissions"]["denied"], 1, "{result:#}");
    // The policy is per prompt: the next one approves again.
    expect_output(
        &env,
        &["--approve-all", "PERMISSION"],
        "ECHO[turns=3]: PERMISSION [permission granted: optionId=allow]",
    );
    expect_output(&env, &["after"], "ECHO[turns=4]: after");
    assert_eq!(env.invocations().len(), 1);
}

#[test]
fn acp_updates_become_typed_events_and_unknown_kinds_pass_through() {
    let env = start(Agent::Acp, "", &[]);
    let prompt = "THINK TOOL PLAN WEIRD";
    let events = expect_output(&env, &[prompt], &format!("ECHO[turns=1]: {prompt}"));

    let thoughts: String = events_of(&events, "thought")
        .iter()
        .filter_map(|e| e["delta"].as_str())
        .collect();
    assert!(
        thoughts.contains(&format!("about: {prompt}")),
        "{events:#?}"
    );

    let tools = events_of(&events, "tool_call");
    assert!(
        tools.iter().any(|t| t["name"] == "fake read"
            && t["status"] == "completed"
            && t["output"].is_string()),
        "{events:#?}"
    );

    let plans = events_of(&events, "plan");
    assert_eq!(plans.len(), 1, "{events:#?}");
    assert_eq!(plans[0]["entries"][0]["content"], "step one");
    assert_eq!(plans[0]["entries"].as_array().unwrap().len(), 2);

    let raw = events_of(&events, "raw");
    let weird = raw
        .iter()
        .find(|e| e["kind"] == "fake_vendor_kind")
        .unwrap_or_else(|| panic!("the unknown kind was dropped: {events:#?}"));
    assert_eq!(
        weird["payload"]["payload"]["anything"],
        serde_json::json!([1, 2, 3])
    );
    // The reply text is not mixed with the thought or tool output.
    assert_eq!(streamed(&events), format!("ECHO[turns=1]: {prompt}"));
}

#[test]
fn acp_fs_requests_are_refused_and_the_turn_goes_on() {
    let env = start(Agent::Acp, "", &[]);
    expect_output(&env, &["FSWRITE"], "ECHO[turns=1]: FSWRITE");
    assert!(
        !env.work.join("fake-agent-fswrite.txt").exists(),
        "cap advertises no fs capability and must not write for the agent"
    );
    expect_output(&env, &["after"], "ECHO[turns=2]: after");
}

/// `acp:'<path>' acp`, the path quoted for shlex.
fn ad_hoc(path: &Path) -> String {
    let quoted = path.to_string_lossy().replace('\'', r"'\''");
    format!("acp:'{quoted}' acp")
}

#[test]
fn an_ad_hoc_acp_agent_works() {
    // The default agent stays Claude: the ad hoc agent is named on each prompt.
    let mut env = Env::new();
    env.start_daemon();
    let agent = ad_hoc(&bin("cap-fake-agent"));
    let events = expect_output(&env, &["--agent", &agent, "hello"], "ECHO[turns=1]: hello");
    assert_eq!(session_event(&events)["agent"], agent.as_str());
    let events = expect_output(&env, &["--agent", &agent, "again"], "ECHO[turns=2]: again");
    assert_eq!(session_event(&events)["how"], "reused");
    let invs = env.invocations();
    assert_eq!(invs.len(), 1, "{invs:#?}");
    assert_eq!(invs[0]["protocol"], "acp", "{:#}", invs[0]);
}

// ---------------------------------------------------------------------------------------------
// Listing and Codex's refusal of --continue.
// ---------------------------------------------------------------------------------------------

#[test]
fn agents_lists_the_configured_protocols() {
    let env = start(Agent::Codex, "", &[]);
    let list = env.cap_doc(&["agents"]);
    let list = list.as_array().expect("a list of agents");
    let find = |name: &str| {
        list.iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not listed: {list:#?}"))
            .clone()
    };
    let fake = bin("cap-fake-agent").to_string_lossy().into_owned();
    for (name, protocol, arg) in [
        ("fcodex", "codex-app-server", "app-server"),
        ("facp", "acp", "acp"),
    ] {
        let a = find(name);
        assert_eq!(a["protocol"], protocol, "{a:#}");
        assert_eq!(a["source"], "config", "{a:#}");
        assert_eq!(a["command"], fake.as_str(), "{a:#}");
        assert_eq!(a["args"], serde_json::json!([arg]), "{a:#}");
    }
    assert_eq!(find("codex")["protocol"], "codex-app-server");
    assert_eq!(find("opencode")["protocol"], "acp");
}

#[test]
fn codex_refuses_continue_and_keeps_the_warm_session() {
    let env = start(Agent::Codex, "", &[]);
    let first = env.prompt_ok(&["one"]);
    let id = sid(&first);
    let pid = env.session_pid(&id);

    // A usage error (exit 2): the flag can never work with this protocol.
    for args in [
        &["prompt", "--continue", "two"][..],
        &["open", "--continue"],
    ] {
        let out = env.cap(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out.stdout));
        let err = text(&out.stderr);
        assert!(
            err.contains("--continue") && err.contains("--resume"),
            "{args:?} says what to do instead: {err}"
        );
    }
    let (events, rc) = env.prompt_json(&["--continue", "two"]);
    assert_ne!(rc, 0, "{events:#?}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "error", "{events:#?}");
    assert_eq!(last["retryable"], false, "retrying cannot help: {last:#}");

    // The refusal touched nothing: the warm session and its conversation are still there.
    let events = expect_output(&env, &["three"], "ECHO[turns=2]: three");
    assert_eq!(sid(session_event(&events)), id);
    assert_eq!(session_event(&events)["how"], "reused");
    assert_eq!(env.session_pid(&id), pid);
    assert_eq!(env.invocations().len(), 1, "no agent was started for it");
}
