//! Streamed events and their versioned envelope.
//!
//! A prompt streams `Envelope`s and always ends with a `result` or an `error` event. The same
//! envelope is what `cap --format json` prints, one per line, so scripts see exactly what the
//! daemon sent. The taxonomy follows cap-rs: `session` says which session serves the turn (and
//! carries the agent's native id, like cap-rs's `Ready`), then text, thoughts, tool calls and
//! plans stream, and the turn closes with its result.

use crate::error::ErrorBody;
use crate::policy::{DecidedBy, ToolUse, Verdict};
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

impl Envelope {
    /// The one constructor: every envelope carries the current [`crate::EVENT_VERSION`].
    pub fn new(event: Event, session: Option<String>, request: Option<String>, seq: u64) -> Self {
        Envelope {
            v: crate::EVENT_VERSION,
            event,
            session,
            request,
            seq,
        }
    }
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
    /// Progress: respawned, re-sent, fell back to a fresh session, evicted, …
    Status { kind: StatusKind, message: String },
    /// A permission request of the agent, and how it was decided. One with decision `ask`
    /// waits for an answer (`decide`); its outcome follows as another event with the same id.
    Permission(PermissionEvent),
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
    /// A copy of another session's conversation (`cap fork`).
    Forked,
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

/// Payload of the `permission` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionEvent {
    /// Unique in the daemon; `decide` names it.
    pub id: String,
    #[serde(flatten)]
    pub tool: ToolUse,
    /// `ask` while the question is open, then `allow` or `deny`.
    pub decision: Verdict,
    /// Who decided (absent while asking).
    #[serde(default, skip_serializing_if = "Option::is_none", flatten)]
    pub by: Option<DecidedBy>,
    /// On a denial: what would have allowed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

/// How many permission requests a turn saw, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionCounts {
    pub allowed: u32,
    pub denied: u32,
    /// Of those, how many were put to a person or program.
    pub asked: u32,
}

impl PermissionCounts {
    pub fn is_zero(&self) -> bool {
        *self == PermissionCounts::default()
    }
}

/// The end of a turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TurnResult {
    /// The whole assistant text of the turn (empty when `truncated`).
    pub output: String,
    /// The reply was too long to repeat here (over 8 MiB); it streamed as `text` events.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Why the turn stopped.
    pub stop_reason: StopReason,
    /// Turns this session has completed, this one included.
    pub turns: u64,
    pub duration_ms: u64,
    pub native_id: Option<String>,
    /// The turn's permission requests, when it had any.
    #[serde(default, skip_serializing_if = "PermissionCounts::is_zero")]
    pub permissions: PermissionCounts,
    /// Tokens and cost of this turn, as far as the agent reports them; absent when it
    /// reports nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// The prompt's schema was met: the answer as a JSON value, validated against it.
    /// Absent without `schema` and on a cancelled turn; a reply that never validated ends
    /// the turn with an `error` instead, so this is never an invalid value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub structured: Option<serde_json::Value>,
}

/// Tokens and cost in one shape for every agent. A field the agent does not report is
/// absent, never zero: a script summing `cost_usd` must not mistake "unknown" for "free".
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
}

impl Usage {
    /// Adds `other` in: a field known on either side is known in the sum.
    pub fn add(&mut self, other: &Usage) {
        fn sum<T: Copy + std::ops::Add<Output = T>>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            }
        }
        self.input_tokens = sum(self.input_tokens, other.input_tokens);
        self.output_tokens = sum(self.output_tokens, other.output_tokens);
        self.cache_read_tokens = sum(self.cache_read_tokens, other.cache_read_tokens);
        self.cache_write_tokens = sum(self.cache_write_tokens, other.cache_write_tokens);
        self.cost_usd = sum(self.cost_usd, other.cost_usd);
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }
}

/// Why a turn stopped. The agents' own reasons map onto the common ones; anything else is
/// kept as the agent said it, so a new reason never breaks an older client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The agent finished its reply.
    #[default]
    EndTurn,
    /// The turn was cancelled (`cap cancel`, Ctrl-C), running or still queued.
    Cancelled,
    /// The model hit its output limit.
    MaxTokens,
    /// The agent hit its own limit of model requests in one turn.
    MaxTurnRequests,
    /// The model refused.
    Refusal,
    /// A reason cap has no name for, as the agent reported it.
    #[serde(untagged)]
    Other(String),
}

