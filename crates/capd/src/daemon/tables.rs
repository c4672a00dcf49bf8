//! What handlers ask of the tables besides routing: bindings, records, forks and handoffs,
//! spending, and finding a session by key or question.

use super::{Daemon, Effects, find};
use crate::saver::Saved;
use crate::session::SessionHandle;
use cap_proto::request::TargetRequest;
use cap_proto::{ErrorBody, ErrorCode};
use std::path::PathBuf;

impl Daemon {
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

    /// Resolves `--key KEY` (or the default key of `cwd`) to its bound session id.
    pub fn session_for_key(&self, key: &str) -> Result<String, ErrorBody> {
        self.lock().table.bindings.get(key).cloned().ok_or_else(|| {
            ErrorBody::new(
                ErrorCode::NotFound,
                format!("no session is bound to key {key}; `cap sessions` lists live sessions"),
            )
        })
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
