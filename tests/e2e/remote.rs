//! `cap --host ssh://…`: every command through a real OpenSSH server on 127.0.0.1.
//!
//! The sshd gives remote commands the test's environment, so the capd that the far side's
//! `cap daemon dial-stdio` starts is the test's own: [`Env::cap`] reaches it directly (to
//! check what the remote commands did), while the remote `cap` runs with a local socket
//! nobody serves, so it can only have reached that daemon through ssh.

use cap_tests::*;
use serde_json::Value;

fn id(v: &Value) -> String {
    v["id"].as_str().expect("session id").to_string()
}

/// Polls `cap result ID` (locally) until the session has a finished turn.
fn wait_result(env: &Env, sid: &str) -> Value {
    let mut last = Value::Null;
    wait_until("a finished turn for `cap result`", || {
        let out = env.cap(&["--format", "json", "result", sid]);
        last = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        code(&out) == 0
    });
    last
}

fn work(env: &Env) -> String {
    env.work.display().to_string()
}

#[test]
fn a_remote_prompt_streams_from_the_capd_on_the_host() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let dir = work(&env);
    let out = sshd.cap(
        &env,
        &["--format", "json", "prompt", "-C", &dir, "hello there"],
    );
    assert_eq!(code(&out), 0, "{}\n{}", text(&out.stderr), sshd.log());
    let events = json_lines(&out.stdout);
    let session = session_event(&events);
    assert_eq!(session["key"], env.key().as_str(), "key computed from -C");
    let streamed: String = events_of(&events, "text")
        .iter()
        .map(|e| e["delta"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(result_output(&events), "ECHO[turns=1]: hello there");
    assert_eq!(streamed, "ECHO[turns=1]: hello there", "{events:#?}");
    assert!(sshd.log().contains("Accepted publickey"), "{}", sshd.log());

    // The session lives in the host's capd, in the directory -C named there.
    let sid = id(session);
    let shown = env.show_doc(&sid);
    assert_eq!(shown["cwd"], dir.as_str(), "{shown:#}");

    // Text output, and the same warm session on the next prompt.
    let out = sshd.cap(&env, &["prompt", "-C", &dir, "again"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ECHO[turns=2]: again\n");

    // Every other command goes the same way.
    let out = sshd.cap(&env, &["--format", "json", "sessions"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let list: Value = serde_json::from_slice(&out.stdout).expect("sessions JSON");
    assert_eq!(list[0]["id"], sid.as_str(), "{list:#}");
    let out = sshd.cap(&env, &["--format", "json", "config", "path"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let paths: Value = serde_json::from_slice(&out.stdout).expect("config path JSON");
    assert_eq!(paths["socket"], env.socket.display().to_string().as_str());
    let out = sshd.cap(&env, &["daemon", "status"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&env.socket.display().to_string()),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_named_host_from_the_config_and_a_key_without_a_directory() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    // The remote cap named by its path, as for one in ~/.cargo/bin off the ssh PATH.
    env.set_config(&format!(
        "[hosts.build]\nurl = \"{}\"\ncap = \"{}\"\n",
        sshd.url(),
        bin("cap").display()
    ));
    let mut cmd = env.command("cap");
    cmd.env("CAP_SSH", &sshd.ssh)
        .env("CAP_SOCKET", env.dir.path().join("local-only.sock"))
        .args(["--host", "build", "--format", "json", "prompt"])
        .args(["--key", "review", "named host"]);
    let out = output_within_deadline(&mut cmd);
    assert_eq!(code(&out), 0, "{}\n{}", text(&out.stderr), sshd.log());
    let events = json_lines(&out.stdout);
    assert_eq!(session_event(&events)["key"], "review");
    assert_eq!(result_output(&events), "ECHO[turns=1]: named host");
    // Without -C the session starts in the home directory on the host.
    let home = env.dir.path().join("home");
    let shown = env.show_doc(&id(session_event(&events)));
    assert_eq!(
        shown["cwd"],
        home.canonicalize().unwrap().display().to_string().as_str(),
        "{shown:#}"
    );
}

#[test]
fn ctrl_c_on_a_remote_prompt_cancels_the_turn_in_the_agent() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let dir = work(&env);
    let out = sshd.cap(&env, &["--format", "json", "prompt", "-C", &dir, "warm up"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let warm = json_lines(&out.stdout);
    let native = session_event(&warm)["native_id"]
        .as_str()
        .unwrap()
        .to_string();

    let mut run = sshd.spawn_job(
        &env,
        &[
            "--format",
            "json",
            "prompt",
            "-C",
            &dir,
            "HANG until interrupted",
        ],
    );
    let sid = id(&run.wait_session());
    wait_until("the agent to run the turn", || {
        env.fake_history(&native)["turns"][1]["status"] == "running"
    });
    // Ctrl-C in a terminal: the whole job gets SIGINT, ssh included.
    let group = nix::unistd::Pid::from_raw(run.child.id() as i32);
    nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGINT).unwrap();
    let (events, rc, stderr) = run.finish();
    assert_eq!(rc, 130, "{events:#?}\n{stderr}");
    let last = events.last().unwrap();
    assert_eq!(last["type"], "result", "{events:#?}");
    assert_eq!(last["stop_reason"], "cancelled");
    // The agent itself was interrupted, not just the connection dropped.
    assert_eq!(
        env.fake_history(&native)["turns"][1]["status"],
        "interrupted",
        "{:#}",
        env.fake_history(&native)
    );
    assert_eq!(wait_result(&env, &sid)["stop_reason"], "cancelled");
}

#[test]
fn a_dropped_connection_leaves_the_remote_turn_running() {
    let mut env = Env::new();
    env.vars.push(("FAKE_SLOW_MS".into(), "100".into()));
    let sshd = Sshd::start(&env);
    let dir = work(&env);
    let mut run = sshd.spawn_cap(
        &env,
        &["--format", "json", "prompt", "-C", &dir, "SLOW survive"],
    );
    let sid = id(&run.wait_session());
    run.wait_for("the first text", |v| v["type"] == "text");
    // SIGKILL: no cancel is sent; the connection (and with it ssh) just goes away.
    run.kill();
    let r = wait_result(&env, &sid);
    assert_eq!(r["output"], "ECHO[turns=1]: SLOW survive", "{r:#}");
    assert_eq!(r["stop_reason"], "end_turn");
}

#[test]
fn no_wait_attach_and_result_work_remotely() {
    let mut env = Env::new();
    env.vars.push(("FAKE_SLOW_MS".into(), "50".into()));
    let sshd = Sshd::start(&env);
    let out = sshd.cap(&env, &["--format", "json", "open", "--key", "remote"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let opened: Value = serde_json::from_slice(&out.stdout).expect("open JSON");
    let sid = id(&opened);
    // Attach gets the turn in progress, or the last one, so it may subscribe at any time.
    let mut attach = sshd.spawn_cap(&env, &["--format", "json", "attach", &sid]);

    let out = sshd.cap(
        &env,
        &[
            "--format",
            "json",
            "prompt",
            "--no-wait",
            "--key",
            "remote",
            "SLOW queued",
        ],
    );
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let queued: Value = serde_json::from_slice(&out.stdout).expect("no-wait JSON");
    assert_eq!(queued["session"], sid.as_str(), "{queued:#}");

    let seen = attach.wait_for("the result", |v| v["type"] == "result");
    assert_eq!(seen["output"], "ECHO[turns=1]: SLOW queued");
    assert_eq!(seen["request"], queued["request"]);
    let texts: String = attach
        .seen
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "text" && v["request"] == seen["request"])
        .map(|v| v["delta"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(texts, "ECHO[turns=1]: SLOW queued", "{:#?}", attach.seen);
    attach.kill();

    let out = sshd.cap(&env, &["result", &sid]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "ECHO[turns=1]: SLOW queued\n");
}

#[test]
fn a_remote_prompt_without_a_directory_or_key_is_a_usage_error() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let out = sshd.cap(&env, &["prompt", "where am I"]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("-C DIR") && err.contains("--key"), "{err}");
    let out = sshd.cap(&env, &["cancel"]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    // CAP_HOST is --host from the environment.
    let mut cmd = env.command("cap");
    cmd.env("CAP_HOST", sshd.url())
        .env("CAP_SSH", &sshd.ssh)
        .args(["prompt", "where am I"]);
    let out = output_within_deadline(&mut cmd);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&sshd.url()),
        "{}",
        text(&out.stderr)
    );
    // Refused before anything was sent: ssh never connected.
    assert!(!sshd.log().contains("Accepted"), "{}", sshd.log());
    // A directory that does not exist on the host is the host's usage error.
    let out = sshd.cap(&env, &["prompt", "-C", "/no/such/dir/on/host", "x"]);
    assert_eq!(code(&out), 2, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("/no/such/dir/on/host"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_unreachable_host_exits_6_with_the_ssh_error() {
    let env = Env::new();
    ensure_program("ssh", "openssh-client");
    let port = free_port();
    let mut cmd = env.command("cap");
    cmd.env(
        "CAP_SSH",
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
    )
    .env("CAP_SOCKET", env.dir.path().join("local-only.sock"))
    .args(["--host", &format!("ssh://127.0.0.1:{port}"), "sessions"]);
    let out = output_within_deadline(&mut cmd);
    assert_eq!(code(&out), 6, "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("Connection refused"), "ssh's own words: {err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    // No local daemon was started instead.
    assert!(!env.dir.path().join("local-only.sock").exists());
}

#[test]
fn dial_stdio_bridges_stdin_and_stdout_to_the_daemon() {
    let mut env = Env::new();
    env.start_daemon();
    let hello = format!(
        "{{\"id\":1,\"op\":\"hello\",\"version\":{},\"client\":\"test\"}}\n{{\"id\":2,\"op\":\"sessions\"}}\n",
        cap_proto::PROTOCOL_VERSION
    );
    // stdin stays open until both replies are read, then closing it ends the bridge.
    let mut child = env
        .command("cap")
        .args(["daemon", "dial-stdio"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn dial-stdio");
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, hello.as_bytes()).unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["id"], 1);
    assert_eq!(first["hello"]["pid"], env.daemon_pid().unwrap());
    let second: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(second["id"], 2, "{second}");
    drop(stdin);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");

    // With autostart off and no daemon it says so, exit 6.
    env.stop_daemon();
    let out = env.cap(&["--no-autostart", "daemon", "dial-stdio"]);
    assert_eq!(code(&out), 6, "{}", text(&out.stderr));
}

#[test]
fn a_capd_of_another_version_on_the_host_is_named_with_both_versions() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    // Stands in for the host's cap whose capd is another build: it answers hello with
    // another protocol and its own version.
    let fake = env.dir.path().join("old-cap");
    std::fs::write(
        &fake,
        "#!/bin/sh\nread line\nprintf '%s\\n' \
         '{\"id\":1,\"hello\":{\"version\":999,\"daemon_version\":\"9.9.9\",\"pid\":1}}'\n\
         cat >/dev/null\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.set_config(&format!(
        "[hosts.old]\nurl = \"{}\"\ncap = \"{}\"\n",
        sshd.url(),
        fake.display()
    ));
    let mut cmd = env.command("cap");
    cmd.env("CAP_SSH", &sshd.ssh)
        .env("CAP_SOCKET", env.dir.path().join("local-only.sock"))
        .args(["--host", "old", "sessions"]);
    let out = output_within_deadline(&mut cmd);
    assert_eq!(code(&out), 6, "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("capd 9.9.9")
            && err.contains(&format!("this cap {}", env!("CARGO_PKG_VERSION"))),
        "{err}"
    );
}

#[test]
fn a_permission_question_of_a_remote_turn_is_answered_here() {
    let env = Env::with_config("default_permissions = \"approve-reads\"");
    let sshd = Sshd::start(&env);
    let dir = work(&env);
    let mut run = sshd.spawn_cap(
        &env,
        &["--format", "json", "prompt", "-C", &dir, "PERMISSION"],
    );
    let asked = run.wait_for("the question", |v| {
        v["type"] == "permission" && v["decision"] == "ask"
    });
    let question = asked["id"].as_str().expect("question id").to_string();
    let out = sshd.cap(&env, &["decide", &question, "allow"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let (events, rc, stderr) = run.finish();
    assert_eq!(rc, 0, "{events:#?}\n{stderr}");
    assert!(
        result_output(&events).contains("[permission granted"),
        "{events:#?}"
    );
    let answer = events
        .iter()
        .find(|e| e["type"] == "permission" && e["decision"] == "allow")
        .expect("the decision");
    assert_eq!(answer["by"], "user", "{answer}");
}

#[test]
fn the_daemon_verbs_manage_the_capd_on_the_host() {
    let env = Env::new();
    let sshd = Sshd::start(&env);
    let started = sshd.cap(&env, &["--format", "json", "daemon", "start"]);
    assert_eq!(code(&started), 0, "{}", text(&started.stderr));
    let started: Value = serde_json::from_slice(&started.stdout).expect("start JSON");
    let first = started["pid"].as_u64().expect("pid");
    assert_eq!(env.cap_doc(&["daemon", "status"])["pid"], first);

    let restarted = sshd.cap(&env, &["--format", "quiet", "daemon", "restart"]);
    assert_eq!(code(&restarted), 0, "{}", text(&restarted.stderr));
    let second: u64 = text(&restarted.stdout).trim().parse().expect("new pid");
    assert_ne!(second, first);
    // Its connection closed as it shut down; the exit itself is announced by nothing.
    wait_until("the old capd to exit", || !alive(first as u32));
    assert_eq!(env.cap_doc(&["daemon", "status"])["pid"], second);

    let out = sshd.cap(&env, &["daemon", "stop"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("capd stopped"),
        "{}",
        text(&out.stdout)
    );
    wait_until("capd to exit", || !alive(second as u32));
    // Nothing runs now, and stop says so (without starting one to stop it).
    let out = sshd.cap(&env, &["daemon", "stop"]);
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("not running"),
        "{}",
        text(&out.stdout)
    );
    let out = env.cap(&["--no-autostart", "daemon", "status"]);
    assert_eq!(
        code(&out),
        6,
        "no daemon was started: {}",
        text(&out.stdout)
    );
}
