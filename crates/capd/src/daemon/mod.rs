//! The daemon's routing state and the operations that change it.
//!
//! The tables (bindings, pool, records) and the map of live sessions sit behind one mutex,
//! taken once per unit of work and never held across an `await`. A request is routed by
//! [`routing::plan`], a pure function of the tables and the sessions' published snapshots;
//! the plan is applied to the tables under the lock, and the sessions' actors get their
//! messages (park, unpark, shut down) after it is released. Sessions report back only
//! through the daemon's own channel of [`Up`] changes, which [`Daemon::changes`] applies.
//!
//! Nothing is written to disk under the lock. A change that touches what the state file
//! holds bumps the tables' generation and notifies the [`Saver`], which writes a snapshot on
//! its own; the caller gets a [`Saved`] to wait on before it answers, so "the change is on
//! disk when the client hears back" still holds, without any other request waiting for it.

mod limits;
mod tables;

pub use tables::ForkSource;

use crate::agents;
use crate::config::Config;
use crate::drivers::{Factory, OpenMode, Spawner};
use crate::persist;
use crate::persist::records::Records;
use crate::routing::{self, Facts, Live, Table, Target, Want};
use crate::saver::{self, Saved, Saver};
use crate::session::{self, Change, SessionHandle, Up};
use cap_proto::policy::Policy;
use cap_proto::reply::{SessionInfo, SessionState};
use cap_proto::request::{Asker, Permissions};
use cap_proto::{ErrorBody, ErrorCode, How, Route, StatusKind};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Where the daemon lives.
#[derive(Debug, Clone)]
pub struct Paths {
    pub socket: PathBuf,
    pub state_file: PathBuf,
    pub config_file: Option<PathBuf>,
}

/// Everything the handlers share.
pub struct Daemon {
    pub config: Config,
    pub paths: Paths,
    pub started: Instant,
    factory: Arc<dyn Factory>,
    /// Where sessions send their changes; [`Daemon::changes`] owns the receiver.
    up: mpsc::UnboundedSender<Up>,
    state: Mutex<State>,
    /// Writes the state file; told of every change that touches it.
    saver: Saver,
    /// Fires once when the daemon should shut down.
    pub shutdown: tokio::sync::watch::Sender<bool>,
    /// Turns agents asked of other agents (`cap mcp`), while they run.
    pub delegations: Arc<crate::delegation::Delegations>,
    /// The agents' memory as last measured ([`Daemon::measured`]).
    memory: tokio::sync::watch::Sender<crate::memory::Usage>,
    /// Tells the prewarmer which agent's spare was taken.
    prewarm: mpsc::UnboundedSender<String>,
}

/// Live sessions plus the routing tables.
pub struct State {
    pub sessions: HashMap<String, SessionHandle>,
    pub table: Table,
    /// When a request was last routed to each session: a session picked but not yet given
    /// its prompt counts as used, so the sweep and evictions prefer others.
    routed: HashMap<String, Instant>,
    /// Counts the changes to what the state file holds; the saver acknowledges by it.
    generation: u64,
    /// Prewarmed agent processes waiting for a session.
    pub spares: crate::spares::Spares,
}

impl State {
    /// Every live session's facts for routing, from the actors' snapshots. Sessions on their
    /// way out are left out: nothing may be routed to them.
    pub fn live(&self) -> Live {
        self.sessions
            .values()
            .filter_map(|h| {
                let snap = h.snapshot();
                if snap.state == SessionState::Ending {
                    return None;
                }
                let routed = self.routed.get(&h.id).copied();
                let last_used = routed.map_or(snap.last_active, |r| r.max(snap.last_active));
                let facts = Facts {
                    agent: h.agent.clone(),
                    activity: snap.activity(),
                    last_used,
                };
                Some((h.id.clone(), facts))
            })
            .collect()
    }
}

/// A session picked for a request.
pub struct Acquired {
    pub handle: SessionHandle,
    pub key: Option<String>,
    pub how: How,
    /// What routing did that the caller should hear of (evictions).
    pub notices: Vec<(StatusKind, String)>,
    /// Routing's change to the state file, to be on disk before the caller's last reply.
    pub saved: Saved,
}

/// Messages for actors, sent once the lock is released.
#[derive(Default)]
struct Effects {
    park: Vec<SessionHandle>,
    unpark: Vec<SessionHandle>,
    end: Vec<SessionHandle>,
    /// Spares to end (dropping one ends its process group).
    spares: Vec<crate::drivers::Spare>,
}

impl Effects {
    fn send(self) {
        for h in self.park {
            h.park(true);
        }
        for h in self.unpark {
            h.park(false);
        }
        for h in self.end {
            drop(h.shutdown());
        }
        drop(self.spares);
    }
}

