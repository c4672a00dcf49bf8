//! `prompt`: route to a session, queue the turn with its actor, and forward the turn's events
//! (a streaming reply). The actor sends every event of the turn, from the `session` event to
//! the closing `result` or `error`; this handler only relays them.

use crate::daemon::Daemon;
use crate::delegation::{Guard, Refusal};
use crate::schema::Schema;
use crate::server::Out;
use crate::session::{Refused, Turn};
use cap_proto::reply::Queued;
use cap_proto::request::PromptRequest;
use cap_proto::{Envelope, ErrorBody, ErrorCode, Event, Reply};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// How often a prompt is routed again when its session ends between routing and queueing
/// (evicted, swept or replaced by a concurrent request).
const ROUTE_ATTEMPTS: usize = 3;

pub async fn handle(d: &Arc<Daemon>, id: u64, p: PromptRequest, out: &Out) {
    let schema = match check(&p) {
        Ok(schema) => schema,
        Err(e) => {
            out.send(id, Reply::Error(e)).await;
            return;
        }
    };
    // Who asks: the session the asking server names, else the one whose agent it descends from.
    let caller = p.delegation.as_ref().and_then(|del| {
        del.caller
            .clone()
            .filter(|s| crate::daemon::find(&d.lock(), s).is_ok())
            .or_else(|| session_of(d, &del.ancestors))
    });
    // A delegated call too deep is refused before routing, so it opens and parks nothing.
    if p.delegation.is_some() {
        let depth = d.delegations.depth(caller.as_deref());
        if let Err(e) = within_depth(depth, d.config.mcp_max_depth) {
            out.send(id, Reply::Error(e)).await;
            return;
        }
    }
    let key = match &p.route.session {
        Some(sid) => crate::daemon::find(&d.lock(), sid)
            .map(|h| h.home_key.clone())
            .ok(),
        None => Some(
            p.route
                .key
                .clone()
                .unwrap_or_else(|| cap_proto::key::default_key(&p.route.cwd)),
        ),
    };
    if let Some(key) = &key
        && let Err(e) = d.check_budget(key, p.budget_usd)
    {
        out.send(id, Reply::Error(e)).await;
        return;
    }
    // Read before routing: routing makes the new agent the key's current one.
    let context = match (&key, &p.route.agent, p.handoff) {
        (Some(key), Some(agent), true) => d.handoff(key, agent),
        _ => None,
    };
    let request = uuid::Uuid::new_v4().simple().to_string();
    let secs = p.timeout_secs.unwrap_or(d.config.prompt_timeout);
    let (policy, asker) = d.policy(p.route.permissions.as_ref());
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut attempt = 0;
    let mut saved = Vec::new();
    // Held until the turn's last event: while it is, the target session counts as waiting on
    // the caller (see `delegation`).
    let mut _delegated = None;
    let session = loop {
        attempt += 1;
        let acq = match d.acquire(&p.route, true) {
            Ok(a) => a,
            Err(e) => {
                out.send(id, Reply::Error(e)).await;
                return;
            }
        };
        let turn = Turn {
            request: request.clone(),
            text: p.text.clone(),
            timeout: (secs > 0).then(|| Duration::from_secs(secs)),
            policy: policy.clone(),
            asker,
            events: tx.clone(),
            key: acq.key,
            how: acq.how,
            notices: acq.notices,
            context: context.clone(),
            schema: schema.clone(),
            model: p.route.model.clone(),
            mcp_servers: p.route.mcp_servers.clone(),
            steer: p.steer,
        };
        saved.push(acq.saved);
        if p.delegation.is_some() {
            match enter(d, caller.as_deref(), &acq.handle.id) {
                Ok(guard) => _delegated = Some(guard),
                Err(e) => {
                    out.send(id, Reply::Error(e)).await;
                    return;
                }
            }
        }
        match acq.handle.submit(turn).await {
            Ok(()) => break acq.handle.id.clone(),
            Err(Refused::Gone) if attempt < ROUTE_ATTEMPTS && p.route.session.is_none() => {
                tracing::debug!(session = %acq.handle.id, "session ended before the prompt was queued; routing again");
            }
            Err(Refused::Gone) => {
                let err = ErrorBody::new(
                    ErrorCode::Agent,
                    format!(
                        "session {} ended before the prompt could run; send it again",
                        acq.handle.id
                    ),
                );
                out.send(id, Reply::Error(err)).await;
                return;
            }
            Err(Refused::Error(e)) => {
                out.send(id, Reply::Error(e)).await;
                return;
            }
        }
    };
    drop(tx);
    if p.no_wait {
        let q = Queued { session, request };
        out.send(id, Reply::Queued(q)).await;
        return;
    }
    // Relay until the turn ends. A client that goes away does not cancel the turn: the actor
    // finishes it and keeps the result for `cap result`.
    let mut last_seq = 0;
    while let Some(env) = rx.recv().await {
        let end = matches!(env.event, Event::Result(_) | Event::Error(_));
        if end {
            // Routing's change (a new key's record, a binding) is on disk before the turn's
            // last event, like the session's own changes (which the actor waits for).
            for s in saved.drain(..) {
                s.wait().await;
            }
        }
        last_seq = env.seq;
        if !out.send(id, Reply::Event(env)).await || end {
            return;
        }
    }
    // The actor went away without ending the turn (it panicked): say so, never hang.
    let err = Envelope::new(
        Event::Error(ErrorBody::new(
            ErrorCode::Agent,
            "the session ended before the turn finished; send the prompt again",
        )),
        Some(session),
        Some(request),
        last_seq + 1,
    );
    out.send(id, Reply::Event(err)).await;
}

