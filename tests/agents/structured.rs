//! `cap prompt --schema` with the genuine agents: validated JSON on stdout, a wrong first
//! answer re-asked, and a schema no answer can meet failing cleanly (exit 1, the path named,
//! nothing on stdout). The fake LLM answers a schema, in the prompt or on the API (Codex's
//! `outputSchema`), with its smallest instance; `WRONGJSON` spoils the answer of that turn.

use cap_tests::real::real_env;
use cap_tests::*;
use serde_json::{Value, json};

const SCHEMA: &str = r#"{"type":"object","properties":{"risk":{"enum":["low","high"]},"files":{"type":"array","items":{"type":"string"},"minItems":1}},"required":["risk","files"],"additionalProperties":false}"#;

/// No integer is at least 5 and at most 1: every answer fails at `/n`.
const IMPOSSIBLE: &str = r#"{"type":"object","properties":{"n":{"type":"integer","minimum":5,"maximum":1}},"required":["n"],"additionalProperties":false}"#;

fn structured(agent: &str) {
    let mut env = real_env();
    env.start_daemon();
    // codex-acp can only be run under approve-all (docs/permissions.md).
    let policy: &[&str] = if agent == "codex-acp" {
        &["--approve-all"]
    } else {
        &[]
    };
    let prompt = |format: &str, schema: &str, text: &str| {
        let mut args = vec!["--format", format, "prompt", "-a", agent];
        args.extend_from_slice(policy);
        args.extend(["--schema", schema, text]);
        env.cap(&args)
    };

    let out = prompt("text", SCHEMA, "classify the change");
    assert_eq!(code(&out), 0, "{agent}: {}", text(&out.stderr));
    let value: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{agent}: stdout is not one JSON document ({e}): {out:?}"));
    assert_eq!(value, json!({"risk": "low", "files": ["fake"]}), "{agent}");
    // How the schema reached the model: Codex's outputSchema (an API-level schema on the
    // turn's request, which offers tools), everyone else in the prompt.
    let log: Vec<Value> = std::fs::read_to_string(&env.llm_log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    // (A schema in the prompt is answered in a fenced block, an API-level one bare.)
    let native = log.iter().any(|e| {
        e["json_schema"] == true
            && e["tools"].as_array().is_some_and(|t| !t.is_empty())
            && e["reply"].as_str().is_some_and(|r| r.starts_with('{'))
    });
    let instructed = log
        .iter()
        .any(|e| e["user_texts"].to_string().contains("JSON Schema:"));
    assert_eq!(
        (native, instructed),
        (agent == "codex", agent != "codex"),
        "{agent}: native outputSchema / instructions in the prompt"
    );

    let out = prompt("json", SCHEMA, "classify again WRONGJSON");
    let events = json_lines(&out.stdout);
    assert_eq!(code(&out), 0, "{agent}: {events:#?}");
    assert_eq!(status_kinds(&events), ["reask"], "{agent}: {events:#?}");
    let last = events.last().cloned().unwrap_or(Value::Null);
    assert_eq!(
        last["structured"],
        json!({"risk": "low", "files": ["fake"]}),
        "{agent}"
    );

    let out = prompt("text", IMPOSSIBLE, "count");
    assert_eq!(code(&out), 1, "{agent}: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "", "{agent}: nothing invalid on stdout");
    assert!(
        text(&out.stderr).contains("at /n"),
        "{agent}: {}",
        text(&out.stderr)
    );
    // The session is fine afterwards.
    let mut args = vec!["-a", agent];
    args.extend_from_slice(policy);
    args.push("free text");
    let r = env.prompt_ok(&args);
    assert!(r.get("structured").is_none(), "{agent}: {r}");
    println!("e2e {agent}: --schema validated, re-asked and failed cleanly");
}

#[test]
fn claude_structured() {
    structured("claude");
}

#[test]
fn codex_structured() {
    structured("codex");
}

#[test]
fn opencode_structured() {
    structured("opencode");
}

#[test]
fn gemini_structured() {
    structured("gemini");
}

#[test]
fn claude_acp_structured() {
    structured("claude-acp");
}

#[test]
fn codex_acp_structured() {
    structured("codex-acp");
}
