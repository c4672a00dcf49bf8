//! Chaos cycles (issue "Never lose a conversation, never hang, never leak"): the agent, then
//! capd itself, SIGKILLed in the middle of a turn again and again. Every conversation must go
//! on where it was: the fake agent's `ECHO[turns=N]` counts the turns of the native session
//! across processes, so a reply with the expected N proves the context survived.
//!
//! The kill always lands mid-turn, whatever the machine's load: the fake's `STALLONCE` turn
//! streams its first chunk and then waits to be killed, and the test kills only after that
//! chunk has reached the client. The retry of the same text after the respawn streams normally.
//!
//! Cycles: `CAP_CHAOS_CYCLES` (default 20), e.g. the 100-cycle run in docs/reliability.md:
//! `CAP_CHAOS_CYCLES=100 cargo test -p cap-tests --test e2e chaos:: -- --nocapture`.

use crate::misbehave::Memory;
use crate::races::{agent_alive, assert_consistent, assert_no_stray_agents, live_pids};
use cap_tests::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Instant;

/// How many kills each test deals.
fn cycles() -> usize {
    std::env::var("CAP_CHAOS_CYCLES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(20)
}

fn sigkill(pid: u32) {
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).expect("SIGKILL");
}

fn count(events: &[Value], kind: &str) -> usize {
    status_kinds(events).iter().filter(|k| *k == kind).count()
}

#[test]
fn an_agent_killed_mid_turn_again_and_again_is_resumed_every_time() {
    let n = cycles();
    let mut env = Env::new();
    env.start_daemon();
    let first = env.prompt_ok(&["--key", "a", "hello"]);
    let sid = first["session"].as_str().expect("session").to_string();
    let native = first["native_id"].as_str().expect("native id").to_string();
    let mut turns = 1;
    let (mut respawned, mut fallbacks) = (0, 0);
    let memory = Memory::start(&env);
    let started = Instant::now();
    for i in 0..n {
        let text = format!("STALLONCE cycle {i}");
        let mut p = env.spawn_prompt(&["--key", "a", &text]);
        p.wait_for("the turn to stream", |v| v["type"] == "text");
        let pid = env.session_pid(&sid);
        sigkill(pid);
        let (events, rc, stderr) = p.finish();
        assert_eq!(rc, 0, "cycle {i}: {events:#?} {stderr}");
        // The killed attempt is in the agent's history too.
        turns += 2;
        assert_eq!(
            result_output(&events),
            format!("ECHO[turns={turns}]: {text}"),
            "cycle {i}: the retry continues the conversation"
        );
        assert_eq!(session_event(&events)["id"], sid.as_str());
        assert_eq!(events.last().unwrap()["native_id"], native.as_str());
        respawned += count(&events, "respawn");
        fallbacks += count(&events, "fallback");
        wait_until("the killed agent to be reaped", || !agent_alive(&env, pid));
    }
    let took = started.elapsed();
    // One start, then one respawn per kill, each resuming the same native session.
    let invs = env.invocations();
    assert_eq!(invs.len(), n + 1, "{invs:#?}");
    let resumed = invs[1..]
        .iter()
        .filter(|inv| has_pair(inv, "--resume", &native))
        .count();
    eprintln!(
        "chaos: agent SIGKILLed mid-turn {n} times: {n}/{n} turns completed, {resumed}/{n} \
         respawns resumed the native session, {fallbacks} fallbacks, {:.1} s",
        took.as_secs_f64()
    );
    memory.check(&format!("{n} agents SIGKILLed mid-turn"));
    assert_eq!(respawned, n, "one respawn per kill");
    assert_eq!(resumed, n, "every respawn resumed");
    assert_eq!(fallbacks, 0);
    assert_consistent(&env);
    assert_no_stray_agents(&env);
}

