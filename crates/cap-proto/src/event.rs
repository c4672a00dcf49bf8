//! Streamed events and their versioned envelope.
//!
//! A prompt streams `Envelope`s and always ends with a `result` or an `error` event. The same
//! envelope is what `cap --format json` prints, one per line, so scripts see exactly what the
//! daemon sent. The taxonomy follows cap-rs: `session` says which session serves the turn (and
//! carries the agent's native id, like cap-rs's `Ready`), then text, thoughts, tool calls and
//! plans stream, and the turn closes with its result.

use crate::error::ErrorBody;
use serde::{Deserialize, Serialize};

/// One event with its correlation fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The envelope version ([`crate::EVENT_VERSION`]).
    pub v: u32,
    #[serde(flatten)]
    pub event: Event,
    /// Daemon session id, when the event belongs to a session.
    pub session: Option<String>,
    /// The turn's request id (daemon-made), when the event belongs to a turn.
    pub request: Option<String>,
    /// Position of the event within its turn, from 0.
    pub seq: u64,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// Which session serves this turn and how it was acquired.
    Session(SessionEvent),
    /// A piece of the assistant's reply.
    Text { delta: String },
    /// A piece of the agent's visible reasoning.
    Thought { delta: String },
    /// A tool call started or changed.
    ToolCall(ToolCall),
    /// The agent's plan (entries as the agent sent them).
    Plan { entries: serde_json::Value },
    /// Token or cost accounting, as the agent reported it.
    Usage { usage: serde_json::Value },
    /// Progress: queued, respawned, retried, fell back to a fresh session, …
    Status { kind: String, message: String },
    /// An agent update cap has no type for, passed through untouched.
    Raw {
        kind: String,
        payload: serde_json::Value,
    },
    /// The turn finished (cancelled turns included).
    Result(TurnResult),
    /// The turn or request failed.
    Error(ErrorBody),
    /// An event type from a newer daemon. Clients skip it; the envelope only grows, so a
    /// new type is never one a client needs to finish a turn.
    #[serde(other)]
    Unknown,
}

/// How the session serving a turn was acquired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// A new agent session.
    Opened,
    /// The warm session bound to the key.
    Reused,
    /// A new process resuming the agent's native session.
    Resumed,
    /// The agent's most recent session in the cwd (`--continue`).
    Continued,
    /// Taken back out of the suspended pool.
    Unparked,
}

/// Payload of the `session` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionEvent {
    pub id: String,
    pub agent: String,
    pub key: Option<String>,
    pub native_id: Option<String>,
    pub how: How,
}

/// A tool call as cap reports it: summaries, not the agent's full payloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub output: Option<String>,
}

/// The end of a turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnResult {
    /// The whole assistant text of the turn.
    pub output: String,
    /// `end_turn`, `cancelled`, or what the agent reported.
    pub stop_reason: String,
    /// Turns this session has completed, this one included.
    pub turns: u64,
    pub duration_ms: u64,
    pub native_id: Option<String>,
}
