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
use cap_proto::request::{Asker, Permissions, TargetRequest};
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
        Daemon::with_factory(config, paths, records, Arc::new(Spawner))
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
                if open.spare.is_some() {
                    // Refilled off the lock; the prewarmer checks the room first.
                    let _ = self.prewarm.send(spec.name.clone());
                }
                // Sessions win: spares left over the limit go.
                let room = self
                    .config
                    .max_sessions
                    .saturating_sub(state.sessions.len() + 1);
                fx.spares.extend(state.spares.trim(room, &spec.name));
                let h = self.spawn(open);
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

    /// The conversation `cap fork` copies: a live session (by id, or bound to the key), else
    /// the key's remembered record of its current agent.
    pub fn fork_source(&self, t: &TargetRequest) -> Result<ForkSource, ErrorBody> {
        let state = self.lock();
        let live = match (&t.session, &t.key, &t.cwd) {
            (Some(sid), _, _) => Some(find(&state, sid)?.clone()),
            (None, key, cwd) => {
                let key = match (key, cwd) {
                    (Some(k), _) => k.clone(),
                    (None, Some(cwd)) => cap_proto::key::default_key(cwd),
                    (None, None) => {
                        return Err(ErrorBody::new(
                            ErrorCode::Usage,
                            "name the session to fork: an id, a --from key, or run it in the session's directory",
                        ));
                    }
                };
                match state.table.bindings.get(&key) {
                    Some(sid) => state.sessions.get(sid).cloned(),
                    None => {
                        let live = state.live();
                        let agent = state.table.current_agent(&key, &live);
                        let record = agent
                            .as_deref()
                            .and_then(|a| state.table.record(&key, a).map(|r| (a, r)));
                        return match record {
                            Some((agent, r)) => match &r.native_id {
                                Some(native) => Ok(ForkSource {
                                    agent: agent.to_string(),
                                    native_id: native.clone(),
                                    cwd: r.cwd.clone(),
                                }),
                                None => Err(no_native(&key)),
                            },
                            None => Err(ErrorBody::new(
                                ErrorCode::NotFound,
                                format!(
                                    "key {key} has no conversation to fork; `cap keys` lists them"
                                ),
                            )),
                        };
                    }
                }
            }
        };
        let Some(h) = live else {
            return Err(ErrorBody::new(
                ErrorCode::NotFound,
                "no such session to fork",
            ));
        };
        let native = h.snapshot().native_id.ok_or_else(|| no_native(&h.id))?;
        Ok(ForkSource {
            agent: h.agent.clone(),
            native_id: native,
            cwd: h.cwd.clone(),
        })
    }

    /// The context a `--handoff` prompt starts with: the key's recorded turns with the agent
    /// it used until now, when that is another agent than `to`.
    pub fn handoff(&self, key: &str, to: &str) -> Option<String> {
        let (from, native) = {
            let state = self.lock();
            let live = state.live();
            let from = state.table.current_agent(key, &live)?;
            if from == to {
                return None;
            }
            let native = state.table.record(key, &from)?.native_id.clone()?;
            (from, native)
        };
        let path = crate::transcript::path(&self.transcripts()?, &from, &native)?;
        let records = crate::transcript::read(&path, None).ok()?;
        crate::handoff::context(&from, to, records)
    }

    /// Refuses a prompt on `key` once the key has spent its budget: the configured one, or
    /// the prompt's own `budget`, whichever is lower.
    pub fn check_budget(&self, key: &str, budget: Option<f64>) -> Result<(), ErrorBody> {
        let cap = [self.config.budgets.get(key).copied(), budget]
            .into_iter()
            .flatten()
            .reduce(f64::min);
        let Some(cap) = cap else {
            return Ok(());
        };
        let spent = self
            .lock()
            .table
            .records
            .get(key)
            .and_then(|r| r.usage.cost_usd)
            .unwrap_or(0.0);
        if spent >= cap {
            return Err(ErrorBody::new(
                ErrorCode::Limit,
                format!(
                    "key {key} has spent ${spent:.4} of its ${cap:.4} budget; raise the budget, or clear the record with `cap budget reset --key {key}`"
                ),
            ));
        }
        Ok(())
    }

    /// Forgets what `key` has spent; returns what it had, if anything.
    pub fn reset_spending(&self, key: &str) -> Option<cap_proto::Usage> {
        let mut state = self.lock();
        let spent = state.table.reset_spending(key);
        // Not awaited: the reply reports the cleared total; the file follows shortly.
        let _ = self.note(&mut state);
        spent
    }

    /// Finds the session an open permission question (`<session id>.<n>`) belongs to.
    pub fn asking(&self, question: &str) -> Result<SessionHandle, ErrorBody> {
        let sid = question.split_once('.').map_or(question, |(s, _)| s);
        find(&self.lock(), sid).cloned().map_err(|_| {
            ErrorBody::new(
                ErrorCode::NotFound,
                format!(
                    "no open permission question {question}; it may have been answered or timed out"
                ),
            )
        })
    }

    /// `cap bind KEY ID`.
    pub fn bind(&self, key: &str, sid: &str) -> Result<Saved, ErrorBody> {
        let mut state = self.lock();
        let handle = find(&state, sid)?.clone();
        let live = state.live();
        let (parked, ended) = state.table.bind(key, sid, &handle.agent, &live);
        let mut fx = Effects::default();
        fx.unpark.push(handle.clone());
        fx.park
            .extend(parked.and_then(|s| state.sessions.get(&s).cloned()));
        for s in &ended {
            state.routed.remove(s);
            fx.end.extend(state.sessions.remove(s));
        }
        let snap = handle.snapshot();
        state.table.remember(
            key,
            &handle.agent,
            handle.cwd.clone(),
            snap.native_id,
            snap.model,
            snap.mcp_servers,
        );
        let saved = self.note(&mut state);
        drop(state);
        fx.send();
        Ok(saved)
    }

    /// `cap unbind KEY`: the key no longer leads to its session (which stays live, reachable
    /// by id), and the key's record of that agent is forgotten so the next prompt starts fresh.
    pub fn unbind(&self, key: &str) -> Result<(String, Saved), ErrorBody> {
        let mut state = self.lock();
        let Some(sid) = state.table.bindings.remove(key) else {
            return Err(ErrorBody::new(
                ErrorCode::NotFound,
                format!("key {key} is not bound; `cap keys` lists the bindings"),
            ));
        };
        if let Some(agent) = state.sessions.get(&sid).map(|h| h.agent.clone()) {
            state.table.forget_record(key, &agent);
        }
        let saved = self.note(&mut state);
        Ok((sid, saved))
    }

    /// Removes a session from every table; `forget` also drops its key's record (`cap end`).
    /// Returns the handle so the caller can shut it down outside the lock.
    pub fn remove(&self, sid: &str, forget: bool) -> Result<(SessionHandle, Saved), ErrorBody> {
        let mut state = self.lock();
        let handle = find(&state, sid)?.clone();
        state.sessions.remove(sid);
        state.routed.remove(sid);
        state.table.forget_session(sid);
        if forget {
            state.table.forget_record(&handle.home_key, &handle.agent);
        }
        let saved = self.note(&mut state);
        Ok((handle, saved))
    }

    /// Forgets a session whose agent never started, with its key's binding and record (a
    /// failed `cap fork` must leave the new key as it was).
    pub fn forget_failed(&self, h: &SessionHandle) {
        let mut state = self.lock();
        state.sessions.remove(&h.id);
        state.routed.remove(&h.id);
        state.table.forget_session(&h.id);
        state.table.forget_record(&h.home_key, &h.agent);
        let _ = self.note(&mut state);
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

    /// Resolves `--key KEY` (or the default key of `cwd`) to its bound session id.
    pub fn session_for_key(&self, key: &str) -> Result<String, ErrorBody> {
        self.lock().table.bindings.get(key).cloned().ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::NotFound,
                format!("no session is bound to key {key}; `cap sessions` lists live sessions"),
            )
        })
    }

    /// The idle sweep: ends sessions idle (or parked) longer than `idle_timeout`, never busy
    /// ones, and keeps their records so the next prompt resumes transparently.
    pub fn sweep(&self) -> (Vec<String>, Saved) {
        let Some(limit) = self.config.idle_timeout() else {
            return (Vec::new(), Saved::nothing());
        };
        let now = Instant::now();
        self.end_idle(
            |state| routing::stale(&state.live(), now, limit),
            "idle sweep ended the session",
        )
    }

    /// Takes a memory measurement (resident bytes by process group): publishes each
    /// session's figure and each agent's footprint, then evicts idle sessions while the
    /// agents together hold more than `max_agent_memory`. Their records stay, so their keys
    /// resume them on the next prompt.
    pub fn measured(&self, groups: &HashMap<u32, u64>) -> Vec<String> {
        let limit = self.config.max_agent_memory.bytes();
        let mut dropped = Vec::new();
        let evicted = self.end_idle(
            |state| {
                let mut usage = self.memory.borrow().clone();
                usage.sessions.clear();
                for h in state.sessions.values() {
                    let Some(bytes) = h.snapshot().pid.and_then(|p| groups.get(&p)) else {
                        continue;
                    };
                    usage.sessions.insert(h.id.clone(), *bytes);
                    let peak = usage.footprint.entry(h.agent.clone()).or_default();
                    *peak = (*peak).max(*bytes);
                }
                let spares: u64 = state
                    .spares
                    .pids()
                    .iter()
                    .filter_map(|(_, p)| groups.get(p))
                    .sum();
                usage.total = usage.sessions.values().sum::<u64>() + spares;
                let mut evict = Vec::new();
                if let Some(limit) = limit.filter(|l| usage.total > *l) {
                    // Spares go first: nobody is using them.
                    if spares > 0 {
                        tracing::info!("the agents' memory was over max_agent_memory; ended the prewarmed spares");
                        dropped.extend(state.spares.drain());
                    }
                    let live = state.live();
                    evict = routing::over_memory(&state.table, &live, &usage.sessions, limit);
                }
                self.memory.send_replace(usage);
                evict
            },
            "the agents' memory was over max_agent_memory; evicted the least recently used idle session",
        )
        .0;
        // Dropping a spare ends its process group: outside the lock.
        drop(dropped);
        evicted
    }

    /// Ends the idle sessions `pick` chooses (under the lock), keeping their records so the
    /// next prompt on their keys resumes them; logs `why` for each.
    fn end_idle(
        &self,
        pick: impl FnOnce(&mut State) -> Vec<String>,
        why: &str,
    ) -> (Vec<String>, Saved) {
        let mut state = self.lock();
        let picked = pick(&mut state);
        let mut fx = Effects::default();
        for sid in &picked {
            state.table.forget_session(sid);
            state.routed.remove(sid);
            fx.end.extend(state.sessions.remove(sid));
        }
        let saved = self.note(&mut state);
        drop(state);
        for h in &fx.end {
            tracing::info!(session = %h.id, agent = %h.agent, "{why}; its key resumes it on the next prompt");
        }
        fx.send();
        (picked, saved)
    }

    /// How starting agents is done (the prewarmer starts spares with it).
    pub fn factory(&self) -> &Arc<dyn Factory> {
        &self.factory
    }

    pub fn spare_count(&self, agent: &str) -> usize {
        self.lock().spares.count(agent)
    }

    /// Whether another spare fits under `max_sessions` beside the sessions and spares.
    pub fn room_for_spare(&self) -> bool {
        let state = self.lock();
        state.sessions.len() + state.spares.total() < self.config.max_sessions
    }

    /// Adds a started spare to the pool, unless sessions took the room meanwhile (then it is
    /// dropped, ending it). Returns whether it was kept.
    pub fn add_spare(&self, agent: &str, spare: crate::drivers::Spare) -> bool {
        let mut state = self.lock();
        if state.sessions.len() + state.spares.total() >= self.config.max_sessions {
            drop(state);
            drop(spare);
            return false;
        }
        state.spares.add(agent, spare);
        true
    }

    /// The last memory measurement.
    pub fn memory(&self) -> crate::memory::Usage {
        self.memory.borrow().clone()
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

/// What `cap fork` copies.
pub struct ForkSource {
    pub agent: String,
    pub native_id: String,
    pub cwd: PathBuf,
}

fn no_native(what: &str) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::NotFound,
        format!(
            "{what} has no native session yet (its agent has not started); send it a prompt first"
        ),
    )
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
