//! The `cap` round trip to the daemon, and prompts on a warm session of the instant fake agent.
//!
//! The fake answers in about no time, so a warm prompt's wall time is cap's overhead: process
//! start, connect, hello, routing, the agent's stdin/stdout hop, streaming and exit. The json
//! runs also collect the turn time capd itself reports (`result.duration_ms`: from the turn's
//! start in capd to the agent's end of turn), which shows how that wall time splits.

use std::time::Duration;

use crate::env::{ACP_AGENT, BenchEnv, CALL_LIMIT, STREAM_JSON_AGENT, result_event, turn_duration};
use crate::measure::bounded;
use crate::proc::{self, Out};
use crate::report::Row;
use crate::{Bins, Opts};

/// Untimed prompts before each timed loop: they open the session and warm the caches.
const WARMUP: usize = 5;

pub fn run(opts: &Opts, bins: &Bins) -> anyhow::Result<Vec<Row>> {
    let mut env = BenchEnv::new(bins, 8)?;
    env.start_daemon()?;
    let mut rows = vec![round_trip(opts, &env)?];
    for (agent, label) in [(STREAM_JSON_AGENT, "stream-json"), (ACP_AGENT, "ACP")] {
        rows.extend(warm_prompts(opts, &env, agent, label)?);
    }
    env.stop_daemon()?;
    Ok(rows)
}

/// `cap daemon status`: spawn, connect, hello, one request, print, exit.
fn round_trip(opts: &Opts, env: &BenchEnv) -> anyhow::Result<Row> {
    let status = || {
        let mut c = env.cap();
        c.args(["daemon", "status"]);
        c
    };
    for _ in 0..WARMUP {
        proc::run(status(), Out::Capture, CALL_LIMIT)?;
    }
    let samples = bounded(opts.n, opts.budget(), |_| {
        Ok(proc::run(status(), Out::Capture, CALL_LIMIT)?.wall())
    })?;
    Ok(Row::timed(
        "`cap daemon status` round trip",
        &samples,
        "process spawn + connect + hello + request + exit",
    ))
}

/// Warm prompts on one key of `agent`, in text and in json format.
fn warm_prompts(opts: &Opts, env: &BenchEnv, agent: &str, label: &str) -> anyhow::Result<Vec<Row>> {
    let key = format!("warm-{label}");
    for _ in 0..WARMUP {
        env.warm(agent, &key)?;
    }
    let text = bounded(opts.n, opts.budget(), |i| {
        Ok(env.ask(agent, &key, &format!("bench prompt {i}"))?.wall())
    })?;
    let json = bounded(opts.n, opts.budget(), |i| {
        let r = proc::run(
            env.prompt(agent, &key, &format!("bench prompt {i}"), true),
            Out::Capture,
            CALL_LIMIT,
        )?;
        let turn = turn_duration(&result_event(&r)?)?;
        Ok((r.wall(), turn))
    })?;
    let (json_wall, turns): (Vec<Duration>, Vec<Duration>) = json.into_iter().unzip();
    Ok(vec![
        Row::timed(
            &format!("warm `cap prompt`, {label}, text"),
            &text,
            "end to end = cap's overhead (the agent answers instantly)",
        ),
        Row::timed(
            &format!("warm `cap prompt`, {label}, `--format json`"),
            &json_wall,
            "end to end",
        ),
        Row::millis(
            &format!("↳ turn inside capd, {label} (`result.duration_ms`)"),
            &turns,
            "agent round trip as capd sees it (ms resolution); the rest of the wall time is the CLI and socket",
        ),
    ])
}
