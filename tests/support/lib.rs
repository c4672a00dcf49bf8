//! Test support: an isolated environment per test (temp dirs for every XDG path, its own
//! socket, the fake agent as `claude`) and helpers to run the real `cap` and `capd`.
//!
//! Waiting is done on events wherever one exists (a daemon's "listening" log line, a reply
//! line, a process exit). Only conditions nothing announces, such as the periodic idle sweep
//! having run, are polled, always with a deadline.

pub mod real;

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Once, mpsc};
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);
/// How long `start_daemon` waits for capd's "listening" line.
const DAEMON_START: Duration = Duration::from_secs(120);

/// Path of a workspace binary, built on first use so `cargo test -p cap-tests` works alone.
pub fn bin(name: &str) -> PathBuf {
    static BUILD: Once = Once::new();
    BUILD.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args([
                "build",
                "-q",
                "-p",
                "cap",
                "-p",
                "capd",
                "-p",
                "cap-fake-agent",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building the binaries failed");
    });
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/e2e-<hash> → target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let path = dir.join(name);
    assert!(path.exists(), "{} is missing", path.display());
    path
}

/// One isolated cap installation: its own socket, state, config and fake-agent home.
pub struct Env {
    pub dir: tempfile::TempDir,
    /// The working directory commands run in (not a git repo: the key is `dir:<work>`).
    pub work: PathBuf,
    pub socket: PathBuf,
    pub fake_home: PathBuf,
    pub config: PathBuf,
    daemon: Option<Child>,
    /// Extra environment for every command.
    pub vars: Vec<(String, String)>,
    /// A program and arguments `capd` is started through (its path is appended), e.g. to run
    /// it in a private network namespace.
    pub daemon_wrapper: Vec<String>,
}

impl Default for Env {
    fn default() -> Env {
        Env::new()
    }
}

impl Env {
    /// An environment with the default config plus an `other` agent (a second stream-json
    /// agent backed by the fake, so tests can switch agents on one key).
    pub fn new() -> Env {
        Env::with_config("")
    }

