//! `unbind KEY`.

use crate::daemon::Daemon;
use cap_proto::Reply;
use cap_proto::reply::Done;
use cap_proto::request::KeyRequest;

pub fn handle(d: &Daemon, k: KeyRequest) -> Reply {
    super::reply(d.unbind(&k.key).map(|sid| {
        Reply::Done(Done {
            message: format!(
                "unbound {} (session {sid} stays live; `cap end {sid}` ends it)",
                k.key
            ),
            changed: true,
        })
    }))
}
