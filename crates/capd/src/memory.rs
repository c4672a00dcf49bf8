//! What the agents cost in memory, and the limit on it (`max_agent_memory`).
//!
//! An agent is rarely one process: Claude Code runs node plus its tools, OpenCode a server and
//! its children. Every agent runs in its own process group (`drivers::process`), so the
//! honest figure is the resident memory of the whole group: one pass over `/proc` sums each
//! process's RSS by its process group, and a session's figure is its group's sum.
//!
//! A sampler task (started by `capd::run`) takes that pass every [`SAMPLE_EVERY`], publishes
//! the figures as a [`Usage`] snapshot that `sessions`, `daemon status` and `agents` read, and
//! asks the daemon to evict idle sessions while the agents together exceed the limit. Only
//! Linux has `/proc`; elsewhere nothing is measured, so nothing is shown or evicted.

use crate::daemon::Daemon;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How often the agents' memory is measured. A pass reads one small file per process on the
/// machine (about a millisecond for a few hundred processes).
pub const SAMPLE_EVERY: Duration = Duration::from_secs(2);

/// The last measurement, published by the sampler.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Session id → resident bytes of its agent's process group.
    pub sessions: HashMap<String, u64>,
    /// What the agents hold together: each process once, shared ones too, and the spares.
    pub total: u64,
    /// Agent name → the largest process group of it measured since the daemon started: what
    /// one more session of that agent is likely to cost (`cap agents`).
    pub footprint: BTreeMap<String, u64>,
}

/// Measures every [`SAMPLE_EVERY`] until the daemon shuts down ([`Daemon::measured`]).
pub async fn sampler(d: Arc<Daemon>) {
    let mut stop = d.shutdown.subscribe();
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        // Reading /proc is blocking file I/O: off the runtime's threads.
        if let Ok(groups) = tokio::task::spawn_blocking(by_group).await {
            d.measured(&groups);
        }
    }
}

/// Resident bytes per process group, over every process this user can see.
pub fn by_group() -> HashMap<u32, u64> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    let page = page_size();
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        // A process may exit between the listing and the read: skip it.
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some((pgrp, pages)) = parse_stat(&stat) {
            *out.entry(pgrp).or_default() += pages * page;
        }
    }
    out
}

/// The process group and resident pages of a `/proc/PID/stat` line. The command name (field
/// 2) is in parentheses and may hold spaces or parentheses itself, so fields are counted
/// from the last `)`: after it come state (3), ppid (4), pgrp (5), … rss (24).
fn parse_stat(stat: &str) -> Option<(u32, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let pgrp = fields.get(2)?.parse().ok()?;
    let rss: i64 = fields.get(21)?.parse().ok()?;
    Some((pgrp, u64::try_from(rss).unwrap_or(0)))
}

fn page_size() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| u64::try_from(p).ok())
        .unwrap_or(4096)
}

/// The machine's memory, from `/proc/meminfo`.
pub fn machine_total() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Parses a size: a whole number of bytes, or a number with a unit (`512MiB`, `4G`, `1.5GiB`).
/// K, M, G and T mean the binary multiples, with or without `iB`/`B`, as memory is counted.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size; write it as bytes or like \"4GiB\""))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}; use KiB, MiB, GiB or TiB"
            ));
        }
    };
    let bytes = n * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_count_from_the_last_parenthesis() {
        let stat = "4242 (we ird) (name) S 1 4200 4200 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 \
                    100 123456789 777 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(parse_stat(stat), Some((4200, 777)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) S 1"), None);
    }

    #[test]
    fn this_process_is_measured_in_its_group() {
        let groups = by_group();
        let own = nix::unistd::getpgrp().as_raw() as u32;
        assert!(groups.get(&own).is_some_and(|b| *b > 0), "{groups:?}");
        assert!(machine_total().is_some_and(|m| m > 0));
    }

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("512 MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("2k"), Ok(2048));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("3 parsecs").is_err());
        assert!(parse_size("").is_err());
    }
}
