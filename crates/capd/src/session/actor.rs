//! The actor: its state, its mailbox, starting the agent, and emitting events.
//!
//! Every wait of the actor (idle, starting an agent, running a turn) also reads the mailbox,
//! so a submit, cancel, park or attach is answered promptly whatever the agent is doing. A
//! message that must interrupt the current wait comes back from [`Actor::on_msg`] as an
//! [`Interrupt`].

use super::events::ended_error;
use super::permit::Permits;
use super::record::Recorder;
use super::{Cancelled, Change, Msg, Open, Snapshot, Turn, Up};
use crate::agents::AgentSpec;
use crate::drivers::{self, Driver, DriverError, DriverEvent, Factory, OpenMode, StartSpec};
use cap_proto::reply::SessionState;
use cap_proto::{Envelope, ErrorBody, ErrorCode, Event, StatusKind, StopReason, Usage};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// A queued turn with its event counter.
pub(super) struct Queued {
    pub turn: Turn,
    /// The seq of the turn's next event.
    pub seq: u64,
    /// Its `session` event, once it went out (it waits for the first start otherwise): the
    /// head of the backlog an attach gets while the turn runs.
    pub announced: Option<Envelope>,
    /// What the agent reported spending on this turn so far (every attempt counts).
    pub usage: Usage,
    /// When the turn's time is up, fixed when it starts running, so every send of the turn
    /// (a retry, a `--schema` re-ask) shares one `--timeout`.
    pub deadline: Option<tokio::time::Instant>,
    /// A `--steer` prompt that could not be steered: it waits as an ordinary prompt now.
    pub steer_refused: bool,
}

/// What a message means for the wait it arrived in.
pub(super) enum Interrupt {
    None,
    /// Stop the running turn.
    Cancel,
    /// End the session.
    Shutdown,
    /// A `--steer` prompt was queued: add it to the running turn if there is one.
    Steer,
    /// An answer to a permission question of the running turn.
    Decide {
        id: String,
        allow: bool,
        always: bool,
        reply: oneshot::Sender<bool>,
    },
}

pub(super) struct Actor {
    pub id: String,
    pub spec: AgentSpec,
    pub cwd: PathBuf,
    pub model: Option<String>,
    /// The session's own MCP servers; every start gives the agent these and its configured
    /// ones.
    pub mcp: crate::mcp::McpServers,
    /// How the next start opens the agent session. After the first start it becomes
    /// `Resume(native id)`, so every respawn continues the same conversation.
    pub mode: OpenMode,
    /// Prepended to the next turn; set only for fresh sessions.
    pub preamble: Option<String>,
    pub queue_depth: usize,
    pub ready_timeout: Duration,
    pub cancel_grace: Duration,
    pub permission_timeout: Duration,
    /// Open permission questions, "always" answers, this turn's counts.
    pub permits: Permits,
    /// The transcript of the running turn, and where it goes.
    pub(super) record: Recorder,
    /// A prewarmed agent for the first start.
    spare: Option<crate::drivers::Spare>,
    factory: Arc<dyn Factory>,
    up: mpsc::UnboundedSender<Up>,
    pub rx: mpsc::UnboundedReceiver<Msg>,
    pub(super) snap: watch::Sender<Snapshot>,
    /// Every event of the session, for `cap attach`: made by the first attach, so a session
    /// nobody attaches to holds no channel (a 1024-event ring, most of an idle session's
    /// memory in capd).
    pub(super) events: Option<broadcast::Sender<Envelope>>,
    /// The running turn's events so far, so `attach` can catch up; its text only up to
    /// `MAX_RESULT_OUTPUT` (`events::keep_in_backlog`).
    pub(super) backlog: Vec<Envelope>,
    /// Text and thought bytes in the backlog, and whether some were left out.
    pub(super) backlog_text: usize,
    pub(super) backlog_clipped: bool,
    /// The request whose events the backlog holds: the running turn, or the last one until
    /// the next begins (so an attach after a turn still sees how it ended).
    pub(super) backlog_of: Option<String>,
    pub driver: Option<Box<dyn Driver>>,
    pub queue: VecDeque<Queued>,
    /// The request id of the running turn.
    pub running: Option<String>,
    /// The first start has finished (either way).
    started: bool,
    /// Started by resume and no turn has succeeded since: a "session not found" now means the
    /// resume failed, not the turn.
    pub unconfirmed: bool,
    /// Status events for the next turn.
    pub notices: Vec<(StatusKind, String)>,
    /// Changes sent up that the daemon has not confirmed yet.
    unapplied: Vec<oneshot::Receiver<()>>,
    /// The running turn was cancelled while its agent (re)started.
    pub cancelled_while_starting: bool,
    /// Callers of `Shutdown`, answered once the process group is gone.
    stopping: Vec<oneshot::Sender<()>>,
    /// The mailbox closed or a shutdown arrived.
    pub ending: bool,
    parked: bool,
    state: SessionState,
}

