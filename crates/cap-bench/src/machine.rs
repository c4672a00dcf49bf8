//! What the numbers were measured on: they mean little without the machine and versions.
//! Read from /proc and `--version` outputs; anything unreadable is shown as unknown rather
//! than stopping the run.

use std::ffi::OsStr;
use std::process::Command;
use std::time::Duration;

use crate::Bins;
use crate::proc::{Out, run};

/// Lines describing the machine, the binaries and the load when the run started.
pub fn describe(bins: &Bins) -> Vec<String> {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let model = proc_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown".into());
    let mem = proc_field("/proc/meminfo", "MemTotal")
        .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| format!("{:.0} GiB", kib as f64 / (1024.0 * 1024.0)))
        .unwrap_or_else(|| "unknown".into());
    let kernel = read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_else(|| "unknown".into());
    let load = read_trimmed("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into());
    vec![
        format!("machine: {cpus} CPUs ({model}), {mem} RAM, Linux {kernel}"),
        format!("load average at start: {load}"),
        format!("cap: {}", version(&bins.cap)),
        format!("node: {}", version("node")),
    ]
}

/// The first line `PROGRAM --version` prints, or why there is none.
pub fn version(program: impl AsRef<OsStr>) -> String {
    let mut c = Command::new(program);
    c.arg("--version");
    match run(c, Out::Capture, Duration::from_secs(30)) {
        Ok(r) => r.text().lines().next().unwrap_or("").trim().to_string(),
        Err(e) => format!("unavailable ({e:#})"),
    }
}

/// A `key : value` field of a /proc file (the first occurrence).
fn proc_field(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

fn read_trimmed(path: &str) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}
