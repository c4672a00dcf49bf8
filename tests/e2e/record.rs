//! Transcripts (SPEC §7 "Record"): every turn recorded per native session, continued across
//! daemon restarts, agent crashes and evictions; `cap log` and `cap export`; private files;
//! recording off; a write failure that never fails the turn. The scenarios that differ by
//! protocol run for the Claude fake (the default agent) and the Codex and ACP fakes.

use crate::drivers::{Agent, config};
use cap_tests::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// An environment with `top` config for the Claude fake (`None`) or a driver's fake.
fn env_for(agent: Option<Agent>, top: &str) -> (Env, &'static str) {
    let (mut env, name) = match agent {
        None => (
            Env::with_config(&format!("prompt_timeout = 30\n{top}")),
            "claude",
        ),
        Some(a) => (Env::with_config(&config(a, top)), a.name()),
    };
    env.start_daemon();
    (env, name)
}

fn transcript_dir(env: &Env) -> PathBuf {
    env.dir.path().join("state").join("cap").join("transcripts")
}

/// `cap --format json log ARGS`: the records.
fn log_json(env: &Env, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--format", "json", "log"];
    all.extend_from_slice(args);
    let out = env.cap(&all);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    json_lines(&out.stdout)
}

fn of_type<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == kind).collect()
}

