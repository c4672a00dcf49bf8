//! Load: many clients at once, each sending its prompts one after another over a few shared
//! keys (64 clients × 100 prompts over 8 keys by default), against the instant agent.
//!
//! Besides throughput and latency it checks what load must never do: every reply is the echo
//! of its own prompt on its own key (nothing lost or misrouted), each key's turn numbers are
//! exactly base+1..=base+count after the turns it had before (nothing merged or counted
//! twice), and each client's turns on a key run in the order it sent them (nothing
//! reordered). Here a violation fails the measurement instead of producing numbers; `many`
//! (many.rs) drives its clients with the same [`drive`] and counts them instead. The e2e
//! suite runs the same checks at 8 × 10
//! (`races::eight_clients_by_ten_prompts_on_shared_keys_lose_misroute_and_reorder_nothing`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use serde_json::Value;

use crate::env::{BenchEnv, CALL_LIMIT, STREAM_JSON_AGENT};
use crate::proc::{self, Out};
use crate::procfs;
use crate::report::Row;
use crate::stats::{fmt_duration, fmt_mib, percentile};
use crate::{Bins, Opts};

/// One answered prompt.
pub struct Answer {
    client: usize,
    index: usize,
    key: usize,
    /// The agent's turn number, from `ECHO[turns=N]`.
    n: u64,
    pub wall: Duration,
}

/// What became of one prompt.
enum Fate {
    Answered(Answer),
    /// No reply: the `cap` process failed, timed out or printed no result.
    Lost(String),
    /// A reply, but not the echo of this prompt on this key.
    Misrouted(String),
}

/// What the clients of one run got back.
pub struct Tally {
    pub answers: Vec<Answer>,
    /// The prompts that got no reply, with why.
    pub lost: Vec<String>,
    /// The replies that were not their prompt's echo on its key, with what came instead.
    pub misrouted: Vec<String>,
    /// First prompt sent to last reply.
    pub took: Duration,
}

impl Tally {
    pub fn walls(&self) -> Vec<Duration> {
        self.answers.iter().map(|a| a.wall).collect()
    }
}

/// Where each prompt goes: prompt `index` of `client` goes to key number `of(client, index)`,
/// which the daemon knows as `name(k)`.
pub struct Keys<'a> {
    pub of: &'a (dyn Fn(usize, usize) -> usize + Sync),
    pub name: &'a (dyn Fn(usize) -> String + Sync),
}

pub fn run(opts: &Opts, bins: &Bins) -> anyhow::Result<Vec<Row>> {
    let (clients, prompts, count) = (opts.load_clients, opts.load_prompts, opts.load_keys.max(1));
    let mut env = BenchEnv::new(bins, count * 2)?;
    let pid = env.start_daemon()?;
    let name = |k: usize| format!("load-{k}");
    for k in 0..count {
        env.warm(STREAM_JSON_AGENT, &name(k))?;
    }
    let rss_before = procfs::rss(pid)?;
    // Each client walks the keys, so every key sees every client.
    let of = |client: usize, index: usize| (client + index) % count;
    let keys = Keys {
        of: &of,
        name: &name,
    };
    let tally = drive(&env, clients, prompts, &keys)?;
    let (rss_after, peak) = (procfs::rss(pid)?, procfs::peak(pid)?);
    env.stop_daemon()?;
    if let Some(e) = tally.lost.first().or(tally.misrouted.first()) {
        bail!(
            "{} lost, {} misrouted; the first: {e}",
            tally.lost.len(),
            tally.misrouted.len()
        );
    }
    if let Some(e) = turn_faults(&tally.answers, clients, count, &|_| 1).first() {
        bail!("{e}");
    }

    let total = tally.answers.len();
    let walls = tally.walls();
    let took = tally.took;
    let what = format!("{clients} clients × {prompts} prompts over {count} keys");
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

/// Runs `clients` clients at once, each sending `prompts` prompts one after another (json
/// format, on the instant stream-json agent) to the keys `keys` says, and sorts every reply
/// into answered, lost or misrouted.
pub fn drive(env: &BenchEnv, clients: usize, prompts: usize, keys: &Keys) -> anyhow::Result<Tally> {
    let started = Instant::now();
    let fates = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|client| {
                s.spawn(move || {
                    (0..prompts)
                        .map(|index| {
                            let k = (keys.of)(client, index);
                            prompt(env, client, index, k, &(keys.name)(k))
                        })
                        .collect::<Vec<Fate>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow!("a client thread panicked")))
            .collect::<anyhow::Result<Vec<Vec<Fate>>>>()
    })?;
    let took = started.elapsed();
    let mut tally = Tally {
        answers: Vec::new(),
        lost: Vec::new(),
        misrouted: Vec::new(),
        took,
    };
    for fate in fates.into_iter().flatten() {
        match fate {
            Fate::Answered(a) => tally.answers.push(a),
            Fate::Lost(e) => tally.lost.push(e),
            Fate::Misrouted(e) => tally.misrouted.push(e),
        }
    }
    Ok(tally)
}

