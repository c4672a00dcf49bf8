//! One actor per live session, the only writer of that session's state.
//!
//! Handlers never touch a session's fields: they send its actor a [`Msg`] (submit a turn,
//! cancel, park, attach, shut down) and read the [`Snapshot`] it publishes on a `watch`
//! channel. The actor owns the agent driver, its queue of turns and every event of the
//! session, so turns are serialised by construction and `cap attach` sees everything the
//! session does, a queued prompt's cancellation included. What the daemon must know (a native
//! id learned, the session gone) goes up the daemon's own channel as an [`Up`]; nothing calls
//! back into the daemon.

mod actor;
mod events;
mod permit;
mod record;
mod settings;
mod structured;
#[cfg(test)]
mod tests;
mod turn;
pub mod wall;

use crate::agents::AgentSpec;
use crate::drivers::{Factory, OpenMode};
use cap_proto::policy::Policy;
use cap_proto::reply::SessionState;
use cap_proto::request::Asker;
use cap_proto::{Envelope, ErrorBody, ErrorCode, How, StatusKind, Usage};
pub use record::Following;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// One prompt for the actor.
pub struct Turn {
    /// The daemon-made request id, for cancels and the envelopes.
    pub request: String,
    pub text: String,
    pub timeout: Option<Duration>,
    /// How the agent's permission requests are decided during this turn.
    pub policy: Policy,
    /// Who answers what the policy leaves open.
    pub asker: Asker,
    /// Where this turn's events go (the caller's connection). Sends to a caller that went
    /// away are ignored: the turn runs on and its result stays available.
    pub events: mpsc::UnboundedSender<Envelope>,
    /// For the `session` event the turn starts with: the key it was routed by.
    pub key: Option<String>,
    /// For the `session` event: how routing found the session.
    pub how: How,
    /// Status events for this turn's caller from routing (a session evicted to make room).
    pub notices: Vec<(StatusKind, String)>,
    /// Put before the prompt like a preamble, and recorded as one: a handoff's context.
    pub context: Option<String>,
    /// The JSON Schema the answer must meet (`--schema`), compiled once by the handler.
    pub schema: Option<Arc<crate::schema::Schema>>,
    /// Switch the session to this model before the prompt is sent (`--model`).
    pub model: Option<String>,
    /// Give the agent these MCP servers (the session's own, `--mcp-config`) before the
    /// prompt is sent: the agent is restarted by resume when they differ from its current ones.
    pub mcp_servers: Option<crate::mcp::McpServers>,
    /// Add the text to the running turn instead (`--steer`), where the agent can.
    pub steer: bool,
}

/// What a cancel found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// No such turn runs or waits (it finished already, or nothing was asked).
    Nothing,
    /// The running turn was told to stop.
    Running,
    /// A queued turn was dropped before it ran; its caller got a cancelled result.
    Queued,
}

/// A message for a session's actor.
pub enum Msg {
    /// Queue a turn. Answered at once: accepted, or why not (queue full, session ending).
    Submit(Box<Turn>, oneshot::Sender<Result<(), ErrorBody>>),
    /// Cancel the turn with this request id (running or queued), or else the running one.
    Cancel(Option<String>, oneshot::Sender<Cancelled>),
    /// The session entered (`true`) or left the suspended pool.
    Park(bool),
    /// Subscribe to the session's events: the running turn's events so far, then the stream.
    Attach(oneshot::Sender<(Vec<Envelope>, broadcast::Receiver<Envelope>)>),
    /// Subscribe to the transcript's new records (`cap log --follow`).
    Follow(oneshot::Sender<Following>),
    /// End the session; answered once the agent's process group is gone.
    Shutdown(oneshot::Sender<()>),
    /// An answer to an open permission question; answered whether there was one.
    Decide {
        id: String,
        allow: bool,
        always: bool,
        reply: oneshot::Sender<bool>,
    },
}

/// What the daemon must learn from a session.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// The agent named (or renamed) its native session: remember it for the session's key.
    NativeId(String),
    /// A resume was impossible and the session started fresh: the remembered native id is
    /// gone until the new one is learned.
    FellBack,
    /// The actor stopped on its own (its agent could not start): drop it from the tables.
    Ended,
    /// A turn spent this: add it to the session's key.
    Spent(Usage),
    /// The session's model or its own MCP servers changed: remember them for its key, so a
    /// resume gets the same.
    Settings,
    /// Not a change and never sent by an actor: a marker the daemon acknowledges once every
    /// change sent before it is applied and on disk (`Daemon::settled`).
    Barrier,
}

/// A [`Change`] of one session, sent up the daemon's channel.
#[derive(Debug)]
pub struct Up {
    pub session: String,
    pub change: Change,
    /// Fired once the daemon has applied (and saved) the change. The actor waits for it
    /// before a turn's last event, so a caller that has its answer can rely on the change
    /// being on disk.
    pub applied: oneshot::Sender<()>,
}

/// What readers see of a session, published by its actor after every change.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub state: SessionState,
    /// `None` while the first start runs, then its outcome.
    pub ready: Option<Result<(), ErrorBody>>,
    pub native_id: Option<String>,
    pub turns: u64,
    /// The last change of state: a turn starting or ending, parking, unparking.
    pub last_active: Instant,
    pub pid: Option<u32>,
    /// The agent process hosts other sessions too (`share`).
    pub shared: bool,
    /// Turns waiting behind the running one.
    pub queued: usize,
    /// The last finished turn's `result` or `error` event.
    pub last_result: Option<Arc<Envelope>>,
    /// What the session's turns have spent, as far as the agent reports it.
    pub usage: Usage,
    /// The model the session runs with, when cap chose it (`--model`).
    pub model: Option<String>,
    /// The session's own MCP servers (`--mcp-config`; configured ones come with the agent).
    pub mcp_servers: crate::mcp::McpServers,
}

