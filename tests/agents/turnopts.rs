//! `--model` and `--mcp-config` with the genuine agents (issue 10): a session given the
//! workspace's fake MCP server (`cap-fake-mcp`, one tool named `cap_fake_ping`) offers that
//! tool to the model, and `--model` on the warm session reaches the model API on the next
//! request, in the same conversation. Both are read from the fake LLM's request log, which
//! records the model and the tool names of every request.

use cap_tests::real::{RealEnv, fake_mcp, real_env, turns_seen};
use serde_json::Value;

/// Every request the agents made to the fake LLM.
fn llm_requests(env: &RealEnv) -> Vec<Value> {
    std::fs::read_to_string(&env.llm_log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The requests whose latest user text contains `marker`.
fn carrying<'a>(requests: &'a [Value], marker: &str) -> Vec<&'a Value> {
    requests
        .iter()
        .filter(|r| {
            r["user_texts"]
                .as_array()
                .and_then(|t| t.last())
                .and_then(Value::as_str)
                .is_some_and(|t| t.contains(marker))
        })
        .collect()
}

/// How a test opens its session beyond the defaults.
#[derive(Default)]
struct Opening {
    /// Extra arguments of the first prompt.
    args: &'static [&'static str],
    /// Extra environment for the daemon and so the agent.
    vars: &'static [(&'static str, &'static str)],
}

/// `agent` gets the fake MCP server and offers its tool (by name, or the server's namespace
/// `mcp__capfake` that Codex offers it in); then `--model model` makes the next request name
/// `sent` (as the model API sees it), with the first turn still in context.
fn model_and_tools(agent: &str, model: &str, sent: &str, opening: Opening) {
    let mut env = real_env();
    for (k, v) in opening.vars {
        env.vars.push((k.to_string(), v.to_string()));
    }
    // codex-acp runs only under --approve-all (docs/permissions.md).
    let approve: &[&str] = if agent == "codex-acp" {
        &["--approve-all"]
    } else {
        &[]
    };
    env.start_daemon();
    let mcp = env.dir.path().join("mcp.json");
    let server = serde_json::json!({"mcpServers": {"capfake": {"command": fake_mcp()}}});
    std::fs::write(&mcp, server.to_string()).expect("mcp.json");
    let mcp = mcp.to_string_lossy().to_string();

    let mut args = vec!["-a", agent, "--mcp-config", &mcp];
    args.extend_from_slice(approve);
    args.extend_from_slice(opening.args);
    args.push("TOOLS one");
    let first = env.prompt_ok(&args);
    let requests = llm_requests(&env);
    let tooled = carrying(&requests, "TOOLS one");
    assert!(
        !tooled.is_empty(),
        "{agent}: no request carried the prompt: {requests:#?}"
    );
    let offered = tooled.iter().any(|r| {
        r["tools"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|t| t.contains("cap_fake_ping") || t == "mcp__capfake")
    });
    let names: Vec<&Value> = tooled.iter().map(|r| &r["tools"]).collect();
    assert!(
        offered,
        "{agent}: the MCP server's tool was not offered to the model: {names:#?}"
    );
    let sid = first["session"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        env.show_doc(&sid)["mcp_servers"],
        serde_json::json!(["capfake"]),
        "{agent}"
    );

    let mut args = vec!["-a", agent, "--model", model];
    args.extend_from_slice(approve);
    args.push("MODEL two");
    let second = env.prompt_ok(&args);
    assert_eq!(
        second["session"],
        sid.as_str(),
        "{agent}: the same warm session"
    );
    let out = second["output"].as_str().unwrap_or_default();
    assert_eq!(turns_seen(out), 2, "{agent}: context kept: {out}");
    let requests = llm_requests(&env);
    let switched = carrying(&requests, "MODEL two");
    let models: Vec<&Value> = switched.iter().map(|r| &r["model"]).collect();
    assert!(
        switched
            .iter()
            .any(|r| r["model"].as_str().is_some_and(|m| m.contains(sent))),
        "{agent}: --model {model} did not reach the model API (wanted {sent}): {models:?}"
    );
    assert_eq!(env.show_doc(&sid)["model"], model, "{agent}");
    println!("e2e {agent}: tool offered; --model {model} reached the API as {models:?}");
}

#[test]
fn claude_model_and_tools() {
    let o = Opening::default();
    model_and_tools("claude", "claude-haiku-4-5", "claude-haiku-4-5", o);
}

/// Codex 0.169 offers MCP tools to catalog models that can search tools (gpt-5.5) only
/// through `tool_search`, whose request names no server; a model outside its catalog gets
/// them upfront, as the `mcp__capfake` namespace (docs/agents.md).
#[test]
fn codex_model_and_tools() {
    let o = Opening {
        args: &["--model", "cap-fake-model"],
        ..Opening::default()
    };
    model_and_tools("codex", "gpt-5.4", "gpt-5.4", o);
}

#[test]
fn opencode_model_and_tools() {
    let o = Opening::default();
    model_and_tools("opencode", "fake/fake-model-2", "fake-model-2", o);
}

#[test]
fn gemini_model_and_tools() {
    let o = Opening::default();
    model_and_tools("gemini", "gemini-2.5-pro", "gemini-2.5-pro", o);
}

/// The Claude ACP adapter turns Claude Code's tool search on, which offers MCP tools only
/// through `ToolSearch`; `ENABLE_TOOL_SEARCH=false` lists them upfront (docs/agents.md).
#[test]
fn claude_acp_model_and_tools() {
    let o = Opening {
        vars: &[("ENABLE_TOOL_SEARCH", "false")],
        ..Opening::default()
    };
    model_and_tools("claude-acp", "haiku", "haiku", o);
}

#[test]
fn codex_acp_model_and_tools() {
    let o = Opening::default();
    model_and_tools("codex-acp", "gpt-5.4", "gpt-5.4", o);
}

/// `--steer` with the genuine Codex: `turn/steer` adds the text to the running turn, whose
/// caller's turn then carries it to the model (Codex 0.169 sends it with the turn's next
/// model request), and the steering prompt itself ends at once as `steered`.
#[test]
fn codex_steer_reaches_the_running_turn() {
    let mut env = real_env();
    env.start_daemon();
    env.prompt_ok(&["-a", "codex", "warm up"]);
    let mut slow = env.spawn_prompt(&["-a", "codex", "SLOW long answer"]);
    slow.wait_for("streamed text", |v| v["type"] == "text");
    let (events, rc) = env.prompt_json(&["-a", "codex", "--steer", "STEER extra"]);
    assert_eq!(rc, 0, "{events:#?}");
    let last = events.last().cloned().unwrap_or_default();
    assert_eq!(last["stop_reason"], "steered", "{events:#?}");
    let (slow_events, rc, stderr) = slow.finish();
    assert_eq!(rc, 0, "{slow_events:#?} {stderr}");
    let requests = llm_requests(&env);
    let steered = carrying(&requests, "STEER extra");
    assert!(
        !steered.is_empty(),
        "the steered text never reached the model: {requests:#?}"
    );
    // The conversation holds it: warm up, the long answer, the steered text, and this.
    let next = env.prompt_ok(&["-a", "codex", "after"]);
    let out = next["output"].as_str().unwrap_or_default();
    assert_eq!(turns_seen(out), 4, "{out}");
    println!("e2e codex: steered; the next turn saw {out:?}");
}
