//! `open`: a session without a prompt, bound to its key unless `no_bind`.

use crate::daemon::Daemon;
use cap_proto::request::{OpenRequest, Route};
use cap_proto::{ErrorBody, ErrorCode, Reply};
use std::sync::Arc;

pub async fn handle(d: &Arc<Daemon>, o: OpenRequest) -> Reply {
    if let Err(e) = check_route(&o.route) {
        return Reply::Error(e);
    }
    let acq = match d.acquire(&o.route, !o.no_bind) {
        Ok(a) => a,
        Err(e) => return Reply::Error(e),
    };
    // Wait for the agent's ready signal (bounded by ready_timeout in the actor) so `open`
    // reports a broken agent instead of a session that will never answer.
    if let Err(e) = acq.handle.ready().await {
        return Reply::Error(e);
    }
    // The binding and record, and the native id the agent named at start, are on disk
    // before the caller hears of the session.
    acq.saved.wait().await;
    d.settled().await;
    let state = d.lock();
    Reply::Session(d.info(&state, &acq.handle, Some(acq.how)))
}

/// The routing fields every request must get right: an absolute, existing cwd, and at most
/// one of `new`, `resume`, `continue`.
pub fn check_route(r: &Route) -> Result<(), ErrorBody> {
    if !r.cwd.is_absolute() || !r.cwd.is_dir() {
        return Err(ErrorBody::new(
            ErrorCode::Usage,
            format!(
                "cwd {} is not an existing absolute directory",
                r.cwd.display()
            ),
        ));
    }
    Ok(())
}
