//! Whole-process cost against a floor: a Rust program that does nothing (`cap-bench-noop`,
//! same release profile), `cap daemon status` and a warm `cap prompt` (stream-json, text),
//! interleaved sample by sample so that a change of load on the machine touches all three
//! alike, and reported as multiples of the floor.

use std::process::Command;
use std::time::Duration;

use anyhow::bail;

use crate::env::{BenchEnv, CALL_LIMIT, STREAM_JSON_AGENT};
use crate::measure::bounded;
use crate::proc::{self, Out};
use crate::report::Row;
use crate::stats::summarize;
use crate::{Bins, Opts};

/// Untimed rounds first: they open the session and warm the page cache for all three.
const WARMUP: usize = 5;

pub fn run(opts: &Opts, bins: &Bins) -> anyhow::Result<Vec<Row>> {
    if !bins.noop.is_file() {
        bail!(
            "{} is missing; build it: cargo build --release -p cap-bench",
            bins.noop.display()
        );
    }
    let mut env = BenchEnv::new(bins, 8)?;
    env.start_daemon()?;
    let key = "exec";
    let round = |i: usize| -> anyhow::Result<[Duration; 3]> {
        let noop = proc::run(Command::new(&bins.noop), Out::Capture, CALL_LIMIT)?.wall();
        let mut c = env.cap();
        c.args(["daemon", "status"]);
        let status = proc::run(c, Out::Capture, CALL_LIMIT)?.wall();
        let prompt = env.ask(STREAM_JSON_AGENT, key, &format!("exec prompt {i}"))?;
        Ok([noop, status, prompt.wall()])
    };
    for i in 0..WARMUP {
        round(i)?;
    }
    let rounds = bounded(opts.n, opts.budget(), round)?;
    env.stop_daemon()?;
    let column = |c: usize| rounds.iter().map(|r| r[c]).collect::<Vec<Duration>>();
    let (noop, status, prompt) = (column(0), column(1), column(2));
    let Some(floor) = summarize(&noop) else {
        bail!("no samples");
    };
    let times = |samples: &[Duration]| {
        summarize(samples).map_or_else(
            || "no samples".to_string(),
            |s| {
                format!(
                    "{:.1}× the floor at the median ({:.1}× at p90)",
                    s.median.as_secs_f64() / floor.median.as_secs_f64(),
                    s.p90.as_secs_f64() / floor.p90.as_secs_f64()
                )
            },
        )
    };
    Ok(vec![
        Row::summary(
            "minimal Rust binary (`cap-bench-noop`), exec to exit",
            floor,
            "the floor: spawn, dynamic loading, Rust runtime start, exit",
        ),
        Row::timed(
            "`cap daemon status`, whole process (same run)",
            &status,
            times(&status),
        ),
        Row::timed(
            "warm `cap prompt`, stream-json, text, whole process (same run)",
            &prompt,
            times(&prompt),
        ),
    ])
}
