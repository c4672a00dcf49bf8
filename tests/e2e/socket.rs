//! The socket server (SPEC §4): permissions, the single-instance guard, stale sockets, the
//! handshake, malformed requests, oversized lines, `stop`, a corrupt state file and SIGTERM.

use cap_tests::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Asserts that `reply` is an error with code `protocol` for request `id`.
fn assert_protocol_error(reply: &Value, id: u64, needle: &str) {
    assert_eq!(reply["id"], id, "wrong id: {reply}");
    assert_eq!(
        reply["error"]["code"], "protocol",
        "not a protocol error: {reply}"
    );
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(needle),
        "message {message:?} does not mention {needle:?}"
    );
}

/// Asserts that a `sessions` request with `id` succeeds on `conn`.
fn assert_serves(conn: &mut Raw, id: u64) {
    conn.send_line(&format!("{{\"id\":{id},\"op\":\"sessions\"}}"));
    let reply = conn.recv();
    assert_eq!(reply["id"], id, "{reply}");
    assert!(reply["sessions"].is_array(), "sessions failed: {reply}");
}

/// Sends one bad line on a connection and checks the error, that the same connection keeps
/// working, and that another client is served meanwhile.
fn bad_line_is_answered(line: &str, id: u64, needle: &str) {
    let mut env = Env::new();
    env.start_daemon();
    let mut bad = Raw::hello(&env.socket);
    let mut other = Raw::hello(&env.socket);
    bad.send_line(line);
    let reply = bad.recv();
    assert_protocol_error(&reply, id, needle);
    assert_serves(&mut other, 41);
    assert_serves(&mut bad, 42);
    assert!(
        !env.daemon_log().contains("panicked"),
        "{}",
        env.daemon_log()
    );
}

#[test]
fn socket_is_0600_and_its_directory_0700() {
    let mut env = Env::new();
    let dir = env.socket.parent().unwrap().to_path_buf();
    assert!(!dir.exists(), "the test expects capd to create {dir:?}");
    env.start_daemon();
    assert_eq!(mode(&env.socket), 0o600, "socket mode");
    assert_eq!(mode(&dir), 0o700, "socket directory mode");
}

#[test]
fn pid_file_holds_the_daemon_pid() {
    let mut env = Env::new();
    env.start_daemon();
    assert_eq!(env.pid_from_file(), env.daemon_pid());
}

#[test]
fn second_daemon_on_the_same_socket_is_refused() {
    let mut env = Env::new();
    env.start_daemon();
    let first = env.daemon_pid().unwrap();
    let mut second = env
        .command("capd")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn second capd");
    // It must give up on its own; one that served instead would run until killed.
    wait_until("the second capd to give up", || {
        if env.pid_from_file() != Some(first) {
            let _ = second.kill();
            panic!("a second capd took over the pid file");
        }
        !matches!(second.try_wait(), Ok(None))
    });
    let out = second.wait_with_output().expect("second capd output");
    assert_ne!(code(&out), 0, "second capd must fail");
    let err = text(&out.stderr);
    assert!(err.contains("already running"), "unclear message: {err}");
    assert!(
        err.contains(&first.to_string()),
        "message lacks the pid: {err}"
    );
    // The first one is untouched and still serving.
    assert!(alive(first));
    assert_eq!(env.pid_from_file(), Some(first));
    let mut conn = Raw::hello(&env.socket);
    assert_serves(&mut conn, 2);
    env.prompt_ok(&["still here"]);
}

#[test]
fn stale_pid_file_of_a_dead_daemon_is_taken_over() {
    let mut env = Env::new();
    std::fs::create_dir_all(env.socket.parent().unwrap()).unwrap();
    // A pid file left by a crashed daemon, naming a pid that no longer runs. (A regular file
    // at the socket path is refused, never deleted: see state.rs.)
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    std::fs::write(env.pid_file_path(), format!("{dead_pid}\n")).unwrap();
    env.start_daemon();
    assert_eq!(env.pid_from_file(), env.daemon_pid());
    let mut conn = Raw::hello(&env.socket);
    assert_serves(&mut conn, 2);
}

