//! How long `cap` waits on the daemon before it gives up.
//!
//! A daemon that accepts connections but no longer answers (stopped, deadlocked, swapped
//! out for minutes) must not hang its clients forever, yet a turn may legitimately run for an
//! hour. So there are two kinds of bound: connecting and the `hello` handshake get a plain
//! deadline, and any later wait is kept honest by pinging: after [`Timeouts::ping_interval`]
//! of silence the client asks for `status` on the same connection, and a daemon that then
//! says nothing at all for [`Timeouts::ping_timeout`] is given up on.
//!
//! Each bound can be changed through the environment (seconds, fractions allowed), mostly so
//! tests need not wait the defaults out.

use crate::failure::Failure;
use std::ffi::OsString;
use std::time::Duration;

/// Seconds allowed for connecting plus the `hello` reply.
pub const CONNECT_ENV: &str = "CAP_CONNECT_TIMEOUT";
/// Seconds of silence from the daemon before `cap` pings it.
pub const PING_INTERVAL_ENV: &str = "CAP_PING_INTERVAL";
/// Seconds after a ping within which the daemon must say something, anything.
pub const PING_TIMEOUT_ENV: &str = "CAP_PING_TIMEOUT";

/// The bounds on waiting for the daemon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    pub connect: Duration,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
}

impl Default for Timeouts {
    /// Generous enough for a loaded machine: `status` is answered without touching any agent.
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            ping_interval: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(20),
        }
    }
}

impl Timeouts {
    /// The defaults, overridden by the environment.
    pub fn from_env() -> Result<Timeouts, Failure> {
        Timeouts::from_lookup(|name| std::env::var_os(name))
    }

    fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Result<Timeouts, Failure> {
        let d = Timeouts::default();
        Ok(Timeouts {
            connect: secs(CONNECT_ENV, d.connect, &get)?,
            ping_interval: secs(PING_INTERVAL_ENV, d.ping_interval, &get)?,
            ping_timeout: secs(PING_TIMEOUT_ENV, d.ping_timeout, &get)?,
        })
    }
}

/// One bound from the environment; unset or empty means the default. Zero is refused rather
/// than read as "forever": waiting forever is what these bounds exist to prevent.
fn secs(
    name: &str,
    default: Duration,
    get: &impl Fn(&str) -> Option<OsString>,
) -> Result<Duration, Failure> {
    let Some(raw) = get(name).filter(|v| !v.is_empty()) else {
        return Ok(default);
    };
    let text = raw.to_string_lossy();
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| {
            Failure::usage(format!(
                "{name}={text} is not a positive number of seconds; unset it (default {}) or \
                 give e.g. 30 or 0.5",
                show(default)
            ))
        })
}

/// A duration as people read it in messages: `10 s`, `0.5 s`.
pub fn show(d: Duration) -> String {
    format!("{} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Timeouts, Failure> {
        Timeouts::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn defaults_unless_the_environment_says_otherwise() {
        assert_eq!(with(&[]).unwrap(), Timeouts::default());
        assert_eq!(with(&[(CONNECT_ENV, "")]).unwrap(), Timeouts::default());
        let t = with(&[(CONNECT_ENV, "0.25"), (PING_TIMEOUT_ENV, " 3 ")]).unwrap();
        assert_eq!(t.connect, Duration::from_millis(250));
        assert_eq!(t.ping_timeout, Duration::from_secs(3));
        assert_eq!(t.ping_interval, Timeouts::default().ping_interval);
    }

    #[test]
    fn nonsense_is_a_usage_error_naming_the_variable() {
        for bad in ["abc", "0", "-1", "inf", "NaN"] {
            let err = with(&[(PING_INTERVAL_ENV, bad)]).unwrap_err();
            assert_eq!(err.code, 2, "{bad}");
            assert!(err.message.contains(PING_INTERVAL_ENV), "{}", err.message);
        }
    }

    /// `cap --help` and the man page state the defaults; they must be these.
    #[test]
    fn the_long_help_states_the_defaults() {
        use clap::CommandFactory;
        let help = crate::cli::Cli::command()
            .get_after_long_help()
            .map(|h| h.to_string())
            .unwrap_or_default();
        let d = Timeouts::default();
        for (name, value) in [
            (CONNECT_ENV, d.connect),
            (PING_INTERVAL_ENV, d.ping_interval),
            (PING_TIMEOUT_ENV, d.ping_timeout),
        ] {
            // The first "(default N)" after the variable's name is its own.
            let at = help
                .find(name)
                .unwrap_or_else(|| panic!("{name} missing: {help}"));
            let rest = &help[at..];
            let stated = rest
                .find("(default ")
                .map(|i| &rest[i + "(default ".len()..])
                .and_then(|r| r.split(')').next())
                .unwrap_or_else(|| panic!("no default stated for {name}: {help}"));
            assert_eq!(stated, value.as_secs().to_string(), "{name}");
        }
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(show(Duration::from_secs(10)), "10 s");
        assert_eq!(show(Duration::from_millis(500)), "0.5 s");
    }
}