/// Builds the actor and runs it on its own task.
pub(super) fn start(
    open: Open,
    factory: Arc<dyn Factory>,
    up: mpsc::UnboundedSender<Up>,
    rx: mpsc::UnboundedReceiver<Msg>,
    snap: watch::Sender<Snapshot>,
) {
    let actor = Actor {
        id: open.id,
        spec: open.agent,
        cwd: open.cwd,
        model: open.model,
        mcp: open.mcp_servers,
        mode: open.mode,
        preamble: open.preamble,
        queue_depth: open.queue_depth,
        ready_timeout: open.ready_timeout,
        cancel_grace: open.cancel_grace,
        permission_timeout: open.permission_timeout,
        permits: Permits::default(),
        record: Recorder::new(open.transcripts),
        spare: open.spare,
        factory,
        up,
        rx,
        snap,
        events: None,
        backlog: Vec::new(),
        backlog_text: 0,
        backlog_clipped: false,
        backlog_of: None,
        driver: None,
        queue: VecDeque::new(),
        running: None,
        started: false,
        unconfirmed: false,
        notices: Vec::new(),
        unapplied: Vec::new(),
        cancelled_while_starting: false,
        stopping: Vec::new(),
        ending: false,
        parked: false,
        state: SessionState::Starting,
    };
    let id = actor.id.clone();
    let up = actor.up.clone();
    let task = tokio::spawn(actor.run());
    // A panic in the actor must not leave a session that counts as busy forever: the
    // daemon drops it, and its callers see their event streams close.
    tokio::spawn(async move {
        if let Err(e) = task.await
            && e.is_panic()
        {
            tracing::error!(session = %id, "session actor panicked; dropping the session");
            let _ = up.send(Up {
                session: id,
                change: Change::Ended,
                applied: oneshot::channel().0,
            });
        }
    });
}

impl Actor {
    async fn run(mut self) {
        match self.start().await {
            Ok(()) => {
                // The native id learned at start is saved before `open` hears the session is
                // ready, so a caller holding its answer can rely on the state file.
                self.synced().await;
                self.first_start_done(Ok(()))
            }
            Err(Some(err)) => {
                // Out of the tables before the callers hear of it, so what they do next
                // never finds the dead session.
                self.send_up(Change::Ended);
                self.synced().await;
                self.first_start_done(Err(err.clone()));
                self.fail_all(&err);
                self.ending = true;
            }
            Err(None) => self.first_start_done(Err(ended_error())),
        }
        while !self.ending {
            self.set_state(SessionState::Idle);
            if let Some(q) = self.queue.pop_front() {
                self.publish();
                self.run_turn(q).await;
                continue;
            }
            tokio::select! {
                msg = self.rx.recv() => {
                    // Nothing runs, so a cancel has nothing to interrupt here.
                    let _ = self.on_msg(msg);
                }
                ev = next_event(&mut self.driver) => self.idle_event(ev),
            }
        }
        self.stop().await;
    }

