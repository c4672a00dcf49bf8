//! `prompt`: route to a session, queue the turn, stream its events (a streaming reply).

use crate::daemon::Daemon;
use crate::server::Out;
use crate::session::{Turn, Waiting};
use cap_proto::reply::Queued;
use cap_proto::request::PromptRequest;
use cap_proto::{
    EVENT_VERSION, Envelope, ErrorBody, ErrorCode, Event, How, Reply, SessionEvent, TurnResult,
};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

pub async fn handle(d: &Arc<Daemon>, id: u64, p: PromptRequest, out: &Out) {
    if let Err(e) = check(&p) {
        out.send(id, Reply::Error(e)).await;
        return;
    }
    let acq = match d.acquire(&p.route, true) {
        Ok(a) => a,
        Err(e) => {
            out.send(id, Reply::Error(e)).await;
            return;
        }
    };
    let h = acq.handle;
    let request = uuid::Uuid::new_v4().simple().to_string();
    let secs = p.timeout_secs.unwrap_or(d.config.prompt_timeout);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let dropped = Arc::new(AtomicBool::new(false));
    let turn = Turn {
        request: request.clone(),
        text: p.text,
        timeout: (secs > 0).then(|| Duration::from_secs(secs)),
        events: tx,
        first_seq: 1,
        policy: p.route.permissions.unwrap_or_default(),
        dropped: dropped.clone(),
    };
    let (cancel_tx, mut cancelled) = oneshot::channel();
    h.live.with(|l| {
        l.queued += 1;
        l.waiting.insert(
            request.clone(),
            Waiting {
                dropped,
                notify: cancel_tx,
            },
        );
    });
    if let Err(e) = h.queue.try_send(turn) {
        h.live.with(|l| {
            l.queued = l.queued.saturating_sub(1);
            l.waiting.remove(&request);
        });
        let err = match e {
            TrySendError::Full(_) => ErrorBody::new(
                ErrorCode::Limit,
                format!(
                    "the queue of session {} is full ({} prompts waiting); wait for them, or `cap cancel {}`",
                    h.id, d.config.queue_depth, h.id
                ),
            ),
            TrySendError::Closed(_) => ErrorBody::new(
                ErrorCode::Agent,
                format!(
                    "session {} ended before the prompt could run; send it again",
                    h.id
                ),
            ),
        };
        out.send(id, Reply::Error(err)).await;
        return;
    }
    if p.no_wait {
        let q = Queued {
            session: h.id.clone(),
            request,
        };
        out.send(id, Reply::Queued(q)).await;
        return;
    }
    if matches!(acq.how, How::Opened | How::Resumed | How::Continued) {
        // A new agent process: announce the session once it is ready, so the event carries
        // the native id (Codex and ACP agents only name it in their handshake). A failed
        // start is reported by the turn's `error` event right after.
        let mut ready = h.live.ready.subscribe();
        let _ = ready.wait_for(|r| r.is_some()).await;
    }
    let opened = Envelope {
        v: EVENT_VERSION,
        event: Event::Session(SessionEvent {
            id: h.id.clone(),
            agent: h.agent.clone(),
            key: acq.key,
            native_id: h.live.with(|l| l.native_id.clone()),
            how: acq.how,
        }),
        session: Some(h.id.clone()),
        request: Some(request.clone()),
        seq: 0,
    };
    let session_id = h.id.clone();
    let live = h.live.clone();
    let turns_so_far = h.live.with(|l| l.turns);
    drop(h);
    if !out.send(id, Reply::Event(opened)).await {
        return;
    }
    // Forward until the turn ends. A client that goes away does not cancel the turn: the
    // actor finishes it and keeps the result for `cap result`.
    let mut last_seq = 0;
    // Open until the actor takes the turn (and drops the cancel switch).
    let mut queued = true;
    loop {
        tokio::select! {
            env = rx.recv() => {
                let Some(env) = env else { break };
                let end = matches!(env.event, Event::Result(_) | Event::Error(_));
                last_seq = env.seq;
                if !out.send(id, Reply::Event(env)).await || end {
                    return;
                }
            }
            dropped = &mut cancelled, if queued => {
                queued = false;
                if dropped.is_err() {
                    continue;
                }
                // Cancelled while still queued: it never reached the agent.
                let env = Envelope {
                    v: EVENT_VERSION,
                    event: Event::Result(TurnResult {
                        output: String::new(),
                        stop_reason: cap_proto::StopReason::Cancelled,
                        turns: turns_so_far,
                        duration_ms: 0,
                        native_id: None,
                    }),
                    session: Some(session_id),
                    request: Some(request),
                    seq: last_seq + 1,
                };
                live.with(|l| l.last_result = Some(env.clone()));
                out.send(id, Reply::Event(env)).await;
                return;
            }
        }
    }
    let err = Envelope {
        v: EVENT_VERSION,
        event: Event::Error(ErrorBody::new(
            ErrorCode::Agent,
            "the session ended before the turn finished; send the prompt again",
        )),
        session: None,
        request: Some(request),
        seq: last_seq + 1,
    };
    out.send(id, Reply::Event(err)).await;
}

fn check(p: &PromptRequest) -> Result<(), ErrorBody> {
    if p.text.trim().is_empty() {
        return Err(ErrorBody::new(
            ErrorCode::Usage,
            "empty prompt; pass text, --file F, or pipe it on stdin",
        ));
    }
    super::open::check_route(&p.route)
}
