//! A large streamed reply: the fake agent's HUGE turn (~4 MiB of text in 8 chunks, ending in
//! HUGE-END) through `cap prompt` to /dev/null, as text and as `--format json`.
//!
//! Each sample runs on its own warm session: the fake agent rewrites its whole history file
//! (with fsync) every turn, so repeating HUGE on one session would measure that file growing.

use std::time::Duration;

use anyhow::bail;

use crate::env::{BenchEnv, STREAM_JSON_AGENT, result_event, turn_duration};
use crate::measure::bounded;
use crate::proc::{self, Out};
use crate::report::Row;
use crate::stats::{fmt_duration, fmt_mib, summarize};
use crate::{Bins, Opts};

/// A HUGE turn may take a while on a loaded machine, but not forever.
const HUGE_LIMIT: Duration = Duration::from_secs(120);

pub fn run(opts: &Opts, bins: &Bins) -> anyhow::Result<Vec<Row>> {
    // One check run and `huge_n` samples per format, each on its own session.
    let sessions = 2 * (opts.huge_n + 1);
    let mut env = BenchEnv::new(bins, sessions + 4)?;
    env.start_daemon()?;
    let mut rows = Vec::new();
    for json in [false, true] {
        rows.push(measure(opts, &env, json)?);
    }
    env.stop_daemon()?;
    Ok(rows)
}

fn measure(opts: &Opts, env: &BenchEnv, json: bool) -> anyhow::Result<Row> {
    let fmt = if json { "json" } else { "text" };
    let keys: Vec<String> = (0..=opts.huge_n)
        .map(|i| format!("huge-{fmt}-{i}"))
        .collect();
    for k in &keys {
        env.warm(STREAM_JSON_AGENT, k)?;
    }
    // The check run captures the output to prove the whole reply arrives and to size it.
    let check = proc::run(
        env.prompt(STREAM_JSON_AGENT, &keys[0], "HUGE", json),
        Out::Capture,
        HUGE_LIMIT,
    )?;
    let reply = if json {
        result_event(&check)?["output"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    } else {
        check.text()
    };
    if !reply.trim_end().ends_with("HUGE-END") {
        bail!("the HUGE reply ({fmt}) did not end with HUGE-END");
    }
    let reply_bytes = reply.len() as u64;
    let stdout_bytes = check.stdout.len() as u64;
    let turn = if json {
        Some(turn_duration(&result_event(&check)?)?)
    } else {
        None
    };
    let samples = bounded(opts.huge_n, opts.budget(), |i| {
        let r = proc::run(
            env.prompt(STREAM_JSON_AGENT, &keys[i + 1], "HUGE", json),
            Out::Discard,
            HUGE_LIMIT,
        )?;
        Ok(r.wall())
    })?;
    let label = if json {
        "HUGE reply through `cap prompt --format json` > /dev/null"
    } else {
        "HUGE reply through `cap prompt` (text) > /dev/null"
    };
    let Some(s) = summarize(&samples) else {
        return Ok(Row::note(label, "no samples"));
    };
    let rate = reply_bytes as f64 / (1024.0 * 1024.0) / s.median.as_secs_f64();
    let mut notes = format!(
        "{} of reply text, {} on stdout; {rate:.0} MiB/s of reply at the median",
        fmt_mib(reply_bytes),
        fmt_mib(stdout_bytes)
    );
    if let Some(t) = turn {
        notes.push_str(&format!(
            "; turn inside capd {} (check run)",
            fmt_duration(t)
        ));
    }
    Ok(Row::summary(label, s, notes))
}
