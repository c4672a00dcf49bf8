//! Agent drivers: one per wire protocol, behind one small trait.
//!
//! A driver owns an agent process. Its reader task turns the agent's output into
//! [`DriverEvent`]s on a channel, so the session actor can `select!` over agent events,
//! control messages and timers without caring which protocol is underneath. Writing is
//! synchronous (lines are queued to a writer task), which keeps the trait object-safe.
//!
//! The mechanics are shared: [`lines`] reads bounded lines, [`reader`] runs the one reader
//! loop, [`process::Writer`] writes every message, [`rpc`] is JSON-RPC for Codex and ACP.
//! A protocol module keeps only its handshake and its translation. What each protocol's
//! agents were measured to do, and what the drivers rely on, is in docs/protocols.md.

pub mod acks;
pub mod acp;
pub mod claude;
pub mod codex;
#[doc(hidden)]
pub mod fuzz;
pub mod host;
pub mod lines;
pub mod process;
pub mod reader;
pub mod rpc;
mod start;

pub use start::*;

use crate::agents::AgentSpec;
pub use cap_proto::OpenMode;
use cap_proto::policy::ToolUse;
use cap_proto::{StopReason, ToolCall, Usage};
use lines::Lines;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::mpsc;

/// What a driver needs to start.
#[derive(Debug, Clone)]
pub struct StartSpec {
    pub agent: AgentSpec,
    pub cwd: PathBuf,
    pub mode: OpenMode,
    pub model: Option<String>,
    /// Bound on the wait for the agent's ready signal.
    pub ready_timeout: Duration,
    /// The MCP servers the agent gets: its configured ones and the session's own, merged.
    pub mcp_servers: crate::mcp::McpServers,
}

/// Something the agent did.
#[derive(Debug, Clone, PartialEq)]
pub enum DriverEvent {
    Text(String),
    Thought(String),
    ToolCall(ToolCall),
    Plan(serde_json::Value),
    /// An update with no cap type, passed through.
    Raw {
        kind: String,
        payload: serde_json::Value,
    },
    /// Tokens and cost spent since the last such event, normalised by the driver (a
    /// cumulative counter of the agent is turned into increments).
    Usage(Usage),
    /// The agent asks to use a tool. The session decides by its policy (or asks a person)
    /// and answers with [`Driver::answer`]; the agent waits until then.
    Permission {
        id: String,
        tool: ToolUse,
    },
    /// The agent told us (or changed) its native session id.
    NativeId(String),
    /// The running turn ended.
    TurnEnd(TurnEnd),
    /// The agent's output ended: the process exited or closed stdout.
    Exited,
}

/// The agent's own account of how a turn ended.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnEnd {
    /// False when the agent reported an error.
    pub ok: bool,
    /// The agent's final text, when it reports one separately from the streamed text.
    pub output: Option<String>,
    /// The agent's stop reason.
    pub stop_reason: StopReason,
    /// The error text when `ok` is false.
    pub error: Option<String>,
}

/// Why a driver could not start or talk to its agent.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("{agent} did not become ready within {secs} s{stderr}")]
    NotReady {
        agent: String,
        secs: u64,
        stderr: String,
    },
    #[error("{agent} exited during startup{stderr}")]
    ExitedEarly { agent: String, stderr: String },
    #[error("{agent} refused to open the session: {message}")]
    Rejected { agent: String, message: String },
    #[error("cannot write to the agent: {0}")]
    Send(std::io::Error),
    #[error("{0} is not supported")]
    Unsupported(&'static str),
    /// The agent cannot do what the request asks (a model switch, a kind of MCP server): the
    /// caller's request is at fault, not the agent (exit code 2).
    #[error("{0}")]
    Cannot(String),
}

/// What every driver holds: the agent process, a writer to it, and the events its reader
/// task produces.
pub struct Conn {
    pub proc: host::Proc,
    pub writer: process::Writer,
    pub events: mpsc::UnboundedReceiver<DriverEvent>,
}

impl Conn {
    /// Starts the reader task, with `handler`'s translation, on an opened agent's output.
    pub fn new(proc: host::Proc, lines: Lines, handler: impl reader::Handler) -> Conn {
        let writer = proc.writer();
        let events = reader::spawn(lines, writer.clone(), handler);
        Conn {
            proc,
            writer,
            events,
        }
    }

