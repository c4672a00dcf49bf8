//! Replies: `{"id":N,"<kind>":payload}`, one per line.
//!
//! Most requests get exactly one reply. Two are streams, by design: `prompt` (events, ending
//! with a `result` or `error` event) and `attach` (events until the session ends or the client
//! goes away). `stop` replies before the daemon shuts down so the client always hears back.

use crate::error::{ErrorBody, ErrorCode};
use crate::event::Envelope;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A reply line. `id` is the request's id (0 for errors about lines that had none).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub id: u64,
    #[serde(flatten)]
    pub reply: Reply,
}

/// Every reply kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Hello(HelloReply),
    Event(Envelope),
    Error(ErrorBody),
    Sessions(Vec<SessionInfo>),
    Session(SessionInfo),
    Ended(Ended),
    Keys(KeysReport),
    Done(Done),
    Status(DaemonStatus),
    Gc(GcReport),
    Agents(Vec<AgentInfo>),
    Config(serde_json::Value),
    Queued(Queued),
    /// One transcript record, in the `log` stream.
    Record(crate::transcript::Record),
}

impl Reply {
    /// An error reply.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Reply {
        Reply::Error(ErrorBody::new(code, message))
    }
}

/// The daemon's half of the handshake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HelloReply {
    pub version: u32,
    pub daemon_version: String,
    pub pid: u32,
}

/// Lifecycle state of a live session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    Starting,
    Idle,
    Busy,
    Parked,
    Ending,
}

impl std::fmt::Display for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SessionState::Starting => "starting",
            SessionState::Idle => "idle",
            SessionState::Busy => "busy",
            SessionState::Parked => "parked",
            SessionState::Ending => "ending",
        })
    }
}

/// A live session as `sessions`, `show` and `open` report it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: String,
    pub agent: String,
    pub state: SessionState,
    /// Keys bound to this session.
    pub keys: Vec<String>,
    /// The key the session was opened for (and is parked under, when parked).
    pub home_key: Option<String>,
    pub cwd: PathBuf,
    pub native_id: Option<String>,
    pub turns: u64,
    pub idle_secs: u64,
    /// Prompts waiting behind the running one.
    pub queued: usize,
    pub pid: Option<u32>,
    /// The agent process (`pid`) hosts other sessions too (`share`); `memory` is then the
    /// whole process's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shared: bool,
    /// Resident bytes of the agent's whole process group, as last measured (Linux only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<u64>,
    pub model: Option<String>,
    /// How the session was acquired, for `open`.
    #[serde(default)]
    pub how: Option<crate::event::How>,
    /// What this session's turns have spent, where the agent reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::event::Usage>,
    /// The names of the session's own MCP servers (`--mcp-config`; the agent's configured
    /// ones are in `cap config show`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mcp_servers: Vec<String>,
}

/// The answer to `end`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ended {
    pub session: String,
    pub agent: String,
    pub native_id: Option<String>,
    pub cwd: PathBuf,
}

/// One key → session binding.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Binding {
    pub key: String,
    pub agent: String,
    pub session: String,
}

/// A parked session in the suspended pool.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Parked {
    pub key: String,
    pub agent: String,
    pub session: String,
}

/// What the daemon remembers of a (key, agent) pair, live or not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub key: String,
    pub agent: String,
    pub cwd: PathBuf,
    pub native_id: Option<String>,
    /// Whether this agent is the key's current one.
    pub current: bool,
}

/// The answer to `keys`, or one part of it when streamed (see
/// [`KeysRequest`](crate::request::KeysRequest)).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeysReport {
    pub bindings: Vec<Binding>,
    pub parked: Vec<Parked>,
    pub records: Vec<Record>,
    /// What each key has spent, with every agent, where the agents report it.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub usage: std::collections::BTreeMap<String, crate::event::Usage>,
    /// More `keys` replies follow (streamed only; absent on the last one).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub more: bool,
}

/// A plain acknowledgement with a human message.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Done {
    pub message: String,
    /// For `cancel`: whether a turn was actually running.
    #[serde(default)]
    pub changed: bool,
}

/// The answer to `status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pid: u32,
    pub version: String,
    pub protocol: u32,
    pub uptime_secs: u64,
    pub socket: PathBuf,
    pub state_file: PathBuf,
    pub config_file: Option<PathBuf>,
    pub sessions: usize,
    /// Agent processes serving those sessions: fewer than sessions where they share
    /// (`share`); prewarmed spares are not counted.
    #[serde(default)]
    pub agent_processes: usize,
    pub busy: usize,
    pub parked: usize,
    pub max_sessions: usize,
    pub idle_timeout_secs: u64,
    pub prompt_timeout_secs: u64,
    pub queue_depth: usize,
    /// What every key has spent, where the agents report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::event::Usage>,
    /// Resident bytes of every agent's process group together, as last measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_memory: Option<u64>,
    /// `max_agent_memory` in bytes, when a limit applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_agent_memory: Option<u64>,
    /// Prewarmed agent processes waiting for a session (`[prewarm]`).
    #[serde(default)]
    pub spares: usize,
    /// Their process ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spare_pids: Vec<u32>,
}

/// The answer to `gc`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GcReport {
    /// Sessions the sweep ended.
    pub ended: Vec<String>,
}

/// One agent as `agents` reports it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentInfo {
    pub name: String,
    pub protocol: String,
    /// The resolved program, when found.
    pub command: Option<String>,
    pub args: Vec<String>,
    pub version: Option<String>,
    /// Where the command came from: `builtin`, `env CAP_X_BIN`, `config`.
    pub source: String,
    /// How to install it when it is missing.
    pub hint: Option<String>,
    /// The largest resident size one of its sessions' process groups reached since the
    /// daemon started: what another session of it will likely cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footprint: Option<u64>,
    /// For an agent with a sandbox of its own (Codex): whether it runs on this machine, and
    /// so walls in the turns nobody is asked about (docs/permissions.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandbox: Option<bool>,
}

/// The answer to `prompt --no-wait`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Queued {
    pub session: String,
    pub request: String,
}
