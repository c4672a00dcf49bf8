//! A very large streamed reply: 100 MB of agent output through one turn to one client. The fake
//! ACP agent's `HUGE` reply, sized with `FAKE_HUGE_BYTES` (in chunks of about 512 KiB, as a
//! long answer streams), through `cap prompt` to /dev/null, as text and as `--format json`,
//! with capd's memory growth during the turn.
//!
//! ACP, not stream-json: Claude repeats its whole reply in its `result` line, which for a
//! reply over capd's 16 MiB line limit is dropped and fails the turn (by design, lines.rs).
//!
//! Each sample runs on its own warm session, because the fake rewrites its whole history
//! (the reply included) every turn. capd's peak (`VmHWM`) is reset before each sample, so
//! growth = peak during the turn − RSS before it.

use std::time::Duration;

use anyhow::bail;
use serde_json::Value;

use crate::env::{ACP_AGENT, BenchEnv, turn_duration};
use crate::measure::bounded;
use crate::proc::{self, Out, Run};
use crate::procfs;
use crate::report::Row;
use crate::stats::{fmt_duration, fmt_mib, summarize};
use crate::{Bins, Opts};

/// How long one such turn may take on a loaded machine.
const LIMIT: Duration = Duration::from_secs(300);

/// One sample: its wall time and capd's growth.
struct Sample {
    wall: Duration,
    growth: u64,
}

pub fn run(opts: &Opts, bins: &Bins) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &mb in &opts.stream_mb {
        // A check run and `stream_n` samples per format, each on its own session.
        let sessions = 2 * (opts.stream_n + 1);
        let mut env = BenchEnv::new(bins, sessions + 4)?;
        env.set_env("FAKE_HUGE_BYTES", &(mb * 1_000_000).to_string());
        let pid = env.start_daemon()?;
        for json in [false, true] {
            crate::progress(&format!(
                "stream: {mb} MB, {}",
                if json { "json" } else { "text" }
            ));
            rows.push(measure(opts, &env, pid, mb, json)?);
        }
        env.stop_daemon()?;
    }
    Ok(rows)
}

fn measure(opts: &Opts, env: &BenchEnv, pid: u32, mb: usize, json: bool) -> anyhow::Result<Row> {
    let fmt = if json { "json" } else { "text" };
    let keys: Vec<String> = (0..=opts.stream_n)
        .map(|i| format!("stream-{mb}-{fmt}-{i}"))
        .collect();
    for k in &keys {
        env.warm(ACP_AGENT, k)?;
    }
    // The check run captures the output to prove the whole reply arrives and to size it.
    let check = proc::run(
        env.prompt(ACP_AGENT, &keys[0], "HUGE", json),
        Out::Capture,
        LIMIT,
    )?;
    let (reply_bytes, turn) = if json {
        json_reply(&check)?
    } else {
        (text_reply(&check)?, None)
    };
    let stdout_bytes = check.stdout.len() as u64;
    drop(check);
    let samples = bounded(opts.stream_n, opts.budget(), |i| {
        procfs::reset_peak(pid)?;
        let before = procfs::rss(pid)?;
        let r = proc::run(
            env.prompt(ACP_AGENT, &keys[i + 1], "HUGE", json),
            Out::Discard,
            LIMIT,
        )?;
        let peak = procfs::peak(pid)?;
        Ok(Sample {
            wall: r.wall(),
            growth: peak.saturating_sub(before),
        })
    })?;
    let label = format!(
        "{mb} MB reply through `cap prompt{}` > /dev/null",
        if json { " --format json" } else { "" }
    );
    let walls: Vec<Duration> = samples.iter().map(|s| s.wall).collect();
    let Some(s) = summarize(&walls) else {
        return Ok(Row::note(&label, "no samples"));
    };
    let rate = reply_bytes as f64 / 1e6 / s.median.as_secs_f64();
    let growth = samples.iter().map(|s| s.growth).max().unwrap_or(0);
    let mut notes = format!(
        "{rate:.0} MB/s of reply at the median; capd RSS growth during the turn (max) {}; \
         {:.1} MB of reply, {:.1} MB on stdout",
        fmt_mib(growth),
        reply_bytes as f64 / 1e6,
        stdout_bytes as f64 / 1e6,
    );
    if let Some(t) = turn {
        notes.push_str(&format!(
            "; turn inside capd {} (check run)",
            fmt_duration(t)
        ));
    }
    Ok(Row::summary(&label, s, notes))
}

/// The reply's size in text format; fails unless it is the whole reply.
fn text_reply(r: &Run) -> anyhow::Result<u64> {
    let text = String::from_utf8_lossy(&r.stdout);
    if !text.starts_with("ECHO[turns=") || !text.trim_end().ends_with("HUGE-END") {
        bail!("the HUGE reply (text) is not the whole echo");
    }
    Ok(text.trim_end().len() as u64)
}

/// The reply's size in json format (the sum of its text deltas; the `result` leaves a reply
/// this big out) and the turn's duration inside capd; fails unless the deltas make up the
/// whole reply.
fn json_reply(r: &Run) -> anyhow::Result<(u64, Option<Duration>)> {
    let mut bytes = 0u64;
    // Whether the last delta so far ends the reply (the chunks are far longer than the marker).
    let mut ended = false;
    let mut result = None;
    for line in r.stdout.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: Value = serde_json::from_slice(line)?;
        match v["type"].as_str() {
            Some("text") => {
                let delta = v["delta"].as_str().unwrap_or_default();
                bytes += delta.len() as u64;
                ended = delta.trim_end().ends_with("HUGE-END");
            }
            Some("result") => result = Some(v),
            _ => {}
        }
    }
    let Some(result) = result else {
        bail!("the HUGE reply (json) ended without a result");
    };
    if !ended {
        bail!("the HUGE reply (json) did not end with HUGE-END");
    }
    Ok((bytes, Some(turn_duration(&result)?)))
}
