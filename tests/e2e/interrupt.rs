//! Ctrl-C on `cap prompt` and the terminal-only spinner: what a person at a terminal sees.

use cap_tests::*;
use serde_json::Value;

/// Sends SIGINT to a running `cap`, as Ctrl-C in its terminal would.
fn interrupt(run: &Running) {
    let pid = nix::unistd::Pid::from_raw(run.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
}

/// Polls `cap result ID` until the session has a finished turn, and returns it.
fn last_result(env: &Env, id: &str) -> Value {
    let mut result = Value::Null;
    wait_until("the turn's result", || {
        let out = env.cap(&["--format", "json", "result", id]);
        result = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        code(&out) == 0
    });
    result
}

#[test]
fn ctrl_c_cancels_the_running_turn_in_the_agent_and_exits_130() {
    let mut env = Env::new();
    env.start_daemon();
    let warm = env.prompt_ok(&["warm up"]);
    let native = warm["native_id"].as_str().unwrap().to_string();
    let mut run = env.spawn_prompt(&["HANG until interrupted"]);
    let id = run.wait_session()["id"].as_str().unwrap().to_string();
    assert_eq!(warm["session"], id.as_str());
    // Nothing announces that the agent took the turn; its history does.
    wait_until("the agent to run the turn", || {
        env.fake_history(&native)["turns"][1]["status"] == "running"
    });
    interrupt(&run);
    let (events, rc, stderr) = run.finish();
    assert_eq!(rc, 130, "{events:#?}\n{stderr}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "result", "{events:#?}");
    assert_eq!(last["stop_reason"], "cancelled");

    let result = last_result(&env, &id);
    assert_eq!(result["stop_reason"], "cancelled", "{result}");
    // The agent itself was interrupted, not just the client.
    assert_eq!(
        env.fake_history(&native)["turns"][1]["status"],
        "interrupted",
        "{:#}",
        env.fake_history(&native)
    );

    // The same warm session serves the key's next prompt.
    let (events, rc) = env.prompt_json(&["after the interrupt"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(session_event(&events)["id"], id.as_str());
    assert_eq!(session_event(&events)["how"], "reused");
    assert_eq!(result_output(&events), "ECHO[turns=3]: after the interrupt");
}

#[test]
fn ctrl_c_while_the_agent_starts_cancels_the_turn_and_exits_130() {
    let mut env = Env::new();
    // The agent takes a second to become ready: the interrupt lands while it starts.
    env.vars.push(("FAKE_START_DELAY_MS".into(), "1000".into()));
    env.start_daemon();
    let mut run = env.spawn_prompt(&["HANG until interrupted"]);
    let session = run.wait_session();
    let id = session["id"].as_str().unwrap().to_string();
    assert_eq!(session["how"], "opened");
    interrupt(&run);
    let (events, rc, stderr) = run.finish();
    assert_eq!(rc, 130, "{events:#?}\n{stderr}");
    assert_eq!(events.last().unwrap()["stop_reason"], "cancelled");
    assert_eq!(last_result(&env, &id)["stop_reason"], "cancelled");
    // The hanging prompt did not reach the agent: the next one is answered at once.
    let (events, rc) = env.prompt_json(&["after the interrupt"]);
    assert_eq!(rc, 0, "{events:#?}");
    assert_eq!(session_event(&events)["id"], id.as_str());
    assert!(result_output(&events).ends_with("after the interrupt"));
}

#[test]
fn spinner_shows_on_a_terminal_while_the_agent_is_silent_and_never_when_piped() {
    let mut env = Env::new();
    env.start_daemon();
    env.prompt_ok(&["warm"]);
    // `script` gives cap a terminal; the HANG turn keeps the agent silent until the timeout.
    let inner = env.command("cap");
    let mut script = std::process::Command::new("script");
    script
        .args(["-qec"])
        .arg(format!("{} prompt --timeout 1 HANG", bin("cap").display()))
        .arg("/dev/null")
        .current_dir(&env.work)
        .stdin(std::process::Stdio::null());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let out = script.output().expect("run script (util-linux)");
    let screen = text(&out.stdout);
    assert!(
        screen.contains("working"),
        "no spinner on a terminal: {screen:?}"
    );
    assert!(
        screen.contains("\x1b[2K"),
        "the spinner line is cleared: {screen:?}"
    );
    // Piped: no spinner on stderr.
    let out = env.cap(&["prompt", "--timeout", "1", "HANG"]);
    assert_eq!(code(&out), 3);
    assert!(
        !text(&out.stderr).contains("working"),
        "{}",
        text(&out.stderr)
    );
}
