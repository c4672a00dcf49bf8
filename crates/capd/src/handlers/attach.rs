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
    let found = {
        let state = d.lock();
        // Under the session's lock, so no event is both in the backlog and in the stream.
        find(&state, &r.session).map(|h| {
            h.live
                .with(|l| (l.current.clone(), h.live.events.subscribe()))
        })
    };
    let (backlog, mut rx) = match found {
        Ok(f) => f,
        Err(e) => {
            out.send(id, Reply::Error(e)).await;
            return;
        }
    };
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
                let done = Done {
                    message: format!("session {} ended", r.session),
                    changed: false,
                };
                out.send(id, Reply::Done(done)).await;
                return;
            }
        }
    }
}
