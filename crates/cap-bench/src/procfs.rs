//! A process's memory as /proc shows it: the one place the measurements read `VmRSS` and
//! `VmHWM` from, and reset the peak before a measurement that wants its own.

use anyhow::Context;

/// Resident set size (`VmRSS`) in bytes.
pub fn rss(pid: u32) -> anyhow::Result<u64> {
    status_field(pid, "VmRSS:")
}

/// Peak resident set size since start or the last [`reset_peak`] (`VmHWM`), in bytes.
pub fn peak(pid: u32) -> anyhow::Result<u64> {
    status_field(pid, "VmHWM:")
}

/// Resets `VmHWM` to the current resident set (writing 5 to /proc/PID/clear_refs), so a
/// following [`peak`] is the peak of what came after.
pub fn reset_peak(pid: u32) -> anyhow::Result<()> {
    let path = format!("/proc/{pid}/clear_refs");
    std::fs::write(&path, "5").with_context(|| format!("writing {path}"))
}

/// A `kB` field of /proc/PID/status, in bytes.
fn status_field(pid: u32, name: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .with_context(|| format!("no {name} line in {path}"))?;
    Ok(kib * 1024)
}