/// The live session whose agent is the nearest of `ancestors` (each agent leads its process
/// group, and its pid is the session's). A shared agent process hosts several sessions: the
/// caller is the one of them running a turn, when exactly one is.
fn session_of(d: &Daemon, ancestors: &[u32]) -> Option<String> {
    if ancestors.is_empty() {
        return None;
    }
    let mut by_pid: std::collections::HashMap<u32, Vec<(String, bool)>> = Default::default();
    for h in d.lock().sessions.values() {
        let snap = h.snapshot();
        if let Some(pid) = snap.pid {
            let busy = snap.state == cap_proto::reply::SessionState::Busy;
            by_pid.entry(pid).or_default().push((h.id.clone(), busy));
        }
    }
    ancestors
        .iter()
        .find_map(|pid| match by_pid.get(pid)?.as_slice() {
            [(id, _)] => Some(id.clone()),
            hosted => {
                let mut busy = hosted.iter().filter(|(_, b)| *b);
                match (busy.next(), busy.next()) {
                    (Some((id, _)), None) => Some(id.clone()),
                    _ => None,
                }
            }
        })
}

/// Records a delegated call to `target`, refusing one that would wait on itself or go
/// deeper than `mcp_max_depth`.
fn enter(d: &Daemon, caller: Option<&str>, target: &str) -> Result<Guard, ErrorBody> {
    match d.delegations.enter(caller, target) {
        Ok((guard, depth)) => within_depth(depth, d.config.mcp_max_depth).map(|()| guard),
        Err(Refusal::Cycle { session, own }) => {
            let whose = if own {
                "the calling agent's own session"
            } else {
                "a session that is waiting for the calling agent's answer"
            };
            let mut e = ErrorBody::new(
                ErrorCode::Usage,
                format!(
                    "refused: session {session} is {whose}, so this turn could never start \
                     before the caller's turn ends; ask another session (another key, or \
                     new=true) instead"
                ),
            );
            e.retryable = false;
            Err(e)
        }
    }
}

/// Refuses a call deeper than `max` hops of agents asking agents.
fn within_depth(depth: u32, max: u32) -> Result<(), ErrorBody> {
    if depth <= max {
        return Ok(());
    }
    let mut e = ErrorBody::new(
        ErrorCode::Limit,
        format!(
            "refused: this call would be depth {depth} of agents asking agents, and capd \
             allows at most {max} (mcp_max_depth in its config); answer from what you know, \
             or ask the person to raise the limit"
        ),
    );
    e.retryable = false;
    Err(e)
}

/// Refuses a prompt that cannot run as asked, before it is routed: nothing reaches an agent.
/// Returns the compiled schema, when the prompt has one.
fn check(p: &PromptRequest) -> Result<Option<Arc<Schema>>, ErrorBody> {
    if p.text.trim().is_empty() {
        return Err(ErrorBody::new(
            ErrorCode::Usage,
            "empty prompt; pass text, --file F, or pipe it on stdin",
        ));
    }
    super::open::check_route(&p.route)?;
    p.schema
        .clone()
        .map(|value| {
            Schema::compile(value).map(Arc::new).map_err(|e| {
                ErrorBody::new(
                    ErrorCode::Usage,
                    format!("--schema is not a valid JSON Schema: {e}"),
                )
            })
        })
        .transpose()
}
