//! Large state: capd started on a state file of many remembered keys (300,000 by default,
//! about 71 MiB), then new-key prompts one after another while another thread asks
//! `cap daemon status` back to back, and one `cap keys` listing every record.
//!
//! A new key changes the routing tables, so each of those prompts makes capd save its state.
//! What is measured is whether that save stalls the daemon: how long a new-key prompt takes,
//! and how long a `status` takes while those saves happen (against `status` with nothing
//! saving, measured first). The state file is written by this measurement in capd's own
//! format, never committed.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::env::{BenchEnv, STREAM_JSON_AGENT, expect_echo};
use crate::proc::{self, Out};
use crate::procfs;
use crate::report::Row;
use crate::stats::{fmt_duration, fmt_mib};
use crate::{Bins, Opts};

/// How long one call may take here: a status that waits behind a save of the whole file
/// must still be measured, not killed.
const LIMIT: Duration = Duration::from_secs(120);

pub fn run(opts: &Opts, bins: &Bins) -> anyhow::Result<Vec<Row>> {
    let keys = opts.state_keys;
    let n = opts.state_n;
    let mut env = BenchEnv::new(bins, n + 8)?;
    let state = env.state_file();
    let bytes = write_state(&state, keys, env.work())?;
    let pid = env.start_daemon()?;
    let loaded = procfs::rss(pid)?;
    let status = |env: &BenchEnv| {
        let mut c = env.cap();
        c.args(["daemon", "status"]);
        proc::run(c, Out::Discard, LIMIT).map(|r| r.wall())
    };
    // Nothing is saving yet: the baseline.
    let quiet: Vec<Duration> = (0..n).map(|_| status(&env)).collect::<Result<_, _>>()?;
    let done = AtomicBool::new(false);
    let (prompts, busy) = std::thread::scope(|s| {
        let env = &env;
        let done = &done;
        let poller = s.spawn(move || {
            let mut walls = Vec::new();
            while !done.load(Ordering::Relaxed) {
                walls.push(status(env)?);
            }
            anyhow::Ok(walls)
        });
        let prompts = (0..n)
            .map(|i| {
                let key = format!("bench-new-{i}");
                let r = proc::run(
                    env.prompt(STREAM_JSON_AGENT, &key, "hello", false),
                    Out::Capture,
                    LIMIT,
                )?;
                expect_echo(&r)?;
                Ok(r.wall())
            })
            .collect::<anyhow::Result<Vec<Duration>>>();
        done.store(true, Ordering::Relaxed);
        let busy = poller
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the status thread panicked")));
        (prompts, busy)
    });
    let (prompts, busy) = (prompts?, busy?);
    let peak = procfs::peak(pid)?;
    let mut c = env.cap();
    c.args(["--format", "json", "keys"]);
    let listing = proc::run(c, Out::Capture, LIMIT);
    let keys_row = match listing {
        Ok(r) => {
            let doc: serde_json::Value =
                serde_json::from_slice(&r.stdout).context("`cap keys` printed no JSON")?;
            let listed = doc["records"].as_array().map_or(0, Vec::len);
            if listed < keys {
                bail!("`cap keys` listed {listed} records of {keys}");
            }
            Row::timed(
                &format!("`cap --format json keys`, {keys} keys"),
                &[r.wall()],
                format!(
                    "{listed} records, {} printed",
                    fmt_mib(r.stdout.len() as u64)
                ),
            )
        }
        Err(e) => Row::value(
            &format!("`cap --format json keys`, {keys} keys"),
            "fails".into(),
            format!("{e:#}").chars().take(160).collect::<String>(),
        ),
    };
    env.stop_daemon()?;
    let what = format!("{keys} keys ({} state file)", fmt_mib(bytes));
    Ok(vec![
        Row::timed(
            &format!("new-key `cap prompt`, {what}"),
            &prompts,
            format!(
                "one after another; each new key changes the tables, so capd saves; max {}",
                fmt_duration(max(&prompts))
            ),
        ),
        Row::timed(
            &format!("`cap daemon status`, {what}, nothing saving"),
            &quiet,
            format!(
                "before the new-key prompts; max {}",
                fmt_duration(max(&quiet))
            ),
        ),
        Row::timed(
            &format!("`cap daemon status`, {what}, during the new-key prompts"),
            &busy,
            format!(
                "back to back from another thread while the prompts above run; max {}",
                fmt_duration(max(&busy))
            ),
        ),
        keys_row,
        Row::value(
            &format!("capd RSS, {what}"),
            fmt_mib(loaded),
            format!("VmRSS once loaded; peak (VmHWM) {}", fmt_mib(peak)),
        ),
    ])
}

/// Writes a state file of `keys` keys in capd's format (`serde_json` pretty, as capd saves
/// it), each with one `claude` record in `cwd`; returns its size in bytes.
pub fn write_state(path: &Path, keys: usize, cwd: &Path) -> anyhow::Result<u64> {
    let dir = path.parent().context("state file has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let cwd = serde_json::to_string(&cwd.to_string_lossy()).context("encoding the cwd")?;
    write!(w, "{{\n  \"version\": 1,\n  \"keys\": {{")?;
    for i in 0..keys {
        let sep = if i == 0 { "" } else { "," };
        write!(
            w,
            "{sep}\n    \"bench-key-{i:07}\": {{\n      \"current\": \"claude\",\n      \"agents\": {{\n        \"claude\": {{\n          \"cwd\": {cwd},\n          \"native_id\": \"00000000-0000-4000-8000-{i:012}\",\n          \"model\": null,\n          \"parked\": false\n        }}\n      }}\n    }}"
        )?;
    }
    write!(w, "\n  }}\n}}\n")?;
    w.flush()?;
    Ok(std::fs::metadata(path)?.len())
}

fn max(samples: &[Duration]) -> Duration {
    samples.iter().copied().max().unwrap_or_default()
}
