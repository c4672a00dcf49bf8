//! The Markdown report: a few lines about the machine, then one table row per measurement.

use std::time::Duration;

use crate::stats::{Summary, fmt_duration, summarize};

/// One row of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub n: String,
    pub median: String,
    pub p90: String,
    pub notes: String,
}

impl Row {
    /// A row from timing samples; an empty sample set says so instead of showing numbers.
    pub fn timed(name: &str, samples: &[Duration], notes: impl Into<String>) -> Row {
        match summarize(samples) {
            Some(s) => Row::summary(name, s, notes),
            None => Row::note(name, "no samples"),
        }
    }

    pub fn summary(name: &str, s: Summary, notes: impl Into<String>) -> Row {
        Row {
            name: name.to_string(),
            n: s.n.to_string(),
            median: fmt_duration(s.median),
            p90: fmt_duration(s.p90),
            notes: notes.into(),
        }
    }

    /// A row from samples of millisecond resolution (capd's `duration_ms`): whole
    /// milliseconds, and "< 1 ms" for zero rather than a false "0.00 ms".
    pub fn millis(name: &str, samples: &[Duration], notes: impl Into<String>) -> Row {
        let ms = |d: Duration| match d.as_millis() {
            0 => "< 1 ms".to_string(),
            m => format!("{m} ms"),
        };
        match summarize(samples) {
            Some(s) => Row {
                name: name.to_string(),
                n: s.n.to_string(),
                median: ms(s.median),
                p90: ms(s.p90),
                notes: notes.into(),
            },
            None => Row::note(name, "no samples"),
        }
    }

    /// A single observed value (memory, a one-off), shown in the median column.
    pub fn value(name: &str, value: String, notes: impl Into<String>) -> Row {
        Row {
            name: name.to_string(),
            n: "1".into(),
            median: value,
            p90: "—".into(),
            notes: notes.into(),
        }
    }

    /// A row with no numbers, only a note (skipped, unavailable).
    pub fn note(name: &str, notes: &str) -> Row {
        Row {
            name: name.to_string(),
            n: "0".into(),
            median: "—".into(),
            p90: "—".into(),
            notes: notes.to_string(),
        }
    }

    /// A measurement that failed: the error goes where the numbers would have been.
    pub fn failed(name: &str, err: &anyhow::Error) -> Row {
        Row::note(name, &format!("FAILED: {err:#}"))
    }
}

/// The whole report.
pub fn render(machine: &[String], rows: &[Row]) -> String {
    let mut out = String::new();
    for line in machine {
        out.push_str(&format!("- {line}\n"));
    }
    out.push('\n');
    out.push_str("| measurement | N | median | p90 | notes |\n");
    out.push_str("|---|---:|---:|---:|---|\n");
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            cell(&r.name),
            r.n,
            r.median,
            r.p90,
            cell(&r.notes)
        ));
    }
    out
}

/// Keeps a cell on one line and its pipes from splitting the row.
fn cell(s: &str) -> String {
    s.replace('\n', " ").replace('|', "\\|")
}
