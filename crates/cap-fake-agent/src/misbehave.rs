//! Misbehaviours for the chaos, race and misbehaving-agent tests (stream-json front end):
//! a turn that stalls once so a test can kill something mid-turn, a line too long to buffer,
//! a flood of garbage, a closed stdout with the process still alive, helpers left behind by an
//! agent that exits, and an agent that only SIGKILL ends.
//!
//! Words in the prompt:
//!
//! - `STALLONCE`: the first time a session gets this exact text, stream the first chunk of the
//!   reply, then hang (interruptibly) until killed or cancelled. The same text again (a retry
//!   after a respawn) streams normally, so a test can kill the agent, or capd, at a moment it
//!   knows is mid-turn.
//! - `LONGLINE`: write `FAKE_LONGLINE_BYTES` (default 100 MiB) on stdout without a newline,
//!   then hang until killed (an interrupt is not answered).
//! - `FLOOD`: write `FAKE_FLOOD_BYTES` (default 64 MiB) of non-JSON lines of 64 KiB, then hang
//!   (interruptibly).
//! - `CLOSESTDOUT`: close stdout (it becomes `/dev/null`) and stay alive until killed.
//! - `BADSTDERR`: write a line that is not UTF-8 on stderr, then 256 KiB more (more than a
//!   pipe holds), then reply normally. If nobody reads stderr any more the writes fail, and
//!   the agent exits with code 4, like an agent that dies of EPIPE.
//! - `FORKEXIT`: start `FAKE_HELPERS` (default 3) `sleep 1000` helpers in the agent's process
//!   group, append their pids to `<home>/helpers.pids`, and exit mid-turn. With
//!   `FAKE_HELPERS_KEEP_STDOUT=1` the helpers hold the agent's stdout and stderr open.
//!
//! Environment:
//!
//! - `FAKE_STUBBORN=1`: ignore SIGTERM, SIGINT and SIGHUP, and keep running after stdin closes:
//!   only SIGKILL ends the process.
//! - `FAKE_ONLY_GARBAGE=1`: answer every input line with non-JSON lines, and nothing else (the
//!   agent never becomes ready).

use std::io::{self, Write};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use crate::common::{
    Agent, Flow, GARBAGE_LINES, Hang, Home, Input, NORMAL_CHUNKS, Stream, emit_raw, env_flag,
    env_usize, exit_now, split_chunks,
};

/// Default size of the `LONGLINE` line.
pub const LONGLINE_DEFAULT: usize = 100 * 1024 * 1024;
/// Default size of the `FLOOD` garbage.
pub const FLOOD_DEFAULT: usize = 64 * 1024 * 1024;
/// Length of one `FLOOD` line.
const FLOOD_LINE: usize = 64 * 1024;
/// Default number of `FORKEXIT` helpers.
const HELPERS_DEFAULT: usize = 3;

/// What a turn's text asks for beyond [`crate::common::Plan`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Misbehave {
    /// `STALLONCE`, and this is the first time this text reaches this session.
    pub stall: bool,
    pub longline: bool,
    pub flood: bool,
    pub close_stdout: bool,
    pub fork_exit: bool,
    pub bad_stderr: bool,
}

impl Misbehave {
    /// Reads the words; consumes the `STALLONCE` marker of (`session_id`, text) in `home`.
    pub fn new(text: &str, home: &Home, session_id: &str) -> Misbehave {
        let has = |w: &str| text.contains(w);
        Misbehave {
            stall: has("STALLONCE")
                && home.marker_first_time(session_id, &format!("stallonce-{:016x}", fnv(text))),
            longline: has("LONGLINE"),
            flood: has("FLOOD"),
            close_stdout: has("CLOSESTDOUT"),
            fork_exit: has("FORKEXIT"),
            bad_stderr: has("BADSTDERR"),
        }
    }

