//! Error codes shared by the daemon and the CLI, and the library's own error type.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What went wrong, as a stable machine-readable code. Each code maps to one exit code of
/// `cap` (SPEC §3), so scripts can branch on either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The agent failed, crashed beyond recovery, or the daemon hit a runtime error.
    Agent,
    /// Bad flags, an empty prompt, a malformed request.
    Usage,
    /// The prompt's timeout ran out; the turn was cancelled in the agent.
    Timeout,
    /// No such session, key, binding or agent (a missing agent binary included).
    NotFound,
    /// The agent's permission policy refused the action.
    PermissionDenied,
    /// The daemon is not running, could not be started, or speaks another protocol version.
    Unavailable,
    /// The session limit or a session's queue is full.
    Limit,
    /// The user interrupted the turn (Ctrl-C).
    Interrupted,
    /// A request line the daemon could not parse (malformed JSON, unknown op, wrong types).
    Protocol,
}

impl ErrorCode {
    /// The exit code `cap` uses for this error (SPEC §3 "Exit codes").
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorCode::Agent => 1,
            ErrorCode::Usage | ErrorCode::Protocol => 2,
            ErrorCode::Timeout => 3,
            ErrorCode::NotFound => 4,
            ErrorCode::PermissionDenied => 5,
            ErrorCode::Unavailable => 6,
            ErrorCode::Limit => 7,
            ErrorCode::Interrupted => 130,
        }
    }

    /// Whether trying the same request again later can succeed without the user changing it.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::Agent | ErrorCode::Timeout | ErrorCode::Unavailable | ErrorCode::Limit
        )
    }
}

/// An error as it travels on the wire: a code, a message that says what to do next, and
/// whether a retry may help.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default)]
    pub retryable: bool,
}

impl ErrorBody {
    /// An error with `retryable` derived from the code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            retryable: code.retryable(),
        }
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ErrorBody {}

/// Errors of the protocol library itself: framing, decoding, connecting.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("line is longer than the {limit} byte limit")]
    LineTooLong { limit: usize },
    #[error("line is not valid UTF-8")]
    NotUtf8,
    #[error("malformed JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("I/O error while {doing}: {source}")]
    Io {
        doing: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot connect to the daemon at {path}: {source}")]
    Connect {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the daemon closed the connection")]
    Closed,
    #[error(
        "capd {daemon_version} speaks protocol {daemon} but this cap ({}) speaks {client}; restart it with `cap daemon restart`",
        crate::VERSION
    )]
    VersionMismatch {
        daemon: u32,
        client: u32,
        /// The daemon's own version (`hello`'s `daemon_version`), so a message can name both.
        daemon_version: String,
    },
    #[error("unexpected reply from the daemon: {0}")]
    Unexpected(String),
    #[error(transparent)]
    Remote(#[from] ErrorBody),
}
