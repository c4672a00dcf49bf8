//! Pieces shared by the three protocol front ends: the home directory (history files, markers,
//! invocation log), the turn plan derived from magic words, reply streaming, stdin reading and
//! stdout writing.

use std::fs;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A random (v4) UUID as a string.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A time-ordered (v7-shaped) UUID, like Codex thread ids.
pub fn new_uuid_v7() -> String {
    let rnd = *uuid::Uuid::new_v4().as_bytes();
    let mut bytes = [0u8; 10];
    bytes.copy_from_slice(&rnd[..10]);
    uuid::Builder::from_unix_timestamp_millis(now_ms(), &bytes)
        .into_uuid()
        .to_string()
}

/// Reads an environment variable as a non-empty string.
pub fn env_str(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// True when an environment variable is set to something other than empty, `0` or `false`.
pub fn env_flag(name: &str) -> bool {
    matches!(env_str(name).as_deref(), Some(v) if v != "0" && !v.eq_ignore_ascii_case("false"))
}

/// Reads an environment variable as milliseconds.
pub fn env_ms(name: &str) -> Option<u64> {
    env_str(name).and_then(|v| v.trim().parse().ok())
}

/// Reads an environment variable as a count (of bytes, of helpers).
pub fn env_usize(name: &str) -> Option<usize> {
    env_str(name).and_then(|v| v.trim().parse().ok())
}

/// The process's current directory as a string (what the agent records as its cwd).
pub fn current_cwd() -> String {
    std::env::current_dir()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| String::from("/"))
}

// ---------------------------------------------------------------------------------------------
// Home directory and history
// ---------------------------------------------------------------------------------------------

/// One recorded turn: the user text and, once known, the agent's reply.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TurnRecord {
    pub user: String,
    #[serde(default)]
    pub agent: Option<String>,
    /// `running`, `completed`, `interrupted`, `failed`.
    #[serde(default)]
    pub status: String,
}

/// One session's history file.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct History {
    pub session_id: String,
    /// `claude`, `codex` or `acp`.
    pub protocol: String,
    /// The cwd the session was created in.
    pub cwd: String,
    pub created_ms: u64,
    pub updated_ms: u64,
    #[serde(default)]
    pub turns: Vec<TurnRecord>,
}

impl History {
    pub fn new(session_id: &str, protocol: &str, cwd: &str) -> History {
        let now = now_ms();
        History {
            session_id: session_id.to_string(),
            protocol: protocol.to_string(),
            cwd: cwd.to_string(),
            created_ms: now,
            updated_ms: now,
            turns: Vec::new(),
        }
    }

    /// Records a user turn as started; returns the turn count N including it.
    pub fn begin_turn(&mut self, text: &str) -> usize {
        self.turns.push(TurnRecord {
            user: text.to_string(),
            agent: None,
            status: "running".to_string(),
        });
        self.updated_ms = now_ms();
        self.turns.len()
    }

    /// Records the outcome of the last turn.
    pub fn end_turn(&mut self, agent: &str, status: &str) {
        if let Some(t) = self.turns.last_mut() {
            t.agent = Some(history_reply(agent));
            t.status = status.to_string();
        }
        self.updated_ms = now_ms();
    }
}

/// The most of a reply a history keeps whole; the default `HUGE` reply fits.
const HISTORY_REPLY_MAX: usize = HUGE_BYTES + 64 * 1024;

/// A reply as the history keeps it: whole, or past [`HISTORY_REPLY_MAX`] (`FAKE_HUGE_BYTES`)
/// its first KiB and its size, so that streaming 100 MB measures cap rather than the fake
/// rewriting and syncing 100 MB of history at the end of every turn.
fn history_reply(agent: &str) -> String {
    if agent.len() <= HISTORY_REPLY_MAX {
        return agent.to_string();
    }
    let mut cut = 1024;
    while !agent.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… [{} bytes in all]", &agent[..cut], agent.len())
}

/// The fake agent's state directory.
#[derive(Clone, Debug)]
pub struct Home {
    pub dir: PathBuf,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Session ids come from the wire; only plain ids map to file names.
/// A session id as a marker file name (hex when it is not a safe id).
fn marker_key(session_id: &str) -> String {
    if safe_id(session_id) {
        session_id.to_string()
    } else {
        session_id
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    }
}

pub fn safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// Writes a file atomically: a temp file in the same directory, then a rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_string());
    let tmp = dir.join(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let res = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    res
}

impl Home {
    /// `$FAKE_AGENT_HOME`, else `$HOME/.cap-fake-agent`, else a folder in the temp dir.
    pub fn from_env() -> Home {
        let dir = if let Some(d) = env_str("FAKE_AGENT_HOME") {
            PathBuf::from(d)
        } else if let Some(h) = env_str("HOME") {
            PathBuf::from(h).join(".cap-fake-agent")
        } else {
            std::env::temp_dir().join(".cap-fake-agent")
        };
        Home { dir }
    }