    /// Does what must happen before the reply streams. Returns only when the turn goes on;
    /// `LONGLINE`, `CLOSESTDOUT` and `FORKEXIT` never return.
    pub fn act(&self, home: &Home) {
        if self.fork_exit {
            spawn_helpers(home, env_usize("FAKE_HELPERS").unwrap_or(HELPERS_DEFAULT));
            eprintln!("cap-fake-agent: FORKEXIT requested, exiting mid-turn with helpers left");
            exit_now(3);
        }
        if self.longline {
            write_long_line(env_usize("FAKE_LONGLINE_BYTES").unwrap_or(LONGLINE_DEFAULT));
            hang_forever();
        }
        if self.close_stdout {
            close_stdout();
            hang_forever();
        }
        if self.flood {
            flood(env_usize("FAKE_FLOOD_BYTES").unwrap_or(FLOOD_DEFAULT));
        }
        if self.bad_stderr {
            bad_stderr();
        }
    }

    /// How the reply streams instead of the plan's way, if this turn changes it.
    pub fn stream(&self, reply: &str) -> Option<Stream> {
        if self.stall {
            let first = split_chunks(reply, NORMAL_CHUNKS)
                .into_iter()
                .take(1)
                .collect();
            return Some(Stream::new(first, Duration::ZERO, Hang::Interruptible));
        }
        if self.flood {
            return Some(Stream::new(Vec::new(), Duration::ZERO, Hang::Interruptible));
        }
        None
    }
}

/// FNV-1a, to name a marker after a prompt's text.
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Blocks the main thread until the process is killed.
fn hang_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// `bytes` of `x` on stdout with no newline. A closed stdout ends the process.
fn write_long_line(bytes: usize) {
    let block = vec![b'x'; 1024 * 1024];
    let mut out = io::stdout().lock();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len());
        if out.write_all(&block[..n]).is_err() {
            exit_now(1);
        }
        left -= n;
    }
    if out.flush().is_err() {
        exit_now(1);
    }
}

/// About `bytes` of non-JSON lines on stdout.
fn flood(bytes: usize) {
    let mut line = String::with_capacity(FLOOD_LINE);
    let mut i = 0;
    while line.len() < FLOOD_LINE - 100 {
        line.push_str(GARBAGE_LINES[i % GARBAGE_LINES.len()]);
        line.push(' ');
        i += 1;
    }
    let mut sent = 0;
    while sent < bytes {
        emit_raw(&line);
        sent += line.len() + 1;
    }
}

/// A stderr line that is not UTF-8, then more stderr than a pipe holds; exits with code 4
/// when stderr is no longer read.
fn bad_stderr() {
    let mut err = io::stderr().lock();
    let chatter = format!(
        "{}\n",
        "stderr chatter after a line that is not UTF-8 ".repeat(2)
    );
    let mut ok = err.write_all(b"\xff\xfe not UTF-8 \xc3\x28\n").is_ok();
    let mut sent = 0;
    while ok && sent < 256 * 1024 {
        ok = err.write_all(chatter.as_bytes()).is_ok();
        sent += chatter.len();
    }
    if !ok {
        exit_now(4);
    }
}

/// Points stdout at `/dev/null`: the reader on the other end of the pipe sees end of file,
/// while this process lives on.
fn close_stdout() {
    let _ = io::stdout().lock().flush();
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
        exit_now(1);
    };
    use std::os::fd::AsRawFd;
    // SAFETY: dup2 on two open descriptors; fd 1 is replaced atomically and nothing else in
    // this process holds a reference into it.
    if unsafe { nix::libc::dup2(null.as_raw_fd(), 1) } < 0 {
        exit_now(1);
    }
    eprintln!("cap-fake-agent: CLOSESTDOUT requested, stdout closed, staying alive");
}

/// Starts `count` `sleep 1000` helpers in our process group (never waited for) and appends
/// their pids to `<home>/helpers.pids`, one per line. With `FAKE_HELPERS_KEEP_STDOUT` they
/// inherit our stdout and stderr, as a tool's subprocess often does, so the pipes stay open
/// after we exit.
fn spawn_helpers(home: &Home, count: usize) {
    use std::process::Stdio;
    let keep = env_flag("FAKE_HELPERS_KEEP_STDOUT");
    let out = || {
        if keep {
            Stdio::inherit()
        } else {
            Stdio::null()
        }
    };
    let mut pids = String::new();
    for _ in 0..count {
        match std::process::Command::new("sleep")
            .arg("1000")
            .stdin(Stdio::null())
            .stdout(out())
            .stderr(out())
            .spawn()
        {
            Ok(child) => {
                pids.push_str(&format!("{}\n", child.id()));
                std::mem::forget(child);
            }
            Err(e) => eprintln!("cap-fake-agent: cannot spawn a helper: {e}"),
        }
    }
    let res = std::fs::create_dir_all(&home.dir).and_then(|_| {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(home.dir.join("helpers.pids"))?;
        // One write, so that concurrent agents do not interleave.
        f.write_all(pids.as_bytes())
    });
    if let Err(e) = res {
        eprintln!("cap-fake-agent: cannot record helper pids: {e}");
    }
}

