//! Permissions (docs/permissions.md): one policy for every protocol, decided in capd, asked
//! of the person at the terminal or the program reading JSON, denied when nobody can answer.
//! Each scenario runs against the fake Claude (`can_use_tool` over stdio) and the fake ACP
//! agent (`session/request_permission`); both ask to write `permission.txt` in the cwd when
//! a prompt says PERMISSION, and append the outcome to their reply.

use cap_tests::*;
use serde_json::Value;
use std::process::{Command, Output, Stdio};

/// An agent with a permission protocol.
#[derive(Clone, Copy, Debug)]
enum Agent {
    Claude,
    Acp,
}

impl Agent {
    fn name(self) -> &'static str {
        match self {
            Agent::Claude => "claude",
            Agent::Acp => "facp",
        }
    }
}

fn start(agent: Agent, top: &str) -> Env {
    let fake = bin("cap-fake-agent");
    let mut env = Env::with_config(&format!(
        "{top}\ndefault_agent = \"{}\"\n[agents.facp]\nprotocol = \"acp\"\ncommand = \"{}\"\nargs = [\"acp\"]\n",
        agent.name(),
        fake.display()
    ));
    env.start_daemon();
    env
}

fn granted(reply: &str) -> bool {
    reply.contains("[permission granted")
}

fn denied(reply: &str) -> bool {
    reply.contains("[PERMISSION DENIED")
}

fn permission_events(events: &[Value]) -> Vec<Value> {
    events_of(events, "permission")
        .into_iter()
        .cloned()
        .collect()
}