    #[cfg(test)]
    pub fn new(dir: impl Into<PathBuf>) -> Home {
        Home { dir: dir.into() }
    }

    pub fn sessions_dir(&self) -> PathBuf {
        self.dir.join("sessions")
    }

    pub fn markers_dir(&self) -> PathBuf {
        self.dir.join("markers")
    }

    pub fn session_path(&self, id: &str) -> Option<PathBuf> {
        safe_id(id).then(|| self.sessions_dir().join(format!("{id}.json")))
    }

    /// True when a history file exists for this id (whatever its protocol).
    pub fn exists(&self, id: &str) -> bool {
        self.session_path(id).is_some_and(|p| p.exists())
    }

    /// Loads a session of the given protocol; a missing, unreadable or foreign file is `None`.
    pub fn load(&self, id: &str, protocol: &str) -> Option<History> {
        let path = self.session_path(id)?;
        let data = fs::read(&path).ok()?;
        match serde_json::from_slice::<History>(&data) {
            Ok(h) if h.protocol == protocol && h.session_id == id => Some(h),
            Ok(_) => None,
            Err(e) => {
                eprintln!(
                    "cap-fake-agent: ignoring corrupt history {}: {e}",
                    path.display()
                );
                None
            }
        }
    }

    pub fn save(&self, h: &History) -> io::Result<()> {
        let path = self
            .session_path(&h.session_id)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "unsafe session id"))?;
        let data = serde_json::to_vec_pretty(h).map_err(io::Error::other)?;
        write_atomic(&path, &data)
    }

    /// Saves, reporting (not failing on) errors.
    pub fn save_or_warn(&self, h: &History) {
        if let Err(e) = self.save(h) {
            eprintln!(
                "cap-fake-agent: cannot save history for {}: {e}",
                h.session_id
            );
        }
    }

    /// All readable history files.
    pub fn list(&self) -> Vec<History> {
        let Ok(rd) = fs::read_dir(self.sessions_dir()) else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| fs::read(e.path()).ok())
            .filter_map(|d| serde_json::from_slice::<History>(&d).ok())
            .collect()
    }

    /// The most recently updated session of `protocol` created in `cwd`.
    pub fn latest_in(&self, protocol: &str, cwd: &str) -> Option<History> {
        self.list()
            .into_iter()
            .filter(|h| h.protocol == protocol && h.cwd == cwd)
            .max_by(|a, b| {
                (a.updated_ms, a.created_ms, &a.session_id).cmp(&(
                    b.updated_ms,
                    b.created_ms,
                    &b.session_id,
                ))
            })
    }

    /// Whether the marker `<session>.<word>` exists.
    pub fn has_marker(&self, session_id: &str, word: &str) -> bool {
        self.markers_dir()
            .join(format!(
                "{}.{}",
                marker_key(session_id),
                word.to_ascii_lowercase()
            ))
            .exists()
    }

    /// Creates the marker `<session>.<word>`; true only the first time (the marker was new).
    pub fn marker_first_time(&self, session_id: &str, word: &str) -> bool {
        let key = marker_key(session_id);
        let dir = self.markers_dir();
        if let Err(e) = fs::create_dir_all(&dir) {
            eprintln!("cap-fake-agent: cannot create {}: {e}", dir.display());
            return true;
        }
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.join(format!("{key}.{}", word.to_ascii_lowercase())))
        {
            Ok(_) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(e) => {
                eprintln!("cap-fake-agent: marker error: {e}");
                true
            }
        }
    }

    /// Appends one JSON line describing this process to `<home>/invocations.jsonl`.
    pub fn log_invocation(&self, protocol: &str, argv: &[String], cwd: &str) {
        let line = serde_json::json!({
            "ts_ms": now_ms(),
            "pid": std::process::id(),
            "protocol": protocol,
            "argv": argv,
            "cwd": cwd,
            "IS_SANDBOX": std::env::var("IS_SANDBOX").ok(),
            "HOME": std::env::var("HOME").ok(),
        });
        let res = (|| {
            fs::create_dir_all(&self.dir)?;
            let mut f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join("invocations.jsonl"))?;
            // One write call so that concurrent agents do not interleave lines.
            f.write_all(format!("{line}\n").as_bytes())
        })();
        if let Err(e) = res {
            eprintln!("cap-fake-agent: cannot log invocation: {e}");
        }
    }

    /// Appends one line the agent read to `<home>/input.jsonl` (`{pid, line}`, the line as
    /// JSON when it is JSON), so tests can check what cap sent: models, MCP servers, steering.
    /// Lines over 64 KiB are left out (the huge-prompt tests would only slow down).
    pub fn log_input(&self, line: &str) {
        if line.len() > 64 * 1024 {
            return;
        }
        let parsed: Value =
            serde_json::from_str(line).unwrap_or_else(|_| Value::String(line.to_string()));
        let entry = serde_json::json!({"pid": std::process::id(), "line": parsed});
        let res = (|| {
            fs::create_dir_all(&self.dir)?;
            let mut f = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join("input.jsonl"))?;
            f.write_all(format!("{entry}\n").as_bytes())
        })();
        if let Err(e) = res {
            eprintln!("cap-fake-agent: cannot log input: {e}");
        }
    }

    /// Spawns `sleep 1000` in our process group and records its pid in `<home>/orphan.pid`.
    pub fn spawn_orphan(&self) {
        let spawned = std::process::Command::new("sleep")
            .arg("1000")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
        match spawned {
            Ok(child) => {
                let pid = child.id();
                // Deliberately never waited for: it must outlive us unless the group is killed.
                std::mem::forget(child);
                if let Err(e) =
                    write_atomic(&self.dir.join("orphan.pid"), format!("{pid}\n").as_bytes())
                {
                    eprintln!("cap-fake-agent: cannot write orphan.pid: {e}");
                }
            }
            Err(e) => eprintln!("cap-fake-agent: cannot spawn orphan: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Turn plans
// ---------------------------------------------------------------------------------------------

pub use crate::plan::*;

/// Non-JSON lines printed on stdout by `GARBAGE`.
pub const GARBAGE_LINES: &[&str] = &[
    "this is not json at all",
    "{\"truncated\": [1, 2,",
    "\u{1b}[31mWARNING\u{1b}[0m some colourful log line on stdout",
    "]]]}}} <<< garbage >>>",
];

// ---------------------------------------------------------------------------------------------
// I/O
// ---------------------------------------------------------------------------------------------

/// Writes one line to stdout and flushes; a closed stdout ends the process.
pub fn emit_raw(line: &str) {
    let mut out = io::stdout().lock();
    let res = out
        .write_all(line.as_bytes())
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.flush());
    if let Err(e) = res {
        eprintln!("cap-fake-agent: stdout closed: {e}");
        std::process::exit(1);
    }
}

/// Writes one JSON value as a line on stdout.
pub fn emit(v: &Value) {
    emit_raw(&v.to_string());
}

/// Flushes stdout and exits.
pub fn exit_now(code: i32) -> ! {
    let _ = io::stdout().lock().flush();
    std::process::exit(code)
}

/// An event from the stdin reader thread.
#[derive(Debug)]
pub enum Input {
    Line(String),
    Eof,
}

/// Reads stdin lines on a thread so that the main loop can stream while still reading.
pub fn spawn_stdin_reader() -> Receiver<Input> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let stdin = io::stdin();
        let mut lock = stdin.lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match lock.read_until(b'\n', &mut buf) {
                Ok(0) => break,
                Ok(_) => {
                    while matches!(buf.last(), Some(b'\n' | b'\r')) {
                        buf.pop();
                    }
                    let line = String::from_utf8_lossy(&buf).into_owned();
                    if tx.send(Input::Line(line)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    eprintln!("cap-fake-agent: stdin read error: {e}");
                    break;
                }
            }
        }
        let _ = tx.send(Input::Eof);
    });
    rx
}