/// `FAKE_STUBBORN`: wraps an agent so that stdin closing does not end it, and ignores the
/// polite signals.
pub struct Stubborn(pub Box<dyn Agent>);

impl Stubborn {
    /// Ignores SIGTERM, SIGINT and SIGHUP, and wraps `agent`.
    pub fn wrap(agent: Box<dyn Agent>) -> Stubborn {
        use nix::sys::signal::{SigHandler, Signal, signal};
        for sig in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
            // SAFETY: installing SIG_IGN runs no code of ours in a signal context.
            if let Err(e) = unsafe { signal(sig, SigHandler::SigIgn) } {
                eprintln!("cap-fake-agent: cannot ignore {sig}: {e}");
            }
        }
        Stubborn(agent)
    }

    /// Whether `FAKE_STUBBORN` asks for it.
    pub fn wanted() -> bool {
        env_flag("FAKE_STUBBORN")
    }
}

impl Agent for Stubborn {
    fn on_line(&mut self, line: &str) -> Flow {
        self.0.on_line(line)
    }
    fn on_eof(&mut self) -> Flow {
        eprintln!("cap-fake-agent: stdin closed; FAKE_STUBBORN keeps running");
        Flow::Continue
    }
    fn tick(&mut self, now: Instant) -> Flow {
        self.0.tick(now)
    }
    fn deadline(&self) -> Option<Instant> {
        self.0.deadline()
    }
}

/// `FAKE_ONLY_GARBAGE`: every input line is answered with garbage; never a JSON line.
pub fn only_garbage(rx: Receiver<Input>) -> ! {
    while let Ok(Input::Line(_)) = rx.recv() {
        for g in GARBAGE_LINES {
            emit_raw(g);
        }
    }
    exit_now(0)
}

/// Whether `FAKE_ONLY_GARBAGE` asks for it.
pub fn only_garbage_wanted() -> bool {
    env_flag("FAKE_ONLY_GARBAGE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stallonce_fires_once_per_text_and_session() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::new(dir.path());
        assert!(Misbehave::new("STALLONCE one", &home, "s1").stall);
        assert!(!Misbehave::new("STALLONCE one", &home, "s1").stall);
        assert!(Misbehave::new("STALLONCE two", &home, "s1").stall);
        assert!(Misbehave::new("STALLONCE one", &home, "s2").stall);
        assert!(!Misbehave::new("plain", &home, "s1").stall);
    }

    #[test]
    fn a_stalled_turn_sends_its_first_chunk_then_hangs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::new(dir.path());
        let m = Misbehave::new("STALLONCE x", &home, "s");
        let mut st = m.stream("ECHO[turns=1]: STALLONCE x").expect("stream");
        let first = st.next_due(Instant::now()).expect("a first chunk");
        assert!(first.starts_with("ECHO"));
        assert!(st.next_due(Instant::now()).is_none());
        assert!(st.deadline().is_none() && !st.finished());
        assert!(
            Misbehave::new("STALLONCE x", &home, "s")
                .stream("r")
                .is_none()
        );
    }

    #[test]
    fn words_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::new(dir.path());
        let m = Misbehave::new("LONGLINE FLOOD CLOSESTDOUT FORKEXIT BADSTDERR", &home, "s");
        assert!(m.longline && m.flood && m.close_stdout && m.fork_exit && m.bad_stderr);
        assert!(!m.stall);
        assert_eq!(Misbehave::new("hello", &home, "s"), Misbehave::default());
        assert_ne!(fnv("a"), fnv("b"));
    }
}