    /// Ends the session: every waiting turn hears so, then the process group goes.
    async fn stop(&mut self) {
        self.set_state(SessionState::Ending);
        let err = ErrorBody::new(
            ErrorCode::Agent,
            "the session was ended or replaced before this prompt ran; send it again",
        );
        self.fail_all(&err);
        if let Some(d) = self.driver.take() {
            d.shutdown().await;
        }
        self.publish();
        self.rx.close();
        // Answer late messages (a submit racing the shutdown must not wait forever).
        while let Ok(msg) = self.rx.try_recv() {
            let _ = self.on_msg(Some(msg));
        }
        self.fail_all(&err);
        for done in self.stopping.drain(..) {
            let _ = done.send(());
        }
    }

    /// Handles one mailbox message; `None` means the daemon dropped the session.
    pub fn on_msg(&mut self, msg: Option<Msg>) -> Interrupt {
        let Some(msg) = msg else {
            self.ending = true;
            return Interrupt::Shutdown;
        };
        match msg {
            Msg::Submit(turn, ack) => {
                if self.ending {
                    let _ = ack.send(Err(ended_error()));
                } else if self.queue.len() >= self.queue_depth {
                    let _ = ack.send(Err(ErrorBody::new(
                        ErrorCode::Limit,
                        format!(
                            "the queue of session {} is full ({} prompts waiting); wait for them, or `cap cancel {}`",
                            self.id, self.queue_depth, self.id
                        ),
                    )));
                } else {
                    let _ = ack.send(Ok(()));
                    self.queue.push_back(Queued {
                        turn: *turn,
                        seq: 0,
                        announced: None,
                        usage: Usage::default(),
                        deadline: None,
                        steer_refused: false,
                    });
                    // Published before the caller hears of its session, so what it reads next
                    // already counts this turn.
                    self.publish();
                    let mut steer = false;
                    if self.started
                        && let Some(mut q) = self.queue.pop_back()
                    {
                        self.announce(&mut q);
                        steer = q.turn.steer;
                        self.queue.push_back(q);
                    }
                    if steer {
                        return Interrupt::Steer;
                    }
                }
                Interrupt::None
            }
            Msg::Cancel(request, reply) => {
                let (found, interrupt) = self.cancel(request);
                let _ = reply.send(found);
                interrupt
            }
            Msg::Park(parked) => {
                self.parked = parked;
                self.touch();
                Interrupt::None
            }
            Msg::Attach(reply) => {
                let events = self
                    .events
                    .get_or_insert_with(|| broadcast::channel(1024).0);
                let _ = reply.send((self.backlog.clone(), events.subscribe()));
                Interrupt::None
            }
            Msg::Follow(reply) => {
                let _ = reply.send(self.following());
                Interrupt::None
            }
            Msg::Shutdown(done) => {
                self.stopping.push(done);
                self.ending = true;
                Interrupt::Shutdown
            }
            // Only a running turn has questions; elsewhere the dropped reply says "none".
            Msg::Decide {
                id,
                allow,
                always,
                reply,
            } => Interrupt::Decide {
                id,
                allow,
                always,
                reply,
            },
        }
    }