impl Snapshot {
    /// Whether a turn runs or waits, or the agent is still starting: such a session is never
    /// evicted or swept.
    pub fn activity(&self) -> crate::routing::Activity {
        use crate::routing::Activity;
        match self.state {
            SessionState::Starting => Activity::Starting,
            SessionState::Idle | SessionState::Parked if self.queued == 0 => Activity::Idle,
            _ => Activity::Busy,
        }
    }
}

/// The daemon's handle on a session: its fixed facts, its mailbox and its snapshot.
#[derive(Clone)]
pub struct SessionHandle {
    pub id: String,
    pub agent: String,
    /// The key the session was opened for.
    pub home_key: String,
    pub cwd: PathBuf,
    tx: mpsc::UnboundedSender<Msg>,
    snapshot: watch::Receiver<Snapshot>,
}

/// Why a turn could not be queued.
#[derive(Debug)]
pub enum Refused {
    /// The session is ending or gone: route again.
    Gone,
    /// The actor refused it (queue full).
    Error(ErrorBody),
}

impl SessionHandle {
    /// The latest snapshot.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.borrow().clone()
    }

    /// Queues a turn.
    pub async fn submit(&self, turn: Turn) -> Result<(), Refused> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Submit(Box::new(turn), tx)).is_err() {
            return Err(Refused::Gone);
        }
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if e.code == ErrorCode::Limit => Err(Refused::Error(e)),
            Ok(Err(_)) | Err(_) => Err(Refused::Gone),
        }
    }

    /// Cancels a turn; a session that is gone has nothing to cancel.
    pub async fn cancel(&self, request: Option<String>) -> Cancelled {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Cancel(request, tx)).is_err() {
            return Cancelled::Nothing;
        }
        rx.await.unwrap_or(Cancelled::Nothing)
    }

    /// Tells the actor whether it sits in the suspended pool.
    pub fn park(&self, parked: bool) {
        let _ = self.tx.send(Msg::Park(parked));
    }

    /// The running turn's events so far and the live stream; `None` when the session is gone.
    pub async fn attach(&self) -> Option<(Vec<Envelope>, broadcast::Receiver<Envelope>)> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Msg::Attach(tx)).ok()?;
        rx.await.ok()
    }

    /// The transcript file and its records to come; `None` when the session is gone.
    pub async fn follow(&self) -> Option<Following> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Msg::Follow(tx)).ok()?;
        rx.await.ok()
    }

    /// Answers an open permission question; false when there is none with that id (answered
    /// already, or the turn is over).
    pub async fn decide(&self, id: String, allow: bool, always: bool) -> bool {
        let (reply, rx) = oneshot::channel();
        let msg = Msg::Decide {
            id,
            allow,
            always,
            reply,
        };
        if self.tx.send(msg).is_err() {
            return false;
        }
        rx.await.unwrap_or(false)
    }

    /// Asks the actor to end; the receiver fires when its process group is gone (or at once
    /// when the actor already is).
    pub fn shutdown(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Shutdown(tx)).is_err() {
            tracing::debug!(session = %self.id, "actor already gone");
        }
        rx
    }

    /// Waits for the first start's outcome.
    /// Resolves once the session has finished its first turn (either way) or ended, or after
    /// `limit`. Holds only the snapshot, never the mailbox, so it keeps nothing alive.
    pub fn settled(&self, limit: Duration) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.snapshot.clone();
        async move {
            let over = |s: &Snapshot| {
                s.last_result.is_some()
                    || s.state == SessionState::Ending
                    || matches!(s.ready, Some(Err(_)))
            };
            let _ = tokio::time::timeout(limit, rx.wait_for(over)).await;
        }
    }

    pub async fn ready(&self) -> Result<(), ErrorBody> {
        let mut rx = self.snapshot.clone();
        match rx.wait_for(|s| s.ready.is_some()).await {
            Ok(s) => s.ready.clone().unwrap_or(Ok(())),
            Err(_) => Err(ErrorBody::new(
                ErrorCode::Agent,
                "the session ended while its agent was starting; send the prompt again",
            )),
        }
    }
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
    /// How long a permission question may stay unanswered before it is denied.
    pub permission_timeout: Duration,
    /// Where the session's transcript goes; `None` when recording is off.
    pub transcripts: Option<PathBuf>,
    /// A prewarmed agent to open the session on, skipping its start (first start only).
    pub spare: Option<crate::drivers::Spare>,
    /// The session's own MCP servers (on top of the agent's configured ones).
    pub mcp_servers: crate::mcp::McpServers,
}

/// Spawns the actor; it starts the agent at once so the session is warm by the first prompt.
pub fn spawn(
    open: Open,
    factory: Arc<dyn Factory>,
    up: mpsc::UnboundedSender<Up>,
) -> SessionHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let native = match &open.mode {
        OpenMode::Resume(id) => Some(id.clone()),
        _ => None,
    };
    let (snap_tx, snap_rx) = watch::channel(Snapshot {
        state: SessionState::Starting,
        ready: None,
        native_id: native,
        turns: 0,
        last_active: Instant::now(),
        pid: None,
        shared: false,
        queued: 0,
        last_result: None,
        usage: Usage::default(),
        model: open.model.clone(),
        mcp_servers: open.mcp_servers.clone(),
    });
    let handle = SessionHandle {
        id: open.id.clone(),
        agent: open.agent.name.clone(),
        home_key: open.home_key.clone(),
        cwd: open.cwd.clone(),
        tx,
        snapshot: snap_rx,
    };
    actor::start(open, factory, up, rx, snap_tx);
    handle
}
