//! Concurrent clients: bursts of `cap prompt` processes started together, on distinct warm
//! keys (the daemon serves them in parallel) and on one key (they queue on one session, which
//! shows the one-turn-at-a-time serialisation).
//!
//! With the instant agent a turn is far shorter than a process start, so the queue hardly
//! shows; the SLOW bursts give each turn about 50 ms of agent time to make it visible.

use std::time::{Duration, Instant};

use anyhow::anyhow;

use crate::env::{BenchEnv, CALL_LIMIT, SLOW_CHUNK_MS, STREAM_JSON_AGENT, expect_echo};
use crate::measure::bounded;
use crate::proc::{self, Out};
use crate::report::Row;
use crate::{Bins, Opts};

/// The largest burst; the daemon is configured with room for all its sessions.
const MAX_CLIENTS: usize = 32;

pub fn run(opts: &Opts, bins: &Bins) -> anyhow::Result<Vec<Row>> {
    let mut env = BenchEnv::new(bins, MAX_CLIENTS * 2)?;
    env.start_daemon()?;
    let keys: Vec<String> = (0..MAX_CLIENTS).map(|i| format!("conc-{i}")).collect();
    for k in keys.iter().chain([&"queue".to_string()]) {
        env.warm(STREAM_JSON_AGENT, k)?;
    }
    let mut rows = Vec::new();
    for clients in [8, MAX_CLIENTS] {
        let label = format!("{clients} concurrent `cap prompt`, distinct keys");
        rows.extend(measure(opts, &env, &keys[..clients], &label, "")?);
    }
    let one_key = vec!["queue".to_string(); 8];
    let label = "8 concurrent `cap prompt`, ONE key (queued)";
    rows.extend(measure(opts, &env, &one_key, label, "")?);
    let slow = format!("{} ms agent turn", 10 * SLOW_CHUNK_MS);
    let label = format!("8 concurrent `cap prompt`, distinct keys, {slow}");
    rows.extend(measure(opts, &env, &keys[..8], &label, "SLOW ")?);
    let label = format!("8 concurrent `cap prompt`, ONE key (queued), {slow}");
    rows.extend(measure(opts, &env, &one_key, &label, "SLOW ")?);
    env.stop_daemon()?;
    Ok(rows)
}

/// `opts.rounds` bursts, one client per entry of `keys`, each prompt starting with `word`
/// (a magic word of the fake or nothing): rows for the whole burst and for its prompts.
fn measure(
    opts: &Opts,
    env: &BenchEnv,
    keys: &[String],
    label: &str,
    word: &str,
) -> anyhow::Result<Vec<Row>> {
    let bursts = bounded(opts.rounds, opts.budget(), |_| burst(env, keys, word))?;
    let walls: Vec<Duration> = bursts.iter().map(|(w, _)| *w).collect();
    let each: Vec<Duration> = bursts.into_iter().flat_map(|(_, e)| e).collect();
    Ok(vec![
        Row::timed(
            &format!("{label}: all done"),
            &walls,
            format!("N = bursts of {} processes", keys.len()),
        ),
        Row::timed(
            &format!("{label}: per prompt"),
            &each,
            "each process, spawn to exit",
        ),
    ])
}

/// Starts one `cap prompt` per key at once; returns the burst's wall time (first spawn to
/// last exit) and each prompt's own wall time.
fn burst(env: &BenchEnv, keys: &[String], word: &str) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let start = Instant::now();
    let runs = std::thread::scope(|s| {
        let handles: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, key)| {
                s.spawn(move || {
                    let text = format!("{word}concurrent prompt {i}");
                    let r = proc::run(
                        env.prompt(STREAM_JSON_AGENT, key, &text, false),
                        Out::Capture,
                        CALL_LIMIT,
                    )?;
                    expect_echo(&r)?;
                    Ok(r)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a client thread panicked")))
            })
            .collect::<anyhow::Result<Vec<proc::Run>>>()
    })?;
    let end = runs.iter().map(|r| r.ended).max().unwrap_or(start);
    Ok((end - start, runs.iter().map(proc::Run::wall).collect()))
}
