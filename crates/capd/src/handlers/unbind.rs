//! `unbind KEY`.

use crate::daemon::Daemon;
use cap_proto::Reply;
use cap_proto::reply::Done;
use cap_proto::request::KeyRequest;

/// Replies once the forgotten record is off disk too.
pub async fn handle(d: &Daemon, k: KeyRequest) -> Reply {
    match d.unbind(&k.key) {
        Ok((sid, saved)) => {
            saved.wait().await;
            Reply::Done(Done {
                message: format!(
                    "unbound {} (session {sid} stays live; `cap end {sid}` ends it)",
                    k.key
                ),
                changed: true,
            })
        }
        Err(e) => Reply::Error(e),
    }
}