    /// Like [`Env::new`] with extra top-level config lines (they must come before tables).
    pub fn with_config(extra: &str) -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&work).expect("work dir");
        let work = work.canonicalize().expect("canonical work dir");
        let config = dir.path().join("config.toml");
        let fake = bin("cap-fake-agent");
        let text = format!(
            "{extra}\n[agents.other]\nprotocol = \"claude-stream-json\"\ncommand = \"{}\"\n",
            fake.display()
        );
        std::fs::write(&config, text).expect("write config");
        Env {
            socket: dir.path().join("run").join("capd.sock"),
            fake_home: dir.path().join("fake"),
            work,
            config,
            dir,
            daemon: None,
            vars: Vec::new(),
            daemon_wrapper: Vec::new(),
        }
    }

    /// A command for one of the workspace binaries with this environment applied.
    pub fn command(&self, name: &str) -> Command {
        let mut c = Command::new(bin(name));
        let root = self.dir.path();
        c.current_dir(&self.work)
            .env_remove("CAP_FORMAT")
            .env_remove("CAP_NO_AUTOSTART")
            .env_remove("RUST_LOG")
            .env("HOME", root.join("home"))
            .env("XDG_RUNTIME_DIR", root.join("xdg-run"))
            .env("XDG_STATE_HOME", root.join("state"))
            .env("XDG_CONFIG_HOME", root.join("xdg-config"))
            .env("CAP_SOCKET", &self.socket)
            .env("CAP_CONFIG", &self.config)
            .env("CAP_CLAUDE_BIN", bin("cap-fake-agent"))
            .env("FAKE_AGENT_HOME", &self.fake_home)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    /// Runs `cap ARGS` to completion.
    pub fn cap(&self, args: &[&str]) -> Output {
        self.command("cap").args(args).output().expect("run cap")
    }

    /// Runs `cap --format json prompt ARGS` and returns its events and exit code.
    pub fn prompt_json(&self, args: &[&str]) -> (Vec<Value>, i32) {
        let mut all = vec!["--format", "json", "prompt"];
        all.extend_from_slice(args);
        let out = self.cap(&all);
        (json_lines(&out.stdout), code(&out))
    }

    /// Runs a prompt and returns the final `result` event; panics with the output otherwise.
    pub fn prompt_ok(&self, args: &[&str]) -> Value {
        self.prompt_events_ok(args).pop().unwrap_or(Value::Null)
    }

    /// Runs a prompt that must succeed and returns every event (the last is its `result`);
    /// panics with the events and the daemon's log otherwise.
    pub fn prompt_events_ok(&self, args: &[&str]) -> Vec<Value> {
        let (events, rc) = self.prompt_json(args);
        let ok = rc == 0 && events.last().is_some_and(|e| e["type"] == "result");
        assert!(
            ok,
            "prompt {args:?} failed (rc {rc}): {events:#?}\ndaemon log:\n{}",
            self.daemon_log()
        );
        events
    }

    /// Runs a prompt that must succeed; returns its (`session` event, `result` event).
    pub fn prompt_session_ok(&self, args: &[&str]) -> (Value, Value) {
        let mut events = self.prompt_events_ok(args);
        let session = session_event(&events).clone();
        (session, events.pop().unwrap_or(Value::Null))
    }

    /// Starts `capd` in the foreground and waits for its "listening" log line.
    pub fn start_daemon(&mut self) {
        assert!(self.daemon.is_none(), "daemon already started");
        let mut cmd = self.command("capd");
        if let Some((program, args)) = self.daemon_wrapper.split_first() {
            let mut wrapped = Command::new(program);
            wrapped
                .args(args)
                .arg(cmd.get_program())
                .current_dir(&self.work);
            for (k, v) in cmd.get_envs() {
                match v {
                    Some(v) => wrapped.env(k, v),
                    None => wrapped.env_remove(k),
                };
            }
            cmd = wrapped;
        }
        let mut child = cmd
            .env("CAP_LOG", "info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn capd");
        let stderr = child.stderr.take().expect("capd stderr");
        let log = self.dir.path().join("capd.log");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .ok();
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(f) = file.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                if !sent && line.contains("listening") {
                    sent = true;
                    let _ = tx.send(());
                }
            }
        });
        // Waits for the event, so a long deadline costs nothing when capd is quick; it must
        // cover a debug capd loading a 300,000-key state on a 2-core machine under load.
        rx.recv_timeout(DAEMON_START)
            .unwrap_or_else(|_| panic!("capd did not start; log:\n{}", self.daemon_log()));
        self.daemon = Some(child);
    }

    /// Stops the daemon with `cap daemon stop` and waits for the process to exit.
    pub fn stop_daemon(&mut self) {
        let out = self.cap(&["daemon", "stop"]);
        assert_eq!(code(&out), 0, "daemon stop: {}", text(&out.stderr));
        if let Some(mut child) = self.daemon.take() {
            let _ = child.wait();
        }
    }

    /// Restarts the daemon: stop, then start.
    pub fn restart_daemon(&mut self) {
        self.stop_daemon();
        self.start_daemon();
    }

    /// The pid of the daemon started by [`Env::start_daemon`].
    pub fn daemon_pid(&self) -> Option<u32> {
        self.daemon.as_ref().map(Child::id)
    }

    /// What the foreground daemon logged so far.
    pub fn daemon_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("capd.log")).unwrap_or_default()
    }

    /// Every start of the fake agent: argv, cwd, pid, IS_SANDBOX, …
    pub fn invocations(&self) -> Vec<Value> {
        let text =
            std::fs::read_to_string(self.fake_home.join("invocations.jsonl")).unwrap_or_default();
        json_lines(text.as_bytes())
    }

    /// The state file.
    pub fn state_file(&self) -> PathBuf {
        self.dir.path().join("state").join("cap").join("state.json")
    }

    /// The default key of [`Env::work`].
    pub fn key(&self) -> String {
        format!("dir:{}", self.work.display())
    }

    /// Writes a config file (replacing the default one, keeping the `other` agent).
    pub fn set_config(&self, extra: &str) {
        let fake = bin("cap-fake-agent");
        let text = format!(
            "{extra}\n[agents.other]\nprotocol = \"claude-stream-json\"\ncommand = \"{}\"\n",
            fake.display()
        );
        std::fs::write(&self.config, text).expect("write config");
    }

    /// Puts `head` (top-level keys) before the config file's text and `tail` (tables) after.
    pub fn amend_config(&self, head: &str, tail: &str) {
        let config = std::fs::read_to_string(&self.config).unwrap_or_default();
        std::fs::write(&self.config, format!("{head}\n{config}\n{tail}\n")).expect("write config");
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Stop whatever daemon serves this socket (started here or autostarted) so no agent
        // outlives the test.
        let _ = self
            .command("cap")
            .args(["--no-autostart", "daemon", "stop"])
            .output();
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Parses NDJSON output.
pub fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// A process's exit code (-1 when killed by a signal).
pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

/// Lossy UTF-8.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether a process exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state follows the parenthesised command name.
            let state = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().next());
            !matches!(state, Some("Z") | Some("X") | None)
        }
        Err(_) => false,
    }
}

