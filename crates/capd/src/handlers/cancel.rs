//! `cancel`: interrupt the running turn. "Nothing to cancel" is a success.

use crate::daemon::{Daemon, find};
use crate::session::Control;
use cap_proto::reply::Done;
use cap_proto::request::TargetRequest;
use cap_proto::{ErrorCode, Reply};
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
    let control = {
        let state = d.lock();
        match find(&state, &sid) {
            Ok(h) => h.control.clone(),
            Err(e) => return Reply::Error(e),
        }
    };
    let (tx, rx) = oneshot::channel();
    if control.send(Control::Cancel(tx)).is_err() {
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