impl StopReason {
    /// Maps an agent's reason text (`end_turn`, `cancelled`, `canceled`, `max_tokens`, …).
    pub fn from_agent(reason: &str) -> StopReason {
        match reason {
            "end_turn" | "completed" | "success" | "stop" => StopReason::EndTurn,
            "cancelled" | "canceled" | "interrupted" => StopReason::Cancelled,
            "max_tokens" => StopReason::MaxTokens,
            "max_turn_requests" => StopReason::MaxTurnRequests,
            "refusal" => StopReason::Refusal,
            other => StopReason::Other(other.to_string()),
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::EndTurn => "end_turn",
            StopReason::Cancelled => "cancelled",
            StopReason::MaxTokens => "max_tokens",
            StopReason::MaxTurnRequests => "max_turn_requests",
            StopReason::Refusal => "refusal",
            StopReason::Other(s) => s,
        })
    }
}

/// What a `status` event reports. A kind from a newer daemon arrives as `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    /// The agent died or could not be written to; it was restarted by resuming its session.
    Respawn,
    /// A resume was impossible; a fresh session was started without the earlier history.
    Fallback,
    /// The agent sent an empty reply; the prompt was sent again.
    Resend,
    /// A session was ended to make room at `max_sessions`; its key resumes it later.
    Evicted,
    /// The reply did not validate against the prompt's schema; it was asked for again.
    Reask,
    /// The session's transcript could not be written (said once per session); the turn
    /// itself goes on.
    Transcript,
    /// A `--steer` prompt was added to the turn in progress.
    Steered,
    /// A `--steer` prompt could not be added to a running turn (none ran, or the agent takes
    /// no input mid-turn); it was queued as an ordinary prompt.
    NotSteered,
    /// An attach mid-turn catches up on the first 8 MiB of the turn's text only; what came
    /// after them, until the attach, is not repeated (the daemon does not hold a huge reply
    /// twice).
    Omitted,
    /// A kind this client does not know.
    #[serde(untagged)]
    Other(String),
}

impl std::fmt::Display for StatusKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StatusKind::Respawn => "respawn",
            StatusKind::Fallback => "fallback",
            StatusKind::Resend => "resend",
            StatusKind::Evicted => "evicted",
            StatusKind::Reask => "reask",
            StatusKind::Transcript => "transcript",
            StatusKind::Steered => "steered",
            StatusKind::NotSteered => "not_steered",
            StatusKind::Omitted => "omitted",
            StatusKind::Other(s) => s,
        })
    }
}

impl StatusKind {
    /// Whether the user should notice it even in a terse rendering: something was lost or
    /// restarted.
    pub fn is_loud(&self) -> bool {
        matches!(
            self,
            StatusKind::Respawn | StatusKind::Fallback | StatusKind::Omitted
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_sums_known_fields_and_leaves_unknown_ones_absent() {
        let mut u = Usage {
            input_tokens: Some(3),
            cost_usd: Some(0.25),
            ..Usage::default()
        };
        u.add(&Usage {
            input_tokens: Some(2),
            output_tokens: Some(1),
            ..Usage::default()
        });
        assert_eq!(u.input_tokens, Some(5));
        assert_eq!(u.output_tokens, Some(1));
        assert_eq!(u.cost_usd, Some(0.25));
        let json = serde_json::to_value(u).unwrap();
        assert!(
            json.get("cache_read_tokens").is_none(),
            "unknown stays absent: {json}"
        );
        assert!(Usage::default().is_empty());
    }

    #[test]
    fn stop_reasons_and_status_kinds_round_trip_and_keep_unknown_values() {
        let r: StopReason = serde_json::from_str("\"cancelled\"").unwrap();
        assert_eq!(r, StopReason::Cancelled);
        let r: StopReason = serde_json::from_str("\"pause_turn\"").unwrap();
        assert_eq!(r, StopReason::Other("pause_turn".into()));
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"pause_turn\"");
        assert_eq!(StopReason::from_agent("interrupted"), StopReason::Cancelled);
        let k: StatusKind = serde_json::from_str("\"evicted\"").unwrap();
        assert_eq!(k, StatusKind::Evicted);
        let k: StatusKind = serde_json::from_str("\"shrug\"").unwrap();
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"shrug\"");
    }
}
