//! Requests: one JSON object per line, `{"id":N,"op":"<verb>",...payload}`.
//!
//! Each verb has its own payload struct so that the daemon's dispatch is one exhaustive
//! `match` and each handler receives exactly the fields it needs. Unknown fields are ignored
//! (newer clients may send more); unknown ops and wrong field types are answered with a
//! `protocol` error.

use crate::policy::{Mode, Rules};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A request from a client. `id` is echoed on every reply line that belongs to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    #[serde(flatten)]
    pub op: Op,
}

/// Every operation the daemon understands.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Must be the first request on a connection.
    Hello(HelloRequest),
    /// Send one prompt and stream the turn's events.
    Prompt(PromptRequest),
    /// Open (or reuse) a session without prompting.
    Open(OpenRequest),
    /// List live sessions.
    Sessions,
    /// One session in full.
    Show(SessionRef),
    /// End a session (by id, or the one bound to a key).
    End(TargetRequest),
    /// Bind a key to a live session.
    Bind(BindRequest),
    /// Remove a key's binding.
    Unbind(KeyRequest),
    /// Forget what a key has spent, so its budget allows prompts again.
    ResetBudget(KeyRequest),
    /// List bindings, the suspended pool and remembered records.
    Keys(KeysRequest),
    /// Cancel the running turn of a session.
    Cancel(TargetRequest),
    /// Follow a session's events live.
    Attach(SessionRef),
    /// The last finished turn's result.
    Result(SessionRef),
    /// Answer a permission request that was put to the client.
    Decide(DecideRequest),
    /// Open a copy of a session's conversation under another key.
    Fork(ForkRequest),
    /// Daemon status.
    Status,
    /// Shut the daemon down (replies first).
    Stop,
    /// Run the idle sweep now.
    Gc,
    /// Built-in and configured agents.
    Agents,
    /// The resolved configuration.
    Config,
    Log(LogRequest),
}

/// The opening handshake.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HelloRequest {
    /// The client's [`crate::PROTOCOL_VERSION`].
    pub version: u32,
    /// Free-form client name for logs, e.g. `cap/0.1.0`.
    #[serde(default)]
    pub client: Option<String>,
}

/// How a request picks its session. Shared by `prompt` and `open`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Route {
    /// Agent name (`claude`, `codex`, `acp:CMD ARGS`, a configured name). `None`: the agent
    /// the key is bound to now, else the configured default.
    #[serde(default)]
    pub agent: Option<String>,
    /// Routing key. `None`: `dir:<git root of cwd>` or `dir:<cwd>`.
    #[serde(default)]
    pub key: Option<String>,
    /// A daemon session id; bypasses keys entirely.
    #[serde(default)]
    pub session: Option<String>,
    /// How to open the agent session instead of routing by key (`--new`, `--resume`,
    /// `--continue`). `None`: reuse, unpark or resume what the key already has.
    #[serde(default)]
    pub open: Option<OpenMode>,
    /// The caller's working directory (absolute); the session's cwd when one is opened.
    pub cwd: PathBuf,
    /// The model: passed to the agent when a session is opened, and switched to on a warm
    /// session before the prompt is sent.
    #[serde(default)]
    pub model: Option<String>,
    /// Context preamble text for a fresh session (the client reads `--preamble FILE`).
    #[serde(default)]
    pub preamble: Option<String>,
    /// How the agent's permission requests are answered; `None`: the configured policy, and
    /// nobody to ask.
    #[serde(default)]
    pub permissions: Option<Permissions>,
    /// MCP servers for the session (`--mcp-config FILE`, parsed by the client), on top of
    /// the agent's configured ones; kept with the key's record so a resume gets them too.
    /// `None`: the session's (or the record's) servers stay as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_servers: Option<crate::mcp::McpServers>,
}

/// How an agent session is opened. One enum, so "both --new and --resume" cannot be said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenMode {
    /// A fresh session (`--new`), rebinding the key to it.
    Fresh,
    /// Resume the agent's native session with this id (`--resume ID`).
    Resume(String),
    /// The agent's most recent session in the cwd (`--continue`).
    Continue,
    /// A new native session whose conversation starts as a copy of this one (`cap fork`).
    Fork(String),
}

/// The permission policy a request asks for. What it leaves out comes from the daemon's
/// config (`default_permissions` and `[permissions]` rules).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permissions {
    /// The mode; `None`: the configured default.
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Rules added to the configured ones for this request.
    #[serde(default)]
    pub rules: Rules,
    /// Who answers a request the policy leaves open.
    #[serde(default)]
    pub asker: Asker,
}

/// Who answers a permission request that the mode and rules leave open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Asker {
    /// Nobody can be asked: the request is denied and the turn goes on.
    #[default]
    Nobody,
    /// The client that sent the prompt asks its person (a terminal) or its program (JSON
    /// events), and answers with `decide`; attached clients may answer too. Unanswered
    /// requests are denied after the daemon's `permission_timeout`.
    Client,
    /// Nobody can be asked, and an open question fails the turn (exit code 5).
    Fail,
}

