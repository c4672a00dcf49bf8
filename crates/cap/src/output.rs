//! Output of the non-streaming commands: JSON documents, tables, durations, shell quoting.
//!
//! Everything goes through [`print`] so that a closed stdout (`cap ls | head -1`) ends the
//! process quietly instead of panicking the way `println!` would.

use crate::failure::{Failure, stdout_error};
use cap_proto::reply::Reply;
use serde::Serialize;
use std::io::Write;

/// Writes `text` to stdout as is.
pub fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// Writes `text` and a newline to stdout.
pub fn println(text: &str) -> anyhow::Result<()> {
    print(&format!("{text}\n"))
}

/// Prints one compact JSON document on its own line (`--format json`).
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    println(&serde_json::to_string(value)?)
}

/// The error for a reply of the wrong kind: most likely a daemon from another build.
pub fn unexpected(op: &str, reply: &Reply) -> anyhow::Error {
    let shown = serde_json::to_string(reply).unwrap_or_else(|e| e.to_string());
    Failure::runtime(format!(
        "unexpected reply to `{op}` from capd: {}; if capd is from another build, run \
         `cap daemon restart`",
        crate::render::one_line(&shown, 300)
    ))
    .into()
}

/// Left-aligned columns separated by two spaces; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            line.push_str(cell);
            if i < last {
                let pad = widths.get(i).copied().unwrap_or(0) - cell.chars().count() + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// A duration in seconds, short: `42s`, `5m`, `2h05m`, `3d4h`.
pub fn secs(s: u64) -> String {
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86400, s % 86400 / 3600),
    }
}

/// A duration in milliseconds: `850ms`, `1.5s`, then as [`secs`].
pub fn millis(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms}ms"),
        1000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => secs(ms / 1000),
    }
}

/// A size in bytes, short and binary: `812K`, `251M`, `1.4G`; `-` when unknown.
pub fn bytes(b: Option<u64>) -> String {
    let Some(b) = b else {
        return "-".into();
    };
    let units = [(40, "T"), (30, "G"), (20, "M"), (10, "K")];
    for (shift, unit) in units {
        let n = b as f64 / (1u64 << shift) as f64;
        if n >= 1.0 {
            return if n < 10.0 {
                format!("{n:.1}{unit}")
            } else {
                format!("{n:.0}{unit}")
            };
        }
    }
    format!("{b}B")
}

/// A limit in seconds where 0 means none.
pub fn limit_secs(s: u64, zero: &str) -> String {
    if s == 0 { zero.to_string() } else { secs(s) }
}

/// `s` quoted for a POSIX shell when it needs to be, so hints can be pasted as they are.
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The paste-ready command that resumes an agent's native session later.
pub fn resume_hint(agent: &str, native_id: &str, cwd: &std::path::Path) -> String {
    format!(
        "cap prompt --agent {} --resume {} -C {}",
        shell_quote(agent),
        shell_quote(native_id),
        shell_quote(&cwd.to_string_lossy())
    )
}

/// `-` for a missing value in tables.
pub fn or_dash(v: Option<&str>) -> String {
    v.filter(|s| !s.is_empty()).unwrap_or("-").to_string()
}

/// Tokens and cost on one line, naming only what the agent reported.
pub fn usage(u: &cap_proto::Usage) -> String {
    let mut parts = Vec::new();
    let tokens = [
        ("in", u.input_tokens),
        ("out", u.output_tokens),
        ("cache read", u.cache_read_tokens),
        ("cache write", u.cache_write_tokens),
    ];
    for (name, n) in tokens {
        if let Some(n) = n {
            parts.push(format!("{n} {name}"));
        }
    }
    if let Some(cost) = u.cost_usd {
        parts.push(format!("${cost:.4}"));
    }
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["ID", "AGENT", "CWD"],
            &[
                vec!["a".into(), "claude".into(), "/x".into()],
                vec!["bbbb".into(), "-".into(), "/long/path".into()],
            ],
        );
        assert_eq!(
            t,
            "ID    AGENT   CWD\na     claude  /x\nbbbb  -       /long/path\n"
        );
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(secs(42), "42s");
        assert_eq!(secs(300), "5m");
        assert_eq!(secs(7500), "2h05m");
        assert_eq!(secs(3 * 86400 + 4 * 3600), "3d4h");
        assert_eq!(millis(850), "850ms");
        assert_eq!(millis(1500), "1.5s");
        assert_eq!(limit_secs(0, "never"), "never");
    }

    #[test]
    fn quoting_only_when_needed() {
        assert_eq!(shell_quote("dir:/a/b"), "dir:/a/b");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
