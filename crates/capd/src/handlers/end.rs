//! `end`: end a session and forget its key's record, so the next prompt starts fresh. The
//! reply carries the native id so the user can still resume it by hand.

use crate::daemon::Daemon;
use cap_proto::Reply;
use cap_proto::reply::Ended;
use cap_proto::request::TargetRequest;

pub async fn handle(d: &Daemon, t: TargetRequest) -> Reply {
    let (handle, saved) = match super::target(d, &t).and_then(|sid| d.remove(&sid, true)) {
        Ok(h) => h,
        Err(e) => return Reply::Error(e),
    };
    let native_id = handle.snapshot().native_id;
    // Wait until the agent's process group is gone and the forgotten record is off disk:
    // when `cap end` returns, nothing is left.
    let _ = handle.shutdown().await;
    saved.wait().await;
    Reply::Ended(Ended {
        session: handle.id.clone(),
        agent: handle.agent.clone(),
        native_id,
        cwd: handle.cwd.clone(),
    })
}
