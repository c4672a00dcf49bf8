//! acpx 0.19.1 (the competitor) on the same fake ACP agent, for the side-by-side warm prompt.
//!
//! acpx is installed with npm into the cache directory on first use. Its process model
//! (docs/protocols.md, "acpx"): `sessions new` records a session for the cwd, the first
//! `prompt` starts a detached queue owner that keeps the agent warm, later prompts talk to the
//! owner over a Unix socket. The owner outlives every CLI call, so [`Acpx`] closes the session
//! when done and, should that fail, kills the owner's process group named in its lock file.
//! HOME points into a temporary directory so acpx's records stay there; its socket directory
//! is fixed at `/tmp/acpx-<hash of HOME>`, so that one is removed after the close.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::machine::version;
use crate::measure::bounded;
use crate::proc::{self, Out, Run};
use crate::report::Row;
use crate::{Bins, Opts};

/// The pinned competitor version.
pub const VERSION: &str = "0.19.1";
/// Deadline of one acpx call; a warm prompt takes about 1.3 s, a cold one about 2–3 s.
const CALL_LIMIT: Duration = Duration::from_secs(60);
/// Deadline of the npm install.
const INSTALL_LIMIT: Duration = Duration::from_secs(300);
/// Idle time after which the queue owner exits by itself: a safety net should both the close
/// and the kill below fail. Long enough never to expire between two prompts of the run.
const OWNER_TTL_SECS: &str = "120";
/// How long a closed queue owner may take to exit before it is killed.
const OWNER_EXIT_GRACE: Duration = Duration::from_secs(5);

pub fn run(opts: &Opts, bins: &Bins) -> anyhow::Result<Vec<Row>> {
    let label = format!("acpx {VERSION} warm prompt, ACP, text");
    let bin = match install(&opts.cache) {
        Ok(bin) => bin,
        Err(e) => {
            return Ok(vec![Row::note(
                &label,
                &format!("acpx could not run here: {e:#}"),
            )]);
        }
    };
    let acpx = Acpx::new(&bin, bins)?;
    acpx.call(&["sessions", "new"])?;
    let cold = acpx.prompt("cold prompt")?;
    let warm = bounded(opts.acpx_n, opts.budget(), |i| {
        acpx.prompt(&format!("bench prompt {i}")).map(|r| r.wall())
    })?;
    acpx.close();
    Ok(vec![
        Row::timed(
            &label,
            &warm,
            "same fake agent; acpx waits for 1 s of silence after the reply",
        ),
        Row::value(
            &format!("acpx {VERSION} first prompt (starts its queue owner)"),
            crate::stats::fmt_duration(cold.wall()),
            "after `sessions new`",
        ),
    ])
}

/// The acpx executable in the cache, installed with npm when missing.
fn install(cache: &Path) -> anyhow::Result<PathBuf> {
    let prefix = cache.join("acpx");
    let bin = prefix.join("node_modules").join(".bin").join("acpx");
    if !bin.is_file() {
        crate::progress(&format!(
            "installing acpx@{VERSION} into {}",
            prefix.display()
        ));
        std::fs::create_dir_all(&prefix)
            .with_context(|| format!("creating {}", prefix.display()))?;
        let mut npm = Command::new("npm");
        npm.arg("install")
            .arg("--prefix")
            .arg(&prefix)
            .args(["--no-audit", "--no-fund", "--loglevel=error"])
            .arg(format!("acpx@{VERSION}"));
        proc::run(npm, Out::Capture, INSTALL_LIMIT).context("npm install acpx")?;
    }
    let found = version(&bin);
    if found.trim() != VERSION {
        bail!(
            "{} reports version {found:?}, want {VERSION}",
            bin.display()
        );
    }
    Ok(bin)
}

/// acpx driving the fake ACP agent from a temporary home and cwd.
struct Acpx {
    dir: tempfile::TempDir,
    bin: PathBuf,
    agent: String,
    closed: std::cell::Cell<bool>,
}

