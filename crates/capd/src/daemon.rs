//! The daemon's shared state and the operations that change it.
//!
//! All of it sits behind one mutex, taken once per unit of work and never held across an
//! `await`: handlers decide under the lock (route, bind, park, evict) and do the slow parts
//! (waiting for an agent to start or to die) after releasing it. Every change to bindings, the
//! pool or the records is saved before the lock is released.

use crate::agents::{self, AgentSpec};
use crate::config::Config;
use crate::drivers::OpenMode;
use crate::persist;
use crate::routing::{self, Table};
use crate::session::{self, Control, SessionHandle};
use cap_proto::reply::{SessionInfo, SessionState};
use cap_proto::{ErrorBody, ErrorCode, How, Route};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

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
    state: Mutex<State>,
    me: Weak<Daemon>,
    /// Fires once when the daemon should shut down.
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

/// Live sessions plus the routing tables.
pub struct State {
    pub sessions: HashMap<String, SessionHandle>,
    pub table: Table,
}

/// A session picked for a request.
pub struct Acquired {
    pub handle: SessionHandle,
    pub key: Option<String>,
    pub how: How,
}

impl Daemon {
    /// Builds the daemon from its config and the loaded state file.
    pub fn new(config: Config, paths: Paths, records: persist::Persisted) -> Arc<Daemon> {
        Arc::new_cyclic(|me| Daemon {
            config,
            paths,
            started: Instant::now(),
            state: Mutex::new(State {
                sessions: HashMap::new(),
                table: Table {
                    records,
                    ..Table::default()
                },
            }),
            me: me.clone(),
            shutdown: tokio::sync::watch::channel(false).0,
        })
    }

    /// Locks the state. A poisoned lock still yields the data: one panicking handler must
    /// not take every session down with it.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Saves the routing tables; a failure is logged, never fatal (the next change retries).
    fn save(&self, state: &State) {
        if let Err(e) = persist::save(&self.paths.state_file, &state.table.snapshot()) {
            tracing::error!(
                "cannot save state to {}: {e}",
                self.paths.state_file.display()
            );
        }
    }