fn prompts(records: &[Value]) -> Vec<String> {
    of_type(records, "prompt")
        .iter()
        .map(|r| r["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Restart, crash and eviction on one key (`max_sessions = 1`, so a prompt on another key
/// evicts it): every turn is in one file, named by the native id that never changed.
fn survives_restart_crash_and_eviction(agent: Option<Agent>) {
    let (mut env, name) = env_for(agent, "max_sessions = 1");
    let first = env.prompt_ok(&["--key", "a", "one"]);
    let native = first["native_id"].as_str().expect("native id").to_string();
    env.restart_daemon();
    env.prompt_ok(&["--key", "a", "two"]);
    let (events, rc) = env.prompt_json(&["--key", "a", "CRASHONCE three"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert!(
        status_kinds(&events).contains(&"respawn".to_string()),
        "{events:#?}"
    );
    env.prompt_ok(&["--key", "b", "elsewhere"]);
    let last = env.prompt_ok(&["--key", "a", "four"]);
    assert_eq!(
        last["native_id"],
        native.as_str(),
        "the conversation was resumed"
    );

    let records = log_json(&env, &["--key", "a"]);
    assert_eq!(prompts(&records), ["one", "two", "CRASHONCE three", "four"]);
    assert_eq!(of_type(&records, "result").len(), 4, "{records:#?}");
    let kinds: Vec<&Value> = of_type(&records, "status")
        .iter()
        .map(|r| &r["kind"])
        .collect();
    assert!(kinds.contains(&&Value::from("respawn")), "{records:#?}");
    assert!(kinds.contains(&&Value::from("evicted")), "{records:#?}");
    for r in &records {
        assert_eq!(r["agent"], name);
        assert!(r["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{r}");
        assert!(r["session"].is_string() && r["request"].is_string(), "{r}");
    }
    // The text of a turn is one record, not one per delta.
    let texts = of_type(&records, "text");
    assert_eq!(texts.len(), 4, "{records:#?}");
    assert!(
        texts[3]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("four")
    );

    // One file per native session: this conversation's, and the other key's.
    let dir = transcript_dir(&env).join(name);
    let file = dir.join(format!("{native}.jsonl"));
    let mode = std::fs::metadata(&file)
        .expect("transcript")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(std::fs::read_dir(&dir).expect("dir").count(), 2);
    let lines = std::fs::read_to_string(&file).expect("read");
    assert_eq!(
        json_lines(lines.as_bytes()),
        records,
        "log shows the file as written"
    );
    // By native id too, with no live session needed; and the last turn alone.
    assert_eq!(log_json(&env, &[&native]), records);
    assert_eq!(
        prompts(&log_json(&env, &["--key", "a", "-n", "1"])),
        ["four"]
    );

    let out = env.cap(&["log", "--key", "a"]);
    let shown = text(&out.stdout);
    let at = |s: &str| {
        shown
            .find(s)
            .unwrap_or_else(|| panic!("{s} missing: {shown}"))
    };
    assert!(at("> one") < at("> two") && at("> two") < at("> CRASHONCE three"));
    assert!(at("> CRASHONCE three") < at("> four"));
    assert_eq!(shown.matches("✓ end_turn").count(), 4, "{shown}");
}

#[test]
fn claude_transcripts_survive_restart_crash_and_eviction() {
    survives_restart_crash_and_eviction(None);
}

#[test]
fn codex_transcripts_survive_restart_crash_and_eviction() {
    survives_restart_crash_and_eviction(Some(Agent::Codex));
}

#[test]
fn acp_transcripts_survive_restart_crash_and_eviction() {
    survives_restart_crash_and_eviction(Some(Agent::Acp));
}

#[test]
fn export_round_trips_with_tools_thoughts_and_the_preamble() {
    let (env, _) = env_for(Some(Agent::Acp), "preamble = \"be brief\"");
    env.prompt_ok(&["--key", "x", "THINK TOOL look around"]);
    env.prompt_ok(&["--key", "x", "and again"]);
    env.prompt_ok(&["--key", "x", "--deny-all", "PERMISSION"]);
    let records = log_json(&env, &["--key", "x"]);
    let decisions: Vec<&Value> = of_type(&records, "permission")
        .iter()
        .map(|p| &p["decision"])
        .collect();
    assert_eq!(decisions, [&Value::from("deny")], "{records:#?}");
    let first = &of_type(&records, "prompt")[0];
    assert_eq!(
        first["text"], "THINK TOOL look around",
        "the preamble is kept apart"
    );
    assert_eq!(first["preamble"], "be brief");
    assert!(of_type(&records, "prompt")[1].get("preamble").is_none());
    let tools = of_type(&records, "tool_call");
    assert!(!tools.is_empty(), "{records:#?}");
    let ids: Vec<&Value> = tools.iter().map(|t| &t["id"]).collect();
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(
        ids, unique,
        "one record per tool call, with its final status"
    );
    assert!(!of_type(&records, "thought").is_empty(), "{records:#?}");

    let out = env.cap(&["export", "--key", "x", "--to", "json"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["records"], Value::from(records.clone()));

    let out = env.cap(&["export", "--key", "x"]);
    let md = text(&out.stdout);
    assert!(md.starts_with("# Transcript"), "{md}");
    assert!(md.contains("## Turn 1") && md.contains("## Turn 2"), "{md}");
    assert!(
        md.contains("### Preamble\n\nbe brief") && md.contains("### Prompt"),
        "{md}"
    );
    assert!(
        md.contains("- tool `") && md.contains("- permission `"),
        "{md}"
    );
    let shown = text(&env.cap(&["log", "--key", "x"]).stdout);
    assert!(
        shown.contains("? permission") && shown.contains(": deny by"),
        "{shown}"
    );
    assert!(
        shown.contains("(preamble) be brief") && shown.contains("• "),
        "{shown}"
    );
}

#[test]
fn follow_streams_the_records_of_new_turns_until_the_session_ends() {
    let (env, _) = env_for(None, "");
    env.prompt_ok(&["--key", "f", "before"]);
    let mut follow = env.spawn_cap(&["--format", "json", "log", "--key", "f", "--follow"]);
    // The first turn's result was read after subscribing, so nothing later can be missed.
    follow.wait_for("the first turn's result", |v| v["type"] == "result");
    env.prompt_ok(&["--key", "f", "after"]);
    follow.wait_for("the new prompt", |v| {
        v["type"] == "prompt" && v["text"] == "after"
    });
    follow.wait_for("the new result", |v| v["type"] == "result");
    assert_eq!(code(&env.cap(&["end", "--key", "f"])), 0);
    let (all, rc, err) = follow.finish();
    assert_eq!(rc, 0, "{err}");
    assert_eq!(
        prompts(&all),
        ["before", "after"],
        "each record once: {all:#?}"
    );
}

#[test]
fn recording_off_writes_nothing() {
    let (env, _) = env_for(None, "transcripts = false");
    env.prompt_ok(&["hello"]);
    assert!(!transcript_dir(&env).exists());
    let out = env.cap(&["log"]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("transcripts = false"));
}

#[test]
fn a_transcript_that_cannot_be_written_warns_once_and_the_turn_succeeds() {
    let mut env = Env::with_config("");
    // A regular file where the directory should be: cannot be created, even by root.
    let dir = transcript_dir(&env);
    std::fs::create_dir_all(dir.parent().expect("parent")).expect("state dir");
    std::fs::write(&dir, "not a directory").expect("blocker");
    env.start_daemon();
    let (events, rc) = env.prompt_json(&["one"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(status_kinds(&events), ["transcript"], "{events:#?}");
    assert_eq!(result_output(&events), "ECHO[turns=1]: one");
    let status = events_of(&events, "status")[0];
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("transcript")
    );
    let (events, rc) = env.prompt_json(&["two"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert!(
        status_kinds(&events).is_empty(),
        "said once per session: {events:#?}"
    );
    assert!(
        !env.daemon_log().contains("ECHO"),
        "no conversation in the daemon log"
    );
}
