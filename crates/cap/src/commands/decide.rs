//! `cap decide ID allow|deny [--always]`: answer a permission question of a running turn, for
//! editors and orchestrators that show their own dialog for `permission` events.

use crate::Ctx;
use crate::cli::Answer;
use cap_proto::request::{DecideRequest, Op};

pub fn run(ctx: &Ctx, id: String, answer: Answer, always: bool) -> anyhow::Result<()> {
    if always && answer == Answer::Deny {
        return Err(crate::failure::Failure::usage(
            "--always goes with allow: a denial is never remembered",
        )
        .into());
    }
    let req = DecideRequest {
        question: id,
        allow: answer == Answer::Allow,
        always,
    };
    let reply = super::call(ctx, Op::Decide(req))?;
    super::acknowledge(ctx, "decide", &reply, "answered")
}
