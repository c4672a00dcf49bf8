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
    if let Err(e) = check_settings(&o.route, &acq.handle.snapshot()) {
        return Reply::Error(e);
    }
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

/// `open` sends no turn, so it cannot switch a warm session's model or MCP servers (a prompt
/// does, before it is sent): asking for other ones is refused rather than ignored.
fn check_settings(r: &Route, snap: &crate::session::Snapshot) -> Result<(), ErrorBody> {
    let model = r.model.as_ref().filter(|m| snap.model.as_ref() != Some(*m));
    let mcp = r.mcp_servers.as_ref().filter(|m| **m != snap.mcp_servers);
    if model.is_none() && mcp.is_none() {
        return Ok(());
    }
    let what = if model.is_some() {
        "--model"
    } else {
        "--mcp-config"
    };
    Err(ErrorBody::new(
        ErrorCode::Usage,
        format!(
            "the key's session is already open with another {}; `cap prompt {what} …` switches it before its prompt, or `cap open --new {what} …` opens a fresh one",
            &what[2..]
        ),
    ))
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