    /// Queues one message for the agent.
    pub fn send(&self, msg: &serde_json::Value) -> Result<(), DriverError> {
        self.writer.send(msg).map_err(DriverError::Send)
    }
}

/// A boxed future, for the object-safe parts of the driver traits.
pub type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;

/// One live agent session. Process-backed drivers get the process half from [`Conn`]
/// through [`process_plumbing!`]; the session actor's tests use a scripted in-memory one.
pub trait Driver: Send {
    /// Sends one user turn. The caller sends one turn at a time and waits for its
    /// [`DriverEvent::TurnEnd`]: agents merge or steer input that arrives mid-turn.
    fn send_turn(&mut self, text: &str) -> Result<(), DriverError>;
    /// Asks the agent to stop the running turn; the turn still ends with `TurnEnd`.
    fn cancel(&mut self) -> Result<(), DriverError>;
    /// Answers the permission request `id` of a [`DriverEvent::Permission`].
    fn answer(&mut self, id: &str, allow: bool) -> Result<(), DriverError>;
    /// The native session id, once known.
    fn native_id(&self) -> Option<String>;
    /// The agent's events, in order.
    fn events(&mut self) -> &mut mpsc::UnboundedReceiver<DriverEvent>;
    /// The agent's process id.
    fn pid(&self) -> Option<u32>;
    /// Whether the agent is still running.
    fn is_alive(&mut self) -> bool;
    /// The tail of the agent's stderr, for error messages.
    fn stderr_tail(&self) -> String;
    /// Ends the session: its agent and the whole process group, or its place on a shared
    /// agent process.
    fn shutdown(self: Box<Self>) -> BoxFuture<()>;
    /// Kills the agent at once, for a turn that ignored its cancel. A shared process goes
    /// with every session on it; `why` is what they are told.
    fn kill(self: Box<Self>, why: String) {
        let _ = why;
    }
    /// Why the agent was killed under this session by another session's turn (a shared
    /// process).
    fn killed_why(&self) -> Option<String> {
        None
    }
    /// Whether the agent process hosts other sessions too.
    fn shared(&self) -> bool {
        false
    }
    /// Holds the turns sent from now on to this JSON Schema natively, or frees them with
    /// `None`. Only a protocol whose [`Protocol::native_schema`] is true does anything here;
    /// every other agent is told the schema in its prompt (`crate::schema`).
    fn output_schema(&mut self, _schema: Option<&serde_json::Value>) {}
    /// Holds the turns sent from now on behind the agent's own sandbox, where it has one
    /// (`session::wall`); the others rely on the policy alone.
    fn wall(&mut self, _wall: crate::session::wall::Wall) {}
    /// Switches the session's model from the next model call on, keeping the conversation.
    /// The [`Ack`] fires with the agent's answer. An agent without a way to switch says so
    /// with [`DriverError::Cannot`] before anything is sent.
    fn set_model(&mut self, model: &str) -> Result<Ack, DriverError> {
        let _ = model;
        Err(DriverError::Cannot(
            "this agent cannot switch the model of a running session".into(),
        ))
    }
    /// Adds user input to the running turn. [`DriverError::Unsupported`] when the agent
    /// cannot take input mid-turn (or not yet): the caller queues it as a turn of its own.
    fn steer(&mut self, text: &str) -> Result<Ack, DriverError> {
        let _ = text;
        Err(DriverError::Unsupported("steering a running turn"))
    }
}

pub use acks::Ack;

/// The [`Driver`] methods every process-backed driver answers from its `conn: Conn` field.
macro_rules! process_plumbing {
    () => {
        fn events(&mut self) -> &mut tokio::sync::mpsc::UnboundedReceiver<super::DriverEvent> {
            &mut self.conn.events
        }
        fn pid(&self) -> Option<u32> {
            self.conn.proc.pid()
        }
        fn is_alive(&mut self) -> bool {
            self.conn.proc.is_alive()
        }
        fn stderr_tail(&self) -> String {
            self.conn.proc.stderr_tail()
        }
        fn shutdown(self: Box<Self>) -> super::BoxFuture<()> {
            Box::pin(self.conn.proc.shutdown(std::time::Duration::from_secs(1)))
        }
        fn kill(self: Box<Self>, why: String) {
            self.conn.proc.kill(why)
        }
        fn killed_why(&self) -> Option<String> {
            self.conn.proc.killed_why()
        }
        fn shared(&self) -> bool {
            self.conn.proc.shared()
        }
    };
}
pub(crate) use process_plumbing;

