//! What the HTTP tests share: a fake started on a free port, and SSE parsing.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A running fake, killed when dropped.
pub struct Fake {
    pub child: Child,
    pub base: String,
    log: PathBuf,
    stderr: Receiver<String>,
    pub agent: ureq::Agent,
}

impl Fake {
    pub fn start(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("cap-fake-llm-test-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let log = dir.join("requests.jsonl");
        let _ = std::fs::remove_file(&log);
        let mut child = Command::new(env!("CARGO_BIN_EXE_cap-fake-llm"))
            .arg("--log")
            .arg(&log)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cap-fake-llm");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the port line");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
        // Drain stderr on a thread so the child never blocks on a full pipe.
        let (tx, stderr) = mpsc::channel();
        let pipe = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Self {
            child,
            base: format!("http://{addr}"),
            log,
            stderr,
            agent,
        }
    }

    /// POSTs `body` (a JSON value, or raw text) and returns status and body text.
    pub fn post(&self, path: &str, auth: (&str, &str), body: &str) -> (u16, String) {
        let mut response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header(auth.0, auth.1)
            .content_type("application/json")
            .send(body)
            .expect("request");
        let status = response.status().as_u16();
        (status, response.body_mut().read_to_string().expect("body"))
    }

    pub fn post_json(&self, path: &str, auth: (&str, &str), body: &Value) -> (u16, String) {
        self.post(path, auth, &body.to_string())
    }

    pub fn log_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .expect("log file")
            .lines()
            .map(|l| serde_json::from_str(l).expect("log line is JSON"))
            .collect()
    }

    /// Waits (without sleeping) for a stderr line containing `needle`.
    pub fn wait_stderr(&self, needle: &str, within: Duration) -> Option<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.stderr.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return Some(line),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub const ANTHROPIC_AUTH: (&str, &str) = ("x-api-key", "dummy");
pub const OPENAI_AUTH: (&str, &str) = ("authorization", "Bearer dummy");
pub const GEMINI_AUTH: (&str, &str) = ("x-goog-api-key", "dummy");

/// `(event name, parsed data)` for each SSE event; `[DONE]` becomes a string.
pub fn sse_events(text: &str) -> Vec<(Option<String>, Value)> {
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event:") {
                    event = Some(name.trim().to_string());
                } else if let Some(chunk) = line.strip_prefix("data:") {
                    data.push_str(chunk.trim_start());
                }
            }
            let data = serde_json::from_str(&data).unwrap_or(Value::String(data));
            (event, data)
        })
        .collect()
}

pub fn names(events: &[(Option<String>, Value)]) -> Vec<&str> {
    events
        .iter()
        .map(|(name, _)| name.as_deref().unwrap_or(""))
        .collect()
}

/// Collapses runs of the same event so an order check ignores the delta count.
pub fn dedup<'a>(names: &[&'a str]) -> Vec<&'a str> {
    let mut out = names.to_vec();
    out.dedup();
    out
}