/// Sends one prompt carrying its own token (client and index) and checks that the reply is
/// its echo, on the key it was sent to.
fn prompt(env: &BenchEnv, client: usize, index: usize, key: usize, key_name: &str) -> Fate {
    let text = format!("load c{client} p{index}");
    let r = match proc::run(
        env.prompt(STREAM_JSON_AGENT, key_name, &text, true),
        Out::Capture,
        CALL_LIMIT,
    ) {
        Ok(r) => r,
        Err(e) => return Fate::Lost(format!("{text} on {key_name}: {e:#}")),
    };
    let events: Vec<Value> = r
        .text()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let Some(result) = events.iter().rev().find(|v| v["type"] == "result") else {
        return Fate::Lost(format!("{text} on {key_name}: no result event"));
    };
    let routed = events
        .iter()
        .find(|v| v["type"] == "session")
        .and_then(|v| v["key"].as_str());
    if routed != Some(key_name) {
        return Fate::Misrouted(format!("{text} on {key_name} ran on key {routed:?}"));
    }
    let out = result["output"].as_str().unwrap_or_default();
    let n = out
        .strip_prefix("ECHO[turns=")
        .and_then(|rest| rest.split_once("]: "))
        .filter(|(_, echoed)| *echoed == text)
        .and_then(|(n, _)| n.parse::<u64>().ok());
    match n {
        Some(n) => Fate::Answered(Answer {
            client,
            index,
            key,
            n,
            wall: r.wall(),
        }),
        None => Fate::Misrouted(format!("{text} on {key_name} got another reply: {out:?}")),
    }
}

/// What is wrong with the turn numbers: each key's turns must be base+1..=base+count, `base`
/// being the turns it had before, and each client's turns on a key must increase in the
/// order it sent them. One line per key at fault.
pub fn turn_faults(
    answers: &[Answer],
    clients: usize,
    keys: usize,
    base: &dyn Fn(usize) -> u64,
) -> Vec<String> {
    let mut by_key: BTreeMap<usize, Vec<&Answer>> = BTreeMap::new();
    for a in answers {
        by_key.entry(a.key).or_default().push(a);
    }
    let mut faults = Vec::new();
    for k in 0..keys {
        let list = by_key.get(&k).map(Vec::as_slice).unwrap_or_default();
        let mut ns: Vec<u64> = list.iter().map(|a| a.n).collect();
        ns.sort_unstable();
        let first = base(k) + 1;
        if ns != (first..first + list.len() as u64).collect::<Vec<u64>>() {
            faults.push(format!(
                "key {k}: turns lost, merged or counted twice: {ns:?}"
            ));
            continue;
        }
        for client in 0..clients {
            let mut mine: Vec<&&Answer> = list.iter().filter(|a| a.client == client).collect();
            mine.sort_by_key(|a| a.index);
            if mine.windows(2).any(|w| w[0].n >= w[1].n) {
                faults.push(format!("key {k}: client {client}'s turns ran out of order"));
                break;
            }
        }
    }
    faults
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
    fn turn_checks_catch_lost_duplicated_and_reordered_turns() {
        let one = |_| 1;
        let good = [answer(0, 0, 0, 2), answer(1, 0, 0, 3), answer(0, 1, 0, 4)];
        assert!(turn_faults(&good, 2, 1, &one).is_empty());
        let duplicated = [answer(0, 0, 0, 2), answer(1, 0, 0, 2)];
        assert_eq!(turn_faults(&duplicated, 2, 1, &one).len(), 1);
        let gap = [answer(0, 0, 0, 2), answer(1, 0, 0, 4)];
        assert_eq!(turn_faults(&gap, 2, 1, &one).len(), 1);
        let reordered = [answer(0, 0, 0, 3), answer(0, 1, 0, 2)];
        assert_eq!(turn_faults(&reordered, 1, 1, &one).len(), 1);
        // Another base: a key that had three turns before goes on at four.
        let later = [answer(0, 0, 0, 4), answer(0, 1, 0, 5)];
        assert!(turn_faults(&later, 1, 1, &|_| 3).is_empty());
        assert_eq!(turn_faults(&later, 1, 1, &one).len(), 1);
    }
}