/// Formats a stderr tail for an error message (empty when there is none).
pub(crate) fn stderr_suffix(tail: &str) -> String {
    if tail.is_empty() {
        String::new()
    } else {
        format!("; its stderr ends with:\n{tail}")
    }
}

/// Whether an agent's error text says the native session it was asked to resume does not
/// exist. Table-driven, like acpx's error normalisation, so a new agent's wording is one row.
pub fn is_missing_session(message: &str) -> bool {
    const PATTERNS: &[&str] = &[
        "No conversation found",
        "thread not found",
        "Session not found",
        "session not found",
        "No previous sessions found",
        "Resource not found",
    ];
    PATTERNS.iter().any(|p| message.contains(p))
}

/// The increase of a cumulative counter since `last` (which it then becomes). A counter that
/// went down was restarted (a new process, a resumed thread): all of it is new.
pub(crate) fn increase<T>(last: &mut Option<T>, now: T) -> T
where
    T: Copy + PartialOrd + std::ops::Sub<Output = T>,
{
    let delta = match *last {
        Some(before) if now >= before => now - before,
        _ => now,
    };
    *last = Some(now);
    delta
}

/// The command inside a plain shell wrapper. Codex runs commands through a login shell and
/// asks about `/bin/bash -lc 'touch x'` (codex-acp sends the same as a list of words); rules
/// name the command itself (`execute(touch*)`), so a deny rule would never match the wrapped
/// form. Anything else is kept as it is.
pub(crate) fn unwrap_shell(command: &str) -> String {
    shlex::split(command)
        .and_then(|words| unwrap_shell_words(&words))
        .unwrap_or_else(|| command.to_string())
}

/// [`unwrap_shell`] on a command given as words: the script, when the words are a shell, its
/// `-c` (or `-lc`, `-l -c`) flag and one script.
pub(crate) fn unwrap_shell_words(words: &[String]) -> Option<String> {
    let is_shell = |p: &str| {
        matches!(
            std::path::Path::new(p).file_name().and_then(|n| n.to_str()),
            Some("bash" | "sh" | "zsh" | "dash")
        )
    };
    match words {
        [shell, flag, script] if is_shell(shell) && matches!(flag.as_str(), "-c" | "-lc") => {
            Some(script.clone())
        }
        [shell, login, flag, script] if is_shell(shell) && login == "-l" && flag == "-c" => {
            Some(script.clone())
        }
        _ => None,
    }
}

/// Shortens a tool input or output for display.
pub(crate) fn summary(v: &serde_json::Value) -> String {
    let s = match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 200 {
        let cut: String = s.chars().take(200).collect();
        format!("{cut}…")
    } else {
        s
    }
}

#[cfg(test)]
mod shell_tests {
    use super::*;

    #[test]
    fn only_a_plain_shell_wrapper_is_taken_off() {
        assert_eq!(
            unwrap_shell("/bin/bash -lc 'touch x && echo \"a b\"'"),
            r#"touch x && echo "a b""#
        );
        assert_eq!(unwrap_shell("bash -c ls"), "ls");
        assert_eq!(unwrap_shell("/bin/zsh -l -c 'git status'"), "git status");
        assert_eq!(
            unwrap_shell("python3 -c 'print(1)'"),
            "python3 -c 'print(1)'"
        );
        assert_eq!(unwrap_shell("bash script.sh"), "bash script.sh");
        assert_eq!(unwrap_shell("echo 'unclosed"), "echo 'unclosed");
        let words = ["/bin/bash", "-lc", "touch x"].map(String::from);
        assert_eq!(unwrap_shell_words(&words).as_deref(), Some("touch x"));
    }
}
