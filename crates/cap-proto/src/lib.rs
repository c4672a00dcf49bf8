//! The shared protocol of `cap` and `capd`.
//!
//! Everything both sides (and third-party clients such as editor plugins) must agree on lives
//! here: the request and reply types with one payload struct per verb, the streamed event
//! envelope, JSON-line framing, socket and state paths, the protocol version and the error
//! codes with their exit codes. Nothing here depends on tokio, so a synchronous client can
//! link it without pulling in a runtime.

pub mod client;
pub mod error;
pub mod event;
pub mod framing;
pub mod key;
pub mod mcp;
pub mod paths;
pub mod policy;
pub mod reply;
pub mod request;
pub mod transcript;

pub use error::{ErrorBody, ErrorCode, ProtoError};
pub use event::{
    Envelope, Event, How, SessionEvent, StatusKind, StopReason, ToolCall, TurnResult, Usage,
};
pub use reply::{Reply, Response};
pub use request::{Op, OpenMode, Request, Route};

/// Version of the socket protocol. Both sides send it in `hello`; a mismatch is refused,
/// because a daemon from an older build may not understand newer requests.
pub const PROTOCOL_VERSION: u32 = 2;

/// Version of the JSON event envelope (`v`). The envelope only grows; fields are never
/// removed or renamed without bumping this.
pub const EVENT_VERSION: u32 = 1;

/// Longest JSON line either side accepts, including the newline. Big enough for any reply an
/// agent streams in one event, small enough that a garbage peer cannot exhaust memory.
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// The crate version, reported by `hello` and `cap daemon status`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
