//! What a prompt asks the fake to do (its magic words), and how the reply streams.

use crate::common::*;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Whether a turn hangs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hang {
    No,
    /// Until interrupted or cancelled.
    Interruptible,
    /// Until killed.
    Uninterruptible,
}

/// What a turn will do, derived from the magic words in its text.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Number of user turns in the session's whole history, this one included.
    pub n: usize,
    pub text: String,
    pub hang: Hang,
    pub crash: bool,
    pub error: bool,
    pub empty: bool,
    pub garbage: bool,
    pub huge: bool,
    pub slow: bool,
    pub orphan: bool,
    // ACP only.
    pub permission: bool,
    pub think: bool,
    pub tool: bool,
    pub plan_update: bool,
    pub weird: bool,
    pub fswrite: bool,
    /// How the turn asked for a JSON answer, if it did.
    pub structured: Option<Structured>,
    /// The JSON answer breaks the schema (`WRONGJSON`, `WRONGJSONONCE`).
    pub wrong_json: bool,
}

/// How a turn asked for structured output: cap's instructions in the prompt (under
/// [`SCHEMA_HEADER`]), or Codex's `outputSchema` on `turn/start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Structured {
    Prompt,
    OutputSchema,
}

/// The line under which cap puts a prompt's JSON Schema (capd's `schema::SCHEMA_HEADER`).
pub const SCHEMA_HEADER: &str = "JSON Schema:";

/// The answer to a schema turn: `{"turns": N, "via": "prompt"|"outputSchema"}`, with
/// `turns` a string instead of a number when it must not validate. Tests give a schema
/// that wants an integer `turns`.
pub fn json_reply(n: usize, via: Structured, wrong: bool) -> String {
    let turns = if wrong {
        serde_json::json!(n.to_string())
    } else {
        serde_json::json!(n)
    };
    let name = match via {
        Structured::Prompt => "prompt",
        Structured::OutputSchema => "outputSchema",
    };
    let value = serde_json::json!({"turns": turns, "via": name});
    match via {
        // Like a model following the instructions: a fenced block, some words around it.
        Structured::Prompt => format!("Here it is:\n```json\n{value}\n```\n"),
        // Like a model held to the schema by the API: the bare value.
        Structured::OutputSchema => value.to_string(),
    }
}

/// The size of the `HUGE` reply's filler, unless `FAKE_HUGE_BYTES` says otherwise (the
/// streaming benchmark sends 100 MB).
pub const HUGE_BYTES: usize = 4 * 1024 * 1024;
/// The default `HUGE` reply goes out in this many chunks.
pub const HUGE_CHUNKS: usize = 8;
/// Every `HUGE` chunk is about this big, so a bigger reply goes out in more chunks rather than
/// in bigger ones: like a real agent streaming a long answer, no message grows with the reply.
pub const HUGE_CHUNK_BYTES: usize = HUGE_BYTES / HUGE_CHUNKS;
pub const SLOW_CHUNKS: usize = 10;
pub const NORMAL_CHUNKS: usize = 3;
pub const SLOW_DEFAULT_MS: u64 = 300;

/// The normal reply: `ECHO[turns=N]: TEXT`.
pub fn echo_reply(n: usize, text: &str) -> String {
    format!("ECHO[turns={n}]: {text}")
}

impl Plan {
    /// Derives the plan; consumes the `*ONCE` markers of `session_id` in `home`.
    pub fn new(text: &str, n: usize, home: &Home, session_id: &str) -> Plan {
        let has = |w: &str| text.contains(w);
        let hang = if has("HANGNOINT") {
            Hang::Uninterruptible
        } else if has("HANG") {
            Hang::Interruptible
        } else {
            Hang::No
        };
        let crash = if has("CRASHONCE") {
            home.marker_first_time(session_id, "crashonce")
        } else {
            has("CRASH")
        };
        let empty = if has("EMPTYONCE") {
            home.marker_first_time(session_id, "emptyonce")
        } else {
            has("EMPTY")
        };
        // WRONGJSON sticks to the session (every re-ask gets a wrong answer too);
        // WRONGJSONONCE only spoils the first answer, so the re-ask gets a right one.
        let wrong_json = if has("WRONGJSONONCE") {
            home.marker_first_time(session_id, "wrongjsononce")
        } else if has("WRONGJSON") {
            home.marker_first_time(session_id, "wrongjson");
            true
        } else {
            home.has_marker(session_id, "wrongjson")
        };
        Plan {
            structured: has(SCHEMA_HEADER).then_some(Structured::Prompt),
            wrong_json,
            n,
            text: text.to_string(),
            hang,
            crash,
            error: has("ERROR"),
            empty,
            garbage: has("GARBAGE"),
            huge: has("HUGE"),
            slow: has("SLOW"),
            orphan: has("ORPHAN"),
            permission: has("PERMISSION"),
            think: has("THINK"),
            tool: has("TOOL"),
            plan_update: has("PLAN"),
            weird: has("WEIRD"),
            fswrite: has("FSWRITE"),
        }
    }

