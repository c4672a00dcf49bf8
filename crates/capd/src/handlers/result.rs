//! `result`: the last finished turn's `result` (or `error`) event.

use crate::daemon::{Daemon, find};
use cap_proto::request::SessionRef;
use cap_proto::{ErrorBody, ErrorCode, Reply};

pub fn handle(d: &Daemon, r: SessionRef) -> Reply {
    let state = d.lock();
    super::reply(find(&state, &r.session).and_then(|h| {
        h.snapshot()
            .last_result
            .map(|env| Reply::Event(env.as_ref().clone()))
            .ok_or_else(|| {
                ErrorBody::new(
                    ErrorCode::NotFound,
                    format!("session {} has no finished turn yet", r.session),
                )
            })
    }))
}
