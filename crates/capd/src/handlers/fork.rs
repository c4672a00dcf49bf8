//! `fork`: a new session whose conversation starts as a copy of another's, bound to a new
//! key; the source is untouched. Claude resumes with `--fork-session`, Codex calls
//! `thread/fork`, ACP agents `session/fork` when they offer it.

use crate::daemon::Daemon;
use cap_proto::request::{ForkRequest, OpenMode, Route};
use cap_proto::{ErrorBody, Reply};
use std::sync::Arc;

pub async fn handle(d: &Arc<Daemon>, f: ForkRequest) -> Reply {
    match fork(d, f).await {
        Ok(reply) => reply,
        Err(e) => Reply::Error(e),
    }
}

async fn fork(d: &Arc<Daemon>, f: ForkRequest) -> Result<Reply, ErrorBody> {
    let source = d.fork_source(&f.source)?;
    let route = Route {
        agent: Some(source.agent),
        key: Some(f.to_key),
        open: Some(OpenMode::Fork(source.native_id)),
        cwd: source.cwd,
        ..Route::default()
    };
    let acq = d.acquire(&route, true)?;
    // Wait for the agent to have made the copy, so a failed fork is reported here, and
    // leaves no binding or record behind for the new key.
    if let Err(e) = acq.handle.ready().await {
        d.forget_failed(&acq.handle);
        return Err(e);
    }
    let state = d.lock();
    Ok(Reply::Session(d.info(&state, &acq.handle, Some(acq.how))))
}
