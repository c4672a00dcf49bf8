//! An agent child process in its own process group, with line I/O and a group kill on drop.
//!
//! Agents spawn helpers (Claude Code's children, npm wrappers, Gemini's relaunch), and killing
//! only the direct child orphans them. Every agent therefore leads a fresh process group, and
//! every way a session ends, a normal end, a crash of the actor or a dropped start, ends the
//! whole group: [`AgentProcess`] kills it when dropped.

use super::lines::{Lines, Segment};
use crate::agents::AgentSpec;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// How much of an agent's stderr is kept for error messages.
const STDERR_TAIL: usize = 4096;

/// The longest stderr line read whole; longer ones are noted, not kept.
const STDERR_LINE: usize = 64 * 1024;

/// A running agent process.
pub struct AgentProcess {
    child: Child,
    pgid: Option<Pid>,
    stdin: Option<mpsc::UnboundedSender<Vec<u8>>>,
    stderr: Arc<Mutex<VecDeque<u8>>>,
}

impl AgentProcess {
    /// Spawns `spec` with `extra_args` in `cwd`, in a new process group, with the agent's
    /// explicit environment. Returns the process and its stdout lines.
    pub fn spawn(
        spec: &AgentSpec,
        extra_args: &[String],
        cwd: &Path,
    ) -> std::io::Result<(AgentProcess, Lines)> {
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .args(extra_args)
            .current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        agent_env(&mut cmd, spec);
        die_with_daemon(&mut cmd);
        let mut child = cmd.spawn()?;
        let pgid = child.id().map(|p| Pid::from_raw(p as i32));
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("agent stdout missing"))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("agent stdin missing"))?;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(err) = child.stderr.take() {
            tokio::spawn(collect_stderr(err, stderr_tail.clone(), spec.name.clone()));
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(write_stdin(stdin, rx));
        let lines = Lines::new(stdout);
        Ok((
            AgentProcess {
                child,
                pgid,
                stdin: Some(tx),
                stderr: stderr_tail,
            },
            lines,
        ))
    }

    /// A [`Writer`] for the agent's stdin.
    pub fn writer(&self) -> Writer {
        Writer(self.stdin.as_ref().map(|s| s.downgrade()), None)
    }

    /// The agent's pid (the process group id).
    pub fn pid(&self) -> Option<u32> {
        self.pgid.map(|p| p.as_raw() as u32)
    }

    /// Whether the leader is still running.
    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last few KiB the agent wrote on stderr, for error messages.
    pub fn stderr_tail(&self) -> String {
        let tail = self
            .stderr
            .lock()
            .map(|t| t.iter().copied().collect::<Vec<u8>>());
        String::from_utf8_lossy(&tail.unwrap_or_default())
            .trim()
            .to_string()
    }

    /// Waits for the leader to exit and returns its exit code, if it had one.
    pub async fn wait(&mut self) -> Option<i32> {
        self.child.wait().await.ok().and_then(|s| s.code())
    }

    /// Ends the agent politely: close stdin, give it `grace` to exit, then SIGTERM the group,
    /// then SIGKILL it. Helpers left in the group are killed even when the leader exited.
    pub async fn shutdown(mut self, grace: Duration) {
        self.stdin = None;
        if tokio::time::timeout(grace, self.child.wait())
            .await
            .is_err()
        {
            self.signal(Signal::SIGTERM);
            if tokio::time::timeout(Duration::from_secs(2), self.child.wait())
                .await
                .is_err()
            {
                self.signal(Signal::SIGKILL);
                let _ = self.child.wait().await;
            }
        }
        // Drop sends the final SIGKILL to whatever is left in the group.
    }

    fn signal(&self, sig: Signal) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, sig);
        }
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
    }
}

