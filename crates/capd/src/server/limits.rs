//! Per-connection limits and timeouts that protect the daemon from slow, stuck and hostile
//! clients.
//!
//! They are constants with environment overrides (read once when the daemon starts serving)
//! rather than config keys: a user never needs to tune them, but tests and unusual setups can
//! shorten them without touching the config file. A timeout of `0` disables it.

use std::time::Duration;

/// The limits one daemon applies to every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Time from accept to a successful `hello` (`CAP_HANDSHAKE_TIMEOUT_MS`).
    pub handshake: Option<Duration>,
    /// Time a started line may take to reach its newline (`CAP_LINE_TIMEOUT_MS`).
    pub partial_line: Option<Duration>,
    /// Time an authenticated connection with nothing in flight may send nothing
    /// (`CAP_IDLE_CONN_TIMEOUT_MS`).
    pub idle: Option<Duration>,
    /// Time a reply write may make no progress before the client counts as stuck
    /// (`CAP_WRITE_STALL_TIMEOUT_MS`).
    pub write_stall: Option<Duration>,
    /// Open connections; more are refused with an error line (`CAP_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// Requests one connection may have running; reading pauses beyond (`CAP_MAX_IN_FLIGHT`).
    pub max_in_flight: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake: Some(Duration::from_secs(10)),
            partial_line: Some(Duration::from_secs(30)),
            // Long enough for an editor plugin that keeps one connection between commands;
            // a streaming prompt or attach is never idle, however long it runs.
            idle: Some(Duration::from_secs(600)),
            // Memory is bounded by backpressure already; this only frees the slot of a client
            // that stopped reading (a pager left open, a hung script).
            write_stall: Some(Duration::from_secs(300)),
            max_connections: 512,
            max_in_flight: 64,
        }
    }
}

impl Limits {
    /// The defaults with any `CAP_*` overrides from the environment. A value that is not a
    /// number is reported and ignored, never fatal.
    pub fn from_env() -> Limits {
        Limits::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Limits::from_env`] with an explicit lookup, so the parsing is testable.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Limits {
        let d = Limits::default();
        let number = |name: &str| -> Option<u64> {
            let raw = lookup(name)?;
            match raw.trim().parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    tracing::warn!("ignoring {name}={raw:?}: not a whole number");
                    None
                }
            }
        };
        let millis = |name: &str, default: Option<Duration>| match number(name) {
            Some(0) => None,
            Some(ms) => Some(Duration::from_millis(ms)),
            None => default,
        };
        let count = |name: &str, default: usize| match number(name) {
            Some(n) if n > 0 => usize::try_from(n).unwrap_or(default),
            Some(_) => {
                tracing::warn!("ignoring {name}=0: it must be at least 1");
                default
            }
            None => default,
        };
        Limits {
            handshake: millis("CAP_HANDSHAKE_TIMEOUT_MS", d.handshake),
            partial_line: millis("CAP_LINE_TIMEOUT_MS", d.partial_line),
            idle: millis("CAP_IDLE_CONN_TIMEOUT_MS", d.idle),
            write_stall: millis("CAP_WRITE_STALL_TIMEOUT_MS", d.write_stall),
            max_connections: count("CAP_MAX_CONNECTIONS", d.max_connections),
            max_in_flight: count("CAP_MAX_IN_FLIGHT", d.max_in_flight),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_zero_and_garbage() {
        let env = |name: &str| match name {
            "CAP_HANDSHAKE_TIMEOUT_MS" => Some("250".to_string()),
            "CAP_IDLE_CONN_TIMEOUT_MS" => Some("0".to_string()),
            "CAP_LINE_TIMEOUT_MS" => Some("soon".to_string()),
            "CAP_MAX_CONNECTIONS" => Some("0".to_string()),
            "CAP_MAX_IN_FLIGHT" => Some("3".to_string()),
            _ => None,
        };
        let l = Limits::from_lookup(env);
        let d = Limits::default();
        assert_eq!(l.handshake, Some(Duration::from_millis(250)));
        assert_eq!(l.idle, None, "0 disables a timeout");
        assert_eq!(l.partial_line, d.partial_line, "garbage keeps the default");
        assert_eq!(
            l.max_connections, d.max_connections,
            "0 connections is refused"
        );
        assert_eq!(l.max_in_flight, 3);
        assert_eq!(Limits::from_lookup(|_| None), d);
    }
}
