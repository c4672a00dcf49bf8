//! `bind KEY ID`.

use crate::daemon::Daemon;
use cap_proto::Reply;
use cap_proto::reply::Done;
use cap_proto::request::BindRequest;

/// Replies once the binding is on disk.
pub async fn handle(d: &Daemon, b: BindRequest) -> Reply {
    match d.bind(&b.key, &b.session) {
        Ok(saved) => {
            saved.wait().await;
            Reply::Done(Done {
                message: format!("bound {} to session {}", b.key, b.session),
                changed: true,
            })
        }
        Err(e) => Reply::Error(e),
    }
}
