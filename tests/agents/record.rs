//! Accounting and forks with the genuine agents: every agent's turns carry `usage` in cap's
//! one shape (as far as the agent reports it, against the fake LLM's token counts), and
//! `cap fork` copies a conversation where the agent can fork and is refused clearly where it
//! cannot.

use cap_tests::real::{real_env, turns_seen};
use cap_tests::*;
use serde_json::Value;

fn output(r: &Value) -> String {
    r["output"].as_str().unwrap_or_default().to_string()
}

/// Two turns report usage with tokens; the key's total in `cap keys` adds them up. Gemini
/// CLI 0.61 and codex-acp 0.16 report no token counts over ACP: their results carry no
/// `usage` at all (unknown, not zero).
fn usage(agent: &str) {
    if matches!(agent, "gemini" | "codex-acp") {
        let mut env = real_env();
        env.start_daemon();
        // codex-acp can only be run under approve-all (docs/permissions.md).
        let r = env.prompt_ok(&["-a", agent, "--approve-all", "usage turn"]);
        assert!(r.get("usage").is_none(), "{agent} now reports usage: {r:#}");
        println!("e2e {agent}: reports no usage");
        return;
    }
    let mut env = real_env();
    env.start_daemon();
    let mut input = 0;
    for turn in 1..=2 {
        let r = env.prompt_ok(&["-a", agent, "--key", "acct", &format!("usage turn {turn}")]);
        let u = &r["usage"];
        let tokens =
            u["input_tokens"].as_u64().unwrap_or(0) + u["output_tokens"].as_u64().unwrap_or(0);
        assert!(tokens > 0, "{agent} turn {turn}: no token usage in {r:#}");
        input += u["input_tokens"].as_u64().unwrap_or(0);
        if let Some(cost) = u.get("cost_usd") {
            assert!(cost.as_f64().is_some_and(|c| c >= 0.0), "{agent}: {u}");
        }
        println!("e2e {agent}: turn {turn} usage {u}");
    }
    let keys = env.keys_doc();
    assert_eq!(
        keys["usage"]["acct"]["input_tokens"].as_u64().unwrap_or(0),
        input,
        "{agent}: the key's total adds up: {keys:#}"
    );
}

/// A fork sees the source's two turns; the source goes on independently.
fn fork(agent: &str) {
    let mut env = real_env();
    env.start_daemon();
    env.prompt_ok(&["-a", agent, "--key", "src", "FORK one"]);
    env.prompt_ok(&["-a", agent, "--key", "src", "FORK two"]);
    let out = env.cap(&["fork", "--from", "src", "--key", "copy"]);
    assert_eq!(code(&out), 0, "{agent}: {}", text(&out.stderr));
    let copy = env.prompt_ok(&["--key", "copy", "FORK three"]);
    assert_eq!(turns_seen(&output(&copy)), 3, "{agent}: {copy:#}");
    let src = env.prompt_ok(&["--key", "src", "FORK again"]);
    assert_eq!(
        turns_seen(&output(&src)),
        3,
        "{agent}: the source is untouched: {src:#}"
    );
    println!("e2e {agent}: fork works");
}

/// An agent without `session/fork` is refused with its name, and the new key stays free.
fn no_fork(agent: &str) {
    let mut env = real_env();
    env.start_daemon();
    env.prompt_ok(&["-a", agent, "--key", "src", "FORK one"]);
    let out = env.cap(&["fork", "--from", "src", "--key", "copy"]);
    assert_eq!(code(&out), 1, "{agent}: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains(agent), "{}", text(&out.stderr));
    println!("e2e {agent}: fork refused: {}", text(&out.stderr).trim());
}

macro_rules! per_agent {
    ($($name:ident => $agent:literal),* $(,)?) => {
        mod usage_per_agent {
            $( #[test] fn $name() { super::usage($agent) } )*
        }
    };
}

per_agent!(
    claude => "claude",
    codex => "codex",
    opencode => "opencode",
    gemini => "gemini",
    claude_acp => "claude-acp",
    codex_acp => "codex-acp",
);

#[test]
fn fork_claude() {
    fork("claude");
}

#[test]
fn fork_codex() {
    fork("codex");
}

#[test]
fn fork_opencode() {
    fork("opencode");
}

#[test]
fn fork_claude_acp() {
    fork("claude-acp");
}

#[test]
fn fork_gemini_is_refused() {
    no_fork("gemini");
}