/// `prompt`: one turn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PromptRequest {
    pub text: String,
    pub route: Route,
    /// Per-prompt timeout in seconds; `None` = the daemon's default, `0` = none.
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Reply as soon as the prompt is queued instead of streaming the turn.
    #[serde(default)]
    pub no_wait: bool,
    /// Refuse the prompt when its key has already spent this many US dollars (in addition
    /// to the key's configured budget; the lower one holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
    /// Start with the key's recorded conversation with its previous agent, when the prompt
    /// switches the key to another agent (`--handoff`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub handoff: bool,
    /// A JSON Schema the answer must validate against (`--schema`). The turn's `result`
    /// then carries the validated value as `structured`; a schema the daemon cannot compile
    /// is a usage error before anything is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<serde_json::Value>,
    /// Add the text to the turn in progress (`--steer`) where the agent can take input
    /// mid-turn; elsewhere, or when no turn runs, it is queued as an ordinary prompt and a
    /// `status` event says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub steer: bool,
    /// Set when an agent asks for this turn through `cap mcp`: the daemon counts how deep
    /// the chain of agents asking agents is, and refuses a turn that would wait on itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegation: Option<Delegation>,
}

/// Who delegated a turn (`cap mcp`). The daemon tells every agent it spawns its session id
/// (`CAP_SESSION` in the agent's environment), so a `cap mcp` started by that agent can say
/// which session is asking; one started by anything else (a person's own agent) has no
/// caller and is the first hop.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delegation {
    /// The daemon session whose agent asks, when it runs under this daemon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// The asking server's ancestor process ids, nearest first: when `caller` is unknown
    /// (an agent that was started before its session, or that strips the environment of its
    /// MCP servers), the daemon finds the caller as the session whose agent is among them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ancestors: Vec<u32>,
}

/// `open`: a session without a prompt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenRequest {
    pub route: Route,
    /// Only open; leave the key's binding alone.
    #[serde(default)]
    pub no_bind: bool,
}

/// A request naming one session by daemon id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRef {
    pub session: String,
}

/// A request naming a session by id, or by key (the session bound to it), or neither
/// (then `cwd` gives the default key).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TargetRequest {
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    /// Used to derive the default key when neither session nor key is given.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// For `cancel`: only this turn (a prompt's `request` id), whether it runs or still
    /// waits in the queue. Without it, `cancel` stops whatever turn is running.
    #[serde(default)]
    pub request: Option<String>,
}

/// `decide ID allow|deny`: the answer to a `permission` event whose decision is `ask`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecideRequest {
    /// The `permission` event's id. (Not `id`: that is the request's own.)
    pub question: String,
    pub allow: bool,
    /// Allow the same use for the rest of the session.
    #[serde(default)]
    pub always: bool,
}

/// `fork`: the source (a session id, or the session or record of a key), and the key the
/// copy is bound to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForkRequest {
    pub source: TargetRequest,
    /// The key the new session is bound to. (Not `key`: the source may name one.)
    pub to_key: String,
}

/// `keys`: bindings, the suspended pool and remembered records.
///
/// `{"op":"keys"}` (what clients before streaming send) gets the whole list in one `keys`
/// reply, or an error when it cannot fit in one line. With `stream`, the list comes as
/// several `keys` replies: every one but the last says `"more": true`, and their lists
/// concatenate to the whole (bindings first, then parked sessions, then records, each in key
/// order; a daemon that does not stream ignores the field and sends one reply, which has no
/// `more`). A state of hundreds of thousands of keys is far over one line's 16 MiB.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct KeysRequest {
    #[serde(default)]
    pub stream: bool,
}

/// `bind KEY SESSION`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BindRequest {
    pub key: String,
    pub session: String,
}

/// `unbind KEY`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyRequest {
    pub key: String,
}

/// `log`: a transcript's records, by session id, native id, key, or the cwd's default key.
/// A streaming reply: one `record` per line, then `done`; with `follow`, new records follow
/// until the session ends.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogRequest {
    /// A daemon session id or an agent's native session id.
    #[serde(default)]
    pub session: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// Only the last this many turns.
    #[serde(default)]
    pub turns: Option<usize>,
    #[serde(default)]
    pub follow: bool,
}

macro_rules! impl_into_op {
    ($($payload:ty => $variant:ident),* $(,)?) => {
        $(impl From<$payload> for Op {
            fn from(p: $payload) -> Op { Op::$variant(p) }
        })*
    };
}

impl_into_op!(
    HelloRequest => Hello,
    PromptRequest => Prompt,
    OpenRequest => Open,
    BindRequest => Bind,
    DecideRequest => Decide,
    ForkRequest => Fork,
    KeyRequest => Unbind,
    KeysRequest => Keys,
);

impl Op {
    /// The wire name of the op, for logs and error messages.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Hello(_) => "hello",
            Op::Prompt(_) => "prompt",
            Op::Open(_) => "open",
            Op::Sessions => "sessions",
            Op::Show(_) => "show",
            Op::End(_) => "end",
            Op::Bind(_) => "bind",
            Op::Unbind(_) => "unbind",
            Op::ResetBudget(_) => "reset_budget",
            Op::Keys(_) => "keys",
            Op::Cancel(_) => "cancel",
            Op::Attach(_) => "attach",
            Op::Result(_) => "result",
            Op::Decide(_) => "decide",
            Op::Fork(_) => "fork",
            Op::Status => "status",
            Op::Stop => "stop",
            Op::Gc => "gc",
            Op::Agents => "agents",
            Op::Config => "config",
            Op::Log(_) => "log",
        }
    }
}
