//! Test support: an isolated environment per test (temp dirs for every XDG path, its own
//! socket, the fake agent as `claude`) and helpers to run the real `cap` and `capd`.
//!
//! Waiting is done on events wherever one exists (a daemon's "listening" log line, a reply
//! line, a process exit). Only conditions nothing announces, such as the periodic idle sweep
//! having run, are polled, always with a deadline.

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Once, mpsc};
use std::time::{Duration, Instant};

/// How long any single wait in a test may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

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
        let (events, rc) = self.prompt_json(args);
        let last = events.last().cloned().unwrap_or(Value::Null);
        assert!(
            rc == 0 && last["type"] == "result",
            "prompt {args:?} failed (rc {rc}): {events:#?}"
        );
        last
    }

    /// Starts `capd` in the foreground and waits for its "listening" log line.
    pub fn start_daemon(&mut self) {
        assert!(self.daemon.is_none(), "daemon already started");
        let mut child = self
            .command("capd")
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
        rx.recv_timeout(DEADLINE)
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

/// A raw socket connection for protocol tests.
pub struct Raw {
    reader: BufReader<std::os::unix::net::UnixStream>,
    writer: std::os::unix::net::UnixStream,
}

impl Raw {
    /// Connects without saying hello.
    pub fn connect(socket: &Path) -> Raw {
        let s = std::os::unix::net::UnixStream::connect(socket).expect("connect");
        s.set_read_timeout(Some(DEADLINE)).expect("timeout");
        Raw {
            reader: BufReader::new(s.try_clone().expect("clone")),
            writer: s,
        }
    }

    /// Connects and completes the hello handshake.
    pub fn hello(socket: &Path) -> Raw {
        let mut r = Raw::connect(socket);
        r.send_line(&format!(
            "{{\"id\":1,\"op\":\"hello\",\"version\":{}}}",
            cap_proto::PROTOCOL_VERSION
        ));
        let reply = r.recv();
        assert!(reply.get("hello").is_some(), "hello failed: {reply}");
        r
    }

    /// Sends raw bytes followed by a newline.
    pub fn send_line(&mut self, line: &str) {
        self.writer.write_all(line.as_bytes()).expect("write");
        self.writer.write_all(b"\n").expect("write");
    }

    /// Reads one reply line as JSON (Null at end of stream).
    pub fn recv(&mut self) -> Value {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read reply");
        if n == 0 {
            return Value::Null;
        }
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("reply not JSON ({e}): {line}"))
    }
}
