//! The client's own robustness (SPEC §3, §4): help layout, output passed through as the daemon
//! sent it, bounded waits on a daemon that stops answering, and lines over the size limit in
//! either direction. Most tests talk to a stand-in daemon on a socket of their own, because
//! the faults they need (silence, oversized or unknown lines) are ones a healthy capd never
//! produces.

use cap_tests::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::Output;
use std::sync::mpsc;

/// Asserts an exit code, showing the output when it differs.
fn assert_code(out: &Output, want: i32, what: &str) {
    assert_eq!(
        code(out),
        want,
        "{what}: stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

#[test]
fn prompt_help_lists_global_options_under_their_own_heading() {
    let env = Env::new();
    let out = env.cap(&["prompt", "--help"]);
    assert_code(&out, 0, "prompt --help");
    let help = text(&out.stdout);
    let (own, global) = help
        .split_once("\nGlobal options:\n")
        .unwrap_or_else(|| panic!("no Global options heading:\n{help}"));
    assert!(global.contains("--socket"), "{help}");
    assert!(
        !own.contains("--socket"),
        "--socket among prompt's options:\n{help}"
    );
    assert!(own.contains("--timeout"), "{help}");
}

// ---------------------------------------------------------------------------------------------
// A stand-in daemon: the faults below are ones a healthy capd never produces.
// ---------------------------------------------------------------------------------------------

/// A socket served by a script in a thread instead of capd: it accepts one connection and
/// runs the script on it. Declare it after the [`Env`] so it is gone before the `Env`'s
/// cleanup looks for daemons.
struct StandIn {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    done: mpsc::Receiver<()>,
    thread: std::thread::JoinHandle<()>,
}

impl StandIn {
    fn serve(script: impl FnOnce(&mut Peer) + Send + 'static) -> StandIn {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("standin.sock");
        let listener = UnixListener::bind(&socket).expect("bind the stand-in socket");
        let (tx, done) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
            let mut peer = Peer {
                reader: BufReader::new(stream.try_clone().expect("clone")),
                writer: stream,
            };
            script(&mut peer);
            let _ = tx.send(());
        });
        StandIn {
            _dir: dir,
            socket,
            done,
            thread,
        }
    }

    /// Waits for the script to end (scripts end when `cap` hangs up) and passes on its panic.
    fn finish(self) {
        match self.done.recv_timeout(DEADLINE) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                if let Err(panic) = self.thread.join() {
                    std::panic::resume_unwind(panic);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("the stand-in daemon never finished"),
        }
    }
}

/// The stand-in's end of the connection.
struct Peer {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Peer {
    /// The next request as JSON; `None` once the client hung up.
    fn request(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(serde_json::from_str(&line).expect("request is JSON")),
        }
    }

    /// The next request, which must come and must be `op`; returns its id.
    fn expect(&mut self, op: &str) -> u64 {
        let req = self
            .request()
            .unwrap_or_else(|| panic!("hung up before `{op}`"));
        assert_eq!(req["op"], op, "{req}");
        req["id"].as_u64().expect("numeric id")
    }

    /// Writes one line (a newline is added). A client that has already left is not an
    /// error: some tests are about the client leaving.
    fn send(&mut self, line: &str) {
        let _ = self
            .writer
            .write_all(line.as_bytes())
            .and_then(|()| self.writer.write_all(b"\n"));
    }

    /// Answers the handshake the way capd does.
    fn hello(&mut self) {
        let id = self.expect("hello");
        let reply = json!({"id": id, "hello": {
            "version": cap_proto::PROTOCOL_VERSION, "daemon_version": "stand-in", "pid": 1
        }});
        self.send(&reply.to_string());
    }

    /// Reads (and ignores) requests until the client hangs up; returns them.
    fn drain(&mut self) -> Vec<Value> {
        std::iter::from_fn(|| self.request()).collect()
    }
}

/// `cap ARGS` against a stand-in, with extra environment; fails the test if `cap` hangs.
fn cap_on(env: &Env, stand: &StandIn, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = env.command("cap");
    cmd.env("CAP_SOCKET", &stand.socket)
        .env("CAP_NO_AUTOSTART", "1")
        .args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    output_within_deadline(&mut cmd)
}