impl Daemon {
    /// Builds the daemon from its config and the loaded state file, and starts the task that
    /// applies the sessions' changes. Must run inside a tokio runtime.
    pub fn new(config: Config, paths: Paths, records: persist::Persisted) -> Arc<Daemon> {
        let hosts = crate::spares::spare_dir(&paths);
        Daemon::with_factory(config, paths, records, Arc::new(Spawner::new(hosts)))
    }

    /// [`Daemon::new`] with another way of starting agents.
    pub fn with_factory(
        config: Config,
        paths: Paths,
        records: persist::Persisted,
        factory: Arc<dyn Factory>,
    ) -> Arc<Daemon> {
        let (up, rx) = mpsc::unbounded_channel();
        let (prewarm, prewarm_rx) = mpsc::unbounded_channel();
        let write = saver::state_writer(paths.state_file.clone());
        let d = Arc::new_cyclic(|me: &std::sync::Weak<Daemon>| {
            let me = me.clone();
            // The saver's view of the tables: a short lock for an O(1) snapshot. A weak
            // reference, so the saver never keeps a dropped daemon alive.
            let source: saver::Source = Box::new(move || {
                let d = me.upgrade()?;
                let state = d.lock();
                Some((state.generation, state.table.snapshot()))
            });
            Daemon {
                config,
                paths,
                started: Instant::now(),
                factory,
                up,
                state: Mutex::new(State {
                    sessions: HashMap::new(),
                    table: Table::with_records(Records::from_persisted(records)),
                    routed: HashMap::new(),
                    generation: 0,
                    spares: Default::default(),
                }),
                saver: Saver::spawn(source, write),
                shutdown: tokio::sync::watch::channel(false).0,
                delegations: Arc::default(),
                memory: tokio::sync::watch::channel(Default::default()).0,
                prewarm,
            }
        });
        tokio::spawn(d.clone().changes(rx));
        tokio::spawn(crate::spares::prewarmer(d.clone(), prewarm_rx));
        d
    }

