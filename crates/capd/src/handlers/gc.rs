//! `gc`: run the idle sweep now.

use crate::daemon::Daemon;
use cap_proto::Reply;
use cap_proto::reply::GcReport;

/// Replies once the swept sessions are off the state file's pool.
pub async fn handle(d: &Daemon) -> Reply {
    let (ended, saved) = d.sweep();
    saved.wait().await;
    Reply::Gc(GcReport { ended })
}