#[test]
fn stale_socket_nobody_listens_on_is_replaced() {
    let mut env = Env::new();
    std::fs::create_dir_all(env.socket.parent().unwrap()).unwrap();
    // Binding and dropping a listener leaves the socket file behind, like a crashed daemon.
    drop(UnixListener::bind(&env.socket).unwrap());
    assert!(env.socket.exists());
    env.start_daemon();
    let mut conn = Raw::hello(&env.socket);
    assert_serves(&mut conn, 2);
    assert_eq!(env.prompt_ok(&["hi"])["output"], "ECHO[turns=1]: hi");
}

#[test]
fn requests_before_hello_get_an_error() {
    let mut env = Env::new();
    env.start_daemon();
    let mut conn = Raw::connect(&env.socket);
    conn.send_line(r#"{"id":5,"op":"sessions"}"#);
    let reply = conn.recv();
    assert_protocol_error(&reply, 5, "hello");
    assert!(reply.get("sessions").is_none());
}

#[test]
fn hello_with_a_wrong_version_is_refused_with_a_restart_hint() {
    let mut env = Env::new();
    env.start_daemon();
    let mut conn = Raw::connect(&env.socket);
    let wrong = cap_proto::PROTOCOL_VERSION + 1;
    conn.send_line(&format!(
        r#"{{"id":1,"op":"hello","version":{wrong},"client":"cap/9.9.9"}}"#
    ));
    let reply = conn.recv();
    assert_eq!(reply["id"], 1, "{reply}");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    // Both versions are named: this capd's and the client's.
    assert!(
        message.contains(&format!("capd {}", cap_proto::VERSION)) && message.contains("cap/9.9.9"),
        "{reply}"
    );
    assert!(
        message.contains("restart") && message.contains("cap daemon restart"),
        "no restart hint: {reply}"
    );
    // `unavailable` is the code `cap` turns into exit code 6.
    assert_eq!(reply["error"]["code"], "unavailable", "{reply}");
    assert_eq!(cap_proto::ErrorCode::Unavailable.exit_code(), 6);
    // The connection is closed after the refusal; the daemon serves others.
    assert_eq!(conn.recv(), Value::Null);
    let mut fine = Raw::hello(&env.socket);
    assert_serves(&mut fine, 2);
}

/// `cap` against a "daemon" speaking another protocol: both ways a mismatch can show up (the
/// daemon refuses the hello, or answers with another version) end in exit code 6.
#[test]
fn version_mismatch_makes_cap_exit_6() {
    let env = Env::new();
    std::fs::create_dir_all(env.socket.parent().unwrap()).unwrap();
    let listener = UnixListener::bind(&env.socket).unwrap();
    let replies = [
        r#"{"id":1,"hello":{"version":999,"daemon_version":"9.9.9","pid":1}}"#.to_string(),
        format!(
            r#"{{"id":1,"error":{{"code":"unavailable","message":"capd speaks protocol 999 but the client speaks {}; restart the daemon with `cap daemon restart`","retryable":true}}}}"#,
            cap_proto::PROTOCOL_VERSION
        ),
    ];
    let server = std::thread::spawn(move || {
        for reply in replies {
            let (conn, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut hello = String::new();
            reader.read_line(&mut hello).unwrap();
            assert!(hello.contains("\"hello\""), "{hello}");
            (&conn).write_all(reply.as_bytes()).unwrap();
            (&conn).write_all(b"\n").unwrap();
        }
    });
    for _ in 0..2 {
        let out = env.cap(&["sessions"]);
        let err = text(&out.stderr);
        assert_eq!(code(&out), 6, "stderr: {err}");
        assert!(err.contains("restart"), "no restart hint: {err}");
    }
    server.join().unwrap();
}

#[test]
fn garbage_line_gets_a_protocol_error() {
    bad_line_is_answered("this is not json", 0, "malformed JSON");
}

#[test]
fn json_array_gets_a_protocol_error() {
    bad_line_is_answered(r#"[{"id":3,"op":"sessions"}]"#, 0, "JSON object");
}

#[test]
fn request_without_id_gets_a_protocol_error() {
    bad_line_is_answered(r#"{"op":"sessions"}"#, 0, "\"id\"");
}

#[test]
fn unknown_op_gets_a_protocol_error_with_its_id() {
    bad_line_is_answered(r#"{"id":17,"op":"frobnicate"}"#, 17, "unknown op");
}

#[test]
fn wrong_field_type_gets_a_protocol_error_with_its_id() {
    bad_line_is_answered(
        r#"{"id":23,"op":"show","session":42}"#,
        23,
        "invalid request",
    );
}

#[test]
fn line_over_16_mib_gets_an_error_and_the_connection_keeps_working() {
    let mut env = Env::new();
    env.start_daemon();
    let mut conn = Raw::hello(&env.socket);
    let mut other = Raw::hello(&env.socket);
    // A well-formed request, but padded beyond the limit: the length alone is the fault.
    let mut line = br#"{"id":9,"op":"sessions","pad":""#.to_vec();
    line.resize(cap_proto::MAX_LINE + 1024, b'x');
    line.extend_from_slice(b"\"}\n");
    conn.send_bytes(&line);
    let reply = conn.recv();
    assert_eq!(reply["error"]["code"], "protocol", "{reply}");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("limit"), "unclear message: {message}");
    assert_serves(&mut other, 3);
    assert_serves(&mut conn, 10);
}

#[test]
fn stop_replies_first_then_removes_socket_and_pid_file() {
    let mut env = Env::new();
    env.start_daemon();
    let mut conn = Raw::hello(&env.socket);
    conn.send_line(r#"{"id":7,"op":"stop"}"#);
    let reply = conn.recv();
    assert_eq!(reply["id"], 7, "{reply}");
    assert!(reply.get("done").is_some(), "stop did not reply: {reply}");
    let status = env.wait_daemon_exit();
    assert!(status.success(), "capd exited with {status}");
    assert!(!env.socket.exists(), "socket left behind");
    assert!(!env.pid_file_path().exists(), "pid file left behind");
}

#[test]
fn corrupt_state_file_is_kept_aside_and_the_daemon_serves() {
    let mut env = Env::new();
    let state = env.state_file();
    std::fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::fs::write(&state, b"{\"version\": 1, \"keys\": [garbage").unwrap();
    env.start_daemon();
    assert_eq!(env.prompt_ok(&["hi"])["output"], "ECHO[turns=1]: hi");
    let kept: Vec<_> = std::fs::read_dir(state.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("state.json.corrupt-")
        })
        .collect();
    assert_eq!(kept.len(), 1, "corrupt file not kept aside");
    assert_eq!(
        std::fs::read(kept[0].path()).unwrap(),
        b"{\"version\": 1, \"keys\": [garbage"
    );
    // The new state file is valid again.
    let fresh: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert!(fresh["keys"].is_object(), "{fresh}");
    assert!(env.daemon_log().contains("corrupt"), "no warning logged");
}

#[test]
fn sigterm_ends_the_daemon_cleanly_with_no_agent_left() {
    let mut env = Env::new();
    env.start_daemon();
    let result = env.prompt_ok(&["ORPHAN please"]);
    let orphan = env.orphan_pid();
    let agent = env.session_pid(result["session"].as_str().unwrap());
    assert!(alive(orphan) && alive(agent));
    let pid = nix::unistd::Pid::from_raw(env.daemon_pid().unwrap() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = env.wait_daemon_exit();
    assert!(status.success(), "capd exited with {status}");
    assert!(!env.socket.exists(), "socket left behind");
    assert!(!env.pid_file_path().exists(), "pid file left behind");
    wait_until("the agent to die", || !alive(agent));
    wait_until("the agent's orphan to die", || !alive(orphan));
}

#[test]
fn a_client_of_another_user_is_refused_even_when_the_socket_allows_it() {
    use std::os::unix::process::CommandExt;
    if !nix::unistd::geteuid().is_root() {
        panic!("this test switches to another uid and must run as root (CI does)");
    }
    let mut env = Env::new();
    env.start_daemon();
    // Open the filesystem path wide, so only the daemon's peer-credential check stands in
    // the way of user `nobody`.
    for dir in [
        env.dir.path().to_path_buf(),
        env.socket.parent().unwrap().to_path_buf(),
    ] {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::set_permissions(&env.socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    let status = |uid: Option<u32>| {
        let mut c = env.command("cap");
        c.args(["--no-autostart", "daemon", "status"]);
        if let Some(uid) = uid {
            c.uid(uid).gid(uid).env("HOME", "/tmp");
        }
        c.output().expect("run cap")
    };
    let mine = status(None);
    assert_eq!(code(&mine), 0, "{}", text(&mine.stderr));
    let other = status(Some(65534));
    assert_eq!(
        code(&other),
        6,
        "another user got an answer: {}",
        text(&other.stdout)
    );
    // The daemon keeps serving its own user.
    assert_eq!(code(&status(None)), 0);
}