impl Acpx {
    fn new(bin: &Path, bins: &Bins) -> anyhow::Result<Acpx> {
        let dir = tempfile::Builder::new()
            .prefix("cap-bench-acpx.")
            .tempdir()
            .context("creating a temporary directory")?;
        for sub in ["home", "work", "fake"] {
            std::fs::create_dir_all(dir.path().join(sub))
                .with_context(|| format!("creating {sub} under {}", dir.path().display()))?;
        }
        let fake = bins.fake.to_string_lossy();
        if fake.contains(char::is_whitespace) {
            bail!("acpx's --agent is split on whitespace; move {fake} to a path without spaces");
        }
        Ok(Acpx {
            dir,
            bin: bin.to_path_buf(),
            agent: format!("{fake} acp"),
            closed: std::cell::Cell::new(false),
        })
    }

    /// `acpx --agent '<fake> acp' --ttl T ARGS…`; the agent inherits this environment.
    fn command(&self, args: &[&str]) -> Command {
        let root = self.dir.path();
        let mut c = Command::new(&self.bin);
        c.current_dir(root.join("work"))
            .env("HOME", root.join("home"))
            .env("FAKE_AGENT_HOME", root.join("fake"))
            .env("NO_COLOR", "1")
            .args(["--agent", &self.agent, "--ttl", OWNER_TTL_SECS])
            .args(args);
        c
    }

    fn call(&self, args: &[&str]) -> anyhow::Result<Run> {
        proc::run(self.command(args), Out::Capture, CALL_LIMIT)
    }

    /// One prompt in text format; fails unless the fake's echo came back.
    fn prompt(&self, text: &str) -> anyhow::Result<Run> {
        let r = self.call(&["prompt", text])?;
        if !r.text().contains("ECHO[turns=") {
            bail!("unexpected acpx reply: {:?}", r.text());
        }
        Ok(r)
    }

    /// Closes the session (ending the queue owner and its agent), then kills any owner still
    /// alive. Reports problems but never fails: it runs on the way out.
    fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        // Read before the close, which removes the lock files.
        let owners = self.owners();
        if let Err(e) = self.call(&["sessions", "close"]) {
            eprintln!("cap-bench: acpx sessions close: {e:#}");
        }
        for owner in &owners {
            let pid = owner.pid;
            // The close asks the owner to exit; give it a moment before forcing it.
            let deadline = Instant::now() + OWNER_EXIT_GRACE;
            while is_queue_owner(pid) && alive(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            if !is_queue_owner(pid) || !alive(pid) {
                continue;
            }
            // The owner leads its own process group, with the agent in it.
            let target = if pgid(pid) == Some(pid) {
                -(pid as i32)
            } else {
                pid as i32
            };
            eprintln!("cap-bench: killing acpx queue owner {pid} left running");
            let _ = kill(Pid::from_raw(target), Signal::SIGKILL);
        }
        for dir in owners.iter().filter_map(|o| o.socket_dir.as_ref()) {
            // Only ever an empty directory: remove_dir refuses anything else.
            let _ = std::fs::remove_dir(dir);
        }
    }

    /// The queue owners recorded in the lock files under this HOME.
    fn owners(&self) -> Vec<Owner> {
        let queues = self.dir.path().join("home").join(".acpx").join("queues");
        let Ok(entries) = std::fs::read_dir(&queues) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| std::fs::read(e.path()).ok())
            .filter_map(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .filter_map(|v| {
                let pid = v["pid"].as_u64().and_then(|p| u32::try_from(p).ok())?;
                let socket_dir = v["socketPath"]
                    .as_str()
                    .and_then(|p| Path::new(p).parent())
                    .filter(|d| {
                        d.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("acpx-"))
                    })
                    .map(Path::to_path_buf);
                Some(Owner { pid, socket_dir })
            })
            .collect()
    }
}

/// A queue owner's lock file: its pid and the directory of its socket.
struct Owner {
    pid: u32,
    socket_dir: Option<PathBuf>,
}

/// Whether a pid (still) names an acpx queue owner, so a recycled pid is never killed.
fn is_queue_owner(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("__queue-owner"))
        .unwrap_or(false)
}

impl Drop for Acpx {
    fn drop(&mut self) {
        self.close();
    }
}

/// Whether a process exists and is not a zombie.
fn alive(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| !matches!(f.first().map(String::as_str), Some("Z" | "X")))
}

/// A process's group id.
fn pgid(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(2)?.parse().ok()
}

/// The fields of /proc/PID/stat after the parenthesised command name (state, ppid, pgrp, …).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    Some(rest.split_whitespace().map(str::to_string).collect())
}
