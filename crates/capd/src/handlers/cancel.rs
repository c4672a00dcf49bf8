//! `cancel`: interrupt the running turn. "Nothing to cancel" is a success.

use crate::daemon::{Daemon, find};
use crate::session::Control;
use cap_proto::reply::Done;
use cap_proto::request::TargetRequest;
use cap_proto::{ErrorCode, Reply};
use std::sync::atomic::Ordering;
use tokio::sync::oneshot;

pub async fn handle(d: &Daemon, t: TargetRequest) -> Reply {
    let sid = match super::target(d, &t) {
        Ok(s) => s,
        // No session bound to the key: there is nothing to cancel, which is fine.
        Err(e) if e.code == ErrorCode::NotFound && t.session.is_none() => {
            return nothing();
        }
        Err(e) => return Reply::Error(e),
    };
    let (control, waiting) = {
        let state = d.lock();
        match find(&state, &sid) {
            Ok(h) => {
                let waiting = t.request.as_ref().and_then(|r| {
                    h.live.with(|l| {
                        let w = l.waiting.remove(r)?;
                        // Under the session's lock, so the actor sees either the turn still
                        // waiting or the flag set.
                        w.dropped.store(true, Ordering::SeqCst);
                        l.queued = l.queued.saturating_sub(1);
                        Some(w)
                    })
                });
                (h.control.clone(), waiting)
            }
            Err(e) => return Reply::Error(e),
        }
    };
    // A prompt still in the queue is dropped there: the running turn, someone else's, goes on.
    if let Some(w) = waiting {
        let _ = w.notify.send(());
        return Reply::Done(Done {
            message: format!("cancelled a queued prompt of session {sid}"),
            changed: true,
        });
    }
    let (tx, rx) = oneshot::channel();
    if control
        .send(Control::Cancel(t.request.clone(), tx))
        .is_err()
    {
        return nothing();
    }
    match rx.await {
        Ok(true) => Reply::Done(Done {
            message: format!("cancelled the running turn of session {sid}"),
            changed: true,
        }),
        _ => nothing(),
    }
}

fn nothing() -> Reply {
    Reply::Done(Done {
        message: "nothing to cancel".into(),
        changed: false,
    })
}
