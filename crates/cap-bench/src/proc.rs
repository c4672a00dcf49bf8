//! Running one child process with a wall-clock measurement and a hard deadline.
//!
//! The clock starts right before `spawn` and stops right after the child has been reaped, so
//! a sample is what a shell user waits for: process start, the work, and exit. A child past
//! its deadline is killed, so no measurement can hang the run.

use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Where the child's stdout goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Out {
    /// Read into memory (to check the reply).
    Capture,
    /// `/dev/null`, so the reader costs nothing.
    Discard,
}

/// One finished run.
#[derive(Debug)]
pub struct Run {
    pub started: Instant,
    pub ended: Instant,
    pub stdout: Vec<u8>,
}

impl Run {
    /// Spawn to reap.
    pub fn wall(&self) -> Duration {
        self.ended - self.started
    }

    /// Stdout as text (lossy: only ever inspected, never parsed byte-exactly).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
}

/// Runs `cmd` to completion; fails when it cannot start, exits non-zero (its stderr is in the
/// error) or outlives `limit` (it is then killed).
pub fn run(mut cmd: Command, out: Out, limit: Duration) -> anyhow::Result<Run> {
    let what = describe(&cmd);
    cmd.stdin(Stdio::null()).stderr(Stdio::piped());
    cmd.stdout(match out {
        Out::Capture => Stdio::piped(),
        Out::Discard => Stdio::null(),
    });
    let started = Instant::now();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    let pid = child.id();
    // Reaping happens on a helper thread so this one can enforce the deadline; the end time
    // is taken there, right after the child is reaped.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let output = child.wait_with_output();
        let _ = tx.send((output, Instant::now()));
    });
    let (output, ended) = match rx.recv_timeout(limit) {
        Ok(done) => done,
        Err(_) => {
            // Not reaped yet, so the pid still names our child.
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            let _ = rx.recv_timeout(Duration::from_secs(5));
            bail!("{what} did not finish within {} s", limit.as_secs());
        }
    };
    let output = output.with_context(|| format!("waiting for {what}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(Run {
        started,
        ended,
        stdout: output.stdout,
    })
}

/// A short description of a command for error messages: the program's file name and args.
fn describe(cmd: &Command) -> String {
    let program = std::path::Path::new(cmd.get_program())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let args: Vec<String> = cmd
        .get_args()
        .map(|a| {
            let a = a.to_string_lossy();
            if a.chars().count() > 40 {
                format!("{}…", a.chars().take(40).collect::<String>())
            } else {
                a.into_owned()
            }
        })
        .collect();
    format!("`{program} {}`", args.join(" "))
}
