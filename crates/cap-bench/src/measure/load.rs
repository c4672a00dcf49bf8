//! Load: many clients at once, each sending its prompts one after another over a few shared
//! keys (64 clients × 100 prompts over 8 keys by default), against the instant agent.
//!
//! Besides throughput and latency it checks what load must never do: every reply is the echo
//! of its own prompt (nothing lost or misrouted), each key's turn numbers are exactly
//! 2..=count+1 after its warm-up turn (nothing merged or counted twice), and each client's
//! turns on a key run in the order it sent them (nothing reordered). A violation fails the
//! measurement instead of producing numbers. The e2e suite runs the same checks at 8 × 10
//! (`races::eight_clients_by_ten_prompts_on_shared_keys_lose_misroute_and_reorder_nothing`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

use crate::env::{BenchEnv, CALL_LIMIT, STREAM_JSON_AGENT, result_event};
use crate::proc::{self, Out};
use crate::report::Row;
use crate::stats::{fmt_duration, fmt_mib};
use crate::{Bins, Opts};

/// One answered prompt.
struct Answer {
    client: usize,
    index: usize,
    key: usize,
    /// The agent's turn number, from `ECHO[turns=N]`.
    n: u64,
    wall: Duration,
}

pub fn run(opts: &Opts, bins: &Bins) -> anyhow::Result<Vec<Row>> {
    let (clients, prompts, keys) = (opts.load_clients, opts.load_prompts, opts.load_keys.max(1));
    let mut env = BenchEnv::new(bins, keys * 2)?;
    let pid = env.start_daemon()?;
    let key = |k: usize| format!("load-{k}");
    for k in 0..keys {
        env.warm(STREAM_JSON_AGENT, &key(k))?;
    }
    let (rss_before, _) = memory(pid)?;
    let started = Instant::now();
    let answers = std::thread::scope(|s| {
        let env = &env;
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                s.spawn(move || {
                    (0..prompts)
                        .map(|index| {
                            // Each client walks the keys, so every key sees every client.
                            let k = (client + index) % keys;
                            prompt(env, client, index, k, &key(k))
                        })
                        .collect::<anyhow::Result<Vec<Answer>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a client thread panicked")))
            })
            .collect::<anyhow::Result<Vec<Vec<Answer>>>>()
    })?;
    let took = started.elapsed();
    let (rss_after, peak) = memory(pid)?;
    let answers: Vec<Answer> = answers.into_iter().flatten().collect();
    check_order(&answers, clients, keys)?;
    env.stop_daemon()?;

    let total = answers.len();
    let walls: Vec<Duration> = answers.iter().map(|a| a.wall).collect();
    let what = format!("{clients} clients × {prompts} prompts over {keys} keys");
    Ok(vec![
        Row::value(
            &format!("load, {what}: throughput"),
            format!("{:.0} prompts/s", total as f64 / took.as_secs_f64()),
            format!(
                "{total} prompts in {:.1} s; 0 lost, 0 misrouted, 0 reordered",
                took.as_secs_f64()
            ),
        ),
        Row::timed(
            &format!("load, {what}: per prompt"),
            &walls,
            format!(
                "each process, spawn to exit; p99 {}, max {}",
                fmt_duration(percentile(&walls, 99)),
                fmt_duration(walls.iter().copied().max().unwrap_or_default())
            ),
        ),
        Row::value(
            &format!("load, {what}: capd RSS"),
            format!("{} → {}", fmt_mib(rss_before), fmt_mib(rss_after)),
            format!(
                "VmRSS of capd alone before and after the load; peak (VmHWM) {}",
                fmt_mib(peak)
            ),
        ),
    ])
}

/// Sends one prompt and checks that its reply is the echo of it.
fn prompt(
    env: &BenchEnv,
    client: usize,
    index: usize,
    key: usize,
    key_name: &str,
) -> anyhow::Result<Answer> {
    let text = format!("load c{client} p{index}");
    let r = proc::run(
        env.prompt(STREAM_JSON_AGENT, key_name, &text, true),
        Out::Capture,
        CALL_LIMIT,
    )
    .with_context(|| format!("{text} on {key_name} was lost"))?;
    let result = result_event(&r)?;
    let out = result["output"].as_str().unwrap_or_default();
    let n = out
        .strip_prefix("ECHO[turns=")
        .and_then(|rest| rest.split_once("]: "))
        .filter(|(_, echoed)| *echoed == text)
        .and_then(|(n, _)| n.parse::<u64>().ok())
        .with_context(|| format!("{text} on {key_name} got another reply: {out:?}"))?;
    Ok(Answer {
        client,
        index,
        key,
        n,
        wall: r.wall(),
    })
}

/// Each key's turns are 2..=count+1 (turn 1 warmed it up), and each client's turns on a key
/// increase in the order it sent them.
fn check_order(answers: &[Answer], clients: usize, keys: usize) -> anyhow::Result<()> {
    let mut by_key: BTreeMap<usize, Vec<&Answer>> = BTreeMap::new();
    for a in answers {
        by_key.entry(a.key).or_default().push(a);
    }
    for k in 0..keys {
        let list = by_key.get(&k).map(Vec::as_slice).unwrap_or_default();
        let mut ns: Vec<u64> = list.iter().map(|a| a.n).collect();
        ns.sort_unstable();
        if ns != (2..=list.len() as u64 + 1).collect::<Vec<u64>>() {
            bail!("key load-{k}: turns lost, merged or counted twice: {ns:?}");
        }
        for client in 0..clients {
            let mut mine: Vec<&&Answer> = list.iter().filter(|a| a.client == client).collect();
            mine.sort_by_key(|a| a.index);
            if mine.windows(2).any(|w| w[0].n >= w[1].n) {
                bail!("key load-{k}: client {client}'s turns ran out of order");
            }
        }
    }
    Ok(())
}

/// The nearest-rank percentile `p` (1..=100) of `samples` (zero when there are none).
fn percentile(samples: &[Duration], p: usize) -> Duration {
    let mut s = samples.to_vec();
    s.sort_unstable();
    let rank = (s.len() * p).div_ceil(100).max(1);
    s.get(rank - 1).copied().unwrap_or_default()
}

/// capd's VmRSS and VmHWM in bytes, from /proc/PID/status.
fn memory(pid: u32) -> anyhow::Result<(u64, u64)> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .with_context(|| format!("no {name} line in {path}"))
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(client: usize, index: usize, key: usize, n: u64) -> Answer {
        Answer {
            client,
            index,
            key,
            n,
            wall: Duration::ZERO,
        }
    }

    #[test]
    fn order_checks_catch_lost_duplicated_and_reordered_turns() {
        let good = [answer(0, 0, 0, 2), answer(1, 0, 0, 3), answer(0, 1, 0, 4)];
        assert!(check_order(&good, 2, 1).is_ok());
        let duplicated = [answer(0, 0, 0, 2), answer(1, 0, 0, 2)];
        assert!(check_order(&duplicated, 2, 1).is_err());
        let gap = [answer(0, 0, 0, 2), answer(1, 0, 0, 4)];
        assert!(check_order(&gap, 2, 1).is_err());
        let reordered = [answer(0, 0, 0, 3), answer(0, 1, 0, 2)];
        assert!(check_order(&reordered, 1, 1).is_err());
    }

    #[test]
    fn nearest_rank_percentiles() {
        let ms: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 99), Duration::from_millis(99));
        assert_eq!(percentile(&ms, 50), Duration::from_millis(50));
        assert_eq!(percentile(&[], 99), Duration::ZERO);
    }
}
