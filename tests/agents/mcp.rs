//! Genuine Claude Code as the MCP client of `cap mcp` (docs/mcp.md): Claude, run by capd
//! against the fake LLM, calls cap's `prompt` tool (the fake's `MCPCALL` makes the model ask
//! for it); `cap mcp` runs the turn on another agent through the same capd, and the answer
//! comes back into Claude's turn (the fake answers a tool result with `TOOL RESULT: …`). A
//! second call continues the same conversation; the other agent's permission question is
//! decided by the policy; a call onto Claude's own session is refused;
//! the permission policy holds Claude's call of the tool like any other.

use cap_tests::real::{agent_bins, real_env};
use cap_tests::*;
use serde_json::Value;
use std::process::Command;

/// The fake LLM's words for "call cap's prompt tool with these arguments".
fn ask_other(prompt: &str) -> String {
    let args = serde_json::json!({"agent": "other", "prompt": prompt});
    format!("MCPCALL mcp__cap__prompt {args}")
}

fn output(result: &Value) -> String {
    result["output"].as_str().unwrap_or_default().to_string()
}

#[test]
fn claude_holds_a_conversation_with_another_agent_through_cap_mcp() {
    let mut env = real_env();
    // Added the way docs/mcp.md says, with the genuine `claude`, at user scope in the
    // test's scratch HOME (the one capd and its agents run with).
    let added = Command::new(agent_bins().join("claude"))
        .args(["mcp", "add", "--scope", "user", "cap", "--"])
        .arg(bin("cap"))
        .arg("mcp")
        .env("HOME", env.dir.path().join("home"))
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .current_dir(&env.work)
        .output()
        .expect("run claude mcp add");
    assert!(
        added.status.success(),
        "claude mcp add: {}{}",
        text(&added.stdout),
        text(&added.stderr)
    );
    // Delegated turns are asked about edits (approve-reads), and an open question would wait
    // longer than Claude's turn may take (real_env's prompt_timeout is 120 s): a question
    // that reached no one who can answer would fail the test instead of being denied.
    env.amend_config(
        "default_permissions = \"approve-reads\"\npermission_timeout = 600",
        "",
    );
    env.start_daemon();

    let first = env.prompt_ok(&[
        "-a",
        "claude",
        "--approve-all",
        &ask_other("remember the word teal"),
    ]);
    assert!(
        output(&first).starts_with("TOOL RESULT: ECHO[turns=1]: remember the word teal"),
        "Claude's turn got the other agent's answer: {first}"
    );
    let second = env.prompt_ok(&["-a", "claude", "--approve-all", &ask_other("which word?")]);
    assert!(
        output(&second).starts_with("TOOL RESULT: ECHO[turns=2]: which word?"),
        "the second call continued the same conversation: {second}"
    );
    // The other agent's permission question: Claude, run by capd, has no person to put it
    // to, so the policy decides at once and the turn goes on.
    let asked = env.prompt_ok(&[
        "-a",
        "claude",
        "--approve-all",
        &ask_other("PERMISSION please"),
    ]);
    assert!(
        output(&asked).starts_with("TOOL RESULT: ECHO[turns=3]: PERMISSION please")
            && output(&asked).contains("[PERMISSION DENIED"),
        "{asked}"
    );
    // capd told Claude its session, Claude's MCP server inherited it: a call onto Claude's
    // own session, which could only wait for the turn that makes it, is refused.
    let claude = first["session"].as_str().expect("session id");
    let args = serde_json::json!({"session": claude, "prompt": "hello me"});
    let own = env.prompt_ok(&[
        "-a",
        "claude",
        "--approve-all",
        &format!("MCPCALL mcp__cap__prompt {args}"),
    ]);
    assert!(
        output(&own).contains("calling agent's own session"),
        "{own}"
    );
    // One Claude session on the person's key, one delegated session on cap mcp's default
    // key for the other agent, which saw both turns.
    let sessions = env.sessions_doc();
    let other: Vec<&Value> = sessions.iter().filter(|s| s["agent"] == "other").collect();
    assert_eq!(other.len(), 1, "{sessions:#?}");
    assert_eq!(other[0]["turns"], 3, "{sessions:#?}");
    let key = format!("mcp:other@{}", env.work.display());
    assert_eq!(other[0]["keys"], serde_json::json!([key]), "{sessions:#?}");
    assert_eq!(
        sessions.iter().filter(|s| s["agent"] == "claude").count(),
        1,
        "{sessions:#?}"
    );

    // The policy holds the call like any other tool: with nobody to ask, running another
    // agent's turn is refused, and the other agent never hears of it.
    let (events, rc) = env.prompt_json(&[
        "-a",
        "claude",
        "--non-interactive",
        "deny",
        &ask_other("not allowed"),
    ]);
    assert_eq!(rc, 0, "{events:#?}");
    let denied = events_of(&events, "permission").iter().any(|p| {
        p["decision"] == "deny" && p["by"] == "no_one_to_ask" && p["tool"] == "mcp__cap__prompt"
    });
    assert!(denied, "{events:#?}");
    let sessions = env.sessions_doc();
    let other = sessions
        .iter()
        .find(|s| s["agent"] == "other")
        .expect("the other session");
    assert_eq!(other["turns"], 3, "{sessions:#?}");
}

/// An MCP server without a true `CAP_SESSION` (Codex hands its servers none unless told; an
/// agent started on a prewarmed spare has none; here Claude's config overrides it with a
/// session that does not exist): capd finds the caller by process ancestry, so a call onto
/// Claude's own session is still refused.
#[test]
fn the_caller_is_found_without_cap_session() {
    let mut env = real_env();
    let added = Command::new(agent_bins().join("claude"))
        .args(["mcp", "add-json", "--scope", "user", "cap"])
        .arg(
            serde_json::json!({
                "type": "stdio",
                "command": bin("cap"),
                "args": ["mcp"],
                "env": {"CAP_SESSION": "gone"}
            })
            .to_string(),
        )
        .env("HOME", env.dir.path().join("home"))
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .current_dir(&env.work)
        .output()
        .expect("run claude mcp add");
    assert!(added.status.success(), "{}", text(&added.stderr));
    env.start_daemon();
    let first = env.prompt_ok(&["-a", "claude", "--approve-all", "hello"]);
    let claude = first["session"].as_str().expect("session id");
    let args = serde_json::json!({"session": claude, "prompt": "hello me"});
    let (own, _) = env.prompt_json(&[
        "-a",
        "claude",
        "--approve-all",
        &format!("MCPCALL mcp__cap__prompt {args}"),
    ]);
    let own = own.last().cloned().unwrap_or_default();
    assert!(
        output(&own).contains("calling agent's own session"),
        "{own}"
    );
}