    /// A named cancel hits that turn, queued or running; an unnamed one hits the running
    /// turn, or, before any turn runs, the first queued one.
    fn cancel(&mut self, request: Option<String>) -> (Cancelled, Interrupt) {
        let running = match (&request, &self.running) {
            (Some(r), Some(cur)) => r == cur,
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if running {
            return (Cancelled::Running, Interrupt::Cancel);
        }
        let pos = match &request {
            Some(r) => self.queue.iter().position(|q| q.turn.request == *r),
            None => (!self.queue.is_empty()).then_some(0),
        };
        let Some(mut q) = pos.and_then(|i| self.queue.remove(i)) else {
            return (Cancelled::Nothing, Interrupt::None);
        };
        // It never reached the agent: it ends here, in the open, like any other turn.
        self.announce(&mut q);
        let result = self.result(&q, String::new(), StopReason::Cancelled, Duration::ZERO);
        self.emit(&mut q, result);
        self.publish();
        (Cancelled::Queued, Interrupt::None)
    }

    /// Starts (or restarts) the agent per `self.mode`, falling back from a failed resume to a
    /// fresh session with a notice. `Err(None)`: a shutdown arrived while starting. A cancel
    /// of the running turn while starting sets `cancelled_while_starting`.
    pub async fn start(&mut self) -> Result<(), Option<ErrorBody>> {
        self.set_state(SessionState::Starting);
        let resuming = matches!(self.mode, OpenMode::Resume(_) | OpenMode::Continue);
        let driver = match self.start_once().await? {
            Ok(d) => d,
            Err(e) if resuming && resume_failed(&e) => {
                self.fall_back_to_fresh(&e.to_string());
                self.start_once()
                    .await?
                    .map_err(|e| Some(start_error(&self.spec, e)))?
            }
            Err(e) => return Err(Some(start_error(&self.spec, e))),
        };
        self.unconfirmed = matches!(self.mode, OpenMode::Resume(_) | OpenMode::Continue);
        let native = driver.native_id();
        self.driver = Some(driver);
        if let Some(n) = native {
            self.native_changed(n);
        }
        // A respawn mid-turn: the turn runs again.
        if self.running.is_some() {
            self.set_state(SessionState::Busy);
        }
        self.publish();
        Ok(())
    }

    /// One start attempt that keeps answering the mailbox.
    async fn start_once(
        &mut self,
    ) -> Result<Result<Box<dyn Driver>, DriverError>, Option<ErrorBody>> {
        let spec = StartSpec {
            agent: self.spec.clone(),
            cwd: self.cwd.clone(),
            mode: self.mode.clone(),
            model: self.model.clone(),
            ready_timeout: self.ready_timeout,
            mcp_servers: crate::mcp::merged(&self.spec.mcp_servers, &self.mcp),
        };
        let start = match self.spare.take() {
            Some(spare) => self.factory.start_on(spare, spec),
            None => self.factory.start(spec),
        };
        tokio::pin!(start);
        loop {
            tokio::select! {
                r = &mut start => return Ok(r),
                msg = self.rx.recv() => match self.on_msg(msg) {
                    Interrupt::None | Interrupt::Decide { .. } | Interrupt::Steer => {}
                    Interrupt::Cancel => self.cancelled_while_starting = true,
                    Interrupt::Shutdown => return Err(None),
                },
            }
        }
    }

    fn first_start_done(&mut self, outcome: Result<(), ErrorBody>) {
        self.started = true;
        let mut queue = std::mem::take(&mut self.queue);
        for q in queue.iter_mut() {
            self.announce(q);
        }
        self.queue = queue;
        self.snap.send_modify(|s| s.ready = Some(outcome));
    }

    /// Answers every waiting turn with `err`.
    fn fail_all(&mut self, err: &ErrorBody) {
        while let Some(mut q) = self.queue.pop_front() {
            self.announce(&mut q);
            self.emit(&mut q, Event::Error(err.clone()));
        }
        self.publish();
    }

    pub fn fall_back_to_fresh(&mut self, why: &str) {
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
        self.snap.send_modify(|s| s.native_id = None);
        self.send_up(Change::FellBack);
    }

    fn idle_event(&mut self, ev: Option<DriverEvent>) {
        match ev {
            Some(DriverEvent::NativeId(n)) => self.native_changed(n),
            Some(DriverEvent::Exited) | None => {
                // The agent died between turns. Respawn lazily, by resume, at the next prompt.
                tracing::info!(session = %self.id, "agent exited while idle; will resume on the next prompt");
                if let Some(why) = self.driver.take().and_then(|d| d.killed_why()) {
                    self.notices.push((StatusKind::Respawn, format!("{}'s shared process was killed between turns because {why}; this session was respawned by resume", self.spec.name)));
                }
                self.publish();
            }
            Some(other) => {
                tracing::debug!(session = %self.id, "agent event between turns: {other:?}")
            }
        }
    }

    pub fn native_changed(&mut self, native: String) {
        if self.snap.borrow().native_id.as_deref() == Some(native.as_str())
            && self.mode == OpenMode::Resume(native.clone())
        {
            return;
        }
        self.snap
            .send_modify(|s| s.native_id = Some(native.clone()));
        self.mode = OpenMode::Resume(native.clone());
        self.send_up(Change::NativeId(native));
    }

    /// Adds a turn's spending to the session's total and tells the daemon, for the key's.
    pub fn spent(&mut self, usage: Usage) {
        self.snap.send_modify(|s| s.usage.add(&usage));
        self.send_up(Change::Spent(usage));
    }

    /// Tells the daemon about a change.
    pub(super) fn send_up(&mut self, change: Change) {
        let (applied, rx) = oneshot::channel();
        let up = Up {
            session: self.id.clone(),
            change,
            applied,
        };
        if self.up.send(up).is_ok() {
            self.unapplied.push(rx);
        }
    }

    /// Waits until the daemon has applied every change sent so far.
    pub async fn synced(&mut self) {
        for rx in self.unapplied.drain(..) {
            let _ = rx.await;
        }
    }

    /// Marks the start of a turn: busy, a fresh backlog that starts with the turn's `session`
    /// event (when it went out already), so an attach learns which turn runs.
    pub fn begin_turn(&mut self, request: &str, announced: Option<&Envelope>) {
        self.running = Some(request.to_string());
        self.permits.begin();
        self.backlog.clear();
        self.backlog_text = 0;
        self.backlog_clipped = false;
        self.backlog.extend(announced.cloned());
        self.backlog_of = Some(request.to_string());
        self.set_state(SessionState::Busy);
    }

    /// Marks the end of a turn; `completed` counts it.
    pub fn end_turn(&mut self, completed: bool) {
        self.running = None;
        self.forget_questions();
        if completed {
            self.snap.send_modify(|s| s.turns += 1);
        }
        self.set_state(SessionState::Idle);
    }

    /// Records a state change. Only a change counts as activity: stray agent output between
    /// turns must not keep an idle session from the sweep.
    pub fn set_state(&mut self, state: SessionState) {
        if self.state != state {
            self.state = state;
            self.touch();
        }
    }

    fn touch(&mut self) {
        self.snap.send_modify(|s| s.last_active = Instant::now());
        self.publish();
    }

    /// Publishes what readers see.
    pub fn publish(&mut self) {
        let state = match self.state {
            SessionState::Idle if self.parked => SessionState::Parked,
            s => s,
        };
        let pid = self.driver.as_ref().and_then(|d| d.pid());
        let shared = self.driver.as_ref().is_some_and(|d| d.shared());
        let queued = self.queue.len();
        self.snap.send_if_modified(|s| {
            let changed =
                s.state != state || s.pid != pid || s.shared != shared || s.queued != queued;
            s.state = state;
            s.pid = pid;
            s.shared = shared;
            s.queued = queued;
            changed
        });
    }

    /// The native session id, once known.
    pub fn native_id(&self) -> Option<String> {
        self.snap.borrow().native_id.clone()
    }
}

/// Waits for the driver's next event, or forever when there is no driver.
pub(super) async fn next_event(driver: &mut Option<Box<dyn Driver>>) -> Option<DriverEvent> {
    match driver {
        Some(d) => d.events().recv().await,
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
    // What the request asked of an agent that cannot do it is the caller's to change.
    let code = match &e {
        DriverError::Cannot(_) => ErrorCode::Usage,
        _ => ErrorCode::Agent,
    };
    ErrorBody::new(code, format!("agent {}: {e}{hint}", spec.name))
}
