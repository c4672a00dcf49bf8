//! The first prompt on a new key, on the fake ACP agent: cold (capd spawns the agent and
//! initializes it, then opens the session), onto a prewarmed spare (`[prewarm]`: the process
//! is started and initialized already, so only `session/new` and the turn remain), next to a
//! warm prompt on that agent. Once per agent start time: the instant fake, and the fake told
//! to take a while before it answers anything (`FAKE_START_DELAY_MS`), as real agents do.
//!
//! Before each prewarmed sample the spare taken by the previous one must be back: the
//! measurement polls `cap daemon status` until it shows one (no sleeping), so every sample
//! finds a spare, as a user's prompt does when prompts on new keys are not back to back.
//!
//! Onto a shared process (`[share] fakeacp = true`): one key opens the process first, then
//! every sample is a new key whose session opens on it.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use crate::env::{ACP_AGENT, BenchEnv, CALL_LIMIT};
use crate::measure::bounded;
use crate::proc::{self, Out};
use crate::report::Row;
use crate::{Bins, Opts};

/// Untimed prompts on the warm key before its timed loop.
const WARMUP: usize = 5;
/// How long a spare may take to come back before the measurement gives up.
const REFILL_LIMIT: Duration = Duration::from_secs(60);

pub fn run(opts: &Opts, bins: &Bins) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &start_ms in &opts.first_start_ms {
        let start = if start_ms == 0 {
            "instant agent start".to_string()
        } else {
            format!("agent start {start_ms} ms")
        };
        crate::progress(&format!("first prompt: cold and warm, {start}"));
        let (cold, warm) = cold_and_warm(opts, bins, start_ms)?;
        crate::progress(&format!("first prompt: onto a prewarmed spare, {start}"));
        let spare = prewarmed(opts, bins, start_ms)?;
        crate::progress(&format!("first prompt: onto a shared process, {start}"));
        let onto_shared = shared(opts, bins, start_ms)?;
        rows.extend([
            Row::timed(
                &format!("first prompt on a new key, cold, ACP, {start}"),
                &cold,
                "capd spawns the fake, `initialize`, `session/new`, the turn",
            ),
            Row::timed(
                &format!("first prompt on a new key, onto a prewarmed spare, ACP, {start}"),
                &spare,
                "`[prewarm] fakeacp = 1`: `session/new` on the spare, the turn",
            ),
            Row::timed(
                &format!("first prompt on a new key, onto a shared process, ACP, {start}"),
                &onto_shared,
                "`[share] fakeacp = true`, the process started by another key: `session/new` on it, the turn",
            ),
            Row::timed(
                &format!("warm prompt on that agent, ACP, {start}"),
                &warm,
                "the same key again: the agent's warm-turn time through cap",
            ),
        ]);
    }
    Ok(rows)
}

/// The agent environment of one variant: how long the fake waits before it answers anything.
fn env_for(bins: &Bins, max: usize, extra: &str, start_ms: u64) -> anyhow::Result<BenchEnv> {
    let mut env = BenchEnv::configured(bins, max, extra)?;
    env.set_env("FAKE_START_DELAY_MS", &start_ms.to_string());
    Ok(env)
}

/// Cold first prompts on new keys, then warm prompts on one of them.
fn cold_and_warm(
    opts: &Opts,
    bins: &Bins,
    start_ms: u64,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let mut env = env_for(bins, opts.first_n + 8, "", start_ms)?;
    env.start_daemon()?;
    let cold = bounded(opts.first_n, opts.budget(), |i| {
        Ok(env.warm(ACP_AGENT, &format!("cold-{i}"))?.wall())
    })?;
    for _ in 0..WARMUP {
        env.warm(ACP_AGENT, "warm")?;
    }
    let warm = bounded(opts.n, opts.budget(), |_| {
        Ok(env.warm(ACP_AGENT, "warm")?.wall())
    })?;
    env.stop_daemon()?;
    Ok((cold, warm))
}

/// First prompts on new keys, each once a spare is ready.
fn prewarmed(opts: &Opts, bins: &Bins, start_ms: u64) -> anyhow::Result<Vec<Duration>> {
    let extra = format!("\n[prewarm]\n{ACP_AGENT} = 1\n");
    let mut env = env_for(bins, opts.first_n + 8, &extra, start_ms)?;
    env.start_daemon()?;
    let samples = bounded(opts.first_n, opts.budget(), |i| {
        wait_for_spare(&env)?;
        Ok(env.ask(ACP_AGENT, &format!("spare-{i}"), "first")?.wall())
    })?;
    env.stop_daemon()?;
    Ok(samples)
}

/// First prompts on new keys, each opening its session on the process another key started.
fn shared(opts: &Opts, bins: &Bins, start_ms: u64) -> anyhow::Result<Vec<Duration>> {
    let extra = format!("\n[share]\n{ACP_AGENT} = true\n");
    let mut env = env_for(bins, opts.first_n + 8, &extra, start_ms)?;
    env.start_daemon()?;
    env.warm(ACP_AGENT, "host")?;
    let samples = bounded(opts.first_n, opts.budget(), |i| {
        Ok(env.warm(ACP_AGENT, &format!("shared-{i}"))?.wall())
    })?;
    env.stop_daemon()?;
    Ok(samples)
}

/// Asks `cap daemon status` until it shows a spare.
fn wait_for_spare(env: &BenchEnv) -> anyhow::Result<()> {
    let start = Instant::now();
    loop {
        let mut c = env.cap();
        c.args(["--format", "json", "daemon", "status"]);
        let r = proc::run(c, Out::Capture, CALL_LIMIT)?;
        let v: Value =
            serde_json::from_slice(&r.stdout).context("`daemon status` printed no JSON")?;
        if v["spares"].as_u64().unwrap_or(0) > 0 {
            return Ok(());
        }
        if start.elapsed() > REFILL_LIMIT {
            bail!("no spare within {} s", REFILL_LIMIT.as_secs());
        }
    }
}