    /// Routes a request to a session (SPEC §2 "Acquire"): `--session`, then the binding for
    /// (key, agent), then the parked session, then the remembered native id (resume), then a
    /// new session. `--new`, `--resume` and `--continue` skip straight to opening.
    pub fn acquire(&self, route: &Route, bind: bool) -> Result<Acquired, ErrorBody> {
        if let Some(sid) = &route.session {
            let state = self.lock();
            let handle = find(&state, sid)?.clone();
            touch(&handle);
            return Ok(Acquired {
                handle,
                key: None,
                how: How::Reused,
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
                let of = agent_lookup(&state.sessions);
                state
                    .table
                    .current_agent(&key, &of)
                    .unwrap_or_else(|| self.config.default_agent.clone())
            }
        };
        let spec = agents::resolve(&agent, &self.config)?;
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
        let mut state = self.lock();
        let forced = route.open.is_some();
        let warm = if forced {
            None
        } else {
            let of = agent_lookup(&state.sessions);
            state.table.warm(&key, &agent, &of)
        };
        if let Some((sid, how)) = warm
            && let Some(handle) = state.sessions.get(&sid).cloned()
        {
            touch(&handle);
            if bind && how == How::Unparked {
                let ended = self.bind_locked(&mut state, &key, &handle);
                self.save(&state);
                drop(state);
                shut_down_all(ended);
            }
            return Ok(Acquired {
                handle,
                key: Some(key),
                how,
            });
        }
        let remembered = state.table.record(&key, &agent).cloned();
        let (mode, cwd, how) = if route.open == Some(OpenMode::Fresh) {
            (OpenMode::Fresh, route.cwd.clone(), How::Opened)
        } else if let Some(OpenMode::Resume(native)) = &route.open {
            // Claude resumes only from the session's original cwd: use the remembered one.
            let cwd = state
                .table
                .records
                .keys
                .values()
                .flat_map(|k| k.agents.iter())
                .find(|(a, r)| **a == agent && r.native_id.as_deref() == Some(native.as_str()))
                .map(|(_, r)| r.cwd.clone())
                .unwrap_or_else(|| route.cwd.clone());
            (OpenMode::Resume(native.clone()), cwd, How::Resumed)
        } else if route.open == Some(OpenMode::Continue) {
            (OpenMode::Continue, route.cwd.clone(), How::Continued)
        } else if let Some(native) = remembered.as_ref().and_then(|r| r.native_id.clone()) {
            let cwd = remembered
                .as_ref()
                .map(|r| r.cwd.clone())
                .unwrap_or_default();
            (OpenMode::Resume(native), cwd, How::Resumed)
        } else {
            (OpenMode::Fresh, route.cwd.clone(), How::Opened)
        };
        let model = route
            .model
            .clone()
            .or_else(|| remembered.as_ref().and_then(|r| r.model.clone()));
        let to_end = self.make_room(&mut state)?;
        let preamble = match mode {
            OpenMode::Fresh => route
                .preamble
                .clone()
                .or_else(|| self.config.preamble.clone()),
            _ => None,
        };
        let native = match &mode {
            OpenMode::Resume(n) => Some(n.clone()),
            _ => None,
        };
        let handle = self.spawn_session(&spec, &key, cwd.clone(), model.clone(), mode, preamble);
        state.sessions.insert(handle.id.clone(), handle.clone());
        let mut ended = to_end;
        if bind {
            ended.extend(self.bind_locked(&mut state, &key, &handle));
            state.table.remember(&key, &agent, cwd, native, model);
        }
        self.save(&state);
        drop(state);
        shut_down_all(ended);
        Ok(Acquired {
            handle,
            key: Some(key),
            how,
        })
    }

    fn spawn_session(
        &self,
        spec: &AgentSpec,
        key: &str,
        cwd: PathBuf,
        model: Option<String>,
        mode: OpenMode,
        preamble: Option<String>,
    ) -> SessionHandle {
        session::spawn(
            session::Open {
                id: uuid::Uuid::new_v4().simple().to_string(),
                agent: spec.clone(),
                home_key: key.to_string(),
                cwd,
                model,
                mode,
                preamble,
                queue_depth: self.config.queue_depth,
                ready_timeout: Duration::from_secs(self.config.ready_timeout.max(1)),
                cancel_grace: Duration::from_secs(self.config.cancel_grace.max(1)),
            },
            self.me.clone(),
        )
    }

    /// At the session limit, ends the least recently used parked session; with none parked,
    /// refuses with exit code 7. Returns the handles to shut down once the lock is released.
    fn make_room(&self, state: &mut State) -> Result<Vec<SessionHandle>, ErrorBody> {
        let mut ended = Vec::new();
        while state.sessions.len() >= self.config.max_sessions {
            let parked = state
                .sessions
                .values()
                .filter(|h| h.live.with(|l| l.parked))
                .map(|h| (h.id.as_str(), h.live.with(|l| l.last_active)));
            let Some(victim) = routing::eviction_candidate(parked) else {
                return Err(ErrorBody::new(
                    ErrorCode::Limit,
                    format!(
                        "session limit reached ({} live sessions, none parked); end one with `cap end <id>` (list them with `cap sessions`) or raise max_sessions in the config",
                        self.config.max_sessions
                    ),
                ));
            };
            tracing::info!(session = %victim, "evicting the least recently used parked session");
            state.table.forget_session(&victim);
            if let Some(h) = state.sessions.remove(&victim) {
                ended.push(h);
            }
        }
        Ok(ended)
    }

    /// Binds `key` to `handle` under the lock, marking parked flags; returns sessions to end.
    fn bind_locked(
        &self,
        state: &mut State,
        key: &str,
        handle: &SessionHandle,
    ) -> Vec<SessionHandle> {
        let of = agent_lookup(&state.sessions);
        let end_ids = state.table.bind(key, &handle.id, &handle.agent, &of);
        drop(of);
        let ended: Vec<SessionHandle> = end_ids
            .iter()
            .filter_map(|id| state.sessions.remove(id))
            .collect();
        sync_parked(state);
        ended
    }

    /// `cap bind KEY ID`.
    pub fn bind(&self, key: &str, sid: &str) -> Result<(), ErrorBody> {
        let mut state = self.lock();
        let handle = find(&state, sid)?.clone();
        let ended = self.bind_locked(&mut state, key, &handle);
        let native = handle.live.with(|l| l.native_id.clone());
        state.table.remember(
            key,
            &handle.agent,
            handle.cwd.clone(),
            native,
            handle.model.clone(),
        );
        self.save(&state);
        drop(state);
        shut_down_all(ended);
        Ok(())
    }

    /// `cap unbind KEY`: the key no longer leads to its session (which stays live, reachable
    /// by id), and the key's record of that agent is forgotten so the next prompt starts fresh.
    pub fn unbind(&self, key: &str) -> Result<String, ErrorBody> {
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
        self.save(&state);
        Ok(sid)
    }

    /// Removes a session from every table; `forget` also drops its key's record (`cap end`).
    /// Returns the handle so the caller can shut it down outside the lock.
    pub fn remove(&self, sid: &str, forget: bool) -> Result<SessionHandle, ErrorBody> {
        let mut state = self.lock();
        let handle = find(&state, sid)?.clone();
        state.sessions.remove(sid);
        state.table.forget_session(sid);
        if forget {
            state.table.forget_record(&handle.home_key, &handle.agent);
        }
        sync_parked(&mut state);
        self.save(&state);
        Ok(handle)
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
    pub fn sweep(&self) -> Vec<String> {
        let Some(limit) = self.config.idle_timeout() else {
            return Vec::new();
        };
        let mut state = self.lock();
        let stale: Vec<String> = state
            .sessions
            .values()
            .filter(|h| {
                h.live.with(|l| {
                    matches!(l.state, SessionState::Idle | SessionState::Parked)
                        && l.queued == 0
                        && l.last_active.elapsed() >= limit
                })
            })
            .map(|h| h.id.clone())
            .collect();
        let mut ended = Vec::new();
        for sid in &stale {
            state.table.forget_session(sid);
            if let Some(h) = state.sessions.remove(sid) {
                ended.push(h);
            }
        }
        if !ended.is_empty() {
            self.save(&state);
        }
        drop(state);
        for h in &ended {
            tracing::info!(session = %h.id, agent = %h.agent, "idle sweep ended the session; its key resumes it on the next prompt");
        }
        shut_down_all(ended);
        stale
    }

    /// An actor learned its native id: remember it for the (key, agent) it serves.
    pub fn native_id_changed(&self, sid: &str, native: &str) {
        let mut state = self.lock();
        let Some(h) = state.sessions.get(sid).cloned() else {
            return;
        };
        if !state.table.routes_to(&h.home_key, &h.agent, sid) {
            return;
        }
        state.table.remember(
            &h.home_key,
            &h.agent,
            h.cwd.clone(),
            Some(native.to_string()),
            h.model.clone(),
        );
        self.save(&state);
    }

    /// An actor's first start failed: drop the session from the tables (records stay).
    pub fn session_failed(&self, sid: &str) {
        let mut state = self.lock();
        state.sessions.remove(sid);
        state.table.forget_session(sid);
        self.save(&state);
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
        h.live.with(|l| SessionInfo {
            id: h.id.clone(),
            agent: h.agent.clone(),
            state: if l.parked && l.state == SessionState::Idle {
                SessionState::Parked
            } else {
                l.state
            },
            keys,
            home_key: Some(h.home_key.clone()),
            cwd: h.cwd.clone(),
            native_id: l.native_id.clone(),
            turns: l.turns,
            idle_secs: l.last_active.elapsed().as_secs(),
            queued: l.queued,
            pid: l.pid,
            model: h.model.clone(),
            how,
        })
    }

    /// Ends every session (daemon shutdown); records stay so a restart resumes them.
    pub async fn end_all(&self) {
        let handles: Vec<SessionHandle> = self.lock().sessions.drain().map(|(_, h)| h).collect();
        let waits: Vec<_> = handles.iter().map(request_shutdown).collect();
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

/// Marks a session as just used, under the daemon lock: the idle sweep must not end a
/// session that a request has picked but not yet queued its prompt on.
fn touch(h: &SessionHandle) {
    h.live.with(|l| l.last_active = Instant::now());
}

/// Looks up a live session's agent by id, for the routing tables.
fn agent_lookup(sessions: &HashMap<String, SessionHandle>) -> impl Fn(&str) -> Option<String> + '_ {
    |sid: &str| sessions.get(sid).map(|h| h.agent.clone())
}

/// Marks each live session's `parked` flag from the pool.
fn sync_parked(state: &mut State) {
    for h in state.sessions.values() {
        let parked = state.table.pool.values().any(|s| *s == h.id);
        h.live.with(|l| {
            if l.parked != parked {
                l.parked = parked;
                l.last_active = Instant::now();
            }
        });
    }
}

/// Asks a session's actor to end; the receiver fires when its process group is gone.
pub fn request_shutdown(h: &SessionHandle) -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    if h.control.send(Control::Shutdown(tx)).is_err() {
        tracing::debug!(session = %h.id, "actor already gone");
    }
    rx
}

/// Ends sessions without waiting for them (the actor kills the group on its own).
fn shut_down_all(handles: Vec<SessionHandle>) {
    for h in &handles {
        drop(request_shutdown(h));
    }
}