#[test]
fn capd_killed_mid_turn_again_and_again_loses_no_conversation() {
    let n = cycles();
    let keys = ["c0", "c1", "c2"];
    let mut env = Env::new();
    let mut turns: BTreeMap<&str, usize> = keys.iter().map(|k| (*k, 0)).collect();
    let mut natives: BTreeMap<&str, String> = BTreeMap::new();
    let (mut resumed, mut fallbacks, mut agents_killed) = (0, 0, 0);
    let started = Instant::now();
    for cycle in 0..=n {
        env.start_daemon();
        for key in keys {
            let text = format!("cycle {cycle} on {key}");
            let (events, rc) = env.prompt_json(&["--key", key, &text]);
            assert_eq!(rc, 0, "cycle {cycle} {key}: {events:#?}");
            let t = turns.get_mut(key).expect("key");
            *t += 1;
            assert_eq!(
                result_output(&events),
                format!("ECHO[turns={t}]: {text}"),
                "cycle {cycle}: {key} continues its conversation"
            );
            let how = session_event(&events)["how"].clone();
            let native = events.last().unwrap()["native_id"]
                .as_str()
                .expect("native id")
                .to_string();
            if cycle == 0 {
                assert_eq!(how, "opened");
                natives.insert(key, native);
            } else {
                assert_eq!(how, "resumed", "cycle {cycle} {key}: {events:#?}");
                assert_eq!(natives[key], native, "the same native session");
                resumed += 1;
            }
            fallbacks += count(&events, "fallback");
        }
        if cycle == n {
            break;
        }
        let victim = keys[cycle % keys.len()];
        let mut p = env.spawn_prompt(&["--key", victim, &format!("STALLONCE cycle {cycle}")]);
        p.wait_for("the turn to stream", |v| v["type"] == "text");
        // The interrupted turn is in the agent's history: the next one counts it.
        *turns.get_mut(victim).expect("key") += 1;
        let agents = live_pids(&env);
        assert_eq!(agents.len(), keys.len());
        sigkill(env.daemon_pid().expect("capd pid"));
        let status = env.wait_daemon_exit();
        assert!(!status.success(), "capd was killed: {status}");
        // PDEATHSIG: no agent outlives its daemon, not even the one mid-turn.
        for pid in agents {
            wait_until(&format!("agent {pid} to die with capd"), || {
                !agent_alive(&env, pid)
            });
            agents_killed += 1;
        }
        let (events, rc, stderr) = p.finish();
        assert_eq!(
            rc, 1,
            "the client of the killed daemon: {events:#?} {stderr}"
        );
        assert_eq!(events.last().unwrap()["type"], "error", "{events:#?}");
    }
    let took = started.elapsed();
    eprintln!(
        "chaos: capd SIGKILLed mid-turn {n} times: {resumed}/{} next prompts resumed their \
         conversation, {fallbacks} fallbacks, {agents_killed} agents died with their daemon, \
         {:.1} s",
        n * keys.len(),
        took.as_secs_f64()
    );
    assert_eq!(resumed, n * keys.len());
    assert_eq!(fallbacks, 0);
    assert_consistent(&env);
    assert_no_stray_agents(&env);
}

#[test]
fn a_timeout_covers_the_respawn_of_an_agent_killed_mid_turn() {
    // Every start of this agent takes 3 s; the prompt may take 2. Its agent is killed mid-turn,
    // and the respawn outlasts the timeout: the prompt times out during the respawn, and the
    // expired prompt is not sent again to the respawned agent.
    let mut env = Env::with_config("ready_timeout = 30");
    env.vars.push(("FAKE_START_DELAY_MS".into(), "3000".into()));
    env.start_daemon();
    let first = env.prompt_ok(&["one"]);
    let sid = first["session"].as_str().expect("session").to_string();
    let mut p = env.spawn_prompt(&["--timeout", "2", "STALLONCE two"]);
    p.wait_for("the turn to stream", |v| v["type"] == "text");
    sigkill(env.session_pid(&sid));
    let (events, rc, stderr) = p.finish();
    assert_eq!(rc, 3, "{events:#?} {stderr}");
    assert_eq!(events.last().unwrap()["code"], "timeout", "{events:#?}");
    // The agent saw "one" and the killed attempt of "two", nothing more.
    let r = env.prompt_ok(&["three"]);
    assert_eq!(r["output"], "ECHO[turns=3]: three");
    assert_no_stray_agents(&env);
}