#[test]
fn a_daemon_that_accepts_but_never_answers_exits_6() {
    let env = Env::new();
    let stand = StandIn::serve(|peer| {
        peer.drain();
    });
    let socket = stand.socket.to_string_lossy().into_owned();
    let out = output_within_deadline(env.command("cap").env("CAP_CONNECT_TIMEOUT", "0.3").args([
        "daemon",
        "status",
        "--no-autostart",
        "--socket",
        &socket,
    ]));
    assert_code(&out, 6, "status on a mute socket");
    let err = text(&out.stderr);
    assert!(err.contains("did not answer `hello`"), "{err}");
    assert!(err.contains(&socket), "{err}");
    stand.finish();
}

#[test]
fn an_error_with_id_0_ends_a_command_with_its_exit_code() {
    let env = Env::new();
    let stand = StandIn::serve(|peer| {
        peer.hello();
        peer.expect("sessions");
        // What capd answers to a line it could not parse: it cannot know the request's id.
        peer.send(r#"{"id":0,"error":{"code":"protocol","message":"malformed JSON line: x"}}"#);
        peer.drain();
    });
    let out = cap_on(&env, &stand, &[], &["sessions"]);
    assert_code(&out, 2, "sessions answered by an id-0 error");
    assert!(text(&out.stderr).contains("malformed JSON line: x"));
    stand.finish();
}

// ---------------------------------------------------------------------------------------------
// Forward compatibility: json prints what the daemon sent
// ---------------------------------------------------------------------------------------------

/// The envelopes of one turn as a newer daemon might send them: a field this `cap` has no
/// name for, an event type it has never heard of, and odd spacing, none of which a re-encoding
/// would keep.
const NEWER_TURN: [&str; 4] = [
    r#"{"v":1,"type":"session","id":"s1","agent":"claude","key":"k","native_id":"n1","how":"opened","warmth":0.9,"session":"s1","request":"r1","seq":0}"#,
    r#"{"v":1,"type":"text","delta":"Hello","tokens":{"out":1},"session":"s1","request":"r1","seq":1}"#,
    r#"{"v":1, "type":"mood","mood":"curious","session":"s1","request":"r1","seq":2}"#,
    r#"{"v":1,"type":"result","output":"Hello","stop_reason":"end_turn","turns":1,"duration_ms":5,"native_id":"n1","cost":{"usd":0.01},"session":"s1","request":"r1","seq":3}"#,
];

#[test]
fn json_prints_envelopes_exactly_as_the_daemon_sent_them() {
    let env = Env::new();
    let stand = StandIn::serve(|peer| {
        peer.hello();
        let id = peer.expect("prompt");
        for envelope in NEWER_TURN {
            peer.send(&format!(r#"{{"id":{id},"event":{envelope}}}"#));
        }
        peer.drain();
    });
    let out = cap_on(&env, &stand, &[], &["--format", "json", "prompt", "hi"]);
    assert_code(&out, 0, "prompt");
    assert_eq!(text(&out.stdout), NEWER_TURN.join("\n") + "\n");
    stand.finish();

    // The text format still understands what it knows.
    let stand = StandIn::serve(|peer| {
        peer.hello();
        let id = peer.expect("prompt");
        for envelope in NEWER_TURN {
            peer.send(&format!(r#"{{"id":{id},"event":{envelope}}}"#));
        }
        peer.drain();
    });
    let out = cap_on(&env, &stand, &[], &["prompt", "hi"]);
    assert_code(&out, 0, "prompt");
    assert_eq!(text(&out.stdout), "Hello\n");
    stand.finish();
}

#[test]
fn json_documents_keep_fields_this_cap_does_not_know() {
    let env = Env::new();
    let session = r#"{"id":"s1","agent":"claude","state":"idle","keys":["k"],"home_key":"k","cwd":"/tmp","native_id":null,"turns":2,"idle_secs":5,"queued":0,"pid":null,"model":null,"colour":"teal"}"#;
    let stand = StandIn::serve(move |peer| {
        peer.hello();
        let id = peer.expect("show");
        peer.send(&format!(r#"{{"id":{id},"session":{session}}}"#));
        peer.drain();
    });
    let out = cap_on(&env, &stand, &[], &["--format", "json", "show", "s1"]);
    assert_code(&out, 0, "show");
    assert_eq!(text(&out.stdout), format!("{session}\n"));
    stand.finish();
}

// ---------------------------------------------------------------------------------------------
// Liveness: a daemon that stops answering mid-wait
// ---------------------------------------------------------------------------------------------

/// Quick pings and a short patience, for daemons that will never answer.
const IMPATIENT: [(&str, &str); 2] = [("CAP_PING_INTERVAL", "0.1"), ("CAP_PING_TIMEOUT", "0.3")];

/// The `session` event a stand-in opens its turns with.
fn session_line(id: u64) -> String {
    json!({"id": id, "event": {"v": 1, "type": "session", "id": "s1", "agent": "claude",
        "key": "k", "native_id": "n1", "how": "opened", "session": "s1", "request": "r1",
        "seq": 0}})
    .to_string()
}

/// What capd answers to `status`.
fn status_reply(id: u64) -> String {
    json!({"id": id, "status": {"pid": 1, "version": "stand-in", "protocol":
        cap_proto::PROTOCOL_VERSION, "uptime_secs": 1, "socket": "/x", "state_file": "/y",
        "config_file": null, "sessions": 1, "busy": 1, "parked": 0, "max_sessions": 8,
        "idle_timeout_secs": 0, "prompt_timeout_secs": 0, "queue_depth": 4}})
    .to_string()
}

#[test]
fn a_daemon_that_goes_silent_mid_turn_ends_the_prompt_with_exit_6() {
    let env = Env::new();
    let stand = StandIn::serve(|peer| {
        peer.hello();
        let id = peer.expect("prompt");
        peer.send(&session_line(id));
        // Wedged: requests (the pings) are read but never answered.
        let pings = peer.drain();
        assert!(
            pings.iter().any(|p| p["op"] == "status"),
            "cap never pinged: {pings:?}"
        );
    });
    let out = cap_on(
        &env,
        &stand,
        &IMPATIENT,
        &["--format", "json", "prompt", "hi"],
    );
    assert_code(&out, 6, "prompt on a daemon gone silent");
    let events = json_lines(&out.stdout);
    let last = events.last().cloned().unwrap_or_default();
    assert_eq!(last["type"], "error", "{events:#?}");
    assert_eq!(last["code"], "unavailable", "{last}");
    let message = last["message"].as_str().unwrap_or_default();
    assert!(message.contains("stopped answering"), "{message}");
    assert!(message.contains("cap result s1"), "{message}");
    assert!(text(&out.stderr).contains("stopped answering"));
    stand.finish();
}

#[test]
fn pings_keep_a_long_quiet_turn_alive_and_stay_out_of_the_output() {
    let env = Env::new();
    let stand = StandIn::serve(|peer| {
        peer.hello();
        let id = peer.expect("prompt");
        peer.send(&session_line(id));
        // The agent thinks for a while: answer two pings, then finish the turn.
        for _ in 0..2 {
            let ping = peer.expect("status");
            peer.send(&status_reply(ping));
        }
        for event in [
            json!({"v": 1, "type": "text", "delta": "done", "session": "s1", "request": "r1",
                "seq": 1}),
            json!({"v": 1, "type": "result", "output": "done", "stop_reason": "end_turn",
                "turns": 1, "duration_ms": 1, "native_id": "n1", "session": "s1",
                "request": "r1", "seq": 2}),
        ] {
            peer.send(&json!({"id": id, "event": event}).to_string());
        }
        peer.drain();
    });
    // Pings come quickly; the patience for their answers stays at its generous default.
    let vars = [("CAP_PING_INTERVAL", "0.1")];
    let out = cap_on(&env, &stand, &vars, &["--format", "json", "prompt", "hi"]);
    assert_code(&out, 0, "a turn longer than the ping interval");
    let types: Vec<Value> = json_lines(&out.stdout)
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert_eq!(types, [json!("session"), json!("text"), json!("result")]);
    stand.finish();
}

#[test]
fn a_daemon_that_goes_silent_before_replying_ends_a_command_with_exit_6() {
    let env = Env::new();
    let stand = StandIn::serve(|peer| {
        peer.hello();
        peer.expect("sessions");
        peer.drain();
    });
    let out = cap_on(&env, &stand, &IMPATIENT, &["sessions"]);
    assert_code(&out, 6, "sessions on a daemon gone silent");
    assert!(text(&out.stderr).contains("stopped answering"));
    stand.finish();
}

// ---------------------------------------------------------------------------------------------
// Lines over the 16 MiB limit, and the daemon's id-0 errors
// ---------------------------------------------------------------------------------------------

#[test]
fn a_prompt_too_large_to_send_exits_2_before_connecting() {
    let env = Env::new();
    let file = env.dir.path().join("huge.txt");
    std::fs::write(&file, "x".repeat(cap_proto::MAX_LINE + 1024 * 1024)).expect("write");
    let file = file.to_string_lossy().into_owned();
    let out = output_within_deadline(env.command("cap").args(["prompt", "--file", &file]));
    assert_code(&out, 2, "17 MiB prompt");
    let err = text(&out.stderr);
    assert!(err.contains("17.0 MiB"), "{err}");
    assert!(err.contains("16 MiB"), "{err}");
    let out = output_within_deadline(
        env.command("cap")
            .args(["--format", "json", "prompt", "--file", &file]),
    );
    assert_code(&out, 2, "17 MiB prompt, json");
    let events = json_lines(&out.stdout);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["type"], "error");
    assert_eq!(events[0]["code"], "usage");
    // Refused before connecting: no daemon was started for it.
    assert!(!env.socket.exists(), "a daemon was started");
}

#[test]
fn an_error_with_id_0_during_a_prompt_ends_it_with_that_error() {
    let env = Env::new();
    let stand = StandIn::serve(|peer| {
        peer.hello();
        peer.expect("prompt");
        peer.send(r#"{"id":0,"error":{"code":"protocol","message":"malformed JSON line: x"}}"#);
        peer.drain();
    });
    let out = cap_on(&env, &stand, &[], &["--format", "json", "prompt", "hi"]);
    assert_code(&out, 2, "prompt answered by an id-0 error");
    let events = json_lines(&out.stdout);
    let last = events.last().cloned().unwrap_or_default();
    assert_eq!(last["type"], "error", "{events:#?}");
    assert_eq!(last["code"], "protocol", "{last}");
    let message = last["message"].as_str().unwrap_or_default();
    assert!(message.contains("malformed JSON line: x"), "{message}");
    stand.finish();
}

/// A stand-in turn whose result is too large for one line: `partial` streams, then the
/// result line is over the limit.
fn oversized_turn(peer: &mut Peer) {
    peer.hello();
    let id = peer.expect("prompt");
    peer.send(&session_line(id));
    peer.send(
        &json!({"id": id, "event": {"v": 1, "type": "text", "delta": "partial",
            "session": "s1", "request": "r1", "seq": 1}})
        .to_string(),
    );
    let huge = "x".repeat(cap_proto::MAX_LINE);
    peer.send(&format!(
        r#"{{"id":{id},"event":{{"v":1,"type":"result","output":"{huge}","stop_reason":"end_turn","turns":1,"duration_ms":1,"native_id":"n1","session":"s1","request":"r1","seq":2}}}}"#
    ));
    peer.drain();
}

#[test]
fn a_reply_line_over_the_limit_ends_the_prompt_with_an_error() {
    let env = Env::new();
    let stand = StandIn::serve(oversized_turn);
    let out = cap_on(&env, &stand, &[], &["--format", "json", "prompt", "hi"]);
    assert_code(&out, 1, "json prompt with an oversized result");
    let events = json_lines(&out.stdout);
    let types: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types, ["session", "text", "error"], "{events:#?}");
    let message = events[2]["message"].as_str().unwrap_or_default();
    assert!(message.contains("16 MiB"), "{message}");
    stand.finish();

    let stand = StandIn::serve(oversized_turn);
    let out = cap_on(&env, &stand, &[], &["prompt", "hi"]);
    assert_code(&out, 1, "text prompt with an oversized result");
    assert_eq!(text(&out.stdout), "partial\n");
    assert!(
        text(&out.stderr).contains("16 MiB"),
        "{}",
        text(&out.stderr)
    );
    stand.finish();
}