    /// The reply text (with an optional suffix, e.g. the permission outcome).
    pub fn reply(&self, suffix: &str) -> String {
        if self.empty {
            return String::new();
        }
        if let Some(via) = self.structured {
            return json_reply(self.n, via, self.wrong_json);
        }
        let mut r = echo_reply(self.n, &self.text);
        r.push_str(suffix);
        if self.text.contains("SHOWCAPENV") {
            // What capd told the agent about itself (`cap mcp` reads it).
            for name in ["CAP_SESSION", "CAP_SOCKET"] {
                let value = std::env::var(name).unwrap_or_else(|_| "unset".into());
                r.push_str(&format!(" {name}={value}"));
            }
        }
        if self.huge {
            r.push_str(&huge_filler());
            r.push_str("\nHUGE-END");
        }
        r
    }

    /// How the reply is streamed.
    pub fn stream(&self, reply: &str) -> Stream {
        if self.hang != Hang::No {
            return Stream::new(Vec::new(), Duration::ZERO, self.hang);
        }
        let (pieces, delay) = if self.slow {
            let ms = env_ms("FAKE_SLOW_MS").unwrap_or(SLOW_DEFAULT_MS);
            (SLOW_CHUNKS, Duration::from_millis(ms))
        } else if self.huge {
            (
                (reply.len() / HUGE_CHUNK_BYTES).max(HUGE_CHUNKS),
                Duration::ZERO,
            )
        } else {
            (NORMAL_CHUNKS, Duration::ZERO)
        };
        Stream::new(split_chunks(reply, pieces), delay, Hang::No)
    }
}

/// Printable filler in lines: about [`HUGE_BYTES`], or `FAKE_HUGE_BYTES`.
pub fn huge_filler() -> String {
    huge_filler_of(env_usize("FAKE_HUGE_BYTES").unwrap_or(HUGE_BYTES))
}

/// At least `bytes` of printable filler, in lines.
pub fn huge_filler_of(bytes: usize) -> String {
    let line =
        "\nhuge filler 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .........";
    let mut s = String::with_capacity(bytes + line.len());
    while s.len() < bytes {
        s.push_str(line);
    }
    s
}

/// Splits `s` into `pieces` chunks of about equal length, on char boundaries (fewer when `s`
/// is shorter than that; never an empty chunk).
pub fn split_chunks(s: &str, pieces: usize) -> Vec<String> {
    let pieces = pieces.max(1);
    let mut out = Vec::with_capacity(pieces);
    let mut start = 0;
    for i in 1..=pieces {
        let mut end = s.len() * i / pieces;
        while end < s.len() && !s.is_char_boundary(end) {
            end += 1;
        }
        if end > start {
            out.push(s[start..end].to_string());
            start = end;
        }
    }
    out
}

/// A reply being streamed: chunks released one by one at their due times.
#[derive(Debug)]
pub struct Stream {
    chunks: VecDeque<String>,
    delay: Duration,
    next_at: Instant,
    /// Text released so far.
    pub sent: String,
    pub hang: Hang,
}

impl Stream {
    pub fn new(chunks: Vec<String>, delay: Duration, hang: Hang) -> Stream {
        Stream {
            chunks: chunks.into(),
            delay,
            next_at: Instant::now(),
            sent: String::new(),
            hang,
        }
    }

    /// When the next chunk is due, if any.
    pub fn deadline(&self) -> Option<Instant> {
        (!self.chunks.is_empty()).then_some(self.next_at)
    }

    /// The next chunk if it is due.
    pub fn next_due(&mut self, now: Instant) -> Option<String> {
        if self.chunks.is_empty() || now < self.next_at {
            return None;
        }
        let c = self.chunks.pop_front()?;
        self.sent.push_str(&c);
        self.next_at = now + self.delay;
        Some(c)
    }

    /// True once every chunk has been released (never for a hanging turn).
    pub fn finished(&self) -> bool {
        self.chunks.is_empty() && self.hang == Hang::No
    }
}