    /// Applies the sessions' changes until the daemon shuts down.
    async fn changes(self: Arc<Self>, mut rx: mpsc::UnboundedReceiver<Up>) {
        let mut stop = self.shutdown.subscribe();
        loop {
            tokio::select! {
                up = rx.recv() => match up {
                    Some(up) => self.apply_up(up),
                    None => return,
                },
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    fn apply_up(&self, up: Up) {
        let mut state = self.lock();
        // The actor waits for `applied` before its turn's last event: it fires once a write
        // that includes this change is done (at once when nothing on disk changes).
        let sid = up.session.as_str();
        match up.change {
            Change::Barrier => {
                // Everything sent before it is applied (the channel keeps order): ack once
                // what the tables hold now is on disk.
                self.saver.changed_with(state.generation, up.applied);
                return;
            }
            Change::NativeId(_) | Change::Settings => {
                // What the session runs with now (its snapshot is published before the
                // change is sent), so a resume opens it the same way.
                if let Some(h) = state.sessions.get(sid).cloned()
                    && state.table.routes_to(&h.home_key, &h.agent, sid)
                {
                    let snap = h.snapshot();
                    let native = match up.change {
                        Change::NativeId(native) => Some(native),
                        _ => snap.native_id,
                    };
                    state.table.remember(
                        &h.home_key,
                        &h.agent,
                        h.cwd.clone(),
                        native,
                        snap.model,
                        snap.mcp_servers,
                    );
                }
            }
            Change::FellBack => {
                if let Some(h) = state.sessions.get(sid).cloned()
                    && state.table.routes_to(&h.home_key, &h.agent, sid)
                {
                    let snap = h.snapshot();
                    state.table.remember(
                        &h.home_key,
                        &h.agent,
                        h.cwd.clone(),
                        None,
                        snap.model,
                        snap.mcp_servers,
                    );
                }
            }
            Change::Spent(usage) => {
                if let Some(key) = state.sessions.get(sid).map(|h| h.home_key.clone()) {
                    state.table.spend(&key, &usage);
                }
            }
            Change::Ended => {
                if state.sessions.remove(sid).is_some() {
                    state.table.forget_session(sid);
                    state.routed.remove(sid);
                }
            }
        }
        if state.table.take_dirty() {
            state.generation += 1;
            self.saver.changed_with(state.generation, up.applied);
        } else {
            drop(state);
            let _ = up.applied.send(());
        }
    }

    /// Locks the state. A poisoned lock still yields the data: one panicking handler must
    /// not take every session down with it.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Tells the saver when the tables' saved part changed; call it under the lock, right
    /// after the change, so notices keep the changes' order. The returned [`Saved`] resolves
    /// once the change is on disk (a failed write is logged, never fatal: the next retries).
    fn note(&self, state: &mut State) -> Saved {
        if !state.table.take_dirty() {
            return Saved::nothing();
        }
        state.generation += 1;
        self.saver.changed(state.generation)
    }

    /// Returns once every session change sent before this call is applied and on disk.
    /// `open` uses it: the native id the agent named at start (sent up before the session
    /// reported ready) must be saved before the caller hears of the session.
    pub async fn settled(&self) {
        let (applied, rx) = tokio::sync::oneshot::channel();
        let up = Up {
            session: String::new(),
            change: Change::Barrier,
            applied,
        };
        // Unsent or dropped (the daemon is stopping): nothing more will be applied anyway.
        if self.up.send(up).is_ok() {
            let _ = rx.await;
        }
    }

    /// Returns once every change so far is on disk: the last thing a stopping daemon does.
    pub async fn flush_state(&self) {
        self.saver.flush().await;
    }

    /// Routes a request to a session (SPEC §2 "Acquire"): `--session`, else the plan of
    /// [`routing::plan`], applied here.
    pub fn acquire(&self, route: &Route, bind: bool) -> Result<Acquired, ErrorBody> {
        let policy = self.policy(route.permissions.as_ref()).0;
        if let Some(sid) = &route.session {
            let mut state = self.lock();
            let handle = find(&state, sid)?.clone();
            agents::check_policy(&handle.agent, &self.config, &policy)?;
            state.routed.insert(handle.id.clone(), Instant::now());
            return Ok(Acquired {
                handle,
                key: None,
                how: How::Reused,
                notices: Vec::new(),
                saved: Saved::nothing(),
            });
        }
        let key = route
            .key
            .clone()
            .unwrap_or_else(|| cap_proto::key::default_key(&route.cwd));
        let agent = match &route.agent {
            Some(a) => a.clone(),
            None => {
                let state = self.lock();
                let live = state.live();
                state
                    .table
                    .current_agent(&key, &live)
                    .unwrap_or_else(|| self.config.default_agent.clone())
            }
        };
        let spec = agents::resolve(&agent, &self.config)?;
        // An agent that cannot be held to the policy is refused before anything starts.
        agents::check_policy(&agent, &self.config, &policy)?;
        if route.open == Some(OpenMode::Continue) && !spec.protocol.can_continue() {
            // Refused before anything is opened or rebound: a session that could only fail to
            // start would still replace the key's warm session and its record.
            return Err(ErrorBody::new(
                ErrorCode::Usage,
                format!(
                    "--continue is not supported by {agent} (the Codex app-server protocol has no \"most recent thread\"); resume a thread with --resume THREAD_ID (`cap show` prints it)"
                ),
            ));
        }
        let new_id = uuid::Uuid::new_v4().simple().to_string();
        let want = Want {
            key: &key,
            agent: &agent,
            open: route.open.as_ref(),
            cwd: &route.cwd,
            bind,
            model: route.model.as_deref(),
            mcp: route.mcp_servers.as_ref(),
            new_id: &new_id,
            max_sessions: self.config.max_sessions,
        };
        let mut state = self.lock();
        let live = state.live();
        let plan = routing::plan(&state.table, &live, &want)?;
        state.table.apply(&plan, &want);
        let mut fx = Effects::default();
        let mut notices = Vec::new();
        for sid in plan.end.iter().chain(&plan.evict) {
            state.routed.remove(sid);
            if let Some(h) = state.sessions.remove(sid) {
                if plan.evict.contains(sid) {
                    let message = format!(
                        "session {sid} ({} on {}) was idle and ended to make room under max_sessions = {}; its key resumes it on the next prompt",
                        h.agent, h.home_key, self.config.max_sessions
                    );
                    tracing::info!("{message}");
                    notices.push((StatusKind::Evicted, message));
                }
                fx.end.push(h);
            }
        }
        if let Some(h) = plan.park.as_ref().and_then(|(s, _)| state.sessions.get(s)) {
            fx.park.push(h.clone());
        }
        let (handle, how) = match &plan.target {
            Target::Live { session, how } => {
                let h = find(&state, session)?.clone();
                if *how == How::Unparked && plan.bind {
                    fx.unpark.push(h.clone());
                }
                (h, *how)
            }
            Target::Open {
                mode,
                cwd,
                model,
                how,
                mcp,
            } => {
                let preamble = match mode {
                    OpenMode::Fresh => route
                        .preamble
                        .clone()
                        .or_else(|| self.config.preamble.clone()),
                    _ => None,
                };
                let open = session::Open {
                    id: new_id.clone(),
                    agent: spec.for_session(&new_id, &self.paths.socket),
                    home_key: key.clone(),
                    cwd: cwd.clone(),
                    model: model.clone(),
                    mode: mode.clone(),
                    preamble,
                    queue_depth: self.config.queue_depth,
                    ready_timeout: Duration::from_secs(self.config.ready_timeout.max(1)),
                    cancel_grace: Duration::from_secs(self.config.cancel_grace.max(1)),
                    // Bounded, so a deadline can always be computed.
                    permission_timeout: Duration::from_secs(
                        self.config.permission_timeout.clamp(1, 365 * 24 * 3600),
                    ),
                    transcripts: self.transcripts(),
                    spare: state.spares.take(&spec.name),
                    mcp_servers: mcp.clone(),
                };
                let took_spare = open.spare.is_some();
                let ready_timeout = open.ready_timeout;
                // Sessions win: spares left over the limit go.
                let room = self
                    .config
                    .max_sessions
                    .saturating_sub(state.sessions.len() + 1);
                fx.spares.extend(state.spares.trim(room, &spec.name));
                let h = self.spawn(open);
                if took_spare {
                    // Refilled off the lock (the prewarmer checks the room first), once the
                    // session's first turn is over: on a small machine a spare starting
                    // beside it would slow the very prompt the spare was there to speed up.
                    let settled = h.settled(ready_timeout);
                    let (prewarm, agent) = (self.prewarm.clone(), spec.name.clone());
                    tokio::spawn(async move {
                        settled.await;
                        let _ = prewarm.send(agent);
                    });
                }
                state.sessions.insert(h.id.clone(), h.clone());
                (h, *how)
            }
        };
        state.routed.insert(handle.id.clone(), Instant::now());
        let saved = self.note(&mut state);
        drop(state);
        fx.send();
        Ok(Acquired {
            handle,
            key: Some(key),
            how,
            notices,
            saved,
        })
    }

    fn spawn(&self, open: session::Open) -> SessionHandle {
        session::spawn(open, self.factory.clone(), self.up.clone())
    }

    /// The policy a request runs under: its own mode, else the configured default; the
    /// configured rules, then its own; and who may be asked.
    pub fn policy(&self, asked: Option<&Permissions>) -> (Policy, Asker) {
        let asked = asked.cloned().unwrap_or_default();
        let policy = Policy {
            mode: asked.mode.unwrap_or(self.config.default_permissions),
            rules: self.config.permissions.and(&asked.rules),
        };
        (policy, asked.asker)
    }

    /// Where transcripts go; `None` when `transcripts = false`.
    pub fn transcripts(&self) -> Option<PathBuf> {
        self.config
            .transcripts
            .then(|| crate::transcript::dir(&self.paths.state_file))
    }

    /// The transcripts directory and how long its files are kept, when both apply.
    pub fn transcript_retention(&self) -> Option<(PathBuf, Duration)> {
        let days = self.config.transcript_days;
        let dir = self.transcripts()?;
        (days > 0).then(|| (dir, Duration::from_secs(days.saturating_mul(86_400))))
    }

    /// A snapshot of one session for `sessions`, `show` and `open`.
    pub fn info(&self, state: &State, h: &SessionHandle, how: Option<How>) -> SessionInfo {
        let keys = state
            .table
            .bindings
            .iter()
            .filter(|(_, s)| **s == h.id)
            .map(|(k, _)| k.clone())
            .collect();
        let snap = h.snapshot();
        SessionInfo {
            id: h.id.clone(),
            agent: h.agent.clone(),
            state: snap.state,
            keys,
            home_key: Some(h.home_key.clone()),
            cwd: h.cwd.clone(),
            native_id: snap.native_id,
            turns: snap.turns,
            idle_secs: snap.last_active.elapsed().as_secs(),
            queued: snap.queued,
            pid: snap.pid,
            shared: snap.shared,
            memory: self.memory.borrow().sessions.get(&h.id).copied(),
            model: snap.model,
            how,
            usage: (!snap.usage.is_empty()).then_some(snap.usage),
            mcp_servers: snap.mcp_servers.into_keys().collect(),
        }
    }

    /// Ends every session (daemon shutdown); records stay so a restart resumes them.
    pub async fn end_all(&self) {
        let (handles, spares) = {
            let mut state = self.lock();
            let handles: Vec<SessionHandle> = state.sessions.drain().map(|(_, h)| h).collect();
            (handles, state.spares.drain())
        };
        drop(spares);
        let waits: Vec<_> = handles.iter().map(SessionHandle::shutdown).collect();
        for w in waits {
            let _ = w.await;
        }
    }
}

/// Finds a live session by id.
pub fn find<'a>(state: &'a State, sid: &str) -> Result<&'a SessionHandle, ErrorBody> {
    state.sessions.get(sid).ok_or_else(|| {
        ErrorBody::new(
            ErrorCode::NotFound,
            format!("no live session {sid}; `cap sessions` lists live sessions"),
        )
    })
}
