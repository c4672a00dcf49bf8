//! What a prompt may change about its session (issue 10): `--model` on a warm session,
//! `--mcp-config` and configured `mcp_servers`, and `--steer`, for each protocol against the
//! fake agent. The fake logs every line it reads (`input.jsonl`) and its command lines
//! (`invocations.jsonl`), so each test checks what reached the agent, in the agent's shape.

use crate::drivers::config;
use cap_tests::*;
use serde_json::Value;

/// The three protocols: the default `claude` (the fake in stream-json mode) and the two
/// custom tables of [`config`].
#[derive(Clone, Copy, Debug)]
enum Proto {
    Claude,
    Codex,
    Acp,
}

impl Proto {
    fn agent(self) -> &'static str {
        match self {
            Proto::Claude => "claude",
            Proto::Codex => "fcodex",
            Proto::Acp => "facp",
        }
    }
}

fn env_for(top: &str, vars: &[(&str, &str)]) -> Env {
    let mut env = Env::with_config(&config(crate::drivers::Agent::Codex, top));
    for (k, v) in vars {
        env.vars.push((k.to_string(), v.to_string()));
    }
    env.start_daemon();
    env
}

/// Every line the fake agents have read, parsed.
fn input(env: &Env) -> Vec<Value> {
    let text = std::fs::read_to_string(env.fake_home.join("input.jsonl")).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["line"].clone())
        .collect()
}

/// The requests of `method` the fake read (Codex and ACP), in order.
fn requests(env: &Env, method: &str) -> Vec<Value> {
    input(env)
        .into_iter()
        .filter(|l| l["method"] == method)
        .collect()
}

fn output(r: &Value) -> String {
    r["output"].as_str().unwrap_or_default().to_string()
}

/// The model the agent was last asked to use, in its protocol's own way.
fn model_sent(env: &Env, p: Proto) -> Option<String> {
    let lines = input(env);
    let found = match p {
        Proto::Claude => lines
            .iter()
            .rev()
            .find(|l| l["request"]["subtype"] == "set_model")
            .map(|l| l["request"]["model"].clone()),
        Proto::Codex => lines
            .iter()
            .rev()
            .find(|l| l["method"] == "turn/start" && l["params"]["model"].is_string())
            .map(|l| l["params"]["model"].clone()),
        Proto::Acp => lines
            .iter()
            .rev()
            .find(|l| l["method"] == "session/set_config_option")
            .map(|l| {
                assert_eq!(l["params"]["configId"], "model", "{l}");
                l["params"]["value"].clone()
            }),
    };
    found.and_then(|v| v.as_str().map(str::to_string))
}

