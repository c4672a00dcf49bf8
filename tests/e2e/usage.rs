//! Usage and cost in one shape for every protocol: each `result` carries what the agent
//! reported (absent fields stay absent), sessions and keys keep running totals, and Claude's
//! cumulative process cost becomes a per-turn cost. The fakes report 10 input and 5 output
//! tokens a turn; Claude adds 2 cache-read tokens and a running cost of $0.0002 a turn,
//! Codex 2 cached input tokens, and ACP no cost at all.

use cap_tests::*;
use serde_json::Value;

fn start(agent: &str) -> Env {
    let fake = bin("cap-fake-agent");
    let mut env = Env::with_config(&format!(
        "default_agent = \"{agent}\"\n\
         [agents.fcodex]\nprotocol = \"codex-app-server\"\ncommand = \"{f}\"\nargs = [\"app-server\"]\n\
         [agents.facp]\nprotocol = \"acp\"\ncommand = \"{f}\"\nargs = [\"acp\"]\n",
        f = fake.display()
    ));
    env.start_daemon();
    env
}

fn usage_of(env: &Env, args: &[&str]) -> Value {
    let r = env.prompt_ok(args);
    r["usage"].clone()
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn every_protocol_reports_usage_per_turn_in_one_shape() {
    for (agent, cache, cost) in [
        ("claude", Some(2), Some(0.0002)),
        ("fcodex", Some(2), None),
        ("facp", None, None),
    ] {
        let env = start(agent);
        for turn in 1..=2 {
            let u = usage_of(&env, &[&format!("turn {turn}")]);
            assert_eq!(u["input_tokens"], 10, "{agent}: {u}");
            assert_eq!(u["output_tokens"], 5, "{agent}: {u}");
            match cache {
                Some(n) => assert_eq!(u["cache_read_tokens"], n, "{agent}: {u}"),
                None => assert!(u.get("cache_read_tokens").is_none(), "{agent}: {u}"),
            }
            match cost {
                // The second turn costs the same as the first, not the running total.
                Some(c) => assert!(close(&u["cost_usd"], c), "{agent} turn {turn}: {u}"),
                None => assert!(
                    u.get("cost_usd").is_none(),
                    "{agent}: unknown, not zero: {u}"
                ),
            }
        }
        let sid = env.sessions_doc()[0]["id"].as_str().unwrap().to_string();
        let total = &env.show_doc(&sid)["usage"];
        assert_eq!(
            (
                total["input_tokens"].as_u64(),
                total["output_tokens"].as_u64()
            ),
            (Some(20), Some(10)),
            "{agent}: {total}"
        );
        let keys = env.keys_doc();
        let key_total = &keys["usage"][env.key()];
        assert_eq!(key_total["input_tokens"], 20, "{agent}: {keys:#}");
        if let Some(c) = cost {
            assert!(
                close(&key_total["cost_usd"], 2.0 * c),
                "{agent}: {key_total}"
            );
        }
    }
}

#[test]
fn key_totals_survive_a_respawn_a_restart_and_cap_end() {
    let mut env = start("claude");
    env.prompt_ok(&["one"]);
    // The agent dies mid-turn and is respawned: the new process counts cost from zero, and
    // the turn's cost is still one turn's.
    let u = usage_of(&env, &["CRASHONCE two"]);
    assert!(close(&u["cost_usd"], 0.0002), "{u}");
    env.restart_daemon();
    env.prompt_ok(&["three"]);
    let out = env.cap(&["end"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let keys = env.keys_doc();
    let total = &keys["usage"][env.key()];
    assert_eq!(total["input_tokens"], 30, "{keys:#}");
    assert!(close(&total["cost_usd"], 0.0006), "{total}");
    let status = env.cap_doc(&["daemon", "status"]);
    assert_eq!(status["usage"]["input_tokens"], 30, "{status:#}");
}

#[test]
fn a_spending_cap_stops_the_next_prompt_until_reset() {
    let env = start("claude");
    env.prompt_ok(&["--budget", "0.0003", "one"]);
    env.prompt_ok(&["--budget", "0.0003", "two"]);
    let out = env.cap(&["prompt", "--budget", "0.0003", "three"]);
    assert_eq!(code(&out), 7, "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("$0.0004") && err.contains("$0.0003"),
        "names spend and cap: {err}"
    );
    assert!(err.contains("cap budget reset"), "{err}");
    assert_eq!(
        env.sessions_doc()[0]["turns"],
        2,
        "refused before it started"
    );
    let out = env.cap(&["budget", "reset"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let r = env.prompt_ok(&["--budget", "0.0003", "three"]);
    assert_eq!(
        r["output"], "ECHO[turns=3]: three",
        "the conversation goes on"
    );
}

#[test]
fn a_configured_budget_holds_for_its_key_only() {
    let mut env = Env::with_config("[budgets]\ncapped = 0.0001\n");
    env.start_daemon();
    env.prompt_ok(&["--key", "capped", "one"]);
    let out = env.cap(&["prompt", "--key", "capped", "two"]);
    assert_eq!(code(&out), 7, "{}", text(&out.stderr));
    env.prompt_ok(&["--key", "other", "one"]);
    env.prompt_ok(&["--key", "other", "two"]);
}
