//! Errors that carry the exit code `cap` ends with (SPEC §3 "Exit codes").
//!
//! Commands return `anyhow::Result` so they can add context freely; whatever exit code the
//! failure deserves travels in a [`Failure`] (or a `cap_proto` error) somewhere in the chain,
//! and [`exit_code`] digs it out in `main`.

use cap_proto::{ErrorBody, ErrorCode, ProtoError};
use std::fmt;

/// A failure with the exit code it maps to. An empty message means "already reported".
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

/// Exit code for success (a cancelled turn and "nothing to cancel" included).
pub const OK: i32 = 0;
/// Agent or runtime error.
pub const RUNTIME: i32 = 1;
/// Bad flags, empty prompt, unreadable input file.
pub const USAGE: i32 = 2;
/// The daemon is unavailable.
pub const UNAVAILABLE: i32 = 6;
/// Interrupted by Ctrl-C.
pub const INTERRUPTED: i32 = 130;

impl Failure {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Failure::new(USAGE, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Failure::new(UNAVAILABLE, message)
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        Failure::new(RUNTIME, message)
    }

    /// Ends the process with `code` without printing anything more.
    pub fn silent(code: i32) -> Self {
        Failure::new(code, "")
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

impl From<ErrorBody> for Failure {
    fn from(body: ErrorBody) -> Self {
        Failure::new(body.code.exit_code(), body.message)
    }
}

/// The exit code a protocol error deserves when it happens outside a turn.
pub fn proto_exit_code(e: &ProtoError) -> i32 {
    match e {
        ProtoError::Remote(body) => body.code.exit_code(),
        ProtoError::Connect { .. }
        | ProtoError::Closed
        | ProtoError::VersionMismatch { .. }
        | ProtoError::Io { .. } => UNAVAILABLE,
        ProtoError::LineTooLong { .. }
        | ProtoError::NotUtf8
        | ProtoError::Json(_)
        | ProtoError::Unexpected(_) => RUNTIME,
    }
}

/// The error code matching an exit code, for errors `cap` reports in a daemon-shaped form
/// (the synthesized `error` event of `--format json`).
pub fn code_for_exit(exit: i32) -> ErrorCode {
    match exit {
        2 => ErrorCode::Usage,
        3 => ErrorCode::Timeout,
        4 => ErrorCode::NotFound,
        5 => ErrorCode::PermissionDenied,
        6 => ErrorCode::Unavailable,
        7 => ErrorCode::Limit,
        130 => ErrorCode::Interrupted,
        _ => ErrorCode::Agent,
    }
}

/// The exit code for an error chain: the first [`Failure`], protocol error or error body in
/// it decides; anything else is a runtime error.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return f.code;
        }
        if let Some(p) = cause.downcast_ref::<ProtoError>() {
            return proto_exit_code(p);
        }
        if let Some(b) = cause.downcast_ref::<ErrorBody>() {
            return b.code.exit_code();
        }
    }
    RUNTIME
}

/// Whether the error has already been reported (a silent [`Failure`]).
pub fn is_silent(err: &anyhow::Error) -> bool {
    matches!(err.downcast_ref::<Failure>(), Some(f) if f.message.is_empty())
}

/// Maps a failed write to stdout: a reader that went away (`cap ls | head -1`) is not an
/// error worth a message, anything else is.
pub fn stdout_error(e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Failure::silent(OK).into()
    } else {
        anyhow::Error::new(e).context("cannot write to stdout")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn exit_codes_survive_context() {
        let e = anyhow::Error::new(Failure::usage("empty prompt")).context("while prompting");
        assert_eq!(exit_code(&e), 2);
        let e = anyhow::Error::new(ProtoError::Remote(ErrorBody::new(
            ErrorCode::NotFound,
            "no such session",
        )));
        assert_eq!(exit_code(&e), 4);
        let e: anyhow::Error = Err::<(), _>(ProtoError::Closed)
            .context("listing")
            .unwrap_err();
        assert_eq!(exit_code(&e), 6);
        assert_eq!(exit_code(&anyhow::anyhow!("boom")), 1);
    }

    #[test]
    fn exit_and_error_codes_agree() {
        for code in [
            ErrorCode::Agent,
            ErrorCode::Usage,
            ErrorCode::Timeout,
            ErrorCode::NotFound,
            ErrorCode::PermissionDenied,
            ErrorCode::Unavailable,
            ErrorCode::Limit,
            ErrorCode::Interrupted,
        ] {
            assert_eq!(code_for_exit(code.exit_code()), code);
        }
    }

    #[test]
    fn broken_pipe_is_silent_success() {
        let e = stdout_error(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert!(is_silent(&e));
        assert_eq!(exit_code(&e), 0);
    }
}
