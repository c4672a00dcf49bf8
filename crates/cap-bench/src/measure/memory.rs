//! Daemon memory per session: capd's resident set (VmRSS, the daemon process alone; the fake
//! agents are separate processes and not counted) idle, then with 8 and with 32 warm sessions.
//! Opening those sessions also gives the cost of a cold prompt (one that spawns an agent).

use std::time::Duration;

use crate::env::{BenchEnv, STREAM_JSON_AGENT};
use crate::procfs;
use crate::report::Row;
use crate::stats::fmt_mib;
use crate::{Bins, Opts};

/// The session counts RSS is read at, after the idle reading.
const STEPS: [usize; 2] = [8, 32];

pub fn run(_opts: &Opts, bins: &Bins) -> anyhow::Result<Vec<Row>> {
    let mut env = BenchEnv::new(bins, STEPS[STEPS.len() - 1] * 2)?;
    let pid = env.start_daemon()?;
    let idle = procfs::rss(pid)?;
    let mut rows = vec![Row::value(
        "capd RSS, idle (0 sessions)",
        fmt_mib(idle),
        "VmRSS of capd alone",
    )];
    let mut cold: Vec<Duration> = Vec::new();
    let mut open = 0;
    for step in STEPS {
        while open < step {
            cold.push(env.warm(STREAM_JSON_AGENT, &format!("mem-{open}"))?.wall());
            open += 1;
        }
        let rss = procfs::rss(pid)?;
        let per = rss.saturating_sub(idle) / step as u64;
        rows.push(Row::value(
            &format!("capd RSS, {step} warm sessions"),
            fmt_mib(rss),
            format!("≈ {} KiB per session over idle", per / 1024),
        ));
    }
    rows.push(Row::timed(
        "cold `cap prompt` (new key: spawns the fake agent), stream-json",
        &cold,
        "the prompts that opened the sessions above",
    ));
    env.stop_daemon()?;
    Ok(rows)
}