/// `--model` on a warm session switches it before the prompt, in the same session with its
/// context; `cap show` and `cap sessions` show it; after a daemon restart the resumed
/// session opens with it.
fn model_switches_a_warm_session(p: Proto) {
    let mut env = env_for("", &[]);
    let agent = p.agent();
    let first = env.prompt_ok(&["-a", agent, "one"]);
    let sid = first["session"].as_str().expect("session").to_string();
    assert_eq!(model_sent(&env, p), None, "{agent}: no switch asked yet");
    let second = env.prompt_ok(&["-a", agent, "--model", "fake-other", "two"]);
    assert_eq!(
        second["session"],
        sid.as_str(),
        "{agent}: the same warm session"
    );
    assert_eq!(
        output(&second),
        "ECHO[turns=2]: two",
        "{agent}: context kept"
    );
    assert_eq!(
        model_sent(&env, p).as_deref(),
        Some("fake-other"),
        "{agent}: the switch reached the agent: {:#?}",
        input(&env)
    );
    assert_eq!(env.show_doc(&sid)["model"], "fake-other", "{agent}");
    let listed = env.sessions_doc();
    assert_eq!(listed[0]["model"], "fake-other", "{agent}: {listed:#?}");
    let table = text(&env.cap(&["sessions"]).stdout);
    assert!(
        table.contains("MODEL") && table.contains("fake-other"),
        "{table}"
    );

    // The same model again is no switch at all.
    let switches = |env: &Env| {
        input(env)
            .iter()
            .filter(|l| {
                l["request"]["subtype"] == "set_model" || l["method"] == "session/set_config_option"
            })
            .count()
    };
    let before = switches(&env);
    env.prompt_ok(&["-a", agent, "--model", "fake-other", "three"]);
    assert_eq!(
        switches(&env),
        before,
        "{agent}: an unchanged model is not re-sent"
    );

    // A resume after a restart opens the session with the model it had.
    env.restart_daemon();
    let after = env.prompt_ok(&["-a", agent, "four"]);
    assert_eq!(output(&after), "ECHO[turns=4]: four", "{agent}: resumed");
    let new_sid = after["session"].as_str().unwrap_or_default().to_string();
    assert_eq!(env.show_doc(&new_sid)["model"], "fake-other", "{agent}");
    match p {
        Proto::Claude => {
            let last = env.invocations().last().cloned().unwrap_or_default();
            let argv: Vec<&str> = last["argv"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            assert!(
                argv.windows(2).any(|w| w == ["--model", "fake-other"]),
                "{argv:?}"
            );
        }
        Proto::Codex => {
            let resumes = requests(&env, "thread/resume");
            assert_eq!(
                resumes.last().map(|r| &r["params"]["model"]),
                Some(&Value::from("fake-other"))
            );
        }
        Proto::Acp => {
            let sets = requests(&env, "session/set_config_option");
            let resumed = requests(&env, "session/resume");
            assert!(!resumed.is_empty(), "resumed by session/resume");
            assert!(
                sets.len() >= 2,
                "the model is set again on the resumed session: {sets:#?}"
            );
        }
    }
}

#[test]
fn model_switches_a_warm_claude_session() {
    model_switches_a_warm_session(Proto::Claude);
}

#[test]
fn model_switches_a_warm_codex_session() {
    model_switches_a_warm_session(Proto::Codex);
}

#[test]
fn model_switches_a_warm_acp_session() {
    model_switches_a_warm_session(Proto::Acp);
}

/// An ACP agent that offers no way to pick a model: `--model` is refused with exit 2 and a
/// message saying so, on a warm session and on a new one, and the prompt never reaches it.
#[test]
fn an_agent_that_cannot_switch_models_refuses_with_exit_2_before_sending() {
    let env = env_for("", &[("FAKE_ACP_NO_MODELS", "1")]);
    env.prompt_ok(&["-a", "facp", "one"]);
    let out = env.cap(&[
        "prompt",
        "-a",
        "facp",
        "--model",
        "fake-other",
        "NOTSENT warm",
    ]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot switch models"),
        "{}",
        text(&out.stderr)
    );
    let out = env.cap(&[
        "prompt",
        "-a",
        "facp",
        "--key",
        "fresh",
        "--model",
        "fake-other",
        "NOTSENT fresh",
    ]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    let prompts = requests(&env, "session/prompt");
    assert!(
        prompts.iter().all(|p| !p.to_string().contains("NOTSENT")),
        "a refused prompt reached the agent: {prompts:#?}"
    );
    // The warm session is still there and answers without --model.
    let r = env.prompt_ok(&["-a", "facp", "two"]);
    assert_eq!(output(&r), "ECHO[turns=2]: two");
}

/// The MCP servers each protocol was given at its last start.
fn servers_sent(env: &Env, p: Proto) -> Value {
    match p {
        Proto::Claude => {
            let last = env.invocations().last().cloned().unwrap_or_default();
            let argv: Vec<String> = last["argv"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect();
            let at = argv.iter().position(|a| a == "--mcp-config");
            at.and_then(|i| argv.get(i + 1))
                .and_then(|doc| serde_json::from_str::<Value>(doc).ok())
                .map(|doc| doc["mcpServers"].clone())
                .unwrap_or(Value::Null)
        }
        Proto::Codex => input(env)
            .iter()
            .rev()
            .find(|l| matches!(l["method"].as_str(), Some("thread/start" | "thread/resume")))
            .map(|l| l["params"]["config"].clone())
            .unwrap_or(Value::Null),
        Proto::Acp => input(env)
            .iter()
            .rev()
            .find(|l| matches!(l["method"].as_str(), Some("session/new" | "session/resume")))
            .map(|l| l["params"]["mcpServers"].clone())
            .unwrap_or(Value::Null),
    }
}

/// Whether `sent` (in `p`'s shape) names a stdio server `name` running `command`.
fn has_server(p: Proto, sent: &Value, name: &str, command: &str) -> bool {
    match p {
        Proto::Claude => sent[name]["command"] == command,
        Proto::Codex => sent[format!("mcp_servers.{name}")]["command"] == command,
        Proto::Acp => sent
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["name"] == name && s["command"] == command),
    }
}

/// `--mcp-config` reaches the agent in its own shape, together with the agent's configured
/// servers; `cap show` names them; the key's record keeps them, so the session resumed after
/// a restart gets them again without the flag.
fn mcp_servers_reach_the_agent_and_survive_a_resume(p: Proto) {
    let agent = p.agent();
    let top = format!(
        "[agents.{agent}.mcp_servers.configured]\ncommand = \"cfg-server\"\nargs = [\"--x\"]\n"
    );
    // The configured servers go on the custom agent's table; the built-in claude has none.
    let mut env = match p {
        Proto::Claude => env_for("", &[]),
        _ => {
            let mut env = Env::with_config(&format!(
                "{}{top}",
                config(crate::drivers::Agent::Codex, "")
            ));
            env.start_daemon();
            env
        }
    };
    let file = env.dir.path().join("mcp.json");
    std::fs::write(
        &file,
        r#"{"mcpServers": {"tools": {"command": "tool-server", "args": ["-v"], "env": {"K": "v"}}}}"#,
    )
    .expect("mcp.json");
    let file = file.to_string_lossy().to_string();
    let r = env.prompt_ok(&["-a", agent, "--mcp-config", &file, "one"]);
    let sent = servers_sent(&env, p);
    assert!(
        has_server(p, &sent, "tools", "tool-server"),
        "{agent}: {sent:#}"
    );
    if !matches!(p, Proto::Claude) {
        assert!(
            has_server(p, &sent, "configured", "cfg-server"),
            "{agent}: {sent:#}"
        );
    }
    let sid = r["session"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        env.show_doc(&sid)["mcp_servers"],
        serde_json::json!(["tools"]),
        "{agent}"
    );
    let state = env.state_doc();
    assert_eq!(
        state["keys"][env.key()]["agents"][agent]["mcp_servers"]["tools"]["command"],
        "tool-server",
        "{agent}: {state:#}"
    );

    env.restart_daemon();
    let r = env.prompt_ok(&["-a", agent, "two"]);
    assert_eq!(output(&r), "ECHO[turns=2]: two", "{agent}: resumed");
    let sent = servers_sent(&env, p);
    assert!(
        has_server(p, &sent, "tools", "tool-server"),
        "{agent}: the resumed session lost its servers: {sent:#}"
    );
}

#[test]
fn mcp_servers_reach_claude_and_survive_a_resume() {
    mcp_servers_reach_the_agent_and_survive_a_resume(Proto::Claude);
}

#[test]
fn mcp_servers_reach_codex_and_survive_a_resume() {
    mcp_servers_reach_the_agent_and_survive_a_resume(Proto::Codex);
}

#[test]
fn mcp_servers_reach_an_acp_agent_and_survive_a_resume() {
    mcp_servers_reach_the_agent_and_survive_a_resume(Proto::Acp);
}

/// New servers for a warm session restart its agent by resume: same conversation, and the
/// new agent process has them.
#[test]
fn new_mcp_servers_restart_a_warm_session_by_resume() {
    let env = env_for("", &[]);
    env.prompt_ok(&["-a", "claude", "one"]);
    let first_pid = env.invocations().last().cloned().unwrap_or_default()["pid"].clone();
    let file = env.dir.path().join("mcp.json");
    std::fs::write(
        &file,
        r#"{"mcpServers": {"late": {"command": "late-server"}}}"#,
    )
    .expect("mcp.json");
    let (events, rc) = env.prompt_json(&[
        "-a",
        "claude",
        "--mcp-config",
        &file.to_string_lossy(),
        "two",
    ]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(result_output(&events), "ECHO[turns=2]: two", "context kept");
    assert!(
        status_kinds(&events).contains(&"respawn".to_string()),
        "{events:#?}"
    );
    let invs = env.invocations();
    let last = invs.last().cloned().unwrap_or_default();
    assert_ne!(last["pid"], first_pid, "a new agent process");
    assert!(has_server(
        Proto::Claude,
        &servers_sent(&env, Proto::Claude),
        "late",
        "late-server"
    ));
    assert!(
        last["argv"].to_string().contains("--resume"),
        "restarted by resume: {last:#}"
    );
}

/// A bad or missing `--mcp-config` file is refused by `cap` with exit 2 before anything is
/// sent; so is a server kind the agent cannot take.
#[test]
fn bad_mcp_config_files_and_unusable_servers_are_refused_with_exit_2() {
    let env = env_for("", &[]);
    let dir = env.dir.path();
    let cases = [
        ("garbage.json", "{not json", "not valid JSON"),
        ("shape.json", r#"{"servers": {}}"#, "mcpServers"),
        (
            "typo.json",
            r#"{"mcpServers": {"a": {"comand": "x"}}}"#,
            "comand",
        ),
    ];
    for (name, body, says) in cases {
        let path = dir.join(name);
        std::fs::write(&path, body).expect("write");
        let out = env.cap(&["prompt", "--mcp-config", &path.to_string_lossy(), "hi"]);
        assert_eq!(code(&out), 2, "{name}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains(says),
            "{name}: {}",
            text(&out.stderr)
        );
    }
    let out = env.cap(&[
        "open",
        "--mcp-config",
        &dir.join("missing.json").to_string_lossy(),
    ]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot read the MCP config file"));
    assert!(env.invocations().is_empty(), "no agent was started");

    // The fake ACP agent takes stdio servers only.
    let http = dir.join("http.json");
    std::fs::write(
        &http,
        r#"{"mcpServers": {"web": {"type": "http", "url": "http://127.0.0.1:9/mcp"}}}"#,
    )
    .expect("write");
    let out = env.cap(&[
        "prompt",
        "-a",
        "facp",
        "--mcp-config",
        &http.to_string_lossy(),
        "NOTSENT",
    ]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("web uses http"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        requests(&env, "session/new").is_empty(),
        "no session was opened"
    );
}

/// `--steer` on Codex joins the running turn with `turn/steer`: the steering prompt ends at
/// once (status `steered`, stop reason `steered`), the running turn's caller gets the answer,
/// and the agent has the input.
#[test]
fn steer_joins_a_running_codex_turn() {
    let env = env_for("", &[("FAKE_SLOW_MS", "200")]);
    env.prompt_ok(&["-a", "fcodex", "warm up"]);
    let mut slow = env.spawn_prompt(&["-a", "fcodex", "SLOW long"]);
    slow.wait_for("streamed text", |v| v["type"] == "text");
    let (events, rc) = env.prompt_json(&["-a", "fcodex", "--steer", "STEERED extra"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert!(
        status_kinds(&events).contains(&"steered".to_string()),
        "{events:#?}"
    );
    let last = events.last().cloned().unwrap_or_default();
    assert_eq!(last["type"], "result");
    assert_eq!(last["stop_reason"], "steered", "{last}");
    let steers = requests(&env, "turn/steer");
    assert_eq!(steers.len(), 1, "{steers:#?}");
    assert!(steers[0]["params"]["expectedTurnId"].is_string());
    assert!(steers[0].to_string().contains("STEERED extra"));
    let (slow_events, rc, stderr) = slow.finish();
    assert_eq!(rc, 0, "{slow_events:#?} {stderr}");
    assert!(result_output(&slow_events).contains("SLOW long"));
    // The agent counted the steered input as part of the conversation.
    let next = env.prompt_ok(&["-a", "fcodex", "after"]);
    assert_eq!(output(&next), "ECHO[turns=4]: after");
}

/// Where the agent takes no input mid-turn (Claude, ACP), or no turn runs, `--steer` is an
/// ordinary prompt: a `not_steered` status says so and it runs after the turn ahead of it.
#[test]
fn steer_falls_back_to_the_queue_and_says_so() {
    let env = env_for("", &[("FAKE_SLOW_MS", "200")]);
    for agent in ["claude", "facp"] {
        env.prompt_ok(&["-a", agent, "warm up"]);
        let mut slow = env.spawn_prompt(&["-a", agent, "SLOW long"]);
        slow.wait_for("streamed text", |v| v["type"] == "text");
        let (events, rc) = env.prompt_json(&["-a", agent, "--steer", "queued instead"]);
        assert_eq!(rc, 0, "{agent}: {events:#?}");
        assert!(
            status_kinds(&events).contains(&"not_steered".to_string()),
            "{agent}: {events:#?}"
        );
        assert_eq!(
            result_output(&events),
            "ECHO[turns=3]: queued instead",
            "{agent}"
        );
        let (slow_events, rc, _) = slow.finish();
        assert_eq!(rc, 0);
        assert_eq!(
            result_output(&slow_events),
            "ECHO[turns=2]: SLOW long",
            "{agent}"
        );
    }
    // Nothing runs: the text is sent as a prompt, and the caller is told.
    let out = env.cap(&["prompt", "-a", "fcodex", "--steer", "idle steer"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ECHO[turns=1]: idle steer"));
    assert!(
        text(&out.stderr).contains("no turn was running"),
        "{}",
        text(&out.stderr)
    );
}

/// `cap open` sends no turn, so it cannot switch the key's warm session: another model or
/// other servers are refused with exit 2 (never ignored); the same ones are fine.
#[test]
fn open_refuses_to_change_a_warm_session_it_cannot_switch() {
    let env = env_for("", &[]);
    env.prompt_ok(&["-a", "claude", "--model", "fake-a", "one"]);
    let out = env.cap(&["open", "-a", "claude", "--model", "fake-b"]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cap prompt --model"),
        "{}",
        text(&out.stderr)
    );
    let out = env.cap(&["open", "-a", "claude", "--model", "fake-a"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
}
