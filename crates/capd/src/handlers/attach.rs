//! `attach`: follow a session's events live, starting with the turn in progress (a streaming
//! reply that lasts until the session ends or the client goes away).

use crate::daemon::{Daemon, find};
use crate::server::Out;
use cap_proto::Reply;
use cap_proto::reply::Done;
use cap_proto::request::SessionRef;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

pub async fn handle(d: &Arc<Daemon>, id: u64, r: SessionRef, out: &Out) {
    let found = find(&d.lock(), &r.session).cloned();
    let handle = match found {
        Ok(h) => h,
        Err(e) => {
            out.send(id, Reply::Error(e)).await;
            return;
        }
    };
    // The actor hands over the backlog and the subscription in one step, so no event is
    // both in the backlog and in the stream, and none is in neither.
    let Some((backlog, mut rx)) = handle.attach().await else {
        out.send(id, Reply::Done(ended(&r.session))).await;
        return;
    };
    drop(handle);
    for env in backlog {
        if !out.send(id, Reply::Event(env)).await {
            return;
        }
    }
    loop {
        match rx.recv().await {
            Ok(env) => {
                if !out.send(id, Reply::Event(env)).await {
                    return;
                }
            }
            Err(RecvError::Lagged(n)) => {
                tracing::warn!("attach fell {n} events behind");
            }
            Err(RecvError::Closed) => {
                // The session is gone: say so, or the client would wait forever.
                out.send(id, Reply::Done(ended(&r.session))).await;
                return;
            }
        }
    }
}

fn ended(session: &str) -> Done {
    Done {
        message: format!("session {session} ended"),
        changed: false,
    }
}
