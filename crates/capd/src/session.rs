//! One actor per live session.
//!
//! The actor owns the agent driver and is the only code that talks to it, so turns are
//! serialised by construction: prompts wait in a bounded queue and the actor takes the next one
//! only after the previous turn has ended in the agent, whether it finished, failed, was
//! cancelled, or timed out (then the agent is told to cancel and, if it does not settle within
//! the grace period, killed). Cancels and shutdowns come on a separate control channel so they
//! overtake queued prompts.

use crate::agents::AgentSpec;
use crate::daemon::Daemon;
use crate::drivers::{self, Driver, DriverError, DriverEvent, OpenMode, StartSpec};
use cap_proto::reply::SessionState;
use cap_proto::{
    EVENT_VERSION, Envelope, ErrorBody, ErrorCode, Event, StatusKind, StopReason, TurnResult,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// One prompt for the actor.
pub struct Turn {
    pub request: String,
    pub text: String,
    pub timeout: Option<Duration>,
    /// Where this turn's events go (the caller's connection). Sends to a caller that went
    /// away are ignored: the turn runs on and its result stays available.
    pub events: mpsc::UnboundedSender<Envelope>,
    /// The seq of the first event the actor emits (the handler already sent the earlier ones).
    pub first_seq: u64,
    /// How the agent's permission requests are answered during this turn.
    pub policy: drivers::Policy,
    /// Set when the turn was cancelled while still queued; the actor then skips it.
    pub dropped: Arc<AtomicBool>,
}

/// A queued turn's cancel switch, kept in [`LiveState::waiting`] until the actor takes it.
pub struct Waiting {
    pub dropped: Arc<AtomicBool>,
    /// Tells the prompt's handler to end the stream as cancelled.
    pub notify: oneshot::Sender<()>,
}

/// Messages that overtake the queue.
pub enum Control {
    /// Cancel a turn: the given request (running or queued), or else the running one.
    /// Answers whether there was something to cancel.
    Cancel(Option<String>, oneshot::Sender<bool>),
    /// End the session; answered once the agent's process group is gone.
    Shutdown(oneshot::Sender<()>),
}

/// Session data the daemon reads without asking the actor.
pub struct Live {
    pub inner: Mutex<LiveState>,
    /// Events of every turn, for `cap attach`.
    pub events: broadcast::Sender<Envelope>,
    /// `None` while starting, then the outcome of the first start.
    pub ready: watch::Sender<Option<Result<(), ErrorBody>>>,
}

/// Mutable per-session facts.
pub struct LiveState {
    pub state: SessionState,
    pub native_id: Option<String>,
    pub turns: u64,
    pub last_active: Instant,
    pub pid: Option<u32>,
    /// The last finished turn's `result` or `error` event.
    pub last_result: Option<Envelope>,
    /// Events of the turn in progress, so `attach` can catch up.
    pub current: Vec<Envelope>,
    /// Whether the session sits in the suspended pool.
    pub parked: bool,
    /// Turns waiting behind the running one.
    pub queued: usize,
    /// Queued turns by request id, so one can be cancelled before it runs.
    pub waiting: HashMap<String, Waiting>,
}

impl Live {
    fn new(native_id: Option<String>) -> Arc<Live> {
        Arc::new(Live {
            inner: Mutex::new(LiveState {
                state: SessionState::Starting,
                native_id,
                turns: 0,
                last_active: Instant::now(),
                pid: None,
                last_result: None,
                current: Vec::new(),
                parked: false,
                queued: 0,
                waiting: HashMap::new(),
            }),
            events: broadcast::channel(1024).0,
            ready: watch::channel(None).0,
        })
    }

    /// Runs `f` on the state; a poisoned lock (a panic elsewhere) still yields the data.
    pub fn with<R>(&self, f: impl FnOnce(&mut LiveState) -> R) -> R {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }
}

/// The daemon's handle on a session.
#[derive(Clone)]
pub struct SessionHandle {
    pub id: String,
    pub agent: String,
    /// The key the session was opened for.
    pub home_key: String,
    pub cwd: PathBuf,
    pub model: Option<String>,
    pub queue: mpsc::Sender<Turn>,
    pub control: mpsc::UnboundedSender<Control>,
    pub live: Arc<Live>,
}

/// What the actor needs to open its session.
pub struct Open {
    pub id: String,
    pub agent: AgentSpec,
    pub home_key: String,
    pub cwd: PathBuf,
    pub model: Option<String>,
    pub mode: OpenMode,
    pub preamble: Option<String>,
    pub queue_depth: usize,
    pub ready_timeout: Duration,
    pub cancel_grace: Duration,
}

/// Spawns the actor; it starts the agent at once so the session is warm by the first prompt.
pub fn spawn(open: Open, daemon: Weak<Daemon>) -> SessionHandle {
    let (queue_tx, queue_rx) = mpsc::channel(open.queue_depth);
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let native = match &open.mode {
        OpenMode::Resume(id) => Some(id.clone()),
        _ => None,
    };
    let live = Live::new(native);
    let handle = SessionHandle {
        id: open.id.clone(),
        agent: open.agent.name.clone(),
        home_key: open.home_key.clone(),
        cwd: open.cwd.clone(),
        model: open.model.clone(),
        queue: queue_tx,
        control: control_tx,
        live: live.clone(),
    };
    let actor = Actor {
        id: open.id,
        spec: open.agent,
        cwd: open.cwd,
        model: open.model,
        mode: open.mode,
        preamble: open.preamble,
        ready_timeout: open.ready_timeout,
        cancel_grace: open.cancel_grace,
        driver: None,
        unconfirmed: false,
        notices: Vec::new(),
        queue: queue_rx,
        control: control_rx,
        live,
        daemon,
        shutdown: None,
        current: None,
        cancel_pending: false,
        cancel_next: false,
    };
    tokio::spawn(actor.run());
    handle
}

struct Actor {
    id: String,
    spec: AgentSpec,
    cwd: PathBuf,
    model: Option<String>,
    /// How the next start opens the agent session. After the first start it becomes
    /// `Resume(native id)`, so every respawn continues the same conversation.
    mode: OpenMode,
    /// Prepended to the next turn; set only for fresh sessions.
    preamble: Option<String>,
    ready_timeout: Duration,
    cancel_grace: Duration,
    driver: Option<Box<dyn Driver>>,
    /// Started by resume and no turn has succeeded since: a "session not found" now means the
    /// resume failed, not the turn.
    unconfirmed: bool,
    /// Status events to emit at the start of the next turn.
    notices: Vec<(StatusKind, String)>,
    queue: mpsc::Receiver<Turn>,
    control: mpsc::UnboundedReceiver<Control>,
    live: Arc<Live>,
    daemon: Weak<Daemon>,
    shutdown: Option<oneshot::Sender<()>>,
    /// The request id of the running turn (from taking it off the queue to its last event).
    current: Option<String>,
    /// The running turn was cancelled before it could be sent (while its agent started).
    cancel_pending: bool,
    /// An unnamed cancel arrived before any turn ran: the next turn ends as cancelled.
    cancel_next: bool,
}

/// Why a start did not produce a driver.
enum StartFailure {
    Shutdown(oneshot::Sender<()>),
    Failed(ErrorBody),
}

impl Actor {
    async fn run(mut self) {
        match self.start().await {
            Ok(()) => {
                self.live.ready.send_replace(Some(Ok(())));
            }
            Err(StartFailure::Shutdown(done)) => {
                self.shutdown = Some(done);
            }
            Err(StartFailure::Failed(err)) => {
                self.live.ready.send_replace(Some(Err(err.clone())));
                self.fail_start(err).await;
                return;
            }
        }
        while self.shutdown.is_none() {
            self.set_state(SessionState::Idle);
            tokio::select! {
                ctl = self.control.recv() => match ctl {
                    Some(Control::Cancel(request, tx)) => {
                        let _ = tx.send(self.cancel_outside_turn(request));
                    }
                    Some(Control::Shutdown(done)) => self.shutdown = Some(done),
                    None => break,
                },
                turn = self.queue.recv() => match turn {
                    Some(turn) => self.run_turn(turn).await,
                    None => break,
                },
                ev = next_event(&mut self.driver) => self.idle_event(ev),
            }
        }
        self.set_state(SessionState::Ending);
        if let Some(d) = self.driver.take() {
            d.shutdown().await;
        }
        self.live.with(|l| l.pid = None);
        if let Some(done) = self.shutdown.take() {
            let _ = done.send(());
        }
    }

    /// Starts (or restarts) the agent per `self.mode`, falling back from a failed resume to a
    /// fresh session with a notice. Shutdown requests are honoured while waiting.
    async fn start(&mut self) -> Result<(), StartFailure> {
        self.set_state(SessionState::Starting);
        let resuming = matches!(self.mode, OpenMode::Resume(_) | OpenMode::Continue);
        let result = self.start_once().await?;
        let driver = match result {
            Ok(d) => d,
            Err(e) if resuming && resume_failed(&e) => {
                let why = e.to_string();
                self.fall_back_to_fresh(&why);
                match self.start_once().await? {
                    Ok(d) => d,
                    Err(e) => return Err(StartFailure::Failed(start_error(&self.spec, e))),
                }
            }
            Err(e) => return Err(StartFailure::Failed(start_error(&self.spec, e))),
        };
        self.unconfirmed =
            resuming && matches!(self.mode, OpenMode::Resume(_) | OpenMode::Continue);
        let native = driver.native_id();
        let pid = driver.pid();
        self.driver = Some(driver);
        self.live.with(|l| {
            l.pid = pid;
            if native.is_some() {
                l.native_id = native.clone();
            }
        });
        if let Some(n) = native {
            self.native_changed(n);
        }
        Ok(())
    }

    /// One start attempt that yields to a shutdown request. A cancel while starting is
    /// answered "nothing to cancel" unless a turn runs or waits for this start; that turn
    /// then ends as cancelled.
    async fn start_once(&mut self) -> Result<Result<Box<dyn Driver>, DriverError>, StartFailure> {
        let spec = StartSpec {
            agent: self.spec.clone(),
            cwd: self.cwd.clone(),
            mode: self.mode.clone(),
            model: self.model.clone(),
            ready_timeout: self.ready_timeout,
        };
        let start = drivers::start(spec);
        tokio::pin!(start);
        loop {
            tokio::select! {
                r = &mut start => return Ok(r),
                ctl = self.control.recv() => match ctl {
                    Some(Control::Cancel(request, tx)) => {
                        // The agent is starting: a running turn cannot be interrupted in it
                        // yet, so it ends as cancelled without being sent.
                        let _ = tx.send(self.cancel_outside_turn(request));
                    }
                    Some(Control::Shutdown(done)) => return Err(StartFailure::Shutdown(done)),
                    // The daemon dropped the session: stop starting it.
                    None => return Err(StartFailure::Shutdown(oneshot::channel().0)),
                }
            }
        }
    }

    /// A cancel that arrives while no turn is in the agent (idle, or starting). It hits the
    /// running turn if one waits for its agent to start (named or not); an unnamed cancel
    /// before any turn ran hits the first queued prompt. Queued prompts named by request id
    /// are dropped by the cancel handler and never reach here.
    fn cancel_outside_turn(&mut self, request: Option<String>) -> bool {
        match (request, &self.current) {
            (Some(r), Some(cur)) if r == *cur => {
                self.cancel_pending = true;
                true
            }
            // Not running: it finished already (queued turns are cancelled by the handler).
            (Some(_), _) => false,
            (None, Some(_)) => {
                self.cancel_pending = true;
                true
            }
            // Nothing runs yet (the agent is still starting for the first prompt): the
            // caller means the prompt that waits for it.
            (None, None) => {
                let queued = self.live.with(|l| l.queued > 0);
                self.cancel_next |= queued;
                queued
            }
        }
    }

    fn fall_back_to_fresh(&mut self, why: &str) {
        let old = match &self.mode {
            OpenMode::Resume(id) => id.clone(),
            _ => "(most recent)".into(),
        };
        self.notices.push((
            StatusKind::Fallback,
            format!(
                "could not resume native session {old} ({why}); started a fresh session instead, without the earlier history"
            ),
        ));
        self.mode = OpenMode::Fresh;
        self.live.with(|l| l.native_id = None);
    }

    /// The first start failed: answer every queued prompt with the error, and leave.
    async fn fail_start(&mut self, err: ErrorBody) {
        if let Some(d) = self.daemon.upgrade() {
            d.session_failed(&self.id);
        }
        self.queue.close();
        while let Some(turn) = self.queue.recv().await {
            let mut seq = turn.first_seq;
            self.emit(&turn, &mut seq, Event::Error(err.clone()));
        }
        self.set_state(SessionState::Ending);
    }

    fn idle_event(&mut self, ev: Option<DriverEvent>) {
        match ev {
            Some(DriverEvent::NativeId(n)) => self.native_changed(n),
            Some(DriverEvent::Exited) | None => {
                // The agent died between turns. Respawn lazily, by resume, at the next prompt.
                tracing::info!(session = %self.id, "agent exited while idle; will resume on the next prompt");
                self.driver = None;
                self.live.with(|l| l.pid = None);
            }
            Some(other) => {
                tracing::debug!(session = %self.id, "agent event between turns: {other:?}")
            }
        }
    }

    fn native_changed(&mut self, native: String) {
        self.live.with(|l| l.native_id = Some(native.clone()));
        self.mode = OpenMode::Resume(native.clone());
        if let Some(d) = self.daemon.upgrade() {
            d.native_id_changed(&self.id, &native);
        }
    }

    /// Records a state change. Only a change counts as activity: stray agent output between
    /// turns must not keep an idle session from the sweep.
    fn set_state(&self, state: SessionState) {
        self.live.with(|l| {
            if l.state != state {
                l.state = state;
                l.last_active = Instant::now();
            }
        });
    }

    /// Sends an event to the turn's caller, to attachers, and into the attach buffer.
    fn emit(&self, turn: &Turn, seq: &mut u64, event: Event) {
        let env = Envelope {
            v: EVENT_VERSION,
            event,
            session: Some(self.id.clone()),
            request: Some(turn.request.clone()),
            seq: *seq,
        };
        *seq += 1;
        let _ = turn.events.send(env.clone());
        // Broadcast under the lock so `attach` sees each event exactly once: either in the
        // backlog it copies or on its subscription.
        self.live.with(|l| {
            if matches!(env.event, Event::Result(_) | Event::Error(_)) {
                l.last_result = Some(env.clone());
            }
            l.current.push(env.clone());
            let _ = self.live.events.send(env);
        });
    }

    async fn run_turn(&mut self, turn: Turn) {
        let dropped = self.live.with(|l| {
            l.waiting.remove(&turn.request);
            let dropped = turn.dropped.load(Ordering::SeqCst);
            if !dropped {
                // A dropped turn was already taken off the count by the cancel.
                l.queued = l.queued.saturating_sub(1);
            }
            dropped
        });
        if dropped {
            // Cancelled while queued: its caller has been told already.
            return;
        }
        self.live.with(|l| {
            l.state = SessionState::Busy;
            l.current.clear();
        });
        let mut seq = turn.first_seq;
        let started = Instant::now();
        for (kind, message) in std::mem::take(&mut self.notices) {
            self.emit(&turn, &mut seq, Event::Status { kind, message });
        }
        let text = match self.preamble.take() {
            Some(p) => format!("{p}\n\n{}", turn.text),
            None => turn.text.clone(),
        };
        self.current = Some(turn.request.clone());
        let outcome = if std::mem::take(&mut self.cancel_next) {
            Outcome::Done {
                output: String::new(),
                stop_reason: StopReason::Cancelled,
            }
        } else {
            self.attempts(&turn, &mut seq, &text).await
        };
        self.current = None;
        self.cancel_pending = false;
        let event = match outcome {
            Outcome::Done {
                output,
                stop_reason,
            } => {
                let turns = self.live.with(|l| {
                    l.turns += 1;
                    l.turns
                });
                Event::Result(TurnResult {
                    output,
                    stop_reason,
                    turns,
                    duration_ms: started.elapsed().as_millis() as u64,
                    native_id: self.live.with(|l| l.native_id.clone()),
                })
            }
            Outcome::Failed(err) => Event::Error(err),
        };
        self.emit(&turn, &mut seq, event);
        self.set_state(SessionState::Idle);
    }

    /// Runs one turn with its retries: a respawn by resume when the agent dies or a send
    /// fails (once), a fresh session when that resume turns out impossible, and up to two
    /// re-sends of an empty reply.
    async fn attempts(&mut self, turn: &Turn, seq: &mut u64, text: &str) -> Outcome {
        let deadline = turn.timeout.map(|t| tokio::time::Instant::now() + t);
        let mut respawned = false;
        let mut empty_resends = 0;
        loop {
            if self.driver.as_mut().is_none_or(|d| !d.is_alive()) {
                self.driver = None;
                match self.start().await {
                    Ok(()) => {}
                    Err(StartFailure::Shutdown(done)) => {
                        self.shutdown = Some(done);
                        return Outcome::Failed(ended_error());
                    }
                    Err(StartFailure::Failed(e)) => return Outcome::Failed(e),
                }
                for (kind, message) in std::mem::take(&mut self.notices) {
                    self.emit(turn, seq, Event::Status { kind, message });
                }
            }
            let Some(driver) = self.driver.as_mut() else {
                return Outcome::Failed(ended_error());
            };
            driver.set_policy(turn.policy);
            if std::mem::take(&mut self.cancel_pending) {
                return Outcome::Done {
                    output: String::new(),
                    stop_reason: StopReason::Cancelled,
                };
            }
            if let Err(e) = driver.send_turn(text) {
                self.driver = None;
                if respawned {
                    return Outcome::Failed(ErrorBody::new(ErrorCode::Agent, e.to_string()));
                }
                respawned = true;
                self.status(turn, seq, StatusKind::Respawn, format!("could not send to the agent ({e}); respawning it by resume and retrying once"));
                continue;
            }
            match self.wait_turn(turn, seq, deadline).await {
                Wait::Ended {
                    output,
                    stop_reason,
                } => {
                    self.unconfirmed = false;
                    if output.trim().is_empty()
                        && empty_resends < 2
                        && stop_reason != StopReason::Cancelled
                    {
                        empty_resends += 1;
                        self.status(turn, seq, StatusKind::Resend, format!("the agent sent an empty reply; re-sending the prompt ({empty_resends}/2)"));
                        continue;
                    }
                    return Outcome::Done {
                        output,
                        stop_reason,
                    };
                }
                Wait::AgentError(msg) => {
                    if self.unconfirmed && drivers::is_missing_session(&msg) && !respawned {
                        respawned = true;
                        self.driver = None;
                        self.fall_back_to_fresh(&msg);
                        continue;
                    }
                    return Outcome::Failed(ErrorBody::new(
                        ErrorCode::Agent,
                        format!("{} failed: {msg}", self.spec.name),
                    ));
                }
                Wait::Died(tail) => {
                    self.driver = None;
                    self.live.with(|l| l.pid = None);
                    if respawned {
                        return Outcome::Failed(ErrorBody::new(
                            ErrorCode::Agent,
                            format!(
                                "{} exited mid-turn again after a respawn; giving up on this prompt{}",
                                self.spec.name,
                                drivers::stderr_suffix(&tail)
                            ),
                        ));
                    }
                    respawned = true;
                    if self.unconfirmed && drivers::is_missing_session(&tail) {
                        // The agent died on its first turn after a resume saying the session
                        // is gone: the resume itself is what failed. Any other crash is a crash,
                        // and resuming again keeps the conversation.
                        self.fall_back_to_fresh(&format!(
                            "the agent exited on its first resumed turn{}",
                            drivers::stderr_suffix(&tail)
                        ));
                    } else {
                        let native = self.live.with(|l| l.native_id.clone()).unwrap_or_default();
                        self.status(turn, seq, StatusKind::Respawn, format!("{} exited mid-turn; respawning it by resuming native session {native} and retrying once", self.spec.name));
                    }
                }
                Wait::Final(outcome) => return outcome,
            }
        }
    }

    fn status(&self, turn: &Turn, seq: &mut u64, kind: StatusKind, message: String) {
        tracing::info!(session = %self.id, "{message}");
        self.emit(turn, seq, Event::Status { kind, message });
    }

    /// Streams one sent turn until it ends, handling cancel, timeout and shutdown.
    async fn wait_turn(
        &mut self,
        turn: &Turn,
        seq: &mut u64,
        deadline: Option<tokio::time::Instant>,
    ) -> Wait {
        let mut output = String::new();
        let mut cancelled = false;
        let mut timed_out = false;
        let mut settle_by: Option<tokio::time::Instant> = None;
        let mut denied: Option<String> = None;
        loop {
            let Some(driver) = self.driver.as_mut() else {
                return Wait::Died(String::new());
            };
            tokio::select! {
                ev = driver.events().recv() => match ev {
                    Some(DriverEvent::Text(t)) => {
                        output.push_str(&t);
                        self.emit(turn, seq, Event::Text { delta: t });
                    }
                    Some(DriverEvent::Thought(t)) => self.emit(turn, seq, Event::Thought { delta: t }),
                    Some(DriverEvent::ToolCall(t)) => self.emit(turn, seq, Event::ToolCall(t)),
                    Some(DriverEvent::Plan(p)) => self.emit(turn, seq, Event::Plan { entries: p }),
                    Some(DriverEvent::Raw { kind, payload }) => self.emit(turn, seq, Event::Raw { kind, payload }),
                    Some(DriverEvent::Usage(u)) => self.emit(turn, seq, Event::Usage { usage: u }),
                    Some(DriverEvent::Denied(what)) => {
                        denied.get_or_insert(what);
                    }
                    Some(DriverEvent::NativeId(n)) => self.native_changed(n),
                    Some(DriverEvent::TurnEnd(end)) => {
                        if let Some(what) = denied {
                            return Wait::Final(Outcome::Failed(ErrorBody::new(
                                ErrorCode::PermissionDenied,
                                format!("the agent asked permission for {what} and the session's policy is to fail; use --approve-all or --deny-all"),
                            )));
                        }
                        if timed_out {
                            return Wait::Final(Outcome::Failed(timeout_error(turn)));
                        }
                        if cancelled {
                            return Wait::Final(Outcome::Done { output, stop_reason: StopReason::Cancelled });
                        }
                        if !end.ok {
                            return Wait::AgentError(end.error.unwrap_or_else(|| end.stop_reason.to_string()));
                        }
                        let output = if output.is_empty() { end.output.unwrap_or_default() } else { output };
                        return Wait::Ended { output, stop_reason: end.stop_reason };
                    }
                    Some(DriverEvent::Exited) | None => {
                        let tail = driver.stderr_tail();
                        if timed_out {
                            return Wait::Final(Outcome::Failed(timeout_error(turn)));
                        }
                        if cancelled {
                            return Wait::Final(Outcome::Done { output, stop_reason: StopReason::Cancelled });
                        }
                        return Wait::Died(tail);
                    }
                },
                ctl = self.control.recv() => match ctl {
                    Some(Control::Cancel(Some(request), tx)) if Some(&request) != self.current.as_ref() => {
                        // Another turn, finished already: not this one to stop.
                        let _ = tx.send(false);
                    }
                    Some(Control::Cancel(_, tx)) => {
                        let _ = tx.send(true);
                        if !cancelled && !timed_out {
                            cancelled = true;
                            settle_by = Some(tokio::time::Instant::now() + self.cancel_grace);
                            if let Err(e) = driver.cancel() {
                                tracing::warn!(session = %self.id, "cancel failed: {e}");
                            }
                        }
                    }
                    Some(Control::Shutdown(done)) => {
                        self.shutdown = Some(done);
                        return Wait::Final(Outcome::Failed(ended_error()));
                    }
                    None => return Wait::Final(Outcome::Failed(ended_error())),
                },
                _ = sleep_until(deadline), if !timed_out && !cancelled => {
                    timed_out = true;
                    settle_by = Some(tokio::time::Instant::now() + self.cancel_grace);
                    if let Err(e) = driver.cancel() {
                        tracing::warn!(session = %self.id, "cancel after timeout failed: {e}");
                    }
                }
                _ = sleep_until(settle_by) => {
                    // The agent ignored the cancel. Kill it so the next prompt cannot overlap
                    // this turn; the next prompt respawns it by resume.
                    self.driver = None;
                    self.live.with(|l| l.pid = None);
                    self.notices.push((StatusKind::Respawn, "the previous turn did not stop when cancelled, so its agent was killed and has been respawned by resume".into()));
                    return Wait::Final(if timed_out {
                        Outcome::Failed(timeout_error(turn))
                    } else {
                        Outcome::Done { output, stop_reason: StopReason::Cancelled }
                    });
                }
            }
        }
    }
}

/// The result of waiting on one sent turn.
enum Wait {
    Ended {
        output: String,
        stop_reason: StopReason,
    },
    AgentError(String),
    Died(String),
    Final(Outcome),
}

enum Outcome {
    Done {
        output: String,
        stop_reason: StopReason,
    },
    Failed(ErrorBody),
}

/// Waits for the driver's next event, or forever when there is no driver.
async fn next_event(driver: &mut Option<Box<dyn Driver>>) -> Option<DriverEvent> {
    match driver {
        Some(d) => d.events().recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn resume_failed(e: &DriverError) -> bool {
    match e {
        DriverError::ExitedEarly { .. } => true,
        other => drivers::is_missing_session(&other.to_string()),
    }
}

fn start_error(spec: &AgentSpec, e: DriverError) -> ErrorBody {
    let hint = match &e {
        DriverError::NotReady { .. } => {
            "; check that it runs by hand, or raise ready_timeout in the config"
        }
        _ => "",
    };
    ErrorBody::new(ErrorCode::Agent, format!("agent {}: {e}{hint}", spec.name))
}

fn timeout_error(turn: &Turn) -> ErrorBody {
    let secs = turn.timeout.map(|t| t.as_secs()).unwrap_or_default();
    ErrorBody::new(
        ErrorCode::Timeout,
        format!(
            "the prompt timed out after {secs} s and was cancelled in the agent; raise --timeout or use --timeout 0 for none"
        ),
    )
}

fn ended_error() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::Agent,
        "the session was ended while the turn was running",
    )
}
