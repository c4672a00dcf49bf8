//! Helpers for particular groups of tests: fake-agent invocations, client tests that must
//! not hang, state files, hostile clients.

use super::*;

// ---------------------------------------------------------------------------------------------
// Helpers for the socket and CLI tests: the pid file, the daemon's exit, stdin input, raw
// bytes on a connection, and the capd processes serving a socket.
// ---------------------------------------------------------------------------------------------

impl Env {
    /// Pids of the fake agent's starts speaking `protocol` (`acp`, `codex`, `claude`), in
    /// order.
    pub fn fake_starts(&self, protocol: &str) -> Vec<u64> {
        self.invocations()
            .iter()
            .filter(|i| i["protocol"] == protocol)
            .filter_map(|i| i["pid"].as_u64())
            .collect()
    }

    /// Every line capd wrote to a fake agent, in order: `{"pid": the agent's pid, "line": …}`.
    pub fn fake_input(&self) -> Vec<Value> {
        std::fs::read_to_string(self.fake_home.join("input.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect()
    }

    /// The fake agent's history file of its session `native` (`cwd`, `turns`, …); `Null`
    /// when there is none.
    pub fn fake_history(&self, native: &str) -> Value {
        let file = self
            .fake_home
            .join("sessions")
            .join(format!("{native}.json"));
        std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    }

    /// The daemon's pid file, `<socket>.pid`.
    pub fn pid_file_path(&self) -> PathBuf {
        cap_proto::paths::pid_file(&self.socket)
    }

    /// The pid written in the pid file (None when missing or unreadable).
    pub fn pid_from_file(&self) -> Option<u32> {
        std::fs::read_to_string(self.pid_file_path())
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Waits for the daemon started by [`Env::start_daemon`] to exit (after `stop` or a
    /// signal) and returns its exit status.
    pub fn wait_daemon_exit(&mut self) -> std::process::ExitStatus {
        let mut child = self.daemon.take().expect("no daemon started by this Env");
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("try_wait capd") {
                return status;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "capd did not exit; log:\n{}",
                self.daemon_log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs `cap ARGS` to completion with `input` on its stdin (a pipe, not a terminal).
    pub fn cap_with_stdin(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command("cap")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cap");
        let mut stdin = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().expect("wait for cap");
        let _ = feeder.join();
        out
    }

    /// Pids of the live `capd` processes of this workspace that serve [`Env::socket`].
    pub fn capd_pids(&self) -> Vec<u32> {
        let capd = bin("capd");
        let socket = self.socket.to_string_lossy().into_owned();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
            .filter(|pid| {
                let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
                let mentions = |bytes: &[u8]| {
                    bytes
                        .split(|b| *b == 0)
                        .any(|arg| String::from_utf8_lossy(arg).ends_with(socket.as_str()))
                };
                exe.as_deref() == Some(capd.as_path())
                    && (mentions(&cmdline) || mentions(&env))
                    && alive(*pid)
            })
            .collect()
    }
}

impl Raw {
    /// Sends raw bytes as they are (no newline added).
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
    }
}

/// A fake-agent invocation's argv.
pub fn argv(inv: &Value) -> Vec<String> {
    inv["argv"]
        .as_array()
        .expect("argv")
        .iter()
        .map(|a| a.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Whether an invocation's argv has `flag value` in a row.
pub fn has_pair(inv: &Value, flag: &str, value: &str) -> bool {
    argv(inv).windows(2).any(|w| w[0] == flag && w[1] == value)
}

// ---------------------------------------------------------------------------------------------
// Helpers for the client tests: a bounded run of a command that might hang.
// ---------------------------------------------------------------------------------------------

/// Runs a command to completion like [`Command::output`], but kills it and fails the test
/// when it has not exited within [`DEADLINE`]: for tests of a client that used to hang, which
/// must fail rather than stall the whole suite.
pub fn output_within_deadline(cmd: &mut Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    if let Ok(out) = rx.recv_timeout(DEADLINE) {
        return out.expect("wait for the command");
    }
    // Still running: it is our child and not reaped yet, so the pid is still its own.
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
    let shown = match rx.recv_timeout(DEADLINE) {
        Ok(Ok(out)) => format!(
            "stdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        ),
        _ => String::from("(no output)"),
    };
    panic!("{cmd:?} did not exit within {DEADLINE:?}; {shown}");
}

// ---------------------------------------------------------------------------------------------
// Helpers for the state-file and hostile-client tests: the log of a daemon `cap` started
// detached, per-test environment variables, raw connections and a daemon's memory.
// ---------------------------------------------------------------------------------------------

impl Env {
    /// The log of a daemon that `cap` started detached: `<state dir>/cap/capd.log`.
    pub fn detached_log_path(&self) -> PathBuf {
        self.dir.path().join("state").join("cap").join("capd.log")
    }

    /// Sets an environment variable for every command of this environment, `capd` included.
    pub fn set_var(&mut self, key: &str, value: &str) {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_string(), value.to_string()));
    }
}

impl Raw {
    /// Connects and says hello, or `None` when the daemon refuses or closes the connection
    /// (for polling until a slot frees up).
    pub fn try_hello(socket: &Path) -> Option<Raw> {
        let mut r = Raw::connect(socket);
        r.send_line(&format!(
            "{{\"id\":1,\"op\":\"hello\",\"version\":{}}}",
            cap_proto::PROTOCOL_VERSION
        ));
        let reply = r.recv();
        reply.get("hello").is_some().then_some(r)
    }

    /// A second handle on the socket, to write from another thread.
    pub fn writer_clone(&self) -> std::os::unix::net::UnixStream {
        self.writer.try_clone().expect("clone socket")
    }

    /// Reads replies until one has `id` and is the last of its request (an error, or an
    /// event of type `result` or `error`, or any non-event reply), returning every reply read.
    pub fn recv_until_done(&mut self, id: u64) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let reply = self.recv();
            assert!(!reply.is_null(), "connection closed; so far: {seen:#?}");
            let done = reply["id"] == id
                && match reply.get("event") {
                    Some(ev) => ev["type"] == "result" || ev["type"] == "error",
                    None => true,
                };
            seen.push(reply);
            if done {
                return seen;
            }
        }
    }
}

/// A process's resident memory in KiB (`VmRSS` in `/proc/PID/status`), 0 when gone.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