/// Runs `cap ARGS` on a pseudo-terminal, with `input` typed ahead.
fn on_terminal(env: &Env, args: &[&str], input: &str) -> Output {
    let inner = env.command("cap");
    let line = std::iter::once(bin("cap").display().to_string())
        .chain(args.iter().map(|a| format!("'{a}'")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut script = Command::new("script");
    script
        .args(["-qec", &line, "/dev/null"])
        .current_dir(&env.work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let mut child = script.spawn().expect("run script (util-linux)");
    if let Some(mut stdin) = child.stdin.take() {
        use std::io::Write;
        stdin.write_all(input.as_bytes()).expect("type ahead");
    }
    child.wait_with_output().expect("script output")
}

fn both(scenario: fn(Agent)) {
    for agent in [Agent::Claude, Agent::Acp] {
        scenario(agent);
    }
}

#[test]
fn the_default_allows_an_edit_inside_the_cwd_and_deny_all_refuses_it() {
    both(|agent| {
        let env = start(agent, "");
        let (events, rc) = env.prompt_json(&["PERMISSION"]);
        assert_eq!(rc, 0, "{agent:?}: {events:#?}");
        assert!(granted(&result_output(&events)), "{agent:?}: {events:#?}");
        let seen = permission_events(&events);
        assert_eq!(seen.len(), 1, "{agent:?}: {seen:#?}");
        assert_eq!(seen[0]["decision"], "allow");
        assert_eq!(seen[0]["kind"], "edit");
        assert_eq!(seen[0]["by"], "policy");
        assert_eq!(seen[0]["detail"], "approve-edits");

        let (events, rc) = env.prompt_json(&["--deny-all", "PERMISSION"]);
        assert_eq!(rc, 0, "{agent:?}: {events:#?}");
        assert!(
            denied(&result_output(&events)),
            "the agent sees the refusal"
        );
        assert_eq!(events.last().unwrap()["permissions"]["denied"], 1);
    });
}

#[test]
fn a_denial_prints_one_line_naming_the_tool_the_reason_and_what_would_allow_it() {
    both(|agent| {
        // approve-reads leaves the edit to a person, and piped output has nobody to ask.
        let env = start(agent, "default_permissions = \"approve-reads\"");
        let out = env.cap(&["prompt", "PERMISSION"]);
        assert_eq!(code(&out), 0, "{agent:?}: {}", text(&out.stderr));
        assert!(denied(&text(&out.stdout)), "{}", text(&out.stdout));
        let err = text(&out.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| l.contains("denied")).collect();
        assert_eq!(lines.len(), 1, "{agent:?}: {err}");
        assert!(lines[0].contains("nobody could be asked"), "{}", lines[0]);
        assert!(lines[0].contains("--allow 'edit("), "{}", lines[0]);
        // The rule it names does allow it.
        let out = env.cap(&["prompt", "--allow", "edit(permission.txt)", "PERMISSION"]);
        assert!(
            granted(&text(&out.stdout)),
            "{agent:?}: {}",
            text(&out.stdout)
        );
    });
}

#[test]
fn a_deny_rule_beats_approve_all() {
    both(|agent| {
        let env = start(agent, "[permissions]\ndeny = [\"edit(*.txt)\"]");
        let (events, rc) = env.prompt_json(&["--approve-all", "PERMISSION"]);
        assert_eq!(rc, 0, "{events:#?}");
        assert!(denied(&result_output(&events)), "{agent:?}: {events:#?}");
        let seen = permission_events(&events);
        assert_eq!(seen[0]["by"], "rule");
        assert_eq!(seen[0]["detail"], "deny:edit(*.txt)");
    });
}

#[test]
fn json_questions_are_events_answered_with_cap_decide() {
    both(|agent| {
        let env = start(agent, "default_permissions = \"approve-reads\"");
        let mut run = env.spawn_prompt(&["PERMISSION"]);
        let asked = run.wait_for("the question", |v| {
            v["type"] == "permission" && v["decision"] == "ask"
        });
        let id = asked["id"].as_str().expect("question id").to_string();
        let out = env.cap(&["decide", &id, "allow"]);
        assert_eq!(code(&out), 0, "{agent:?}: {}", text(&out.stderr));
        let (events, rc, _) = run.finish();
        assert_eq!(rc, 0, "{events:#?}");
        assert!(granted(&result_output(&events)), "{agent:?}: {events:#?}");
        let answer = events
            .iter()
            .find(|e| e["type"] == "permission" && e["decision"] == "allow")
            .expect("the decision");
        assert_eq!(
            (answer["id"].as_str(), &answer["by"]),
            (Some(id.as_str()), &Value::from("user"))
        );
        assert_eq!(events.last().unwrap()["permissions"]["asked"], 1);
        // The question is closed: a late answer says so.
        let out = env.cap(&["decide", &id, "deny"]);
        assert_eq!(code(&out), 4, "{}", text(&out.stderr));
    });
}

#[test]
fn a_question_nobody_answers_is_denied_after_the_timeout() {
    let env = start(
        Agent::Claude,
        "default_permissions = \"approve-reads\"\npermission_timeout = 1",
    );
    let (events, rc) = env.prompt_json(&["PERMISSION"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert!(denied(&result_output(&events)), "{events:#?}");
    let last = permission_events(&events).pop().expect("a decision");
    assert_eq!(
        (last["decision"].as_str(), last["by"].as_str()),
        (Some("deny"), Some("timeout"))
    );
}

#[test]
fn non_interactive_fail_ends_the_turn_with_5() {
    both(|agent| {
        let env = start(agent, "default_permissions = \"approve-reads\"");
        let out = env.cap(&["prompt", "--non-interactive", "fail", "PERMISSION"]);
        assert_eq!(code(&out), 5, "{agent:?}: {}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(err.contains("nobody could be asked"), "says why: {err}");
        assert!(
            err.contains("permission.txt"),
            "names what was refused: {err}"
        );
        let (events, rc) = env.prompt_json(&["--non-interactive", "fail", "PERMISSION"]);
        assert_eq!(rc, 5, "{events:#?}");
        assert_eq!(events.last().unwrap()["code"], "permission_denied");
        // Told to deny instead, the turn goes on without the tool.
        let (events, rc) = env.prompt_json(&["--non-interactive", "deny", "PERMISSION"]);
        assert_eq!(rc, 0);
        assert!(denied(&result_output(&events)), "{agent:?}: {events:#?}");
    });
}

#[test]
fn a_person_at_the_terminal_answers_yes_no_and_always() {
    both(|agent| {
        let env = start(agent, "default_permissions = \"approve-reads\"");
        let out = on_terminal(&env, &["prompt", "PERMISSION"], "y\n");
        let screen = text(&out.stdout);
        assert!(
            screen.contains("Allow Write") || screen.contains("Allow fake"),
            "{agent:?}: {screen}"
        );
        assert!(granted(&screen), "{agent:?}: {screen}");
        let out = on_terminal(&env, &["prompt", "PERMISSION"], "n\n");
        assert!(
            denied(&text(&out.stdout)),
            "{agent:?}: {}",
            text(&out.stdout)
        );
        let out = on_terminal(&env, &["prompt", "PERMISSION"], "a\n");
        assert!(
            granted(&text(&out.stdout)),
            "{agent:?}: {}",
            text(&out.stdout)
        );
        // "Always" holds for the session: the next request is not asked, even piped.
        let (events, rc) = env.prompt_json(&["PERMISSION"]);
        assert_eq!(rc, 0);
        assert!(granted(&result_output(&events)), "{agent:?}: {events:#?}");
        let seen = permission_events(&events);
        assert_eq!(seen.len(), 1, "not asked again: {seen:#?}");
        assert_eq!(seen[0]["by"], "user");
    });
}
