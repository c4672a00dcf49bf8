//! A `cap` running in the background, read line by line as it streams.

use super::*;

// ---------------------------------------------------------------------------------------------
// Helpers for the session, turn and healing tests: background `cap` processes read line by
// line, and JSON views of the daemon's tables.
// ---------------------------------------------------------------------------------------------

/// A `cap` process running in the background; its stdout is read line by line as it comes,
/// so a test can wait for an event (the `session` line of a prompt) instead of sleeping.
pub struct Running {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
    /// Every stdout line read so far.
    pub seen: Vec<String>,
    eof: bool,
    /// How long to wait for each line.
    deadline: Duration,
}

impl Running {
    pub(crate) fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cap");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s);
            s
        });
        Running {
            child,
            lines: rx,
            stderr: Some(err),
            seen: Vec::new(),
            eof: false,
            deadline: DEADLINE,
        }
    }

    /// Waits up to `deadline` for each line instead of [`DEADLINE`]: for a prompt held up by
    /// work known to be long on a loaded machine (a debug capd saving 300,000 keys).
    pub fn patient(mut self, deadline: Duration) -> Running {
        self.deadline = deadline;
        self
    }

    /// The next stdout line; `None` at end of output. Panics after the deadline.
    pub fn next_line(&mut self) -> Option<String> {
        if self.eof {
            return None;
        }
        match self.lines.recv_timeout(self.deadline) {
            Ok(line) => {
                self.seen.push(line.clone());
                Some(line)
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                self.eof = true;
                None
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!(
                    "no output line within {:?}; so far: {:#?}",
                    self.deadline, self.seen
                )
            }
        }
    }

    /// Reads JSON lines until one matches `pred` and returns it; panics if output ends first.
    pub fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        while let Some(line) = self.next_line() {
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if pred(&v) {
                return v;
            }
        }
        let stderr = self.stderr_now();
        panic!(
            "output ended before {what}; stdout: {:#?}\nstderr: {stderr}",
            self.seen
        );
    }

    /// Waits for the `session` event of a `--format json prompt`.
    pub fn wait_session(&mut self) -> Value {
        self.wait_for("the session event", |v| v["type"] == "session")
    }

    /// Reads the rest of the output and waits for the exit: (every JSON line, exit code,
    /// stderr).
    pub fn finish(mut self) -> (Vec<Value>, i32, String) {
        while self.next_line().is_some() {}
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "cap did not exit; stdout: {:#?}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let stderr = self.stderr_now();
        let events = self
            .seen
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect();
        (events, status.code().unwrap_or(-1), stderr)
    }

    /// Kills the process (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn stderr_now(&mut self) -> String {
        let start = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) && start.elapsed() < Duration::from_secs(2)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
        match self.child.try_wait() {
            Ok(Some(_)) => self
                .stderr
                .take()
                .and_then(|h| h.join().ok())
                .unwrap_or_default(),
            _ => String::from("(still running)"),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}
