//! `cap prompt --schema`: validated JSON on stdout for every protocol, re-asks with the
//! validator's message, a clean failure naming the path, and a bad schema refused before
//! anything is sent. The fake agent answers a schema turn with
//! `{"turns": N, "via": "prompt"|"outputSchema"}` (`WRONGJSON`, `WRONGJSONONCE`: `turns`
//! as a string).

use cap_tests::*;
use serde_json::{Value, json};

/// Wants what the fake answers, with an integer `turns`.
const SCHEMA: &str = r#"{"type":"object","properties":{"turns":{"type":"integer"},"via":{"enum":["prompt","outputSchema"]}},"required":["turns","via"]}"#;

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

/// Every protocol, and how it is asked: Codex natively, the others in the prompt.
const AGENTS: [(&str, &str); 3] = [
    ("claude", "prompt"),
    ("fcodex", "outputSchema"),
    ("facp", "prompt"),
];

#[test]
fn stdout_is_the_validated_json_and_nothing_else() {
    for (agent, via) in AGENTS {
        let env = start(agent);
        let file = env.dir.path().join("schema.json");
        std::fs::write(&file, SCHEMA).unwrap();
        let out = env.cap(&["prompt", "--schema", file.to_str().unwrap(), "classify"]);
        assert_eq!(code(&out), 0, "{agent}: {}", text(&out.stderr));
        let expected = format!("{}\n", json!({"turns": 1, "via": via}));
        assert_eq!(
            text(&out.stdout),
            expected,
            "{agent}: stdout is the value alone"
        );
        // Inline, quiet: the same one document, and the session kept its context.
        let out = env.cap(&["--format", "quiet", "prompt", "--schema", SCHEMA, "again"]);
        assert_eq!(code(&out), 0, "{agent}: {}", text(&out.stderr));
        let value: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
        assert_eq!(value, json!({"turns": 2, "via": via}), "{agent}");
        // json: the value rides in the result, next to the reply it was read from.
        let last = env.prompt_ok(&["--schema", SCHEMA, "third"]);
        assert_eq!(
            last["structured"],
            json!({"turns": 3, "via": via}),
            "{agent}"
        );
        assert!(
            last["output"].as_str().unwrap().contains("\"turns\":3"),
            "{last}"
        );
        // A prompt without a schema is free text again.
        let last = env.prompt_ok(&["plain"]);
        assert!(last.get("structured").is_none(), "{agent}: {last}");
        assert!(
            result_output(&[last]).starts_with("ECHO[turns=4]"),
            "{agent}"
        );
    }
}

#[test]
fn a_wrong_answer_is_asked_for_again_and_the_second_one_counts() {
    for (agent, via) in AGENTS {
        let env = start(agent);
        let (events, rc) = env.prompt_json(&["--schema", SCHEMA, "classify WRONGJSONONCE"]);
        assert_eq!(rc, 0, "{agent}: {events:#?}");
        assert_eq!(status_kinds(&events), ["reask"], "{agent}: {events:#?}");
        let reask = events_of(&events, "status")[0]["message"].as_str().unwrap();
        assert!(reask.contains("/turns"), "{agent}: names the path: {reask}");
        let last = events.last().unwrap();
        // The re-ask was the session's second turn, in the same conversation.
        assert_eq!(
            last["structured"],
            json!({"turns": 2, "via": via}),
            "{agent}"
        );
    }
}

#[test]
fn an_answer_that_never_validates_fails_with_exit_1_naming_the_path() {
    for (agent, _) in AGENTS {
        let env = start(agent);
        let out = env.cap(&["prompt", "--schema", SCHEMA, "classify WRONGJSON"]);
        assert_eq!(code(&out), 1, "{agent}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "", "{agent}: nothing invalid on stdout");
        let err = text(&out.stderr);
        assert!(
            err.contains("does not match the schema") && err.contains("at /turns"),
            "{agent}: {err}"
        );
        let (events, rc) = env.prompt_json(&["--schema", SCHEMA, "once more WRONGJSON"]);
        assert_eq!(rc, 1);
        assert_eq!(status_kinds(&events), ["reask", "reask"], "{agent}");
        let last = events.last().unwrap();
        assert_eq!(last["type"], "error", "{agent}: {events:#?}");
        assert_eq!(last["code"], "agent");
        assert!(events_of(&events, "result").is_empty(), "{agent}");
    }
}

#[test]
fn a_bad_schema_is_a_usage_error_before_anything_is_sent() {
    let env = start("claude");
    for (schema, says) in [
        (r#"{"type":"nope"}"#, "not a valid JSON Schema"),
        (r#"{"type":"object""#, "is not JSON"),
        ("no-such-schema.json", "cannot read the schema file"),
    ] {
        let out = env.cap(&["prompt", "--schema", schema, "classify"]);
        assert_eq!(code(&out), 2, "{schema}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(says),
            "{schema}: {}",
            text(&out.stderr)
        );
        assert_eq!(text(&out.stdout), "");
    }
    let (events, rc) = env.prompt_json(&["--schema", r#"{"minLength":-1}"#, "x"]);
    assert_eq!(rc, 2);
    assert_eq!(events.last().unwrap()["code"], "usage", "{events:#?}");
    assert!(env.invocations().is_empty(), "no agent was started");
    assert!(env.sessions_doc().is_empty());
}

/// The cookbook's fan-out: several `--no-wait` prompts, each answer collected with
/// `cap result`, which prints the validated value like `prompt` would.
#[test]
fn no_wait_answers_are_collected_as_json_with_cap_result() {
    let env = start("facp");
    let mut sessions = Vec::new();
    for key in ["a", "b"] {
        let out = env.cap(&[
            "--format",
            "quiet",
            "prompt",
            "--no-wait",
            "--key",
            key,
            "--schema",
            SCHEMA,
            "classify",
        ]);
        assert_eq!(code(&out), 0, "{}", text(&out.stderr));
        sessions.push(text(&out.stdout).trim().to_string());
    }
    for sid in &sessions {
        // `result` answers once the turn has ended (before that: no result yet).
        wait_until("the queued turn's result", || {
            code(&env.cap(&["result", sid])) == 0
        });
        let out = env.cap(&["result", sid]);
        assert_eq!(code(&out), 0, "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "{\"turns\":1,\"via\":\"prompt\"}\n");
    }
}
