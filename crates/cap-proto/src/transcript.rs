//! Transcript records: what capd keeps of every turn, one JSON object per line in an
//! append-only file per native session, and what `cap log` and `cap export` read back.
//!
//! A record is an event condensed for reading later: the streamed text of one message is one
//! `text` record (not one per delta), a tool call is one record with its final status, and the
//! prompt that started the turn is there too (events never carry it). The type lives here, not
//! in capd, so the client parses exactly what the daemon wrote.

use crate::error::ErrorBody;
use crate::event::{PermissionEvent, StatusKind, ToolCall, TurnResult};
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// The version of the record format, in every record's `v`.
pub const TRANSCRIPT_VERSION: u32 = 1;

/// One line of a transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub v: u32,
    /// When capd wrote down what the record says (UTC, RFC 3339).
    pub time: String,
    /// The daemon session that served the turn (a resumed conversation gets a new one).
    pub session: String,
    /// The turn's request id: every record of one turn shares it.
    pub request: String,
    pub agent: String,
    #[serde(flatten)]
    pub entry: Entry,
}

/// What a record says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    /// The prompt as the user sent it; `preamble` is what capd put before it (first turn of a
    /// fresh session), kept apart so a reader can tell the two.
    Prompt {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preamble: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// One message of the reply, its deltas joined.
    Text { text: String },
    /// One stretch of visible reasoning, its deltas joined.
    Thought { text: String },
    /// A tool call with its final status.
    ToolCall(ToolCall),
    /// A permission request, or its decision.
    Permission(PermissionEvent),
    /// Progress worth keeping: respawn, fallback, eviction, resend.
    Status { kind: StatusKind, message: String },
    /// Token or cost accounting, as the agent reported it.
    Usage { usage: serde_json::Value },
    /// The turn finished, with its timings.
    Result(TurnResult),
    /// The turn failed.
    Error(ErrorBody),
    /// A record type from a newer capd; readers skip it.
    #[serde(other)]
    Unknown,
}

impl Record {
    /// A record stamped now.
    pub fn now(session: &str, request: &str, agent: &str, entry: Entry) -> Record {
        Record {
            v: TRANSCRIPT_VERSION,
            time: rfc3339(SystemTime::now()),
            session: session.to_string(),
            request: request.to_string(),
            agent: agent.to_string(),
            entry,
        }
    }
}

/// Parses transcript text, skipping lines that are not records (a line cut short by a full
/// disk must not hide the rest of the conversation).
pub fn parse(text: &str) -> Vec<Record> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Keeps the records of the last `turns` turns (by request id, in file order).
pub fn last_turns(records: Vec<Record>, turns: usize) -> Vec<Record> {
    let mut seen: Vec<&str> = Vec::new();
    for r in records.iter().rev() {
        if !seen.contains(&r.request.as_str()) {
            if seen.len() == turns {
                break;
            }
            seen.push(&r.request);
        }
    }
    let keep: Vec<String> = seen.iter().map(|s| s.to_string()).collect();
    records
        .into_iter()
        .filter(|r| keep.contains(&r.request))
        .collect()
}

/// `time` as UTC RFC 3339 with milliseconds, without a date library: days since the epoch to
/// a civil date (Howard Hinnant's algorithm).
pub fn rfc3339(time: SystemTime) -> String {
    let d = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        assert_eq!(rfc3339(t), "2024-02-29T12:34:56.789Z");
    }

    #[test]
    fn records_round_trip_and_bad_lines_are_skipped() {
        let r = Record::now(
            "s1",
            "r1",
            "claude",
            Entry::Prompt {
                text: "hi".into(),
                preamble: Some("be brief".into()),
                key: None,
            },
        );
        let line = serde_json::to_string(&r).unwrap();
        assert!(line.contains("\"type\":\"prompt\""), "{line}");
        let text = format!("{line}\n{{\"half\n{line}\n");
        assert_eq!(parse(&text), vec![r.clone(), r]);
    }

    #[test]
    fn last_turns_keeps_whole_turns() {
        let rec = |req: &str| Record::now("s", req, "a", Entry::Text { text: req.into() });
        let all = vec![rec("1"), rec("1"), rec("2"), rec("3"), rec("3")];
        let got: Vec<String> = last_turns(all.clone(), 2)
            .into_iter()
            .map(|r| r.request)
            .collect();
        assert_eq!(got, ["2", "3", "3"]);
        assert_eq!(last_turns(all, 9).len(), 5);
    }
}
