//! `decide ID allow|deny`: answer a permission question put to the clients of a turn. The
//! first answer wins; a late one is told the question is closed.

use crate::daemon::Daemon;
use cap_proto::reply::Done;
use cap_proto::request::DecideRequest;
use cap_proto::{ErrorCode, Reply};

pub async fn handle(d: &Daemon, r: DecideRequest) -> Reply {
    let handle = match d.asking(&r.question) {
        Ok(h) => h,
        Err(e) => return Reply::Error(e),
    };
    let verdict = if r.allow { "allowed" } else { "denied" };
    if handle.decide(r.question.clone(), r.allow, r.always).await {
        let always = if r.always && r.allow {
            " for the rest of the session"
        } else {
            ""
        };
        Reply::Done(Done {
            message: format!("{verdict} {}{always}", r.question),
            changed: true,
        })
    } else {
        Reply::error(
            ErrorCode::NotFound,
            format!(
                "permission question {} is not open: it was answered already, timed out, or its turn ended",
                r.question
            ),
        )
    }
}
