//! `reset_budget KEY`: forget what a key has spent, so its spending cap allows prompts again.

use crate::daemon::Daemon;
use cap_proto::Reply;
use cap_proto::reply::Done;
use cap_proto::request::KeyRequest;

pub fn handle(d: &Daemon, k: KeyRequest) -> Reply {
    let spent = d.reset_spending(&k.key);
    let message = match spent.and_then(|u| u.cost_usd) {
        Some(cost) => format!("forgot ${cost:.4} spent by {}", k.key),
        None => format!("{} had no recorded cost", k.key),
    };
    Reply::Done(Done {
        message,
        changed: spent.is_some(),
    })
}
