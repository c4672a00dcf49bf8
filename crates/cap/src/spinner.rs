//! A spinner on stderr while a turn has produced nothing yet, only when stderr is a terminal
//! (SPEC §3). It draws from its own thread and never touches stdout, so a redirected reply is
//! byte-for-byte the agent's text.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const FRAMES: &[&str] = &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

#[derive(Default)]
struct State {
    /// Frames are drawn only while active.
    active: bool,
    /// A frame is on screen and must be cleared before anything else is written.
    drawn: bool,
    stopped: bool,
}

/// The spinner thread's handle; stops the thread when dropped.
pub struct Spinner {
    state: Arc<(Mutex<State>, Condvar)>,
}

impl Spinner {
    /// Starts the (inactive) spinner thread with a label such as "waiting for claude".
    pub fn start(label: String) -> Spinner {
        let state = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let shared = state.clone();
        std::thread::spawn(move || {
            let (lock, wake) = &*shared;
            let mut frame = 0;
            let Ok(mut s) = lock.lock() else { return };
            while !s.stopped {
                if s.active {
                    let mut err = std::io::stderr();
                    let _ = write!(err, "\r\x1b[2K\x1b[2m{} {label}\x1b[0m", FRAMES[frame]);
                    let _ = err.flush();
                    s.drawn = true;
                    frame = (frame + 1) % FRAMES.len();
                }
                s = match wake.wait_timeout(s, Duration::from_millis(100)) {
                    Ok((s, _)) => s,
                    Err(_) => return,
                };
            }
        });
        Spinner { state }
    }

    /// Shows the spinner until the next [`Spinner::pause`].
    pub fn resume(&self) {
        if let Ok(mut s) = self.state.0.lock() {
            s.active = true;
        }
        self.state.1.notify_all();
    }

    /// Hides the spinner and clears its line, before anything else is written.
    pub fn pause(&self) {
        if let Ok(mut s) = self.state.0.lock() {
            s.active = false;
            if s.drawn {
                let mut err = std::io::stderr();
                let _ = write!(err, "\r\x1b[2K");
                let _ = err.flush();
                s.drawn = false;
            }
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.pause();
        if let Ok(mut s) = self.state.0.lock() {
            s.stopped = true;
        }
        self.state.1.notify_all();
    }
}
