//! `cancel`: interrupt the running turn, or drop a queued one. "Nothing to cancel" is a
//! success. The session's actor decides and sends any events; this only asks it.

use crate::daemon::{Daemon, find};
use crate::session::Cancelled;
use cap_proto::reply::Done;
use cap_proto::request::TargetRequest;
use cap_proto::{ErrorCode, Reply};

pub async fn handle(d: &Daemon, t: TargetRequest) -> Reply {
    let sid = match super::target(d, &t) {
        Ok(s) => s,
        // No session bound to the key: there is nothing to cancel, which is fine.
        Err(e) if e.code == ErrorCode::NotFound && t.session.is_none() => {
            return done("nothing to cancel".into(), false);
        }
        Err(e) => return Reply::Error(e),
    };
    let found = find(&d.lock(), &sid).cloned();
    let handle = match found {
        Ok(h) => h,
        Err(e) => return Reply::Error(e),
    };
    match handle.cancel(t.request).await {
        Cancelled::Running => done(format!("cancelled the running turn of session {sid}"), true),
        Cancelled::Queued => done(format!("cancelled a queued prompt of session {sid}"), true),
        Cancelled::Nothing => done("nothing to cancel".into(), false),
    }
}

fn done(message: String, changed: bool) -> Reply {
    Reply::Done(Done { message, changed })
}
