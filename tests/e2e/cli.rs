//! The CLI contract (SPEC §3): exit codes, autostart, `cap daemon`, the three output formats,
//! where prompt text comes from, the listing commands, completions and Ctrl-C.

use cap_tests::*;
use serde_json::Value;

/// Asserts an exit code, showing the output when it differs.
fn assert_code(out: &std::process::Output, want: i32, what: &str) {
    assert_eq!(
        code(out),
        want,
        "{what}: stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Asserts that nothing started a daemon (commands that must work or fail without one).
fn assert_no_daemon(env: &Env) {
    assert!(!env.socket.exists(), "a daemon was started");
    assert!(env.capd_pids().is_empty(), "a daemon was started");
}

// ---------------------------------------------------------------------------------------------
// Exit codes
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_flag_exits_2() {
    let env = Env::new();
    for args in [
        &["--bogus-flag", "sessions"][..],
        &["prompt", "--frobnicate", "hi"],
    ] {
        let out = env.cap(args);
        assert_code(&out, 2, &format!("{args:?}"));
        assert!(text(&out.stderr).contains("unexpected argument"));
    }
    assert_no_daemon(&env);
}

#[test]
fn empty_prompt_exits_2() {
    let env = Env::new();
    // Blank words, and no words with an empty stdin (a pipe, not a terminal).
    for args in [&["prompt", ""][..], &["prompt", "  \t "], &["prompt"]] {
        let out = env.cap(args);
        assert_code(&out, 2, &format!("{args:?}"));
        assert!(
            text(&out.stderr).contains("empty prompt"),
            "{}",
            text(&out.stderr)
        );
    }
    let out = env.cap_with_stdin(&["prompt"], b" \n\n");
    assert_code(&out, 2, "blank stdin");
    assert_no_daemon(&env);
}

#[test]
fn missing_working_directory_exits_2() {
    let env = Env::new();
    let out = env.cap(&["prompt", "-C", "/nonexistent", "hi"]);
    assert_code(&out, 2, "-C /nonexistent");
    assert!(text(&out.stderr).contains("/nonexistent"));
    assert_no_daemon(&env);
}

#[test]
fn conflicting_open_modes_exit_2() {
    let env = Env::new();
    let out = env.cap(&["prompt", "--new", "--continue", "hi"]);
    assert_code(&out, 2, "--new --continue");
    assert!(text(&out.stderr).contains("cannot be used with"));
    assert_no_daemon(&env);
}

#[test]
fn unknown_agent_exits_4() {
    let mut env = Env::new();
    env.start_daemon();
    let out = env.cap(&["prompt", "--agent", "no-such-agent", "hi"]);
    assert_code(&out, 4, "unknown agent");
    let err = text(&out.stderr);
    assert!(
        err.contains("no-such-agent") && err.contains("claude"),
        "{err}"
    );
}

#[test]
fn missing_agent_binary_exits_4_with_an_install_hint() {
    let mut env = Env::new();
    // The daemon resolves binaries, so the override must be in its environment.
    env.vars
        .push(("CAP_CLAUDE_BIN".into(), "/nonexistent/claude".into()));
    env.start_daemon();
    let out = env.cap(&["prompt", "hi"]);
    assert_code(&out, 4, "missing claude");
    let err = text(&out.stderr);
    assert!(err.contains("/nonexistent/claude"), "{err}");
    assert!(err.contains("CAP_CLAUDE_BIN"), "no env hint: {err}");
    assert!(
        err.contains("npm install -g @anthropic-ai/claude-code"),
        "no install hint: {err}"
    );
}

#[test]
fn unknown_session_id_exits_4() {
    let mut env = Env::new();
    env.start_daemon();
    for verb in ["show", "end", "result"] {
        let out = env.cap(&[verb, "0123456789abcdef0123456789abcdef"]);
        assert_code(&out, 4, verb);
        assert!(
            text(&out.stderr).contains("0123456789abcdef0123456789abcdef"),
            "{verb}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn no_autostart_without_a_daemon_exits_6() {
    let mut env = Env::new();
    let out = env.cap(&["--no-autostart", "sessions"]);
    assert_code(&out, 6, "--no-autostart");
    let err = text(&out.stderr);
    assert!(
        err.contains("cap daemon start"),
        "no hint how to start: {err}"
    );
    env.vars.push(("CAP_NO_AUTOSTART".into(), "1".into()));
    let out = env.cap(&["prompt", "hi"]);
    assert_code(&out, 6, "CAP_NO_AUTOSTART=1");
    assert_no_daemon(&env);
}

#[test]
fn agent_error_turn_exits_1() {
    let mut env = Env::new();
    env.start_daemon();
    let out = env.cap(&["prompt", "please ERROR"]);
    assert_code(&out, 1, "ERROR turn");
    assert!(text(&out.stderr).contains("API Error: 500 fake"));
}

// ---------------------------------------------------------------------------------------------
// Autostart and `cap daemon`
// ---------------------------------------------------------------------------------------------

#[test]
fn prompt_autostarts_the_capd_next_to_cap() {
    let mut env = Env::new();
    // No capd on PATH: the one beside `cap` must be found.
    env.vars.push(("PATH".into(), "/usr/bin:/bin".into()));
    let out = env.cap(&["prompt", "hello there"]);
    assert_code(&out, 0, "autostarting prompt");
    assert_eq!(text(&out.stdout), "ECHO[turns=1]: hello there\n");
    assert!(text(&out.stderr).contains("started capd"));
    let pid = env.pid_from_file().expect("pid file");
    assert!(alive(pid));
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(exe, bin("capd"));
    assert_eq!(env.cap_doc(&["daemon", "status"])["pid"], pid);
    // The next prompt reuses the daemon and its warm session.
    let again = env.cap(&["prompt", "again"]);
    assert_eq!(text(&again.stdout), "ECHO[turns=2]: again\n");
    assert!(!text(&again.stderr).contains("started capd"));
}

#[test]
fn concurrent_autostarts_start_one_daemon() {
    let env = Env::new();
    let a = env.spawn_prompt(&["--key", "a", "from a"]);
    let b = env.spawn_prompt(&["--key", "b", "from b"]);
    for (run, word) in [(a, "from a"), (b, "from b")] {
        let (events, rc, stderr) = run.finish();
        assert_eq!(rc, 0, "{word}: {events:#?} {stderr}");
        assert_eq!(result_output(&events), format!("ECHO[turns=1]: {word}"));
    }
    let pid = env.pid_from_file().expect("pid file");
    assert_eq!(env.cap_doc(&["daemon", "status"])["pid"], pid);
    // A daemon that lost the race exits on its own; only the winner may remain.
    wait_until("exactly one capd", || env.capd_pids() == vec![pid]);
    assert_eq!(env.sessions_doc().len(), 2);
}

#[test]
fn daemon_start_status_restart_stop() {
    let env = Env::new();
    let out = env.cap(&["daemon", "start"]);
    assert_code(&out, 0, "daemon start");
    let pid = env.pid_from_file().expect("pid file");
    assert!(
        text(&out.stdout).contains(&format!("started (pid {pid})")),
        "{}",
        text(&out.stdout)
    );
    let out = env.cap(&["daemon", "start"]);
    assert_code(&out, 0, "second daemon start");
    assert!(
        text(&out.stdout).contains(&format!("already running (pid {pid})")),
        "{}",
        text(&out.stdout)
    );

    let out = env.cap(&["daemon", "status"]);
    assert_code(&out, 0, "daemon status");
    let status = text(&out.stdout);
    assert!(status.contains(&format!("pid {pid}")), "{status}");
    assert!(
        status.contains(&env.socket.display().to_string()),
        "{status}"
    );
    let doc = env.cap_doc(&["daemon", "status"]);
    assert_eq!(doc["pid"], pid);
    assert_eq!(doc["max_sessions"], 8);
    assert_eq!(doc["socket"], env.socket.display().to_string());

    let out = env.cap(&["daemon", "restart"]);
    assert_code(&out, 0, "daemon restart");
    let new = env.pid_from_file().expect("pid file after restart");
    assert_ne!(new, pid, "restart kept the old daemon");
    assert!(!alive(pid), "the old daemon still runs");
    assert!(text(&out.stdout).contains(&format!("started (pid {new})")));
    assert_eq!(env.cap_doc(&["daemon", "status"])["pid"], new);

    let out = env.cap(&["daemon", "stop"]);
    assert_code(&out, 0, "daemon stop");
    assert!(text(&out.stdout).contains(&format!("stopped (pid {new})")));
    assert!(!alive(new), "stop returned before the daemon exited");
    assert!(!env.socket.exists() && !env.pid_file_path().exists());
    let out = env.cap(&["daemon", "status"]);
    assert_code(&out, 6, "status with no daemon");
    assert_no_daemon(&env);
}

#[test]
fn daemon_stop_when_not_running_succeeds() {
    let env = Env::new();
    let out = env.cap(&["daemon", "stop"]);
    assert_code(&out, 0, "stop without a daemon");
    assert!(text(&out.stdout).contains("not running"));
    let doc = env.cap_doc(&["daemon", "stop"]);
    assert_eq!(doc["stopped"], false);
    assert_no_daemon(&env);
}

// ---------------------------------------------------------------------------------------------
// Output formats
// ---------------------------------------------------------------------------------------------

/// Checks the envelope of every line of a prompt's `--format json` output and returns them.
fn envelopes(stdout: &[u8]) -> Vec<Value> {
    let lines: Vec<&str> = std::str::from_utf8(stdout)
        .expect("UTF-8 stdout")
        .lines()
        .collect();
    assert!(!lines.is_empty(), "no output");
    let events: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for (i, e) in events.iter().enumerate() {
        assert!(e.is_object(), "line {i} is not an object: {e}");
        assert_eq!(e["v"], 1, "line {i}: {e}");
        assert!(e["type"].is_string(), "line {i}: {e}");
        for field in ["session", "request", "seq"] {
            assert!(e.get(field).is_some(), "line {i} lacks {field}: {e}");
        }
        assert_eq!(
            e["seq"], i as u64,
            "seq must count from 0 without gaps: {events:#?}"
        );
    }
    events
}

#[test]
fn json_format_prints_enveloped_events_ending_with_result() {
    let mut env = Env::new();
    env.start_daemon();
    let out = env.cap(&["--format", "json", "prompt", "streamed in pieces"]);
    assert_code(&out, 0, "json prompt");
    let events = envelopes(&out.stdout);
    let (first, last) = (&events[0], events.last().unwrap());
    assert_eq!(first["type"], "session");
    assert_eq!(first["agent"], "claude");
    assert_eq!(first["how"], "opened");
    assert_eq!(last["type"], "result");
    assert_eq!(last["output"], "ECHO[turns=1]: streamed in pieces");
    assert_eq!(last["stop_reason"], "end_turn");
    assert!(last["duration_ms"].is_u64() && last["turns"] == 1);
    assert!(last["native_id"].is_string());
    let session = first["id"].as_str().unwrap();
    for e in &events {
        assert_eq!(e["session"], session, "{e}");
        assert_eq!(e["request"], first["request"], "{e}");
    }
    let texts = events_of(&events, "text");
    assert!(texts.len() > 1, "the reply was not streamed: {events:#?}");
    let deltas: String = texts.iter().map(|e| e["delta"].as_str().unwrap()).collect();
    assert_eq!(deltas, "ECHO[turns=1]: streamed in pieces");
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));
}

#[test]
fn json_format_ends_with_an_error_on_failure() {
    let mut env = Env::new();
    env.start_daemon();
    // A failed turn: the daemon's own error event.
    let out = env.cap(&["--format", "json", "prompt", "please ERROR"]);
    assert_code(&out, 1, "ERROR turn");
    let events = envelopes(&out.stdout);
    assert_eq!(events[0]["type"], "session");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "error", "{events:#?}");
    assert_eq!(last["code"], "agent");
    assert!(last["message"].as_str().unwrap().contains("500 fake"));
    assert!(last["retryable"].is_boolean());
    // Failures before any turn starts still end the output with an `error` line.
    for (args, want_code, want_rc) in [
        (&["--agent", "no-such-agent", "hi"][..], "not_found", 4),
        (&["-C", "/nonexistent", "hi"], "usage", 2),
        (&["  "], "usage", 2),
    ] {
        let mut all = vec!["--format", "json", "prompt"];
        all.extend_from_slice(args);
        let out = env.cap(&all);
        assert_code(&out, want_rc, &format!("{args:?}"));
        let events = envelopes(&out.stdout);
        let last = events.last().unwrap();
        assert_eq!(last["type"], "error", "{args:?}: {events:#?}");
        assert_eq!(last["code"], want_code, "{args:?}: {last}");
        assert!(last["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
}

#[test]
fn json_format_without_a_daemon_ends_with_an_unavailable_error() {
    let env = Env::new();
    let out = env.cap(&["--no-autostart", "--format", "json", "prompt", "hi"]);
    assert_code(&out, 6, "no daemon");
    let events = envelopes(&out.stdout);
    assert_eq!(events.last().unwrap()["code"], "unavailable");
}

#[test]
fn quiet_format_prints_only_the_answer() {
    let mut env = Env::new();
    env.start_daemon();
    let out = env.cap(&["--format", "quiet", "prompt", "only the answer"]);
    assert_code(&out, 0, "quiet prompt");
    assert_eq!(text(&out.stdout), "ECHO[turns=1]: only the answer\n");
    assert_eq!(text(&out.stderr), "", "stderr must stay empty on success");
    // On failure: one line on stderr.
    let out = env.cap(&["--format", "quiet", "prompt", "please ERROR"]);
    assert_code(&out, 1, "quiet ERROR");
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err:?}");
}

#[test]
fn text_format_streams_the_reply_to_stdout_and_progress_to_stderr() {
    let mut env = Env::new();
    env.start_daemon();
    let out = env.cap(&["prompt", "plain words"]);
    assert_code(&out, 0, "text prompt");
    assert_eq!(text(&out.stdout), "ECHO[turns=1]: plain words\n");
    let err = text(&out.stderr);
    assert!(
        err.contains("claude session") && err.contains("opened"),
        "{err}"
    );
    assert!(!err.contains("ECHO"), "the reply leaked to stderr: {err}");
}

// ---------------------------------------------------------------------------------------------
// Prompt input
// ---------------------------------------------------------------------------------------------

#[test]
fn prompt_text_from_file_dash_and_piped_stdin() {
    let mut env = Env::new();
    env.start_daemon();
    let file = env.dir.path().join("prompt.txt");
    std::fs::write(&file, "words from a file").unwrap();
    let out = env.cap(&["prompt", "-k", "f", "--file", file.to_str().unwrap()]);
    assert_code(&out, 0, "--file F");
    assert_eq!(text(&out.stdout), "ECHO[turns=1]: words from a file\n");

    let out = env.cap_with_stdin(&["prompt", "-k", "d", "--file", "-"], b"words via dash");
    assert_code(&out, 0, "--file -");
    assert_eq!(text(&out.stdout), "ECHO[turns=1]: words via dash\n");

    let out = env.cap_with_stdin(&["prompt", "-k", "p"], b"words piped in");
    assert_code(&out, 0, "piped stdin");
    assert_eq!(text(&out.stdout), "ECHO[turns=1]: words piped in\n");

    // Words on the command line win; stdin is left alone.
    let out = env.cap_with_stdin(&["prompt", "-k", "w", "from", "args"], b"ignored");
    assert_eq!(text(&out.stdout), "ECHO[turns=1]: from args\n");

    let out = env.cap(&["prompt", "--file", "/nonexistent/prompt.txt"]);
    assert_code(&out, 2, "missing --file");
}

// ---------------------------------------------------------------------------------------------
// Listing commands
// ---------------------------------------------------------------------------------------------

#[test]
fn sessions_ls_and_show_describe_the_session() {
    let mut env = Env::new();
    env.start_daemon();
    let result = env.prompt_ok(&["hi"]);
    let id = result["session"].as_str().unwrap().to_string();
    let native = result["native_id"].as_str().unwrap().to_string();
    for verb in ["sessions", "ls"] {
        let out = env.cap(&[verb]);
        assert_code(&out, 0, verb);
        let listing = text(&out.stdout);
        let row = listing
            .lines()
            .find(|l| l.starts_with(&id))
            .unwrap_or_else(|| panic!("{verb} lacks the session: {listing}"));
        for want in ["claude", "idle", &native, &env.key()] {
            assert!(row.contains(want), "{verb} row lacks {want}: {row}");
        }
    }
    let out = env.cap(&["show", &id]);
    assert_code(&out, 0, "show");
    let shown = text(&out.stdout);
    for want in [&id, "claude", "idle", &native] {
        assert!(shown.contains(want), "show lacks {want}: {shown}");
    }
    let hint = format!(
        "cap prompt --agent claude --resume {native} -C {}",
        env.work.display()
    );
    assert!(shown.contains(&hint), "no resume hint: {shown}");
    let doc = env.show_doc(&id);
    assert_eq!(doc["native_id"], native.as_str());
    assert_eq!(doc["state"], "idle");
}

#[test]
fn agents_lists_claude_at_the_override_and_marks_missing_ones() {
    let mut env = Env::new();
    env.vars
        .push(("CAP_CODEX_BIN".into(), "/nonexistent/codex".into()));
    env.start_daemon();
    let fake = bin("cap-fake-agent").display().to_string();
    let out = env.cap(&["agents"]);
    assert_code(&out, 0, "agents");
    let listing = text(&out.stdout);
    let row = |name: &str| {
        listing
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} row: {listing}"))
            .to_string()
    };
    assert!(row("claude").contains(&fake), "{listing}");
    assert!(row("codex").contains("not found"), "{listing}");
    assert!(
        listing.contains("npm install -g @openai/codex"),
        "no install hint: {listing}"
    );

    let doc = env.cap_doc(&["agents"]);
    let list = doc.as_array().expect("a list of agents");
    let find = |name: &str| {
        list.iter()
            .find(|a| a["name"] == name)
            .unwrap_or_else(|| panic!("no {name}: {doc:#}"))
    };
    assert_eq!(find("claude")["command"], fake.as_str());
    assert_eq!(find("claude")["protocol"], "claude-stream-json");
    assert!(find("codex")["command"].is_null());
    assert!(
        find("codex")["hint"]
            .as_str()
            .is_some_and(|h| h.contains("npm install"))
    );
    assert_eq!(find("other")["command"], fake.as_str(), "configured agent");
}

#[test]
fn config_path_works_without_a_daemon() {
    let env = Env::new();
    let out = env.cap(&["config", "path"]);
    assert_code(&out, 0, "config path");
    assert_eq!(text(&out.stdout).trim(), env.config.display().to_string());
    let doc = env.cap_doc(&["config", "path"]);
    assert_eq!(doc["config_file"], env.config.display().to_string());
    assert_eq!(doc["exists"], true);
    assert_no_daemon(&env);
}

#[test]
fn config_show_shows_max_sessions() {
    let mut env = Env::with_config("max_sessions = 3");
    env.start_daemon();
    let out = env.cap(&["config", "show"]);
    assert_code(&out, 0, "config show");
    let shown = text(&out.stdout);
    assert!(shown.contains("max_sessions = 3"), "{shown}");
    assert_eq!(env.cap_doc(&["config", "show"])["max_sessions"], 3);
}

#[test]
fn completions_print_a_script_for_every_shell_without_a_daemon() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = env.cap(&["completions", shell]);
        assert_code(&out, 0, shell);
        let script = text(&out.stdout);
        assert!(script.len() > 100, "{shell}: {script}");
        assert!(
            script.contains("prompt"),
            "{shell} script lacks subcommands"
        );
    }
    let out = env.cap(&["completions", "tcsh"]);
    assert_code(&out, 2, "unknown shell");
    assert_no_daemon(&env);
}

// ---------------------------------------------------------------------------------------------
// Ctrl-C
// ---------------------------------------------------------------------------------------------