/// What the event loop should do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Exit(i32),
}

/// A protocol front end driven by [`run`].
pub trait Agent {
    /// A stdin line (without its newline).
    fn on_line(&mut self, line: &str) -> Flow;
    /// stdin reached end of file.
    fn on_eof(&mut self) -> Flow;
    /// Releases whatever is due at `now`.
    fn tick(&mut self, now: Instant) -> Flow;
    /// When `tick` next has something to do.
    fn deadline(&self) -> Option<Instant>;
}

/// The event loop: stdin lines, timed output, exit.
pub fn run(agent: &mut dyn Agent, rx: Receiver<Input>) -> i32 {
    let home = Home::from_env();
    let mut eof = false;
    loop {
        if let Flow::Exit(code) = agent.tick(Instant::now()) {
            return code;
        }
        let deadline = agent.deadline();
        if eof {
            match deadline {
                Some(d) => std::thread::sleep(d.saturating_duration_since(Instant::now())),
                // Nothing will ever happen again (a hanging turn): wait to be killed.
                None => std::thread::sleep(Duration::from_secs(3600)),
            }
            continue;
        }
        let got = match deadline {
            Some(d) => rx.recv_timeout(d.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        let flow = match got {
            Ok(Input::Line(line)) => {
                if line.trim().is_empty() {
                    Flow::Continue
                } else {
                    home.log_input(&line);
                    agent.on_line(&line)
                }
            }
            Ok(Input::Eof) | Err(RecvTimeoutError::Disconnected) => {
                eof = true;
                agent.on_eof()
            }
            Err(RecvTimeoutError::Timeout) => Flow::Continue,
        };
        if let Flow::Exit(code) = flow {
            return code;
        }
    }
}

/// Extracts the text of content blocks `[{type:"text",text}]` (or a plain string).
pub fn text_of_content(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Array(blocks) => {
            let texts: Vec<&str> = blocks
                .iter()
                .filter(|b| b.get("type").and_then(Value::as_str) == Some("text"))
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect();
            Some(texts.join("\n"))
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "common_tests.rs"]
mod tests;
