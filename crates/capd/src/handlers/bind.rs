//! `bind KEY ID`.

use crate::daemon::Daemon;
use cap_proto::Reply;
use cap_proto::reply::Done;
use cap_proto::request::BindRequest;

pub fn handle(d: &Daemon, b: BindRequest) -> Reply {
    super::reply(d.bind(&b.key, &b.session).map(|()| {
        Reply::Done(Done {
            message: format!("bound {} to session {}", b.key, b.session),
            changed: true,
        })
    }))
}