/// Asks the kernel to SIGKILL the agent if capd itself dies without ending its sessions
/// (SIGKILL, OOM). An agent in the middle of a turn may not notice its stdin closing (Claude
/// Code finishes the turn first), and nothing else would ever end it.
///
/// The signal fires when the *thread* that spawned the child exits; agents are spawned from
/// the runtime's worker threads, which live as long as the daemon.
#[cfg(target_os = "linux")]
fn die_with_daemon(cmd: &mut Command) {
    // SAFETY: the closure runs between fork and exec and only makes one async-signal-safe
    // system call (prctl); it allocates nothing and takes no locks.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_daemon(_cmd: &mut Command) {}

/// The agent's environment: the daemon's, minus cap's own variables, plus the agent's table.
///
/// As root, Claude Code refuses `bypassPermissions` unless `IS_SANDBOX=1`, and the ACP
/// adapters break on any other non-empty value (such as `yes`), so it is normalised to `1`.
fn agent_env(cmd: &mut Command, spec: &AgentSpec) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("CAP_") {
            cmd.env_remove(&k);
        }
    }
    if nix::unistd::geteuid().is_root() {
        cmd.env("IS_SANDBOX", "1");
    } else if std::env::var_os("IS_SANDBOX").is_some() {
        cmd.env_remove("IS_SANDBOX");
    }
    cmd.envs(&spec.env);
}

/// Queues JSON messages for an agent's stdin, one line each. Every write to an agent goes
/// through here, the driver's turns and cancels as well as the reader task's answers to the
/// agent's requests: serde makes each line whole, so no message is ever split or merged, and
/// no non-JSON line, which kills Claude Code (docs/protocols.md), can be written.
///
/// It holds the stdin queue weakly, so that the copy held by the reader task does not keep the
/// agent's stdin open once the [`AgentProcess`] is shut down or dropped.
///
/// A session on a shared agent process writes through a [`Writer`] tagged with its slot on
/// the host (`super::host`), which moves its request ids into the slot's own range.
#[derive(Clone)]
pub struct Writer(
    Option<mpsc::WeakUnboundedSender<Vec<u8>>>,
    Option<Arc<super::host::Tag>>,
);

impl Writer {
    /// A writer whose lines go nowhere: for fuzzing a reader, where nobody answers.
    pub(crate) fn detached() -> Writer {
        Writer(None, None)
    }

    /// A writer onto a queue of lines, for tests that read what a driver writes.
    #[cfg(test)]
    pub(crate) fn to_queue(queue: &mpsc::UnboundedSender<Vec<u8>>) -> Writer {
        Writer(Some(queue.downgrade()), None)
    }

    /// This writer, for one session of a shared agent process.
    pub(crate) fn tagged(&self, tag: Arc<super::host::Tag>) -> Writer {
        Writer(self.0.clone(), Some(tag))
    }

    /// Queues `msg` as one line. Fails once the agent's stdin is closed.
    pub fn send(&self, msg: &serde_json::Value) -> std::io::Result<()> {
        let mut line = match &self.1 {
            Some(tag) => tag.outgoing(msg).to_string().into_bytes(),
            None => msg.to_string().into_bytes(),
        };
        line.push(b'\n');
        self.0
            .as_ref()
            .and_then(|w| w.upgrade())
            .and_then(|tx| tx.send(line).ok())
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "agent stdin closed")
            })
    }
}

async fn write_stdin(mut stdin: ChildStdin, mut rx: mpsc::UnboundedReceiver<Vec<u8>>) {
    while let Some(line) = rx.recv().await {
        if stdin.write_all(&line).await.is_err() || stdin.flush().await.is_err() {
            break;
        }
    }
    // Dropping stdin closes the pipe: the agent sees EOF.
}

/// Keeps the tail of the agent's stderr, line by line. Lines are bounded like stdout's: an
/// agent that writes megabytes without a newline on stderr must not grow the daemon either.
async fn collect_stderr(
    err: tokio::process::ChildStderr,
    tail: Arc<Mutex<VecDeque<u8>>>,
    agent: String,
) {
    let mut lines = Lines::with_limit(err, STDERR_LINE);
    while let Ok(Some(segment)) = lines.next_segment().await {
        let line = match segment {
            Segment::Line(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Segment::Oversized(lost) => format!("[a stderr line of {} bytes, dropped]", lost.len),
        };
        tracing::debug!(agent = %agent, "stderr: {line}");
        if let Ok(mut t) = tail.lock() {
            t.extend(line.as_bytes());
            t.push_back(b'\n');
            while t.len() > STDERR_TAIL {
                t.pop_front();
            }
        }
    }
}
