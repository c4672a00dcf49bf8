//! Drives the built `cap-fake-agent` binary over stdio.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_cap-fake-agent");
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Receiver<String>,
}

impl Proc {
    pub fn spawn(home: &Path, cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Proc {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(cwd)
            .env("FAKE_AGENT_HOME", home)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, _) in std::env::vars() {
            if k.starts_with("FAKE_") && k != "FAKE_AGENT_HOME" {
                cmd.env_remove(k);
            }
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn cap-fake-agent");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr_pipe = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (etx, stderr) = mpsc::channel();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr_pipe.read_to_string(&mut s);
            let _ = etx.send(s);
        });
        Proc {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
        }
    }

    pub fn send_raw(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).expect("write");
        stdin.write_all(b"\n").expect("write");
        stdin.flush().expect("flush");
    }

    pub fn send(&mut self, v: &Value) {
        self.send_raw(&v.to_string());
    }

    /// The next stdout line, raw.
    pub fn next_raw(&self) -> String {
        self.lines
            .recv_timeout(TIMEOUT)
            .expect("timed out waiting for a stdout line")
    }

    /// The next stdout line that is JSON (non-JSON lines are skipped).
    pub fn next(&self) -> Value {
        loop {
            let line = self.next_raw();
            if let Ok(v) = serde_json::from_str(&line) {
                return v;
            }
        }
    }

    /// JSON lines up to and including the first one matching `pred`.
    pub fn until(&self, pred: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let v = self.next();
            let stop = pred(&v);
            out.push(v);
            if stop {
                return out;
            }
        }
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Closes stdin, reads stdout to EOF and waits for the exit status.
    pub fn finish(mut self) -> (ExitStatus, Vec<String>, String) {
        self.close_stdin();
        let mut rest = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(TIMEOUT) {
            rest.push(l);
        }
        let status = self.child.wait().expect("wait");
        let err = self.stderr.recv_timeout(TIMEOUT).unwrap_or_default();
        (status, rest, err)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}