/// Polls `cond` until it holds or [`DEADLINE`] passes. Only for conditions that no event
/// announces (a periodic sweep, a process dying after a reply).
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

mod extra;
mod raw;
mod running;
mod sshd;
pub use extra::*;
pub use raw::Raw;
pub use running::Running;
pub use sshd::{Sshd, ensure_program, find_program, free_port};

impl Env {
    /// Starts `cap ARGS` in the background.
    pub fn spawn_cap(&self, args: &[&str]) -> Running {
        let mut c = self.command("cap");
        c.args(args);
        Running::spawn(c)
    }

    /// Starts `cap --format json prompt ARGS` in the background.
    pub fn spawn_prompt(&self, args: &[&str]) -> Running {
        let mut all = vec!["--format", "json", "prompt"];
        all.extend_from_slice(args);
        self.spawn_cap(&all)
    }

    /// Runs `cap --format json ARGS`, which must succeed, and parses its one JSON document.
    pub fn cap_doc(&self, args: &[&str]) -> Value {
        let mut all = vec!["--format", "json"];
        all.extend_from_slice(args);
        let out = self.cap(&all);
        assert_eq!(
            code(&out),
            0,
            "cap {all:?} failed: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("cap {all:?} printed no JSON ({e}): {}", text(&out.stdout)))
    }

    /// `cap show ID` as JSON.
    pub fn show_doc(&self, id: &str) -> Value {
        self.cap_doc(&["show", id])
    }

    /// The agent pid of a live session (`cap show ID` field `pid`).
    pub fn session_pid(&self, id: &str) -> u32 {
        let info = self.show_doc(id);
        info["pid"]
            .as_u64()
            .unwrap_or_else(|| panic!("session {id} has no pid: {info:#}")) as u32
    }

    /// `cap sessions` as JSON.
    pub fn sessions_doc(&self) -> Vec<Value> {
        match self.cap_doc(&["sessions"]) {
            Value::Array(list) => list,
            other => panic!("sessions is not a list: {other:#}"),
        }
    }

    /// Ids of the live sessions.
    pub fn session_ids(&self) -> Vec<String> {
        self.sessions_doc()
            .iter()
            .filter_map(|s| s["id"].as_str().map(str::to_string))
            .collect()
    }

    /// `cap keys` as JSON: `bindings`, `parked`, `records`.
    pub fn keys_doc(&self) -> Value {
        self.cap_doc(&["keys"])
    }

    /// The state file as JSON (Null when missing).
    pub fn state_doc(&self) -> Value {
        match std::fs::read(self.state_file()) {
            Ok(b) => serde_json::from_slice(&b).expect("state.json is JSON"),
            Err(_) => Value::Null,
        }
    }

    /// The pid the fake agent's `ORPHAN` turn wrote.
    pub fn orphan_pid(&self) -> u32 {
        let s = std::fs::read_to_string(self.fake_home.join("orphan.pid")).expect("orphan.pid");
        s.trim().parse().expect("orphan pid")
    }
}

/// The events of one type in a prompt's output.
pub fn events_of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

/// The `kind`s of the `status` events in a prompt's output.
pub fn status_kinds(events: &[Value]) -> Vec<String> {
    events_of(events, "status")
        .iter()
        .filter_map(|e| e["kind"].as_str().map(str::to_string))
        .collect()
}

/// The `session` event of a prompt's output (panics when there is none).
pub fn session_event(events: &[Value]) -> &Value {
    events
        .iter()
        .find(|e| e["type"] == "session")
        .unwrap_or_else(|| panic!("no session event in {events:#?}"))
}

/// The output of the final `result` event (panics when the prompt did not end with one).
pub fn result_output(events: &[Value]) -> String {
    let last = events.last().cloned().unwrap_or(Value::Null);
    assert_eq!(last["type"], "result", "no result at the end: {events:#?}");
    last["output"].as_str().unwrap_or_default().to_string()
}
