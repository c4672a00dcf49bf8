//! `show`: one session in full.

use crate::daemon::{Daemon, find};
use cap_proto::Reply;
use cap_proto::request::SessionRef;

pub fn handle(d: &Daemon, r: SessionRef) -> Reply {
    let state = d.lock();
    super::reply(find(&state, &r.session).map(|h| Reply::Session(d.info(&state, h, None))))
}
