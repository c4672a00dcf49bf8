//! `sessions`: every live session.

use crate::daemon::Daemon;
use cap_proto::Reply;

pub fn handle(d: &Daemon) -> Reply {
    let state = d.lock();
    let mut list: Vec<_> = state
        .sessions
        .values()
        .map(|h| d.info(&state, h, None))
        .collect();
    list.sort_by(|a, b| a.idle_secs.cmp(&b.idle_secs).then(a.id.cmp(&b.id)));
    Reply::Sessions(list)
}
