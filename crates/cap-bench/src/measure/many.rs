//! Many sessions: 500 live sessions of the instant stream-json agent in one daemon, then 64
//! clients at once, 20 prompts each one after another, spread over all 500 keys.
//!
//! Every reply is checked as in `load` (the same [`drive`]): it must echo its prompt's own
//! token, on the key it was sent to, with that key's next turn number. Here the faults are
//! counted and reported (target: none) rather than failing the run, next to throughput,
//! latency and capd's memory once the sessions are open and at its peak under the clients.
//!
//! Lists of sizes (`--many-sessions 100,250,500 --many-clients 8,32,64`) run every pair on
//! one daemon, opening more sessions between sizes: the "how each cost grows" table.

use std::time::Duration;

use crate::env::{BenchEnv, STREAM_JSON_AGENT};
use crate::measure::load::{Keys, drive, turn_faults};
use crate::procfs;
use crate::report::Row;
use crate::stats::{fmt_duration, fmt_mib, percentile};
use crate::{Bins, Opts};

pub fn run(opts: &Opts, bins: &Bins) -> anyhow::Result<Vec<Row>> {
    let mut sizes = opts.many_sessions.clone();
    sizes.sort_unstable();
    sizes.dedup();
    let most = sizes.last().copied().unwrap_or(0);
    let mut env = BenchEnv::new(bins, most + 8)?;
    let pid = env.start_daemon()?;
    let idle = procfs::rss(pid)?;
    let name = |k: usize| format!("many-{k}");
    let prompts = opts.many_prompts;
    // Each key's turns so far (the prompt that opened it is its first).
    let mut turns: Vec<u64> = Vec::new();
    let mut cold: Vec<Duration> = Vec::new();
    let mut rows = vec![Row::value(
        "many: capd RSS, idle (0 sessions)",
        fmt_mib(idle),
        "VmRSS of capd alone",
    )];
    for sessions in sizes {
        crate::progress(&format!("many: opening {sessions} sessions"));
        while turns.len() < sessions {
            cold.push(env.warm(STREAM_JSON_AGENT, &name(turns.len()))?.wall());
            turns.push(1);
        }
        let opened = procfs::rss(pid)?;
        rows.push(Row::value(
            &format!("many, {sessions} live sessions: capd RSS after opening"),
            fmt_mib(opened),
            format!(
                "≈ {} KiB per session over idle",
                opened.saturating_sub(idle) / sessions.max(1) as u64 / 1024
            ),
        ));
        for &clients in &opts.many_clients {
            crate::progress(&format!(
                "many: {clients} clients × {prompts} prompts over {sessions} sessions"
            ));
            procfs::reset_peak(pid)?;
            // Consecutive prompts of a client go to consecutive keys, and the clients start
            // `prompts` keys apart: the prompts cover the keys evenly.
            let of = |client: usize, index: usize| (client * prompts + index) % sessions;
            let keys = Keys {
                of: &of,
                name: &name,
            };
            let tally = drive(&env, clients, prompts, &keys)?;
            let peak = procfs::peak(pid)?;
            let faults = turn_faults(&tally.answers, clients, sessions, &|k| turns[k]);
            for client in 0..clients {
                for index in 0..prompts {
                    turns[of(client, index)] += 1;
                }
            }
            let what = format!("many, {sessions} sessions, {clients} clients × {prompts} prompts");
            let walls = tally.walls();
            let total = clients * prompts;
            let first_fault = tally
                .lost
                .iter()
                .chain(&tally.misrouted)
                .chain(&faults)
                .next()
                .map(|f| format!("; first: {f}"))
                .unwrap_or_default();
            rows.extend([
                Row::value(
                    &format!("{what}: replies lost / misrouted"),
                    format!("{} / {}", tally.lost.len(), tally.misrouted.len()),
                    format!(
                        "{total} prompts, each reply checked for its own token, key and turn \
                         number; {} keys with wrong turn numbers{first_fault}",
                        faults.len()
                    ),
                ),
                Row::value(
                    &format!("{what}: throughput"),
                    format!("{:.0} prompts/s", total as f64 / tally.took.as_secs_f64()),
                    format!("{total} prompts in {:.2} s", tally.took.as_secs_f64()),
                ),
                Row::timed(
                    &format!("{what}: per prompt"),
                    &walls,
                    format!(
                        "each `cap prompt` process, spawn to exit; p99 {}, max {}",
                        fmt_duration(percentile(&walls, 99)),
                        fmt_duration(walls.iter().copied().max().unwrap_or_default())
                    ),
                ),
                Row::value(
                    &format!("{what}: capd peak RSS"),
                    fmt_mib(peak),
                    "VmHWM of capd alone during the clients (reset before them)",
                ),
            ]);
        }
    }
    rows.push(Row::timed(
        "many: cold `cap prompt` opening each session, stream-json",
        &cold,
        format!(
            "one after another; p99 {}",
            fmt_duration(percentile(&cold, 99))
        ),
    ));
    env.stop_daemon()?;
    Ok(rows)
}
